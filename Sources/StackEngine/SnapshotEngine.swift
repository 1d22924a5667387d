import FoundationEssentials
import StackModel
import StackSystem

/// A machine captured elsewhere by `dmstack capture` (or built in a test): the same reads as
/// `LiveEngine`, answered from the snapshot. Its reverse maps and file uses are the captured
/// ones, it has no holder registry and no /dev to follow, and it only plans changes.
public struct SnapshotEngine: Engine {
    public let source: String
    /// The file parsed once, at start-up; a file that cannot be read or decoded is the error
    /// every read gives.
    let loaded: Result<Inventory, EngineError>
    /// The captured reverse maps and file uses: they answer for any inventory built from the
    /// snapshot (one with a gone leaf's recorded devices added, say).
    let reverseMaps: [FilesystemReverseMap], fileUses: [FileUse]
    /// The dynamic targets' mappings as captured (none from a file older than version 3).
    let metadata: DynamicMappings

    /// The snapshot in `file` (`-`: standard input), at most `InputFile.snapshotLimit` bytes.
    public init(file: String) {
        source = file
        do {
            let bytes: [UInt8]
            do {
                bytes = try InputFile.contents(of: file, limit: InputFile.snapshotLimit, what: "the snapshot", check: InputFile.snapshotStart)
            } catch {
                // A snapshot that cannot be read is a run-time failure naming it, as a table,
                // spec, dump or config that cannot be (one status per kind, ExitStatus.swift);
                // the error names the path once ("cannot open cap.json: ...").
                throw error.kind == .dataError ? error : EngineError(.failure, error.message)
            }
            let snapshot = try SnapshotCodec.decode(Data(bytes), file: BoundedInput.name(file))
            (loaded, reverseMaps, fileUses) = (.success(Inventory(snapshot)), snapshot.reverseMaps ?? [], snapshot.fileUses ?? [])
            metadata = snapshot.metadata ?? DynamicMappings()
        } catch {
            (loaded, reverseMaps, fileUses) = (.failure(error as? EngineError ?? EngineError(.dataError, "\(error)")), [], [])
            metadata = DynamicMappings()
        }
    }

    /// A snapshot value, for tests and for a machine mutated in memory.
    public init(snapshot: SystemSnapshot, source: String = "the snapshot") {
        self.source = source
        (loaded, reverseMaps, fileUses) = (.success(Inventory(snapshot)), snapshot.reverseMaps ?? [], snapshot.fileUses ?? [])
        metadata = snapshot.metadata ?? DynamicMappings()
    }

    public func inventory() throws(EngineError) -> Inventory { try loaded.get() }


    public func device(_ name: String, in inventory: Inventory) throws(UnknownDeviceError) -> BlockDevice {
        try inventory.device(name)
    }

    /// A snapshot has no /dev to follow: a /dev path stands for itself.
    public func kernelName(ofPath path: String) -> String? { path.hasPrefix("/dev/") ? path : nil }

    public func reverseMap(_ fs: MountedFilesystem, role: HolderRole, ranges: [ByteRange], in inventory: Inventory,
                           options: ReverseMapOptions) -> ReverseMapAnswer {
        guard let map = reverseMaps.first(where: { $0.mountpoint == fs.mountpoint }) else {
            return ReverseMapAnswer(records: [], paths: [:], notes: ["the snapshot has no reverse map of \(fs.mountpoint) (capture it registered, or with --reverse-maps all): files not named"])
        }
        return map.answer(role: role, ranges: ranges)
    }

    public func forEachReverseMapRecord(_ fs: MountedFilesystem, role: HolderRole, ranges: [ByteRange], in inventory: Inventory,
                                        options: ReverseMapOptions, _ record: (ReverseMapRecord) throws -> Void) throws -> [String] {
        guard let map = reverseMaps.first(where: { $0.mountpoint == fs.mountpoint }) else {
            throw ReverseMapUnavailable(.notInSnapshot, "the snapshot has no reverse map of \(fs.mountpoint) (capture it registered, or with --reverse-maps all)")
        }
        try map.forEachRecord(role: role, overlapping: ranges, record)
        return map.notes
    }

    /// As captured.
    public func paths(_ fs: MountedFilesystem, inodes: Set<UInt64>, in inventory: Inventory, options: ReverseMapOptions) -> [UInt64: [String]] {
        guard let map = reverseMaps.first(where: { $0.mountpoint == fs.mountpoint }) else { return [:] }
        var out: [UInt64: [String]] = [:]
        for inode in inodes { if let names = map.paths(of: inode) { out[inode] = names } }
        return out
    }

    /// As captured, each name handed on; nothing collected.
    @discardableResult
    public func forEachPath(_ fs: MountedFilesystem, inodes: InodeSelection, in inventory: Inventory, options: ReverseMapOptions,
                            _ body: (UInt64, String) -> Void) -> [String] {
        guard let map = reverseMaps.first(where: { $0.mountpoint == fs.mountpoint }) else { return [] }
        switch inodes {
        case .some(let set): for inode in set { for n in map.paths(of: inode) ?? [] { body(inode, n) } }
        case .all: map.forEachPath(body)
        }
        return []
    }

    /// A temporary file, as live (the snapshot's own filesystem is not judged).
    public func spillStore(avoiding filesystems: [String]) throws -> (any SpillStore)? {
        try TemporarySpillFile(avoiding: [])
    }

    public func fileUses(_ fs: MountedFilesystem, inodes: InodeSelection, in inventory: Inventory) -> [FileUse] {
        fileUses.filter { $0.device == fs.mount.majorMinor && inodes.contains($0.inode) }
    }

    /// The given files, then what was captured: the answers live gave at capture time.
    public func dynamicMappings(_ sources: MetadataSources, tables: TableSet, in inventory: Inventory, around: [String]) throws(EngineError) -> DynamicMappings {
        try givenMappings(sources, tables: tables, in: inventory).filling(from: metadata)
    }

    /// None: the registry on this machine describes this machine, not the captured one.
    public func registry(_ store: RegistryStore, readOnly: Bool) throws(EngineError) -> HolderRegistry? { nil }

    /// From what the snapshot recorded: a loop device's backing file, a pmem namespace (and
    /// the pfn or dax device claiming it) unbound from nd_pmem. SCSI disks are not told apart
    /// in a snapshot, so they are refused like any other device.
    public func detach(_ device: BlockDevice, in inventory: Inventory) throws(RemovalError) -> LeafDetach {
        if device.loopBackingFile != nil { return .loop(path: "/dev/\(device.kernelName)") }
        if let ns = inventory.namespace(of: device) {
            return .nvdimm(device: ns.claimedBy ?? ns.name, driver: "/sys/bus/nd/drivers/nd_pmem")
        }
        throw RemovalError(category: .notALeaf, message: "\(device.kernelName) cannot be taken away by dmstack: it unbinds pmem namespaces, deletes SCSI disks and detaches loop devices")
    }

    /// No by-id links and no /dev to follow; block sizes as libblkid recorded them.
    public func holderContext(now: String) -> HolderContext { HolderContext(now: now) }

    public func cryptKey(_ file: String) -> Result<String, KeyFileError> {
        guard let bytes = try? SectorReader.contents(of: file, limit: CryptKey.maximum + 1) else { return .success(String(repeating: "0", count: 64)) }
        return CryptKey.hex(bytes, file: file)
    }

    public var changeRefusal: String? { Self.refusal }
    static let refusal = "--snapshot plans against a captured machine; it needs --dry-run"

    public func build(_ plan: ApplyPlan, progress: (Int) throws -> Void) throws(EngineError) -> [String] { throw EngineError(.usage, Self.refusal) }

    public func users(of items: [TeardownItem]) -> [ProcessUse] { [] }

    public func tearDown(_ items: [TeardownItem], progress: (Int) -> Void) throws(EngineError) -> [String] { throw EngineError(.usage, Self.refusal) }
    public func tablelessVolumes(ofStack stack: String) throws(EngineError) -> [String] { [] }
    public func removeTableless(_ names: [String]) throws(EngineError) { throw EngineError(.usage, Self.refusal) }

    public func runRemoval(_ plan: RemovalPlan, detach: LeafDetach, kill: KillPolicy, unmountWait: Double, tokens: [Int32: String],
                           dispatch: @escaping () -> String, log: (RemovalStep) -> Void) -> (steps: [RemovalStep], stopped: RemovalStep?) {
        ([], RemovalStep(.remove, plan.leaf, .failed, Self.refusal))
    }
}
