import FoundationEssentials
import StackModel
import StackSystem

/// `dmstack capture`: the engine's machine as one snapshot, with the whole reverse map of the
/// chosen filesystems and every process use of their files, so that a snapshot engine answers
/// `simulate` offline as the live engine would have. The snapshot is written as it is read:
/// records go to the file block by block as the engine streams them, so memory does not grow
/// with the number of records (only with the number of distinct inodes, whose names and file
/// uses are looked up once the records are written).
public struct SnapshotCapture: Sendable {
    /// Which filesystems' reverse maps go with the snapshot.
    public enum Selection: Sendable, Hashable {
        /// The filesystems registered with `holders register` (by fs UUID).
        case registered
        /// The filesystems that can be hit through a layer dmstack translates: on a dm or md
        /// device or a pmem namespace, or on a device with one below it. A root filesystem on
        /// a plain disk is left out: nothing in dmstack's reach fails under it.
        case all
        case none
        /// Exactly these mountpoints, whatever they are on (each must be a mounted
        /// filesystem on a block device).
        case mountpoints([String])
    }

    public let engine: any Engine
    /// Set by `capture --redact-paths`: every path in the file (mount points, the reverse
    /// maps' file names, file uses, loop backing files, paths in notes) goes through it.
    public let redactor: PathRedactor?

    public init(engine: any Engine, redactor: PathRedactor? = nil) {
        self.engine = engine
        self.redactor = redactor
    }

    /// The snapshot of `inventory` with the reverse maps of `selection`, in memory (tests,
    /// small machines): the document `write` streams, read back.
    public func snapshot(of inventory: Inventory, selection: Selection, registry: () throws -> HolderRegistry?) throws -> SystemSnapshot {
        var bytes: [UInt8] = []
        try write(of: inventory, selection: selection, registry: registry) { bytes += $0 }
        do { return try SnapshotCodec.decode(Data(bytes), file: "the capture") } catch { throw EngineError(.failure, "\(error)") }
    }

    /// Streams the snapshot of `inventory` with the reverse maps of `selection` to `sink`.
    public func write(of inventory: Inventory, selection: Selection, registry: () throws -> HolderRegistry?,
                      to sink: @escaping SnapshotStreamWriter.Sink) throws {
        var snapshot = inventory.snapshot
        // Always this dmstack's format, whatever version a snapshot engine's machine came in.
        snapshot.version = SystemSnapshot.currentVersion
        if let redactor {
            for i in snapshot.mounts.indices {
                snapshot.mounts[i].mountpoint = redactor.path(snapshot.mounts[i].mountpoint)
                snapshot.mounts[i].root = redactor.path(snapshot.mounts[i].root)
            }
            for i in snapshot.devices.indices { snapshot.devices[i].loopBackingFile = snapshot.devices[i].loopBackingFile.map(redactor.path) }
        }
        // Every dynamic target's mapping, so `--snapshot` translates through it as live does.
        if let tables = try? inventory.tableSet() {
            let metadata = try engine.dynamicMappings(MetadataSources(), tables: tables, in: inventory, around: inventory.devices.map(\.kernelName))
            snapshot.metadata = metadata.isEmpty ? nil : metadata
        }
        guard selection != .none else {
            snapshot.reverseMaps = nil
            snapshot.fileUses = nil
            try sink(Array(try SnapshotCodec.encode(snapshot)) + Array("\n".utf8))
            return
        }
        let wanted = try filesystems(selection, in: inventory, registry: registry)
        var writer = try SnapshotStreamWriter(snapshot, sink: sink)
        var uses: [FileUse] = []
        for fs in wanted { uses += try writeReverseMap(of: fs, in: inventory, to: &writer) }
        if let redactor { for i in uses.indices { uses[i].path = redactor.path(uses[i].path) } }
        try writer.finish(fileUses: uses)
    }

    /// The mounted filesystems `selection` names.
    public func filesystems(_ selection: Selection, in inventory: Inventory, registry: () throws -> HolderRegistry?) throws -> [MountedFilesystem] {
        let mounted = inventory.mountedFilesystems()
        switch selection {
        case .none: return []
        case .all: return mounted.filter { Self.isOnStack($0, in: inventory) }
        case .registered:
            let db = try registry()
            let holders = try usingRegistry { () throws(RegistryError) in try db?.all() ?? [] }
            let uuids = Set(holders.compactMap(\.filesystem?.uuid))
            return mounted.filter { fs in (try? inventory.device(fs.mount.majorMinor))?.filesystem?.uuid.map(uuids.contains) ?? false }
        case .mountpoints(let paths):
            return try paths.map { path in
                let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
                guard let fs = mounted.first(where: { $0.mountpoint == trimmed }) else {
                    throw EngineError(.usage, "--reverse-maps: \(path) is not the mountpoint of a filesystem on a block device")
                }
                return fs
            }
        }
    }

    /// Whether a device of `fs`, or one below it, is a dm or md device or a pmem namespace:
    /// a filesystem dmstack's translation reaches.
    public static func isOnStack(_ fs: MountedFilesystem, in inventory: Inventory) -> Bool {
        var todo = fs.devices.values.compactMap { try? inventory.device($0) }, seen = Set<String>()
        while let d = todo.popLast() {
            guard seen.insert(d.kernelName).inserted else { continue }
            if d.dm != nil || d.layer != nil || d.pmemNamespace != nil { return true }
            todo += inventory.below(d)
        }
        return false
    }

    /// Writes the whole reverse map of `fs` (every device it uses) as the engine streams it,
    /// then the names of its inodes; returns every process use of those inodes.
    func writeReverseMap(of fs: MountedFilesystem, in inventory: Inventory, to writer: inout SnapshotStreamWriter) throws -> [FileUse] {
        try writer.beginMap(mountpoint: redactor?.path(fs.mountpoint) ?? fs.mountpoint, device: fs.mount.majorMinor, type: fs.type)
        var inodes = Set<UInt64>(), notes: [String] = []
        for (role, name) in fs.devices.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard let d = try? inventory.device(name) else { continue }
            do {
                notes += try engine.forEachReverseMapRecord(fs, role: role, ranges: [ByteRange(offset: 0, length: d.size * 512)], in: inventory,
                                                            options: ReverseMapOptions()) { record in
                    try writer.append(record)
                    if let inode = record.inode { inodes.insert(inode) }
                }
            } catch let e as ReverseMapUnavailable {
                // Kept as the map's answer: the whole device with an unknown owner, so that
                // simulate on the snapshot says the owners are not known (never "none").
                notes.append("the \(role.rawValue) device's reverse map could not be read at capture (\(e.reason.rawValue)): \(e.detail)")
                try writer.append(ReverseMapRecord(role: role, physical: 0, length: d.size * 512, metadata: "unknown"))
            }
        }
        // Names a bounded number of inodes at a time, in inode order (a directory's files
        // have neighbouring inodes): each chunk is one walk that stops once it has them all,
        // so memory holds one chunk's paths, never every path of a large filesystem.
        let sorted = inodes.sorted()
        var start = 0
        repeat {
            let chunk = Set(sorted[start..<min(start + Self.pathChunk, sorted.count)])
            var paths = engine.paths(fs, inodes: chunk, in: inventory, options: ReverseMapOptions())
            // Sizes the records did not carry (GETFSMAP's), by the first name, before any
            // redaction: simulate on the snapshot clips lost ranges at the end of the file.
            for (inode, names) in paths where !writer.knowsSize(of: inode) {
                if let first = names.first, let size = engine.fileSize(fs, inode: inode, path: first) { writer.appendSize(inode: inode, size: size) }
            }
            if let redactor { paths = paths.mapValues { $0.map(redactor.path) } }
            try writer.appendPaths(paths)
            start += Self.pathChunk
        } while start < sorted.count
        try writer.endMap(notes: redactor.map { r in notes.map(r.text) } ?? notes)
        return engine.fileUses(fs, inodes: .some(inodes), in: inventory)
    }

    /// Inodes named per walk of a filesystem's tree: about 20 MiB of paths.
    static let pathChunk = 131_072

    /// Streams a snapshot to `path` whole or not at all (a temporary file beside it, fsync,
    /// rename: a partial snapshot is never left behind), or to standard output when nil.
    public func write(of inventory: Inventory, selection: Selection, registry: () throws -> HolderRegistry?, to path: String?) throws {
        guard let path else {
            try write(of: inventory, selection: selection, registry: registry) { bytes in
                do { try Syscall.writeAll(1, bytes, path: "standard output") } catch { throw EngineError(.failure, "\(error)") }
            }
            return
        }
        let file: AtomicFileWriter
        do { file = try AtomicFileWriter(path: path) } catch { throw EngineError(.failure, "\(error)") }
        try write(of: inventory, selection: selection, registry: registry) { bytes in
            do { try file.write(bytes) } catch { throw EngineError(.failure, "\(error)") }
        }
        do { try file.commit() } catch { throw EngineError(.failure, "\(error)") }
    }
}

extension SnapshotCapture {
    /// Where `--redact-paths` keeps what maps the tokens back: beside the snapshot.
    public static func nameMapPath(for snapshot: String) -> String { snapshot + ".names" }

    /// The redactor's key and name map, whole or not at all, readable by its owner only
    /// (mode 0600): it undoes the redaction, so it stays with the admin.
    public func writeNameMap(to path: String) throws {
        guard let redactor else { return }
        let text = "# dmstack capture --redact-paths: SipHash-2-4 key \(redactor.key.hex)\n"
            + "# each path component NAME is h + 16 hex digits of SipHash-2-4(key, NAME); one TOKEN<TAB>NAME a line\n"
            + redactor.nameMap
        do {
            let file = try AtomicFileWriter(path: path, mode: 0o600)
            try file.write(Array(text.utf8))
            try file.commit()
        } catch { throw EngineError(.failure, "\(error)") }
    }
}

extension SnapshotCapture.Selection {
    /// `registered`, `all`, `none`, or a comma-separated list of mountpoints.
    public init?(argument: String) {
        switch argument {
        case "registered": self = .registered
        case "all": self = .all
        case "none": self = .none
        default:
            let paths = argument.split(separator: ",").map(String.init)
            guard !paths.isEmpty, paths.allSatisfy({ $0.hasPrefix("/") }) else { return nil }
            self = .mountpoints(paths)
        }
    }
}
