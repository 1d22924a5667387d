import StackModel
import StackSystem

/// `dmstack remove` up to and after the execution: the plan (the pre-remove impact of the whole
/// leaf, the layers to take down, how the leaf is detached), the checks that refuse it, the
/// event it announces (keyed as a monitor would key the same leaf going, so the two make one
/// event), and the refresh of the holders afterwards. The execution itself is StackSystem's
/// `RemovalRunner`.
public struct Removal: Sendable {
    public let engine: any Engine
    public let time: any TimeSource

    public init(engine: any Engine, time: any TimeSource = SystemTime()) {
        self.engine = engine
        self.time = time
    }

    /// What removing one leaf does, before anything is done.
    public struct Planned: Sendable {
        public var inventory: Inventory
        public var device: BlockDevice
        public var impact: Impact
        public var plan: RemovalPlan
        public var detach: LeafDetach
    }

    /// Plans the removal of `leaf`. `mappings` reads the dynamic targets' metadata for the
    /// machine's tables. A leaf that is not one is a usage error; devices not dmstack's (without
    /// `force`) or in use are refused.
    public func plan(leaf: String, force: Bool, mappings: (Inventory) throws -> DynamicMappings) throws -> Planned {
        let inventory = try engine.inventory()
        let device: BlockDevice
        do { device = try engine.device(leaf, in: inventory) } catch { throw EngineError(.usage, error.description) }
        let impact = try ImpactRun(engine: engine, inventory: inventory, mappings: try mappings(inventory), time: time)
            .plan(leaf: device.displayName, range: nil, event: .remove).impact
        do {
            let plan = try inventory.removal(of: device.displayName, impact: impact, force: force)
            let detach = try engine.detach(device, in: inventory)
            return Planned(inventory: inventory, device: device, impact: impact, plan: plan, detach: detach)
        } catch {
            throw EngineError(error.category == .notALeaf ? .usage : .refused, "remove \(device.displayName) refused: \(error.message)")
        }
    }

    /// Refuses a removal that would freeze the filesystem one of `paths` is on: dmstack writes
    /// them (the outbox, JSON lines files, its own output) while the filesystems are frozen,
    /// and a write there would hang the removal.
    public func checkNotFrozen(_ planned: Planned, paths: [String]) throws(EngineError) {
        var frozen: [UInt64: String] = [:]
        for mp in planned.plan.freeze {
            if let dev = PathProbe.device(of: mp) { frozen[dev] = mp }
        }
        for given in paths {
            guard let dev = PathProbe.fileSystemDevice(of: PathProbe.absolute(given)), let mp = frozen[dev] else { continue }
            let output = given.hasPrefix("/proc/self/fd/")
            throw EngineError(.refused, "remove \(planned.plan.leaf) refused: \(output ? "dmstack's output" : given) is on \(mp), which the removal freezes; "
                + (output ? "redirect it elsewhere" : "move it (--state-dir, the configuration) off that filesystem"))
        }
    }

    /// The processes to signal, each as it is now (pid and start time), so that a pid reused
    /// by another process before the signal is not signalled.
    public func processTokens(_ planned: Planned) -> [Int32: String] {
        var tokens: [Int32: String] = [:]
        for p in planned.plan.processes { tokens[p.pid] = ProcessToken.of(p.pid) }
        return tokens
    }

    /// The steps of a removal, how its leaf is detached and what the processes using a lost
    /// file get, as `RemovalRunner` names them.
    public typealias Step = RemovalStep
    public typealias Detach = LeafDetach
    public typealias Kill = KillPolicy

    /// Carries out the plan on the engine's machine. `notifications` records `event` and
    /// delivers only it, inside the frozen window (a removal stopped before the freeze
    /// announces nothing); an event a monitor recorded first is not recorded twice, and
    /// deliveries that fail stay in the outbox.
    public func execute(_ planned: Planned, kill: KillPolicy, unmountWait: Double, tokens: [Int32: String], event: NotificationEvent,
                        notifications: Notifications, log: (RemovalStep) -> Void) -> (steps: [RemovalStep], stopped: RemovalStep?) {
        engine.runRemoval(planned.plan, detach: planned.detach, kill: kill, unmountWait: unmountWait, tokens: tokens, dispatch: {
            do {
                guard try notifications.record(event) else { return "already recorded (a monitor saw it first)" }
                // The damage ledger keeps what the removal lost until it is gone (best effort:
                // the event is in the outbox either way).
                let identity = planned.inventory.identity(of: planned.device, byId: engine.holderContext(now: event.at).byId[planned.device.kernelName] ?? [])
                _ = try? DamageLedger(registry: notifications.dispatcher.registry, time: time)
                    .record(event, impact: planned.impact, inventory: planned.inventory, condition: DamageLedger.goneCondition(identity: identity))
                let r = try notifications.deliver(only: event.key)
                return "\(r.delivered.count) delivered" + (r.failed.isEmpty ? "" : ", \(r.failed.count) failed (kept in the outbox: \(r.failed.map { "\($0.sink): \($0.detail)" }.joined(separator: "; ")))")
            } catch {
                return "not recorded: \(error)"
            }
        }, log: log)
    }

    /// The event the removal records and delivers. Its occurrence is the last time a holder
    /// saw the leaf present (as a monitor keys the same leaf going), else now.
    public func event(_ planned: Planned, registry: HolderRegistry, host: String) -> NotificationEvent {
        let at = time.now()
        let device = planned.device
        let identity = planned.inventory.identity(of: device, byId: engine.holderContext(now: at).byId[device.kernelName] ?? [])
        let lastSeen = ((try? registry.holders(above: device.kernelName)) ?? []).lastSeenPresent(leaf: identity)
        return NotificationEvent(impact: planned.impact, leafIdentity: identity,
                                 occurrence: lastSeen.map { NotificationEvent.goneOccurrence(lastSeen: $0) } ?? at,
                                 at: at, origin: "remove", host: host)
    }

    /// After the removal: the holders above the leaf re-read from `after` (the machine as it is
    /// now), so what is gone is recorded as gone and the chains stay known. Best effort: a
    /// machine or registry that cannot be read leaves the records as they were (nil).
    @discardableResult
    public func refreshHolders(_ planned: Planned, registry: HolderRegistry, after: any Engine) -> [HolderService.Refreshed]? {
        guard let inventory = try? after.inventory() else { return nil }
        let names = (try? registry.holders(above: planned.device.kernelName).map(\.name)) ?? []
        guard !names.isEmpty else { return [] }
        return try? HolderService(engine: after, time: time).refresh(names, in: registry, inventory: inventory)
    }
}
