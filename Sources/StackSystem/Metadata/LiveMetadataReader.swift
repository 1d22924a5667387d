import StackModel

/// A live read of one kind of dynamic metadata (DynamicMetadataKind): a thin pool's mappings
/// from its held metadata snapshot, a snapshot's COW exception store, a writecache's or an
/// integrity device's superblock, a cache's mappings. The live engine asks the reader of a
/// kind for each dynamic target on the stacks of a query that was given no file; what it
/// cannot read it throws, and the target's ranges are `unknown` with that reason. A new kind is
/// one conforming type in this folder and one line in `LiveMetadataReaders.all`.
public protocol LiveMetadataReader: Sendable {
    /// The kind this reader reads (the `dynamicMetadata` of the target types it serves).
    static var kind: DynamicMetadataKind { get }
    /// Reads the metadata of `target`, a target of dm device `device` (display name), into
    /// `mappings`, keyed as the target's mapper looks it up (the pool for thin, else the
    /// device). `scope` is every device of the query's stacks, for readers that can limit
    /// what they read (a pool's thin devices).
    static func read(device: String, target: Target, inventory: Inventory, scope: Set<String>,
                     into mappings: inout DynamicMappings) throws(LiveMetadataError)
}

/// Why live metadata could not be read, said as the target's reason for `unknown`.
public struct LiveMetadataError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Every live metadata reader.
public enum LiveMetadataReaders {
    public static let all: [any LiveMetadataReader.Type] = [
        ThinPoolReader.self, SnapshotStoreReader.self, WritecacheMetadataReader.self, IntegritySuperblockReader.self, CacheMetadataReader.self,
    ]

    /// The mappings of every dynamic target of `tables` on `scope` whose kind has a reader and
    /// that `given` does not have yet; a failed read is recorded in `unavailable`.
    public static func read(tables: TableSet, inventory: Inventory, scope: Set<String>, given: DynamicMappings) -> DynamicMappings {
        var m = DynamicMappings()
        for name in scope.sorted() {
            for t in tables.tables[name]?.targets ?? [] {
                guard let kind = type(of: t.kind).dynamicMetadata, !given.has(kind, name), !m.has(kind, name), m.unavailable[name] == nil,
                      let reader = all.first(where: { $0.kind == kind }) else { continue }
                do throws(LiveMetadataError) {
                    try reader.read(device: name, target: t, inventory: inventory, scope: scope, into: &m)
                } catch {
                    m.unavailable[name] = error.reason
                }
            }
        }
        return m
    }
}
