import StackModel
import StackSystem

/// `dmstack capture`: the engine's machine as one snapshot, with the whole reverse map of the
/// chosen filesystems and every process use of their files, so that a snapshot engine answers
/// `simulate` offline as the live engine would have.
public struct SnapshotCapture: Sendable {
    /// Which filesystems' reverse maps go with the snapshot.
    public enum Selection: String, Sendable, CaseIterable { case registered, all, none }

    public let engine: any Engine

    public init(engine: any Engine) { self.engine = engine }

    /// The snapshot of `inventory` with the reverse maps of `selection`: the registered
    /// filesystems (by fs UUID, from `registry`), every mounted one on a block device, or none.
    public func snapshot(of inventory: Inventory, selection: Selection, registry: () throws -> HolderRegistry?) throws -> SystemSnapshot {
        var snapshot = inventory.snapshot
        // Every dynamic target's mapping, so `--snapshot` translates through it as live does.
        if let tables = try? inventory.tableSet() {
            let metadata = try engine.dynamicMappings(MetadataSources(), tables: tables, in: inventory, around: inventory.devices.map(\.kernelName))
            snapshot.metadata = metadata.isEmpty ? nil : metadata
        }
        guard selection != .none else { return snapshot }
        var wanted = inventory.mountedFilesystems()
        if selection == .registered {
            let db = try registry()
            let holders = try usingRegistry { () throws(RegistryError) in try db?.all() ?? [] }
            let uuids = Set(holders.compactMap(\.filesystem?.uuid))
            wanted = wanted.filter { fs in (try? inventory.device(fs.mount.majorMinor))?.filesystem?.uuid.map(uuids.contains) ?? false }
        }
        (snapshot.reverseMaps, snapshot.fileUses) = reverseMaps(of: wanted, in: inventory)
        return snapshot
    }

    /// The whole reverse map of each filesystem (every device it uses) and every use of its
    /// files by a process.
    public func reverseMaps(of filesystems: [MountedFilesystem], in inventory: Inventory) -> ([FilesystemReverseMap], [FileUse]) {
        var maps: [FilesystemReverseMap] = [], uses: [FileUse] = []
        for fs in filesystems {
            var records: [ReverseMapRecord] = [], paths: [String: [String]] = [:], notes: [String] = []
            for (role, name) in fs.devices.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                guard let d = try? inventory.device(name) else { continue }
                let answer = engine.reverseMap(fs, role: role, ranges: [ByteRange(offset: 0, length: d.size * 512)], in: inventory,
                                               options: ReverseMapOptions())
                records += answer.records
                notes += answer.notes
                for (inode, names) in answer.paths { paths[String(inode)] = names }
            }
            maps.append(FilesystemReverseMap(mountpoint: fs.mountpoint, device: fs.mount.majorMinor, type: fs.type,
                                             records: records, paths: paths, notes: notes))
            uses += engine.fileUses(fs, inodes: Set(records.compactMap(\.inode)), in: inventory)
        }
        return (maps, uses)
    }

    /// Writes a snapshot file whole or not at all: a partial snapshot must never be left behind.
    public static func write(_ bytes: [UInt8], to path: String) throws(EngineError) {
        do { try AtomicFile.write(bytes, to: path) } catch { throw EngineError(.failure, "\(error)") }
    }
}
