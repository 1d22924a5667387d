import StackModel
import StackSystem

/// Every read a command needs, answered for one machine: the live one or a captured one
/// (stratisd's `Engine`, implemented by `StratEngine` and `SimEngine`). Commands and use cases
/// only ever talk to this protocol, so nothing above it asks whether it runs on a snapshot;
/// where the two machines differ (a /dev symlink exists only here, a reverse map is read by
/// GETFSMAP or taken from the file) each engine gives its own answer.
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

    /// Every process use (open or mapped) of `inodes` on `fs`: /proc now, or as captured.
    func fileUses(_ fs: MountedFilesystem, inodes: Set<UInt64>, in inventory: Inventory) -> [FileUse]

    /// The mappings of the dynamic targets of `tables` (read from `inventory`) from their
    /// metadata; each source names its device the way device arguments do.
    func dynamicMappings(_ sources: MetadataSources, tables: TableSet, in inventory: Inventory) throws(EngineError) -> DynamicMappings

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
    func build(_ plan: ApplyPlan) throws(EngineError) -> [String]

    /// Who holds a device of `items` open, or a file or working directory on their
    /// filesystems: a teardown waits for none of them. A snapshot has no processes to ask.
    func users(of items: [TeardownItem]) -> [ProcessUse]

    /// Unmounts and removes `items` top-down and returns what it did. A snapshot refuses.
    func tearDown(_ items: [TeardownItem]) throws(EngineError) -> [String]

    /// Takes a leaf away in the safe order (freeze, `dispatch`, signal, invalidate, thaw,
    /// unmount, remove the layers, detach), each step told to `log` as it is done; stops at the
    /// first step that fails, after thawing what it froze. A snapshot stops before the first.
    func runRemoval(_ plan: RemovalPlan, detach: LeafDetach, kill: KillPolicy, unmountWait: Double, tokens: [Int32: String],
                    dispatch: @escaping () -> String, log: (RemovalStep) -> Void) -> (steps: [RemovalStep], stopped: RemovalStep?)
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

/// A failure of an engine read or a use case, with the kind of failure a command turns into
/// its documented exit status: a bad argument, a malformed input, refused for safety, or a run
/// time failure.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    /// Which exit status the failure means (usage 64, data 65, refused 3, failure 1, partial 2:
    /// some of it was done and could not be undone).
    public enum Kind: Sendable, Hashable { case usage, dataError, refused, failure, partial }
    public var kind: Kind
    public var message: String
    public var description: String { message }
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// A registry failure: corrupt is a malformed file, a name taken by another holder is
    /// refused, anything else a failure.
    public init(_ error: RegistryError) {
        let kind: Kind = switch error.kind {
        case .corrupt: .dataError
        case .conflict: .refused
        case .access, .other: .failure
        }
        self.init(kind, error.message)
    }
}

/// Runs a registry call, its failure turned into an `EngineError`.
public func usingRegistry<T>(_ body: () throws(RegistryError) -> T) throws(EngineError) -> T {
    do { return try body() } catch { throw EngineError(error) }
}

/// A change failure as an engine error: refused when a device is in use, partial when its
/// rollback failed too, else a failure.
extension EngineError {
    init(_ failure: ChangeFailure) {
        let kind: Kind = !failure.rollbackFailures.isEmpty ? .partial : failure.category == .inUse ? .refused : .failure
        self.init(kind, failure.description)
    }
}

/// A spec file (YAML) read and decoded; a malformed one is a data error naming its line.
public enum SpecFile {
    public static func load(_ path: String) throws(EngineError) -> StackSpec {
        do { return try SpecLoader.load(file: path) } catch { throw EngineError(.dataError, error.description) }
    }
}

/// Where the holder registry and outbox live; opened only when a use case needs it, so a
/// command that does not need it never creates or locks it.
public struct RegistryStore: Sendable {
    public let directory: String
    public init(directory: String) { self.directory = directory }

    /// The registry file's path, for messages.
    public var path: String { "\(directory)/\(HolderRegistry.fileName)" }

    /// The registry, created if missing.
    public func open() throws(EngineError) -> HolderRegistry {
        guard let db = try usingRegistry({ () throws(RegistryError) in try HolderRegistry.open(directory: directory) }) else {
            throw EngineError(.failure, "cannot open the registry in \(directory)")
        }
        return db
    }

    /// The registry if one exists; never creates it, and with `readOnly` never writes it.
    public func openExisting(readOnly: Bool = true) throws(EngineError) -> HolderRegistry? {
        try usingRegistry { () throws(RegistryError) in try HolderRegistry.open(directory: directory, create: false, readOnly: readOnly) }
    }
}

extension Engine {
    /// Both engines read the given files; device names resolved as arguments are.
    public func dynamicMappings(_ sources: MetadataSources, tables: TableSet, in inventory: Inventory) throws(EngineError) -> DynamicMappings {
        try sources.load(tables: tables) { n in (try? device(n, in: inventory))?.displayName ?? n }
    }

    /// `inventory` with the devices the registry recorded and the machine no longer has, if
    /// `name` is one of them (a leaf that is gone), and the note saying so; unchanged (and no
    /// note) otherwise, and always for an engine without a registry.
    public func addingGone(_ name: String, to inventory: Inventory, store: RegistryStore) throws(EngineError) -> (Inventory, note: String?) {
        guard (try? device(name, in: inventory)) == nil, let db = try registry(store, readOnly: true) else { return (inventory, nil) }
        let recorded = try usingRegistry { () throws(RegistryError) in try db.recordedDevices() }
        let (augmented, added) = inventory.adding(recorded: recorded)
        guard let d = try? augmented.device(name), added.contains(d) else { return (inventory, nil) }
        return (augmented, "\(name) is not on the live system; using the devices the holder registry (\(db.path)) recorded")
    }
}

/// A key file's bytes as the hex a crypt table carries; shared by both engines.
enum CryptKey {
    static func hex(_ bytes: [UInt8], file: String) -> Result<String, KeyFileError> {
        guard !bytes.isEmpty, bytes.count <= 512 else { return .failure(KeyFileError("key file \(file) holds \(bytes.count) bytes; a dm-crypt key is 1 to 512")) }
        let digits = Array("0123456789abcdef".utf8)
        return .success(String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self))
    }
}
