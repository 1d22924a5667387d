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
    /// A thin or cache dump is checked against the stack it is given for (`ThinPoolMapping.Bounds`,
    /// `CacheMapping.Bounds`): one that does not fit is a data error naming the file and its
    /// first bad element. `size` gives a member device's size in sectors where the machine
    /// knows it (a device of the tables is sized by its table).
    public func load(tables: TableSet, canonical: (String) -> String, size: (String) -> UInt64? = { _ in nil }) throws(EngineError) -> DynamicMappings {
        var m = DynamicMappings()
        for source in sources {
            let name = canonical(source.name), file = source.file
            guard let t = tables.tables[name]?.targets.first(where: { type(of: $0.kind).dynamicMetadata == source.kind }) else {
                throw EngineError(.usage, "\(source.option): '\(source.name)' is not a \(TargetTypes.holding(source.kind)) device of the tables")
            }
            switch source.kind {
            case .thinDump:
                m.thinPools[name] = try Self.thinPool(file, bounds: Self.thinBounds(name, t, tables: tables, canonical: canonical))
            case .cacheDump:
                let data = try Self.read(file)
                let bounds = Self.cacheBounds(name, t, tables: tables, canonical: canonical, size: size)
                m.caches[name] = try Self.parsing { try CacheMapping.parseCacheDump(data, source: file, bounds: bounds) }
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
    /// The pool `name` (its thin-pool target `t`) as its tables give it: block size, data
    /// blocks, the thin devices on it. nil when the pool is not one thin-pool target from 0
    /// (a table dmstack cannot size the data space of).
    static func thinBounds(_ name: String, _ t: Target, tables: TableSet, canonical: (String) -> String) -> ThinPoolMapping.Bounds? {
        guard let pool = t.kind as? ThinPoolTarget, tables.tables[name]?.targets.count == 1, t.start == 0 else { return nil }
        var thins: [UInt64: String] = [:]
        for device in tables.names {
            for target in tables.tables[device]?.targets ?? [] {
                if let thin = target.kind as? ThinTarget, canonical(thin.pool) == name { thins[thin.deviceID] = device }
            }
        }
        return ThinPoolMapping.Bounds(poolName: name, dataBlockSectors: pool.blockSectors, dataBlocks: t.length / pool.blockSectors, thinDevices: thins)
    }

    /// The cache `name` (its cache target `t`): its block size, and its cache and origin
    /// devices in blocks where their sizes are known (a table of the set, else `size`).
    static func cacheBounds(_ name: String, _ t: Target, tables: TableSet, canonical: (String) -> String, size: (String) -> UInt64?) -> CacheMapping.Bounds? {
        guard let cache = t.kind as? CacheTarget else { return nil }
        func blocks(_ device: String) -> UInt64? {
            (tables.tables[canonical(device)]?.size ?? size(device)).map { $0 / cache.blockSectors }
        }
        return CacheMapping.Bounds(cacheName: name, blockSectors: cache.blockSectors, cacheBlocks: blocks(cache.cache), originBlocks: blocks(cache.origin))
    }

    static func thinPool(_ file: String, bounds: ThinPoolMapping.Bounds?) throws(EngineError) -> ThinPoolMapping {
        let reader: SectorReader
        // O_DIRECT: a pool's metadata device given here is read as the device holds it, not
        // from pages cached before the kernel wrote it (an image on tmpfs is read normally).
        do { reader = try SectorReader(path: file, direct: true) } catch { throw EngineError(.failure, "\(error)") }
        let first = try parsing { try reader.read(0, 8) }
        if ThinMetadata.isMetadata(first) {
            return try parsing {
                let mapping = try ThinMetadata.read(source: file, root: .current, devices: nil) { n in
                    guard n <= maxSectors / 8 else { throw MappingParseError(source: file, message: "metadata block \(n) is beyond any device") }
                    return try reader.read(n * 8, 8)
                }
                if let bounds { try mapping.check(bounds, source: file) }
                return mapping
            }
        }
        let data = try Self.read(file)
        return try parsing { try ThinPoolMapping.parseThinDump(data, source: file, bounds: bounds) }
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
