import ArgumentParser
import StackEngine
import StackModel
import StackSystem

/// `dmstack monitor`: reacts to removals, bad ranges and degraded devices by itself.
struct Monitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
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
            a health state seen again (another pass, a restarted monitor) is not a new event; the last state seen of each \
            device's ranges and health is kept in the registry, so a range cleared and bad \
            again, or a leg failing again after a repair, is a new one. A gone leaf is planned \
            by its recorded identity, never through a device that took its kernel name. A \
            flood of uevents coalesces (at most 64 kept a wakeup, the rest counted on stderr). \
            --once runs one pass and exits (for a timer or a test). Prints one line per new \
            event (with --json, the event as one JSON line, as docs/json/event.schema.json describes). \
            Each pass also checks the damage ledger (see damage) and records a resolution \
            event for each event whose damage is gone; --metrics-file writes dmstack metrics \
            after each pass; events: {retention: DURATION} prunes delivered events older. Test hooks: \
            DMSTACK_BADBLOCKS=NAME:START+LENGTH,... (sectors) adds those ranges to the devices' \
            badblocks lists, for devices that keep none (loop); DMSTACK_MONITOR_HEAP=1 says the \
            bytes of heap in use (mallinfo2) on stderr after each pass. contrib/dmstack-monitor.service \
            runs it under systemd.
            """
    )

    @Flag(help: "One pass, then exit.")
    var once = false

    @Flag(name: [.customShort("J"), .long], help: "Print each new event as one line of JSON.")
    var json = false

    @Option(help: ArgumentHelp("After each pass, write `dmstack metrics` to this file (atomically; for node_exporter's textfile collector the name must end in .prom).", valueName: "PATH"))
    var metricsFile: String?

    @OptionGroup var options: ConfigOptions
    @OptionGroup var registry: RegistryOptions

    func run() throws {
        try reportingFailures {
            var stderr = StandardError()
            let dispatcher = try options.dispatcher(registry)
            let config = dispatcher.config
            // A pass names the host as it is at that pass.
            // --once probes every damaged file; a running monitor does it every 5 minutes.
            let monitor = {
                var pass = MonitorPass(engine: Machine.live, dispatcher: dispatcher, time: Machine.time, host: Machine.hostName)
                if !once { pass.fileCheckInterval = 300 }
                return pass
            }
            if once {
                // An event whose answer is incomplete says so (UNKNOWN lines, the event's
                // `unknown`) and the status is 2, as simulate's: a script never reads it as
                // all clear.
                if try pass(monitor(), trigger: "once") { throw ExitCode(ExitStatus.partial.rawValue) }
                return
            }
            let source = ConfigOptions.kernelEvents()
            for n in source.notes { print("dmstack: monitor: \(n)", to: &stderr) }
            print("dmstack: monitor: watching (registry \(registry.store.path), \(config.sinks.count) sinks, badblocks every \(config.badblocksInterval) s)", to: &stderr)
            var trigger = "start"
            let sayHeap = Machine.environment("DMSTACK_MONITOR_HEAP") != nil
            while true {
                // One failed pass (the registry busy, a device vanishing mid-read) is said, not fatal.
                do { try pass(monitor(), trigger: trigger) } catch let e as CommandFailure {
                    print("dmstack: monitor: pass failed: \(e.message)", to: &stderr)
                } catch let e as EngineError {
                    print("dmstack: monitor: pass failed: \(e.message)", to: &stderr)
                }
                // What a pass freed goes back to the kernel before the wait (the registry's
                // page cache, then the heap's free pages): resident memory is then what the
                // monitor holds between passes, not its largest pass or the registry's size.
                dispatcher.registry.releaseMemory()
                Machine.releaseFreeMemory()
                if sayHeap { print("dmstack: monitor: heap in use \(Machine.heapInUse)", to: &stderr) }
                trigger = Self.trigger(source.wait(timeout: config.badblocksInterval), source: source)
            }
        }
    }

    /// What woke the monitor, for its event lines; a flood's coalesced uevents (kept to
    /// `KernelEventSource.maxPending` a wakeup) and socket overruns are said on stderr with the
    /// running totals.
    static func trigger(_ wakeup: KernelEventSource.Wakeup, source: KernelEventSource) -> String {
        if wakeup.coalesced > 0 || wakeup.overrun {
            var stderr = StandardError()
            print("dmstack: monitor: \(wakeup.block.count) uevents kept, \(wakeup.coalesced) coalesced\(wakeup.overrun ? ", kernel dropped some (socket full)" : "")"
                  + " (totals: \(source.receivedTotal) received, \(source.coalescedTotal) coalesced, \(source.overruns) overruns)", to: &stderr)
        }
        if wakeup.block.isEmpty && !wakeup.deviceMapper { return wakeup.overrun ? "uevents dropped" : "timer" }
        return (wakeup.block.map { "\($0.action) \($0.name)" } + (wakeup.deviceMapper ? ["dm event"] : [])
                + (wakeup.coalesced > 0 ? ["\(wakeup.coalesced) more coalesced"] : [])).joined(separator: ", ")
    }

    /// One pass (`MonitorPass`), each new event printed as it is recorded; whether an event's
    /// answer was incomplete.
    @discardableResult
    func pass(_ monitor: MonitorPass, trigger: String) throws -> Bool {
        var stderr = StandardError()
        var incomplete = false
        let report = try monitor.run(note: { print("dmstack: monitor: \($0)", to: &stderr) }) { e in
            if json {
                print(try Notifications.payload(e))
            } else {
                print("\(e.at) \(e.kind.rawValue) \(e.leaf) \(e.range) [\(e.severity.rawValue)] \(e.key): \(e.summary) (\(trigger))")
                for line in e.unknown ?? [] { print("  \(line)") }
            }
            if e.unknown != nil { incomplete = true }
            Machine.flushOutput()  // a line per event as it happens, also into a pipe or a file
        }
        for f in report.failed { print("dmstack: monitor: event \(f.event) to \(f.sink) not delivered: \(f.detail)", to: &stderr) }
        let db = monitor.dispatcher.registry
        if let retention = monitor.dispatcher.config.retention {
            do { _ = try Notifications.prune(db, olderThan: retention) } catch {
                print("dmstack: monitor: delivered events not pruned: \(error.message)", to: &stderr)
            }
        }
        if let metricsFile {
            // A metrics file that cannot be written is said; the monitor goes on.
            do { try StackEngine.Metrics(engine: monitor.engine, registry: db, time: monitor.time).write(to: metricsFile) } catch let e as EngineError {
                print("dmstack: monitor: \(e.message)", to: &stderr)
            }
        }
        return incomplete
    }
}
