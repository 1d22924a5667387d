import ArgumentParser
import StackModel
import StackSystem

/// The metadata of dynamic targets (thin, cache, snapshot, writecache, integrity), given as
/// files: shared by `translate` and `simulate`.
struct MappingOptions: ParsableArguments {
    @Option(name: .customLong("thin-dump"), help: ArgumentHelp("thin_dump XML of the thin pool device POOL.", valueName: "POOL=FILE"))
    var thinDumps: [String] = []

    @Option(name: .customLong("cache-dump"), help: ArgumentHelp("cache_dump XML of the cache device CACHE.", valueName: "CACHE=FILE"))
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

    /// Reads the dynamic-mapping options. Each NAME is resolved the way device arguments are
    /// and must be a device of the tables with a target of the right type; a writecache's
    /// metadata is read from its table's `start_sector`.
    func load(tables: TableSet, canonical: (String) -> String) throws -> DynamicMappings {
        var m = DynamicMappings()
        func read(_ file: String) throws -> [UInt8] {
            do { return try SectorReader.contents(of: file) } catch { throw CommandFailure(status: .failure, message: "\(error)") }
        }
        func parsing<T>(_ body: () throws -> T) throws -> T {
            do { return try body() } catch let e as MappingParseError {
                throw CommandFailure(status: .dataError, message: e.description)
            } catch { throw CommandFailure(status: .failure, message: "\(error)") }
        }
        /// The device NAME names, checked to hold a target of `type`.
        func target<T: TargetType>(_ option: String, _ pair: String, _ type: T.Type) throws -> (name: String, file: String, target: T) {
            let (given, file) = Self.split(pair)!
            let name = canonical(given)
            guard let t = tables.tables[name]?.targets.lazy.compactMap({ $0.kind as? T }).first else {
                throw CommandFailure(status: .usage, message: "\(option): '\(given)' is not a \(T.names[0]) device of the tables")
            }
            return (name, file, t)
        }
        for pair in thinDumps {
            let (name, file, _) = try target("--thin-dump", pair, ThinPoolTarget.self)
            let data = try read(file)
            m.thinPools[name] = try parsing { try ThinPoolMapping.parseThinDump(data, source: file) }
        }
        for pair in cacheDumps {
            let (name, file, _) = try target("--cache-dump", pair, CacheTarget.self)
            let data = try read(file)
            m.caches[name] = try parsing { try CacheMapping.parseCacheDump(data, source: file) }
        }
        for pair in snapshotStores {
            let (name, file, _) = try target("--snapshot-store", pair, SnapshotTarget.self)
            m.snapshots[name] = try parsing { let r = try SectorReader(path: file); return try SnapshotExceptionStore.read(source: file, r.read) }
        }
        for pair in writecacheMetadata {
            let (name, file, w) = try target("--writecache-metadata", pair, WritecacheTarget.self)
            m.writecaches[name] = try parsing {
                let r = try SectorReader(path: file, base: w.startSector)
                return try WritecacheMapping.read(source: file, r.read)
            }
        }
        for pair in integritySuperblocks {
            let (name, file, i) = try target("--integrity-superblock", pair, IntegrityTarget.self)
            m.integrity[name] = try parsing {
                let r = try SectorReader(path: file, base: i.start)
                return try IntegrityGeometry.read(source: file, r.read)
            }
        }
        return m
    }

}
