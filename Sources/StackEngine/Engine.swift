import StackModel
import StackSystem

/// Every read and change a command needs, answered for one machine: the live one or a
/// captured one (stratisd's `Engine`, implemented by `StratEngine` and `SimEngine`). Commands
/// and use cases only ever talk to this protocol, so nothing above it asks whether it runs on
/// a snapshot; where the two machines differ (a /dev symlink exists only here, a reverse map
/// is read by GETFSMAP or taken from the file, a snapshot refuses every change) each engine
/// gives its own answer.
public protocol Engine: Sendable {
    /// A short description for messages: "the live system" or the snapshot file.
    var source: String { get }

    /// The machine's devices, tables, mounts and namespaces. The live engine reads the machine
    /// as it is at each call (a removal changes it); a snapshot engine parses its file once.
    func inventory() throws(EngineError) -> Inventory

    /// A device argument as the user spelled it (kernel name, dm name, /dev path, major:minor).
    /// The live engine follows /dev symlinks (by-id, by-uuid, mapper) to their node first.
    func device(_ name: String, in inventory: Inventory) throws(UnknownDeviceError) -> BlockDevice

    /// The kernel name a /dev path leads to, for spec members; nil when it leads nowhere.
    func kernelName(ofPath path: String) -> String?

    /// The owners of `ranges` (bytes) of the `role` device of `fs`: GETFSMAP or a FIEMAP walk
    /// on the live machine, the captured reverse map of a snapshot.
    func reverseMap(_ fs: MountedFilesystem, role: HolderRole, ranges: [ByteRange], in inventory: Inventory,
                    options: ReverseMapOptions) -> ReverseMapAnswer

    /// The owners of `ranges` (bytes, sorted and disjoint) of the `role` device of `fs` as a
    /// stream, for callers whose memory must not grow with the filesystem (capture, impact):
    /// `record` gets each record as it is read, and may throw to stop the read; returns the
    /// answer's notes (how the map was read, what it could not do). Names are asked apart,
    /// with `paths`, for the inodes the caller kept. A map that cannot be read at all throws
    /// `ReverseMapUnavailable` (its ranges become an `unknown` part of the impact).
    func forEachReverseMapRecord(_ fs: MountedFilesystem, role: HolderRole, ranges: [ByteRange], in inventory: Inventory,
                                 options: ReverseMapOptions, _ record: (ReverseMapRecord) throws -> Void) throws -> [String]

    /// Every name (hard links: all of them) of `inodes` on `fs`.
    func paths(_ fs: MountedFilesystem, inodes: Set<UInt64>, in inventory: Inventory, options: ReverseMapOptions) -> [UInt64: [String]]

    /// The same names handed to `body` as they are found, (inode, name), none kept: the
    /// impact puts them straight into its compact file list.
    /// `.all`: every name of every inode (a whole-device impact; the impact keeps those of
    /// its files).
    /// Returns notes: what the walk could not read (its files are then not named).
    @discardableResult
    func forEachPath(_ fs: MountedFilesystem, inodes: InodeSelection, in inventory: Inventory, options: ReverseMapOptions,
                     _ body: (UInt64, String) -> Void) -> [String]

    /// Every process use (open or mapped) of `inodes` on `fs` (`.all`: of any inode of it):
    /// /proc now, or as captured.
    func fileUses(_ fs: MountedFilesystem, inodes: InodeSelection, in inventory: Inventory) -> [FileUse]

    /// The size of the regular file `path` if it is still inode `inode` of `fs`, nil when not
    /// known (the lost ranges are then not clipped at its end).
    func fileSize(_ fs: MountedFilesystem, inode: UInt64, path: String) -> UInt64?

    /// Where a file list too large for memory spills (`SpillPolicy.store`): a temporary file
    /// away from `fs`. Nil: this engine keeps its lists in memory (it cannot name every inode
    /// of a filesystem, which a spilled list asks).
    func spillStore(avoiding filesystems: [String]) throws -> (any SpillStore)?

    /// The mappings of the dynamic targets of `tables` (read from `inventory`) from their
    /// metadata: the given files first (each source names its device the way device arguments
    /// do), then, for the targets on the stacks of `around` (the query's devices) that have
    /// none, what this machine has: the live engine reads their metadata itself, a snapshot
    /// what was captured. What cannot be had is in `unavailable`, with the reason.
    func dynamicMappings(_ sources: MetadataSources, tables: TableSet, in inventory: Inventory, around: [String]) throws(EngineError) -> DynamicMappings

    /// The holder registry that describes this machine, if it has one: the one in `store`
    /// for the live machine, none for a snapshot (a registry describes the machine it is on).
    func registry(_ store: RegistryStore, readOnly: Bool) throws(EngineError) -> HolderRegistry?

    /// How a leaf can be taken away (unbind a pmem namespace, delete a SCSI disk, detach a
    /// loop device); a device none of these fits is refused as not a leaf.
    func detach(_ device: BlockDevice, in inventory: Inventory) throws(RemovalError) -> LeafDetach

    /// What recording a holder asks of the machine: by-id names, /dev paths, block sizes.
    func holderContext(now: String) -> HolderContext

    /// A crypt key file as cryptsetup reads `--key-file`, as hex for the table. An engine
    /// that only plans (a snapshot) plans with a zero key for a file it cannot read, which
    /// every output masks anyway.
    func cryptKey(_ file: String) -> Result<String, KeyFileError>

    /// Why this engine cannot change the machine, nil when it can: a snapshot only plans.
    var changeRefusal: String? { get }

    /// Builds an apply plan's volumes (libdevmapper create, load, resume in dependency order,
    /// mkfs, mount) and returns what it did; on failure everything this run did is undone,
    /// and a rollback that failed too is `partial`. A snapshot refuses: it only plans.
    /// `progress(k)` follows its k-th step (`apply` records it: a kill leaves the intent).
    func build(_ plan: ApplyPlan, progress: (Int) throws -> Void) throws(EngineError) -> [String]

    /// Who holds a device of `items` open, or a file or working directory on their
    /// filesystems: a teardown waits for none of them. A snapshot has no processes to ask.
    func users(of items: [TeardownItem]) -> [ProcessUse]

    /// The dm devices of `stack` (uuid `DMSTACK-<stack>:`) that have no live table, by name:
    /// an apply killed between a create and its table load leaves one, and dm adds no block
    /// device before the first load, so the inventory (sysfs) does not see it. A snapshot has
    /// none.
    func tablelessVolumes(ofStack stack: String) throws(EngineError) -> [String]

    /// Removes those devices by name (DM_DEVICE_REMOVE; nothing can use a device without a
    /// table). A snapshot refuses.
    func removeTableless(_ names: [String]) throws(EngineError)

    /// Unmounts and removes `items` top-down and returns what it did. A snapshot refuses.
    /// `progress(k)` follows the k-th item's removal.
    func tearDown(_ items: [TeardownItem], progress: (Int) -> Void) throws(EngineError) -> [String]

    /// Takes a leaf away in the safe order (freeze, `dispatch`, signal, invalidate, thaw,
    /// unmount, remove the layers, detach), each step told to `log` as it is done; stops at the
    /// first step that fails, after thawing what it froze. A snapshot stops before the first.
    func runRemoval(_ plan: RemovalPlan, detach: LeafDetach, kill: KillPolicy, unmountWait: Double, tokens: [Int32: String],
                    dispatch: @escaping () -> String, log: (RemovalStep) -> Void) -> (steps: [RemovalStep], stopped: RemovalStep?)
}

extension Engine {
    /// Over `reverseMap`, which holds the whole answer: an engine that can read its map as a
    /// stream implements it itself.
    public func forEachReverseMapRecord(_ fs: MountedFilesystem, role: HolderRole, ranges: [ByteRange], in inventory: Inventory,
                                        options: ReverseMapOptions, _ record: (ReverseMapRecord) throws -> Void) throws -> [String] {
        let answer = reverseMap(fs, role: role, ranges: ranges, in: inventory, options: options)
        for r in answer.records { try record(r) }
        return answer.notes
    }

    /// Over `paths`, which holds them all (`.all` is not asked of such an engine: its lists
    /// are held, and it answers none).
    @discardableResult
    public func forEachPath(_ fs: MountedFilesystem, inodes: InodeSelection, in inventory: Inventory, options: ReverseMapOptions,
                            _ body: (UInt64, String) -> Void) -> [String] {
        guard case .some(let set) = inodes else { return [] }
        for (inode, names) in paths(fs, inodes: set, in: inventory, options: options) { for n in names { body(inode, n) } }
        return []
    }

    /// Not known: the records carry the sizes they know (`ReverseMapRecord.fileSize`).
    public func fileSize(_ fs: MountedFilesystem, inode: UInt64, path: String) -> UInt64? { nil }

    /// None: an engine over `paths` alone holds its lists.
    public func spillStore(avoiding filesystems: [String]) throws -> (any SpillStore)? { nil }
}

/// How file owners are found on a live filesystem: auto (GETFSMAP where it names them, else a
/// FIEMAP walk), getfsmap, or fiemap.
public typealias ReverseMapStrategy = ReverseMapReader.Strategy

/// How a reverse map is read where there is a choice: the strategy (`auto`, GETFSMAP, FIEMAP)
/// and who hears about a long FIEMAP walk. A snapshot engine has its map already and ignores both.
public struct ReverseMapOptions: Sendable {
    public var strategy: ReverseMapStrategy
    public var progress: (@Sendable (Int) -> Void)?
    public init(strategy: ReverseMapStrategy = .auto, progress: (@Sendable (Int) -> Void)? = nil) {
        self.strategy = strategy
        self.progress = progress
    }
}

extension Engine {
    /// The given files, device names resolved as arguments are (both engines read them so).
    public func givenMappings(_ sources: MetadataSources, tables: TableSet, in inventory: Inventory) throws(EngineError) -> DynamicMappings {
        try sources.load(tables: tables, canonical: { n in (try? device(n, in: inventory))?.displayName ?? n },
                         size: { n in (try? device(n, in: inventory))?.size })
    }

    /// `inventory` with the devices the registry recorded and the machine no longer has, if
    /// `name` is one of them (a leaf that is gone), and the note saying so; unchanged (and no
    /// note) otherwise, and always for an engine without a registry.
    public func addingGone(_ name: String, to inventory: Inventory, store: RegistryStore) throws(EngineError) -> (Inventory, note: String?) {
        guard (try? device(name, in: inventory)) == nil else { return (inventory, nil) }
        // A registry that cannot be read leaves the lookup to fail on the live devices, saying
        // why the recorded ones were not consulted.
        let db: HolderRegistry, recorded: [BlockDevice]
        do {
            guard let found = try registry(store, readOnly: true) else { return (inventory, nil) }
            db = found
            recorded = try usingRegistry { () throws(RegistryError) in try db.recordedDevices() }
        } catch {
            return (inventory, "devices that are gone were not looked up: \(error.message)")
        }
        let (augmented, added) = inventory.adding(recorded: recorded)
        guard let d = try? augmented.device(name), added.contains(d) else { return (inventory, nil) }
        return (augmented, "\(name) is not on the live system; using the devices the holder registry (\(db.path)) recorded")
    }
}

/// A key file's bytes as the hex a crypt table carries; shared by both engines.
enum CryptKey {
    /// dm-crypt takes keys of 1 to 512 bytes; a key file is read no further than one past it.
    static let maximum = 512
    static func hex(_ bytes: [UInt8], file: String) -> Result<String, KeyFileError> {
        guard !bytes.isEmpty, bytes.count <= maximum else {
            return .failure(KeyFileError("key file \(file) holds \(bytes.count == maximum + 1 ? "more than \(maximum)" : "\(bytes.count)") bytes; a dm-crypt key is 1 to \(maximum)"))
        }
        let digits = Array("0123456789abcdef".utf8)
        return .success(String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self))
    }
}

/// An apply or teardown written down in the registry and not finished (`list` shows it).
public typealias ChangeIntent = StackSystem.ChangeIntent
