import FoundationEssentials
import StackModel
import StackSystem

/// The machine dmstack runs on, read through sysfs, libdevmapper, libblkid and /proc; reverse
/// maps by GETFSMAP or a FIEMAP walk, file uses from /proc, its own holder registry.
public struct LiveEngine: Engine {
    public let discovery: LiveDiscovery
    public let dmstackVersion: String

    public init(dmstackVersion: String, discovery: LiveDiscovery = LiveDiscovery()) {
        self.dmstackVersion = dmstackVersion
        self.discovery = discovery
    }

    public var source: String { "the live system" }

    /// The machine as it is now, read again at each call: a removal or an apply changes it.
    public func snapshot() throws(EngineError) -> SystemSnapshot {
        let now = Date.now.formatted(.iso8601)
        do { return try discovery.snapshot(dmstackVersion: dmstackVersion, capturedAt: now) } catch {
            throw EngineError(.failure, "cannot read the live system: \(error)")
        }
    }

    public func inventory() throws(EngineError) -> Inventory { Inventory(try snapshot()) }

    public func device(_ name: String, in inventory: Inventory) throws(UnknownDeviceError) -> BlockDevice {
        let resolved = DevicePath.resolve(name)
        do { return try inventory.device(resolved) } catch {
            if resolved != name, let d = try? inventory.device(name) { return d }
            throw error
        }
    }

    public func kernelName(ofPath path: String) -> String? { DevicePath.kernelName(of: path) }

    public func reverseMap(_ fs: MountedFilesystem, role: HolderRole, ranges: [ByteRange], in inventory: Inventory,
                           options: ReverseMapOptions) -> ReverseMapAnswer {
        guard let name = fs.devices[role], let d = try? inventory.device(name) else {
            return ReverseMapAnswer(records: [], paths: [:], notes: ["\(fs.mountpoint): no \(role.rawValue) device"])
        }
        var reader = ReverseMapReader()
        reader.strategy = options.strategy
        reader.progress = options.progress
        return reader.answer(fs, role: role, ranges: ranges, device: d)
    }

    /// GETFSMAP paged and handed on batch by batch, or the FIEMAP walk's extents as it finds
    /// them (`ReverseMapReader.forEachRecord`); nothing of the map is held. A map that cannot
    /// be read throws `ReverseMapUnavailable` (the impact makes it an `unknown` part).
    public func forEachReverseMapRecord(_ fs: MountedFilesystem, role: HolderRole, ranges: [ByteRange], in inventory: Inventory,
                                        options: ReverseMapOptions, _ record: (ReverseMapRecord) throws -> Void) throws -> [String] {
        guard let name = fs.devices[role], let d = try? inventory.device(name) else {
            throw ReverseMapUnavailable(.reverseMapUnavailable, "\(fs.mountpoint) has no \(role.rawValue) device dmstack can name to ask its reverse map")
        }
        var reader = ReverseMapReader()
        reader.strategy = options.strategy
        reader.progress = options.progress
        return try reader.forEachRecord(fs, role: role, ranges: ranges, device: d, record)
    }

    /// By one walk of the mounted tree that stops once each inode has all its names.
    public func paths(_ fs: MountedFilesystem, inodes: Set<UInt64>, in inventory: Inventory, options: ReverseMapOptions) -> [UInt64: [String]] {
        var reader = ReverseMapReader()
        reader.progress = options.progress
        return reader.paths(root: fs.mountpoint, inodes: inodes)
    }

    /// The same walk, each name handed on as it is found.
    @discardableResult
    public func forEachPath(_ fs: MountedFilesystem, inodes: InodeSelection, in inventory: Inventory, options: ReverseMapOptions,
                            _ body: (UInt64, String) -> Void) -> [String] {
        var reader = ReverseMapReader()
        reader.progress = options.progress
        return reader.forEachPath(root: fs.mountpoint, inodes: inodes, body)
    }

    /// lstat(2) of the path: its size if it is still that inode of that filesystem and a
    /// regular file.
    public func fileSize(_ fs: MountedFilesystem, inode: UInt64, path: String) -> UInt64? {
        PathProbe.regularFileSize(path, inode: inode, majorMinor: fs.mount.majorMinor)
    }

    /// A temporary file away from the filesystem (`TemporarySpillFile`).
    public func spillStore(avoiding filesystems: [String]) throws -> (any SpillStore)? {
        try TemporarySpillFile(avoiding: filesystems)
    }

    public func fileUses(_ fs: MountedFilesystem, inodes: InodeSelection, in inventory: Inventory) -> [FileUse] {
        ProcessScanner.fileUses(device: fs.mount.majorMinor, inodes: inodes)
    }

    /// The given files, then each dynamic target on the query's stacks read live
    /// (StackSystem/Metadata: a pool's held metadata snapshot, a COW store, a superblock).
    public func dynamicMappings(_ sources: MetadataSources, tables: TableSet, in inventory: Inventory, around: [String]) throws(EngineError) -> DynamicMappings {
        let given = try givenMappings(sources, tables: tables, in: inventory)
        let read = LiveMetadataReaders.read(tables: tables, inventory: inventory, scope: inventory.stack(of: around), given: given)
        return given.filling(from: read)
    }

    public func registry(_ store: RegistryStore, readOnly: Bool) throws(EngineError) -> HolderRegistry? {
        try store.openExisting(readOnly: readOnly)
    }

    /// From sysfs: the device's loop, SCSI or nd bus node.
    public func detach(_ device: BlockDevice, in inventory: Inventory) throws(RemovalError) -> LeafDetach {
        try LeafDetach.of(device.kernelName)
    }

    public func holderContext(now: String) -> HolderContext { HolderContext.live(now: now) }

    public func cryptKey(_ file: String) -> Result<String, KeyFileError> {
        guard let bytes = try? SectorReader.contents(of: file, limit: CryptKey.maximum + 1) else { return .failure(KeyFileError("cannot read key file \(file)")) }
        return CryptKey.hex(bytes, file: file)
    }

    public var changeRefusal: String? { nil }

    public func build(_ plan: ApplyPlan, progress: (Int) throws -> Void) throws(EngineError) -> [String] {
        let builder = VolumeBuilder()
        do { try builder.run(plan, progress: progress) } catch { throw EngineError(error) }
        return builder.log
    }

    public func users(of items: [TeardownItem]) -> [ProcessUse] { VolumeRemover().users(of: items) }

    public func tearDown(_ items: [TeardownItem], progress: (Int) -> Void) throws(EngineError) -> [String] {
        do { return try VolumeRemover().run(items, progress: progress) } catch { throw EngineError(error) }
    }

    public func tablelessVolumes(ofStack stack: String) throws(EngineError) -> [String] {
        do {
            return try DeviceMapperClient().listDevices().filter { !$0.liveTable && $0.uuid.hasPrefix("DMSTACK-\(stack):") }.map(\.name).sorted()
        } catch { throw EngineError(.failure, error.description) }
    }

    public func removeTableless(_ names: [String]) throws(EngineError) {
        let dm = DeviceMapperClient()
        for name in names {
            do { try dm.remove(name: name) } catch { throw EngineError(.failure, error.description) }
        }
    }

    /// StackSystem's `RemovalRunner` on this machine.
    public func runRemoval(_ plan: RemovalPlan, detach: LeafDetach, kill: KillPolicy, unmountWait: Double, tokens: [Int32: String],
                           dispatch: @escaping () -> String, log: (RemovalStep) -> Void) -> (steps: [RemovalStep], stopped: RemovalStep?) {
        var runner = RemovalRunner(plan: plan, detach: detach, kill: kill, dispatch: dispatch)
        runner.tokens = tokens
        runner.unmountWait = unmountWait
        return runner.run(log: log)
    }
}
