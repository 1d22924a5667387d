import StackModel
import StackSystem

/// Recording holders and keeping them current: register a filesystem or raw device from the
/// engine's machine, show stored records as the machine is now, refresh them, rebuild a
/// damaged registry. The CLI's `holders` commands, `apply` and `remove` call it; tests drive it
/// with a snapshot engine, a temporary registry and a fixed time.
public struct HolderService: Sendable {
    public let engine: any Engine
    public let time: any TimeSource

    public init(engine: any Engine, time: any TimeSource = SystemTime()) {
        self.engine = engine
        self.time = time
    }

    /// What `register` stored: the record, whether it is new, and what changed in an old one.
    public struct Registered: Sendable {
        public var record: HolderRecord
        public var created: Bool
        public var changes: [String]
    }

    /// Records `target` from the machine (or `inventory`, read once by a caller registering
    /// several) into `registry`. An existing record of the same holder is merged and keeps its
    /// gone devices; `rename` (default: when a name is given) lets it take the new name.
    public func register(_ target: HolderTarget, name: String?, hook: [String]?, by: String, in registry: HolderRegistry,
                         inventory given: Inventory? = nil, rename: Bool? = nil) throws(EngineError) -> Registered {
        let inventory = if let given { given } else { try machineNow() }
        let context = engine.holderContext(now: time.now())
        let record: HolderRecord
        do { record = try inventory.holderRecord(name: name, target: target, hook: hook, registeredBy: by, context: context) } catch {
            throw EngineError(.failure, error.message)
        }
        let live = inventory.devicesByIdentity(byId: context.byId)
        let stored = try usingRegistry { () throws(RegistryError) in
            try registry.register(record, rename: rename ?? (name != nil)) { old in old.merged(with: record, live: live, now: context.now) }
        }
        return Registered(record: stored.record, created: stored.created, changes: stored.changes)
    }

    /// A stored record as the machine shows it now (refreshed in memory, not saved), with what
    /// changed since its last refresh.
    public struct Current: Sendable {
        public var record: HolderRecord
        public var pending: [String]
    }

    /// Stored records as the machine shows them now. Without a readable machine the stored
    /// records are given as they are, with the warning to say.
    public func current(_ stored: [HolderRecord]) -> (records: [Current], warning: String?) {
        guard !stored.isEmpty else { return ([], nil) }
        let inventory: Inventory
        do { inventory = try engine.inventory() } catch {
            return (stored.map { Current(record: $0, pending: []) }, "showing the registry as last refreshed: \(error.message)")
        }
        let context = engine.holderContext(now: time.now())
        let live = inventory.devicesByIdentity(byId: context.byId)
        return (stored.map { r in
            var (next, pending) = r.refreshed(in: inventory, context: context, live: live)
            next.refreshedAt = r.refreshedAt
            return Current(record: next, pending: pending)
        }, nil)
    }

    /// A refreshed holder and what its refresh recorded.
    public struct Refreshed: Sendable {
        public var record: HolderRecord
        public var changes: [String]
    }

    /// Re-reads the holders `names` (every holder when empty) from `inventory` (default: the
    /// machine now) and records what changed; a device that is gone is marked gone.
    public func refresh(_ names: [String], in registry: HolderRegistry, inventory given: Inventory? = nil) throws(EngineError) -> [Refreshed] {
        let inventory = if let given { given } else { try machineNow() }
        let context = engine.holderContext(now: time.now())
        let live = inventory.devicesByIdentity(byId: context.byId)
        return try usingRegistry { () throws(RegistryError) in
            try registry.refresh(names) { $0.refreshed(in: inventory, context: context, live: live) }
        }.map { Refreshed(record: $0.record, changes: $0.changes) }
    }

    /// A rebuilt registry: where the damaged file went and the holders salvaged from it.
    public struct Rebuilt {
        public var registry: HolderRegistry
        public var movedTo: String?
        public var salvaged: [HolderRecord]
    }

    /// Moves a damaged registry in `store` aside and rebuilds it from what can still be read of
    /// it, then registers every mounted filesystem on a dmstack volume of `inventory` that it
    /// does not hold yet (what dmstack made is known again from the machine).
    public func rebuild(_ store: RegistryStore, inventory: Inventory) throws(EngineError) -> Rebuilt {
        let now = time.now()
        let result = try usingRegistry { () throws(RegistryError) in try HolderRegistry.rebuild(directory: store.directory, now: now) }
        let db = result.registry
        for v in inventory.ownedVolumes() where !v.mountpoints.isEmpty {
            guard (try? db.find(v.mountpoints[0])) == nil else { continue }
            _ = try? register(.filesystem(v.mountpoints[0]), name: nil, hook: nil, by: "apply \(v.stack)", in: db, inventory: inventory)
        }
        return Rebuilt(registry: db, movedTo: result.movedTo, salvaged: result.salvaged)
    }

    /// The holder `key` names (a name, mountpoint or filesystem UUID), nil if none.
    public func find(_ key: String, in registry: HolderRegistry) throws(EngineError) -> HolderRecord? {
        try usingRegistry { () throws(RegistryError) in try registry.find(key) }
    }

    /// The machine now, for `given ?? machineNow()` (an autoclosure cannot carry a typed throw).
    func machineNow() throws(EngineError) -> Inventory { try engine.inventory() }

    /// Every stored holder; none without a registry.
    public func all(in registry: HolderRegistry?) throws(EngineError) -> [HolderRecord] {
        try usingRegistry { () throws(RegistryError) in try registry?.all() ?? [] }
    }

    /// What was recorded of holder `name`, newest first.
    public func history(_ name: String, in registry: HolderRegistry) throws(EngineError) -> [(at: String, change: String)] {
        try usingRegistry { () throws(RegistryError) in try registry.history(name) }
    }

    /// Forgets holder `name` and its history; false if there was none.
    @discardableResult
    public func unregister(_ name: String, in registry: HolderRegistry) throws(EngineError) -> Bool {
        try usingRegistry { () throws(RegistryError) in try registry.unregister(name) }
    }
}
