import StackModel
import StackSystem

/// Where the metadata of dynamic targets (thin, cache, snapshot, writecache, integrity) comes
/// from when it is given as files: a thin_dump or cache_dump XML, a COW device, a writecache
/// cache device, an integrity data device (or images of them), each for a device of the
/// tables. Both engines read them the same way; reading a live pool's metadata itself is the
/// live engine's to add.
public struct MetadataSources: Sendable {
    /// What a file holds, and so how it is read: the metadata kind of a target type.
    public typealias Kind = DynamicMetadataKind

    /// One file for one device, with the option it was given by (for messages).
    public struct Source: Sendable {
        public var kind: Kind
        public var option: String
        public var name: String
        public var file: String
        public init(kind: Kind, option: String, name: String, file: String) {
            self.kind = kind
            self.option = option
            self.name = name
            self.file = file
        }
    }

    /// Read in this order (the order the options are documented in).
    public var sources: [Source]
    public init(_ sources: [Source] = []) { self.sources = sources }

    /// Reads every source. Each name is made canonical with `canonical` (the way device
    /// arguments are resolved) and must be a device of `tables` with a target of the right
    /// type: else a usage error; an unreadable file is a failure, a malformed one a data error.
    /// A writecache's metadata is read from its table's `start_sector`, an integrity device's
    /// superblock from its table's start.
    public func load(tables: TableSet, canonical: (String) -> String) throws(EngineError) -> DynamicMappings {
        var m = DynamicMappings()
        for source in sources {
            let name = canonical(source.name), file = source.file
            guard let t = tables.tables[name]?.targets.first(where: { type(of: $0.kind).dynamicMetadata == source.kind }) else {
                throw EngineError(.usage, "\(source.option): '\(source.name)' is not a \(TargetTypes.holding(source.kind)) device of the tables")
            }
            switch source.kind {
            case .thinDump:
                m.thinPools[name] = try Self.thinPool(file)
            case .cacheDump:
                let data = try Self.read(file)
                m.caches[name] = try Self.parsing { try CacheMapping.parseCacheDump(data, source: file) }
            case .snapshotStore:
                m.snapshots[name] = try Self.parsing { let r = try SectorReader(path: file); return try SnapshotExceptionStore.read(source: file, r.read) }
            case .writecacheMetadata:
                guard let w = t.kind as? WritecacheTarget else { continue }
                m.writecaches[name] = try Self.parsing {
                    let r = try SectorReader(path: file, base: w.startSector)
                    return try WritecacheMapping.read(source: file, r.read)
                }
            case .integritySuperblock:
                guard let i = t.kind as? IntegrityTarget else { continue }
                m.integrity[name] = try Self.parsing {
                    let r = try SectorReader(path: file, base: i.start)
                    return try IntegrityGeometry.read(source: file, r.read)
                }
            }
        }
        return m
    }

    /// A thin_dump XML, or the pool's metadata device (or an image of it, e.g. from `dd` of a
    /// pool that is not active, or `thin_restore`) read with the btree reader: its committed
    /// mappings, every thin device.
    static func thinPool(_ file: String) throws(EngineError) -> ThinPoolMapping {
        let reader: SectorReader
        // O_DIRECT: a pool's metadata device given here is read as the device holds it, not
        // from pages cached before the kernel wrote it (an image on tmpfs is read normally).
        do { reader = try SectorReader(path: file, direct: true) } catch { throw EngineError(.failure, "\(error)") }
        let first = try parsing { try reader.read(0, 8) }
        if ThinMetadata.isMetadata(first) {
            return try parsing {
                try ThinMetadata.read(source: file, root: .current, devices: nil) { n in
                    guard n <= maxSectors / 8 else { throw MappingParseError(source: file, message: "metadata block \(n) is beyond any device") }
                    return try reader.read(n * 8, 8)
                }
            }
        }
        let data = try Self.read(file)
        return try parsing { try ThinPoolMapping.parseThinDump(data, source: file) }
    }

    static func read(_ file: String) throws(EngineError) -> [UInt8] {
        try InputFile.contents(of: file, limit: InputFile.dumpLimit, what: "the metadata dump")
    }

    static func parsing<T>(_ body: () throws -> T) throws(EngineError) -> T {
        do { return try body() } catch let e as MappingParseError {
            throw EngineError(.dataError, e.description)
        } catch { throw EngineError(.failure, "\(error)") }
    }
}
