import ArgumentParser
import StackEngine
import StackModel

/// The metadata of dynamic targets (thin, cache, snapshot, writecache, integrity), given as
/// files: shared by `translate` and `simulate`.
struct MappingOptions: ParsableArguments {
    @Option(name: .customLong("thin-dump"), help: ArgumentHelp("thin_dump XML of the thin pool device POOL, or its metadata device (or an image of it; a dump of at most 4 GiB), checked against the pool's table and its thin devices. A live pool is read without it.", valueName: "POOL=FILE"))
    var thinDumps: [String] = []

    @Option(name: .customLong("cache-dump"), help: ArgumentHelp("cache_dump XML of the cache device CACHE, checked against its table and the sizes of its cache and origin devices.", valueName: "CACHE=FILE"))
    var cacheDumps: [String] = []

    @Option(name: .customLong("snapshot-store"), help: ArgumentHelp("COW device (or image) of the snapshot device SNAP.", valueName: "SNAP=FILE"))
    var snapshotStores: [String] = []

    @Option(name: .customLong("writecache-metadata"), help: ArgumentHelp("Cache device (or image) of the writecache device WC.", valueName: "WC=FILE"))
    var writecacheMetadata: [String] = []

    @Option(name: .customLong("integrity-superblock"), help: ArgumentHelp("Data device (or image) of the dm-integrity device INT, whose superblock gives its layout.", valueName: "INT=FILE"))
    var integritySuperblocks: [String] = []

    func validate() throws {
        for pair in thinDumps + cacheDumps + snapshotStores + writecacheMetadata + integritySuperblocks where Self.split(pair) == nil {
            throw ValidationError("expected NAME=FILE, got '\(pair)'")
        }
    }

    static func split(_ pair: String) -> (name: String, file: String)? {
        guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex, pair.index(after: eq) != pair.endIndex else { return nil }
        return (String(pair[..<eq]), String(pair[pair.index(after: eq)...]))
    }

    /// The options as metadata sources, in the order they are read.
    var sources: MetadataSources {
        let given: [(MetadataSources.Kind, String, [String])] = [
            (.thinDump, "--thin-dump", thinDumps), (.cacheDump, "--cache-dump", cacheDumps),
            (.snapshotStore, "--snapshot-store", snapshotStores), (.writecacheMetadata, "--writecache-metadata", writecacheMetadata),
            (.integritySuperblock, "--integrity-superblock", integritySuperblocks),
        ]
        return MetadataSources(given.flatMap { kind, option, pairs in
            pairs.compactMap { Self.split($0).map { MetadataSources.Source(kind: kind, option: option, name: $0.name, file: $0.file) } }
        })
    }
}
