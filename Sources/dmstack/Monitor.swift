import ArgumentParser
import StackModel
import StackSystem
#if canImport(Glibc)
import Glibc
#endif

/// `dmstack monitor`: reacts to removals, bad ranges and degraded devices by itself.
struct Monitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch for removed leaves, new bad ranges and degraded raid/mirror devices; record and dispatch an event for each.",
        discussion: """
            Each pass compares the live machine with the holder registry: a registered leaf \
            that is gone gives a remove event (the impact computed through the chains the \
            registry recorded, then the holders are refreshed), each range in a device's \
            badblocks list a failure event, a raid or mirror with a failed leg a degraded \
            event; then every due delivery is tried. A pass runs at start, on every block \
            uevent (kernel netlink: no udevd needed), on every dm event (DM_DEV_ARM_POLL on \
            /dev/mapper/control), and every monitor.badblocks-interval of the configuration \
            (default 5 s; badblocks are polled). Keys make it idempotent: a range, a removal or \
            a health state seen again (another pass, a restarted monitor) is not a new event. \
            --once runs one pass and exits (for a timer or a test). Prints one line per new \
            event (with --json, the event as one JSON line, as docs/json/event.schema.json describes). contrib/dmstack-monitor.service \
            runs it under systemd.
            """
    )

    @Flag(help: "One pass, then exit.")
    var once = false

    @Flag(help: "Print each new event as one line of JSON.")
    var json = false

    @OptionGroup var options: ConfigOptions
    @OptionGroup var registry: RegistryOptions

    func run() throws {
        try reportingFailures {
            var stderr = StandardError()
            let config = try options.load()
            let db = try registry.open()
            let dispatcher = Dispatcher(registry: db, config: config)
            if once {
                try pass(dispatcher, trigger: "once")
                return
            }
            let source = KernelEventSource()
            for n in source.notes { print("dmstack: monitor: \(n)", to: &stderr) }
            print("dmstack: monitor: watching (registry \(db.path), \(config.sinks.count) sinks, badblocks every \(config.badblocksInterval) s)", to: &stderr)
            var trigger = "start"
            while true {
                do { try pass(dispatcher, trigger: trigger) } catch let e as CommandFailure {
                    // One failed pass (the registry busy, a device vanishing mid-read) is said, not fatal.
                    print("dmstack: monitor: pass failed: \(e.message)", to: &stderr)
                }
                let wakeup = source.wait(timeout: config.badblocksInterval)
                trigger = wakeup.block.isEmpty && !wakeup.deviceMapper ? "timer"
                    : (wakeup.block.map { "\($0.action) \($0.name)" } + (wakeup.deviceMapper ? ["dm event"] : [])).joined(separator: ", ")
            }
        }
    }

    /// One pass: the findings, an event for each (recorded once per key), the refresh of the
    /// holders whose leaf went, then the due deliveries.
    func pass(_ dispatcher: Dispatcher, trigger: String) throws {
        var stderr = StandardError()
        let inventory = try liveInventory()
        let db = dispatcher.registry
        let records = try usingRegistry { () throws(RegistryError) in try db.all() }
        let at = timestamp()
        let context = HolderContext.live(now: at)
        let host = hostName()
        var events: [NotificationEvent] = []
        var refresh: Set<String> = []
        var withGone: Inventory?
        for finding in inventory.monitorFindings(records: records, byId: context.byId) {
            // One finding whose impact cannot be computed still gives its event (without the
            // impact, said in the summary); it never stops the pass or the deliveries.
            do {
                switch finding {
                case .leafGone(let leaf, let holders, let lastSeen):
                    // The chains as the registry recorded them: the leaf's tables are gone from the machine.
                    refresh.formUnion(holders)
                    let key = NotificationEvent.key(kind: .remove, leafIdentity: leaf.identity, range: SectorRange(start: 0, length: leaf.device.size),
                                                    occurrence: NotificationEvent.goneOccurrence(lastSeen: lastSeen))
                    if try usingRegistry({ () throws(RegistryError) in try db.hasEvent(key) }) { continue }
                    if withGone == nil {
                        let recorded = try usingRegistry { () throws(RegistryError) in try db.recordedDevices() }
                        withGone = inventory.adding(recorded: recorded).inventory
                    }
                    do {
                        let impact = try ImpactRun(inventory: withGone!, live: true, mappings: DynamicMappings())
                            .plan(leaf: leaf.device.kernelName, range: nil, event: .remove, source: "the live system")
                        events.append(NotificationEvent(impact: impact, leafIdentity: leaf.identity, occurrence: NotificationEvent.goneOccurrence(lastSeen: lastSeen),
                                                        at: at, origin: "monitor", host: host))
                    } catch let e as CommandFailure {
                        events.append(NotificationEvent(key: key, kind: .remove, severity: .critical, at: at, origin: "monitor", host: host,
                                                        leaf: leaf.device.kernelName, range: "0+\(leaf.device.size)",
                                                        summary: "\(leaf.device.kernelName) is gone (holders \(holders.joined(separator: ", "))); impact not computed: \(e.message)"))
                    }
                case .badRange(let device, let identity, let range):
                    // Known ranges come back every pass: skip them before reading any reverse map.
                    let key = NotificationEvent.key(kind: .failure, leafIdentity: identity, range: range, occurrence: "badblocks")
                    if try usingRegistry({ () throws(RegistryError) in try db.hasEvent(key) }) { continue }
                    do {
                        let impact = try ImpactRun(inventory: inventory, live: true, mappings: DynamicMappings())
                            .plan(leaf: device, range: range, event: .failure, source: "the live system")
                        events.append(NotificationEvent(impact: impact, leafIdentity: identity, occurrence: "badblocks", at: at, origin: "monitor", host: host))
                    } catch let e as CommandFailure {
                        events.append(NotificationEvent(key: key, kind: .failure, severity: .critical, at: at, origin: "monitor", host: host,
                                                        leaf: device, range: "\(range.start)+\(range.length)",
                                                        summary: "bad range \(range) on \(device); impact not computed: \(e.message)"))
                    }
                case .degraded(let device, let identity, let health, let members):
                    let summary = "\(device) lost redundancy (health \(health), members \(members.joined(separator: " "))): it keeps serving; replace the failed member"
                    events.append(NotificationEvent(key: EventKey.make(["degraded", identity, health]), kind: .degraded, severity: .warning, at: at,
                                                    origin: "monitor", host: host, leaf: device, range: "-", summary: summary, degraded: [device]))
                }
            } catch let e as CommandFailure {
                print("dmstack: monitor: \(e.message)", to: &stderr)
            }
        }
        for e in events {
            guard try usingRegistry({ () throws(RegistryError) in try dispatcher.record(e) }) else { continue }
            if json {
                print(try Dispatcher.payload(e))
            } else {
                print("\(e.at) \(e.kind.rawValue) \(e.leaf) \(e.range) [\(e.severity.rawValue)] \(e.key): \(e.summary) (\(trigger))")
            }
            fflush(nil)  // a line per event as it happens, also into a pipe or a file
        }
        if !refresh.isEmpty {
            let live = inventory.devicesByIdentity(byId: context.byId)
            _ = try usingRegistry { () throws(RegistryError) in
                try db.refresh(refresh.sorted()) { $0.refreshed(in: inventory, context: context, live: live) }
            }
        }
        let report = try usingRegistry { () throws(RegistryError) in try dispatcher.dispatch() }
        for f in report.failed { print("dmstack: monitor: event \(f.event) to \(f.sink) not delivered: \(f.detail)", to: &stderr) }
    }
}
