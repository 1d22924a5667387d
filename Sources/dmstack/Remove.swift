import ArgumentParser
import StackEngine
import StackModel

/// `dmstack remove LEAF`: a leaf taken away for real, in the safe order.
struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Take a leaf away safely: freeze, notify, signal, invalidate, thaw, unmount, remove the dm layers above it, unbind it.",
        discussion: """
            The plan is simulate's pre-remove impact of the whole leaf. Then, in order: the hit \
            filesystems are frozen (FIFREEZE; one that cannot be, such as squashfs or vfat, \
            is not, and its freeze step says skipped); the event is recorded in the outbox and delivered \
            (only it: a backlog waits); the processes that map or hold open a lost file \
            get the --kill signal; the lost ranges' cached pages are dropped; the filesystems are \
            thawed, then unmounted (every mount of them, retried for --wait seconds while \
            signalled processes let go); the dm devices above the leaf are removed top-down; \
            the leaf is taken away (a pmem namespace's pfn/namespace device unbound from \
            nd_pmem, a SCSI disk deleted, a loop device detached); the holder registry is \
            refreshed. When a raid or mirror's copy covers the leaf, it and what is built on it \
            stay up: the event says degraded. dm devices without the DMSTACK- uuid prefix are \
            refused unless --force. Without --yes, and not --dry-run, it asks on the terminal \
            and refuses (status 3) when there is none. A step that fails stops the sequence; \
            what was frozen is thawed; the message names the step (status 1). Undelivered \
            notifications do not stop it: they stay in the outbox (dmstack events). Where the \
            impact has unknown parts (owners not readable, metadata missing), UNKNOWN lines say \
            so, the removal goes on (the device goes either way) and the status is 2. JSON: \
            {"remove": {...}}, every field in docs/json/remove.schema.json.
            """
    )

    @Argument(help: "The leaf (a pmem, SCSI or loop device: kernel name, /dev path or major:minor).")
    var leaf: String

    @Flag(name: .long, help: "Print the plan; change nothing, send nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("What the processes that map or hold a lost file get: none, term (SIGTERM) or bus (SIGBUS, as the kernel would).", valueName: "SIGNAL"))
    var kill: Removal.Kill = .term

    @Option(help: ArgumentHelp("Seconds an unmount keeps retrying while processes let go.", valueName: "SECONDS"))
    var wait: Double = 10

    @Flag(name: .long, help: "Go ahead without asking (needed without a terminal).")
    var yes = false

    @Flag(name: .long, help: "Also remove dm devices above the leaf that lack the DMSTACK- uuid prefix.")
    var force = false

    @Flag(name: [.customShort("J"), .long], help: "Print JSON.")
    var json = false

    @OptionGroup var dynamic: MappingOptions
    @OptionGroup var options: ConfigOptions
    @OptionGroup var registry: RegistryOptions

    struct Report: Encodable {
        var leaf: String
        var dryRun: Bool
        var plan: RemovalPlan
        var detach: String
        var event: String?
        var steps: [Removal.Step] = []
        var stoppedAt: Removal.Step?
        var summary: String
        /// What the impact could not learn, one line each (`Impact.unknownLines`); empty when
        /// the answer is whole.
        var unknown: [String] = []
    }

    func validate() throws {
        guard wait >= 0 else { throw ValidationError("--wait must be 0 or more seconds") }
    }

    func run() throws {
        try reportingStatus {
            var stderr = StandardError()
            let removal = Removal(engine: Machine.live, time: Machine.time)
            let planned = try removal.plan(leaf: leaf, force: force) { inventory in
                do {
                    return try removal.engine.dynamicMappings(dynamic.sources, tables: try inventory.tableSet(), in: inventory,
                                                                   around: [(try? removal.engine.device(leaf, in: inventory))?.displayName ?? leaf])
                } catch let e as TableParseError {
                    throw CommandFailure(status: .dataError, message: "live tables: \(e)")
                }
            }
            let (plan, detach, impact) = (planned.plan, planned.detach, planned.impact)
            let config = try options.load()
            // What dmstack itself writes while the filesystems are frozen: the outbox, the JSON
            // lines files, and its own output when that is a file.
            try removal.checkNotFrozen(planned, paths: [registry.directory, "/proc/self/fd/1", "/proc/self/fd/2"] + config.sinks.flatMap { $0.kind.writtenFiles })
            let tokens = removal.processTokens(planned)
            var report = Report(leaf: plan.leaf, dryRun: dryRun, plan: plan, detach: detach.description, summary: impact.summary, unknown: impact.unknownLines)
            // Unknown parts of the impact make the status partial, whatever else goes right.
            let finished: ExitStatus = impact.isComplete ? .success : .partial
            if !json { print(Self.render(plan, detach: detach, impact: impact, dryRun: dryRun)) }
            if dryRun {
                if json { print(try JSONOutput.encode(["remove": report])) }
                return finished
            }
            if !yes {
                guard Machine.isTerminal(0) else {
                    throw CommandFailure(status: .refused, message: "remove \(plan.leaf) refused: no terminal to confirm on; --yes to go ahead, --dry-run to see the plan")
                }
                print("Type \(plan.leaf) to remove it: ", terminator: "", to: &stderr)
                guard readLine() == plan.leaf else {
                    throw CommandFailure(status: .refused, message: "remove \(plan.leaf) refused: not confirmed")
                }
            }
            // The event goes into the outbox once the filesystems are frozen (a removal stopped
            // before that announces nothing), and only it is delivered in the frozen window. Its
            // key is the one a monitor computes for the same leaf going, so the two make one event.
            let db = try registry.store.open()
            let event = removal.event(planned, registry: db, host: Machine.hostName)
            report.event = event.key
            let (steps, stopped) = removal.execute(planned, kill: kill, unmountWait: wait, tokens: tokens, event: event,
                                                   notifications: ConfigOptions.notifications(config, db)) { step in
                if !json { print("  \(step.outcome): \(step.step) \(step.target)" + (step.detail.map { ": \($0)" } ?? "")) }
            }
            report.steps = steps
            report.stoppedAt = stopped
            if !steps.contains(where: { $0.step == .dispatch }) { report.event = nil }
            // What is gone is recorded as gone (the chains stay known).
            removal.refreshHolders(planned, registry: db, after: Machine.live)
            if json { print(try JSONOutput.encode(["remove": report])) }
            if let stopped {
                let thawed = steps.filter { $0.step == .thaw && $0.outcome == .done }.map(\.target)
                throw CommandFailure(status: .failure, message: "remove \(plan.leaf) stopped at \(stopped.step) \(stopped.target): \(stopped.detail ?? "failed")"
                    + (thawed.isEmpty ? "" : "; thawed \(thawed.joined(separator: ", "))"))
            }
            if !json {
                print(plan.keepsServing && !plan.degraded.isEmpty ? "removed \(plan.leaf); still serving, degraded: \(plan.degraded.joined(separator: ", "))" : "removed \(plan.leaf)")
            }
            return finished
        }
    }

    static func render(_ plan: RemovalPlan, detach: Removal.Detach, impact: Impact, dryRun: Bool) -> String {
        var lines = ["remove \(plan.leaf)\(dryRun ? ", dry run" : "")"]
        for mp in plan.freeze { lines.append("  freeze \(mp)") }
        lines.append("  dispatch the notification (\(impact.summary))")
        for p in plan.processes { lines.append("  signal pid \(p.pid) (\(p.command.count > 60 ? p.command.prefix(57) + "..." : p.command)): \(p.how) \(p.path)") }
        if !plan.invalidate.isEmpty { lines.append("  invalidate the cached pages of \(plan.invalidate.count) files") }
        for mp in plan.freeze.reversed() { lines.append("  thaw \(mp)") }
        for mp in plan.unmount { lines.append("  unmount \(mp)") }
        for l in plan.layers { lines.append("  remove \(l.name) (\(l.majorMinor))") }
        lines.append("  \(detach)")
        for d in plan.degraded { lines.append("  keeps serving, degraded: \(d)") }
        for w in plan.warnings { lines.append("  warning: \(w)") }
        for d in plan.staying { lines.append("  stays (held by a device that keeps serving; replace the leg to repair): \(d)") }
        for u in impact.unknownLines { lines.append("  \(u)") }
        return lines.joined(separator: "\n")
    }
}

extension Removal.Kill: ExpressibleByArgument {}
