import StackModel
import StackSystem

/// One pass of `dmstack monitor`: the machine now compared with the registry (a registered
/// leaf gone, a bad range, a raid or mirror leg dead), an event for each finding recorded once
/// per key, the holders whose leaf went refreshed, then every due delivery tried. Keys make it
/// idempotent: the same thing seen again (another pass, a restarted monitor) is not a new event.
public struct MonitorPass {
    public let engine: any Engine
    public let dispatcher: Dispatcher
    public let time: any TimeSource
    /// The host named in events.
    public let host: String
    /// How often a pass probes every damaged file (open by handle, FIEMAP), in seconds; 0:
    /// every pass. Conditions (a bad range gone, a raid healthy) are checked every pass; the
    /// file probe grows with the damage, so a monitor waking every few seconds does it less.
    public var fileCheckInterval: Double = 0

    public init(engine: any Engine, dispatcher: Dispatcher, time: any TimeSource = SystemTime(), host: String) {
        self.engine = engine
        self.dispatcher = dispatcher
        self.time = time
        self.host = host
    }

    /// Runs the pass. `note` hears a finding that could not be handled (the pass goes on),
    /// `recorded` each new event as soon as it is in the outbox; the deliveries' report is
    /// returned.
    public func run(note: (String) -> Void, recorded: (NotificationEvent) throws -> Void) throws -> Dispatcher.Report {
        let inventory = try engine.inventory()
        let db = dispatcher.registry
        let records = try usingRegistry { () throws(RegistryError) in try db.all() }
        let at = time.now()
        let context = engine.holderContext(now: at)
        var events: [NotificationEvent] = []
        // The ledger's side of each event: its impact and the condition it stands for.
        var ledgerSide: [String: (impact: Impact?, condition: String)] = [:]
        let findings = inventory.monitorFindings(records: records, byId: context.byId)
        var refresh: Set<String> = []
        var recordedDevices: [BlockDevice]?
        var states = try loadStates(db, at: at)
        for finding in findings {
            // A finding whose impact cannot be computed still gives its event (without the
            // impact, said in the summary); it never stops the pass or the deliveries.
            do {
                switch finding {
                case .leafGone(let leaf, let holders, let lastSeen):
                    // The chains as the registry recorded them: the leaf's tables are gone from the machine.
                    refresh.formUnion(holders)
                    let occurrence = NotificationEvent.goneOccurrence(lastSeen: lastSeen)
                    let key = NotificationEvent.key(kind: .remove, leafIdentity: leaf.identity, range: SectorRange(start: 0, length: leaf.device.size),
                                                    occurrence: occurrence)
                    if try usingRegistry({ () throws(RegistryError) in try db.hasEvent(key) }) { continue }
                    if recordedDevices == nil {
                        recordedDevices = try usingRegistry { () throws(RegistryError) in try db.recordedDevices() }
                    }
                    // By the leaf's recorded identity: a device that took its name is left out.
                    let withGone = inventory.planningGone(leaf, recorded: recordedDevices!)
                    do {
                        let impact = try ImpactRun(engine: engine, inventory: withGone, mappings: mappings(withGone, around: leaf.device.kernelName), time: time)
                            .plan(leaf: leaf.device.kernelName, range: nil, event: .remove).impact
                        events.append(NotificationEvent(impact: impact, leafIdentity: leaf.identity, occurrence: occurrence, at: at, origin: "monitor", host: host))
                        ledgerSide[events[events.count - 1].key] = (impact, DamageLedger.goneCondition(identity: leaf.identity))
                    } catch let e as EngineError {
                        ledgerSide[key] = (nil, DamageLedger.goneCondition(identity: leaf.identity))
                        events.append(NotificationEvent(key: key, kind: .remove, severity: .critical, at: at, origin: "monitor", host: host,
                                                        leaf: leaf.device.kernelName, range: "0+\(leaf.device.size)",
                                                        summary: "\(leaf.device.kernelName) is gone (holders \(holders.joined(separator: ", "))); impact not computed: \(e.message)"))
                    }
                case .badRange(let device, let identity, let range):
                    // Known ranges come back every pass: skip them before reading any reverse map.
                    // A range that comes back after it was seen clear is a new occurrence (its
                    // epoch in device_states), so a new event and a new alert.
                    let occurrence = states.occurrence(identity: identity, aspect: SeenState.badRange(range), state: "bad", base: "badblocks")
                    let key = NotificationEvent.key(kind: .failure, leafIdentity: identity, range: range, occurrence: occurrence)
                    if try usingRegistry({ () throws(RegistryError) in try db.hasEvent(key) }) { continue }
                    do {
                        let impact = try ImpactRun(engine: engine, inventory: inventory, mappings: mappings(inventory, around: device), time: time)
                            .plan(leaf: device, range: range, event: .failure).impact
                        events.append(NotificationEvent(impact: impact, leafIdentity: identity, occurrence: occurrence, at: at, origin: "monitor", host: host))
                        ledgerSide[key] = (impact, DamageLedger.badRangeCondition(identity: identity, range: range))
                    } catch let e as EngineError {
                        ledgerSide[key] = (nil, DamageLedger.badRangeCondition(identity: identity, range: range))
                        events.append(NotificationEvent(key: key, kind: .failure, severity: .critical, at: at, origin: "monitor", host: host,
                                                        leaf: device, range: "\(range.start)+\(range.length)",
                                                        summary: "bad range \(range) on \(device); impact not computed: \(e.message)"))
                    }
                case .degraded(let device, let identity, let health, let members):
                    let summary = "\(device) lost redundancy (health \(health), members \(members.joined(separator: " "))): it keeps serving; replace the failed member"
                    let key = states.degradedKey(identity: identity, health: health)
                    ledgerSide[key] = (nil, DamageLedger.degradedCondition(identity: identity))
                    events.append(NotificationEvent(key: key, kind: .degraded, severity: .warning, at: at,
                                                    origin: "monitor", host: host, leaf: device, range: "-", summary: summary, degraded: [device]))
                }
            } catch let e as EngineError {
                note(e.message)
            }
        }
        for e in events {
            guard try usingRegistry({ () throws(RegistryError) in try dispatcher.record(e) }) else { continue }
            if let side = ledgerSide[e.key] { recordDamage(e, impact: side.impact, condition: side.condition, inventory: inventory, note: note) }
            try recorded(e)
        }
        // After the events: a pass killed before this line finds the same epochs again.
        try saveStates(&states, inventory: inventory, byId: context.byId, in: db)
        try checkDamage(findings: findings, live: Set(inventory.devicesByIdentity(byId: context.byId).keys),
                        mounts: inventory.filesystemMounts(), note: note, recorded: recorded)
        if !refresh.isEmpty {
            _ = try HolderService(engine: engine, time: FixedTime(at)).refresh(refresh.sorted(), in: db, inventory: inventory)
        }
        return try usingRegistry { () throws(RegistryError) in try dispatcher.dispatch() }
    }

    /// The dynamic targets' mappings on `around`'s stacks, as the engine has them (a live
    /// pool's metadata snapshot, say); what it cannot read stays `unknown` with its reason.
    func mappings(_ inventory: Inventory, around: String) -> DynamicMappings {
        guard let tables = try? inventory.tableSet() else { return DynamicMappings() }
        return (try? engine.dynamicMappings(MetadataSources(), tables: tables, in: inventory, around: [around])) ?? DynamicMappings()
    }
}
