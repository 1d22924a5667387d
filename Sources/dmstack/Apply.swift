import ArgumentParser
import StackEngine
import StackModel

/// `dmstack apply SPEC`: build a spec's volumes, or say what would change.
struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create a spec's volumes bottom-up, make and mount their filesystems; roll everything back on failure.",
        discussion: """
            SPEC is a YAML file (see examples/stack.yaml). Members are resolved (paths, ID=, \
            UUID=, PARTUUID=, LABEL=, NAMESPACE=, VOLUME=), checked for size, overlap and use, \
            and each volume becomes a dm device named after it with the uuid \
            DMSTACK-<stack>:<volume>: created empty, its table loaded, then resumed, in \
            dependency order, waiting for udev. A volume that exists with the same table is \
            unchanged; one whose table only grows at the end is reloaded; any other difference \
            is refused. Filesystems are made only where blkid finds none. If any step fails, \
            everything this run did is undone last-first. \
            JSON (--dry-run or not): {"apply": {...}}, every field in docs/json/apply.schema.json. \
            Every filesystem of the spec is then registered as a holder (see `dmstack holders`), \
            named after its mountpoint, else STACK/VOLUME. \
            Exit status: 65 bad spec, 1 missing member or kernel/mkfs/mount failure (rolled \
            back), 3 refused for safety (member in use, device not dmstack's), 2 rollback \
            incomplete, or the volumes were built but their holders could not be registered. \
            The plan and each step done are written to the registry before the next step runs: \
            after a kill (SIGKILL, power cut) `dmstack list` names the stack and the step, the \
            next apply of the spec removes the volumes left without a table and builds the \
            rest, and teardown removes what is there. Test hooks: \
            DMSTACK_FAULT=create|load|resume|send:N fails the N-th such libdevmapper call; \
            DMSTACK_FAULT=kill@K SIGKILLs apply or teardown once its K-th step is recorded; \
            DMSTACK_FAULT=kill-after-create@N SIGKILLs apply right after its N-th device create, \
            before that device has a table.
            """
    )

    @Argument(help: "The spec file (YAML, at most 16 MiB).")
    var spec: String

    @Flag(name: .long, help: "Print the plan and change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Adopt and reload dm devices that lack the DMSTACK- uuid prefix.")
    var force = false

    @Flag(name: [.customShort("J"), .long], help: "Print JSON.")
    var json = false

    /// `--snapshot FILE`: plan against a captured machine (with --dry-run only).
    @OptionGroup var engine: EngineOptions

    struct Report: Encodable {
        var stack: String
        var changes: Bool
        var volumes: [PlannedVolume]
        var steps: [String]
        var strays: [String]
        var log: [String]
        /// Holders registered (or, in a dry run, to be registered) for the spec's filesystems.
        var holders: [String]
    }

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        try reportingFailures {
            let machine = engine.make()
            try machine.requireDryRun(dryRun)
            let stack = try SpecFile.load(spec)
            var inventory = try machine.inventory()
            // A change of this stack that was written down and never finished: another apply
            // or teardown running (refused), or one that was killed. Its volumes made without a
            // live table (killed between create and resume) go first; the plan does the rest.
            let db = dryRun ? nil : try registry.store.open()
            if let db, let unfinished = try db.unfinishedChanges().first(where: { $0.stack == stack.name }) {
                if unfinished.running {
                    throw CommandFailure(status: .refused, message: "apply \(stack.name) refused: a \(unfinished.command) of it is running (pid \(unfinished.pid), since \(unfinished.startedAt))")
                }
                // Without a table a device may have no block device yet (killed between its
                // create and its load): libdevmapper lists it, sysfs does not.
                let hidden = try machine.tablelessVolumes(ofStack: stack.name)
                let empty = Set(inventory.ownedVolumes().filter { $0.stack == stack.name && $0.targets.isEmpty }.map(\.name))
                let unseen = hidden.filter { !empty.contains($0) }
                if !json {
                    print("note: the \(unfinished.command) of \(stack.name) started \(unfinished.startedAt) was interrupted after step \(unfinished.done) of \(unfinished.steps.count)"
                          + (empty.union(unseen).isEmpty ? "" : "; removing \(empty.union(unseen).sorted().joined(separator: ", ")) (no table)"))
                }
                if !unseen.isEmpty {
                    do { try machine.removeTableless(unseen) } catch let error as EngineError {
                        throw EngineError(error.kind, "apply \(stack.name): the interrupted \(unfinished.command) left \(unseen.joined(separator: ", ")) without a table, and removing it failed: \(error.message)")
                    }
                    inventory = try machine.inventory()
                }
                if !empty.isEmpty {
                    let items = ((try? inventory.teardown(stack.name, force: false)) ?? []).filter { empty.contains($0.name) }
                    do { _ = try machine.tearDown(items) { _ in } } catch let error as EngineError {
                        throw EngineError(error.kind, "apply \(stack.name): the interrupted \(unfinished.command) left \(empty.sorted().joined(separator: ", ")) without a table, and removing it failed: \(error.message)")
                    }
                    inventory = try machine.inventory()
                }
            }
            let planner = ApplyPlanner(spec: stack, inventory: inventory, force: force,
                                       resolvePath: machine.kernelName(ofPath:), key: machine.cryptKey)
            let plan: ApplyPlan
            do { plan = try planner.plan() } catch let error as PlanError {
                let status: ExitStatus = switch error.category {
                case .inUse, .unsupportedChange: .refused
                case .missing, .size: .failure
                }
                throw CommandFailure(status: status, message: error.message)
            }
            var report = Report(stack: plan.stack, changes: plan.changes, volumes: plan.volumes,
                                steps: plan.steps.map(\.summary), strays: plan.strays, log: [],
                                holders: stack.volumes.compactMap { v in v.filesystem.map { Self.holderName(stack: stack.name, volume: v.name, $0) } })
            if !json {
                print("stack \(plan.stack) (\(spec))\(dryRun ? ", dry run" : "")")
                for s in report.steps { print("  \(s)") }
                for s in plan.strays { print("  note: \(s) belongs to this stack but is not in the spec; left alone (dmstack teardown \(s))") }
                if dryRun { for h in report.holders { print("  register holder \(h)") } }
            }
            guard !dryRun else {
                if json { print(try JSONOutput.encode(["apply": report])) }
                return
            }
            // The intent is committed before the first step and each step is recorded as done
            // (a registry that cannot record one rolls the apply back).
            if let db, plan.changes {
                try db.beginChange(stack: plan.stack, command: "apply", steps: report.steps, at: Machine.time.now())
            }
            do {
                report.log = try machine.build(plan) { done in if let db, plan.changes { try db.changeProgress(stack: plan.stack, done: done) } }
            } catch let error as EngineError {
                // Rolled back: nothing is left half-done; a failed rollback leaves the intent.
                if error.kind != .partial { try? db?.endChange(stack: plan.stack) }
                throw EngineError(error.kind, "apply \(plan.stack) failed: \(error.message)")
            }
            try db?.endChange(stack: plan.stack)
            do {
                report.log += try registerHolders(stack)
            } catch {
                guard let message = (error as? CommandFailure)?.message ?? (error as? EngineError)?.message else { throw error }
                if !json { for l in report.log { print("  done: \(l)") } }
                throw CommandFailure(status: .partial, message: "apply \(plan.stack): volumes built, but holders not registered: \(message)")
            }
            if json { print(try JSONOutput.encode(["apply": report])) } else { for l in report.log { print("  done: \(l)") } }
        }
    }

    /// The holder name of a spec filesystem: its mountpoint, else STACK/VOLUME.
    static func holderName(stack: String, volume: String, _ fs: FilesystemSpec) -> String {
        fs.mountpoint ?? "\(stack)/\(volume)"
    }

    /// Registers every filesystem of the spec (an existing holder of the same filesystem is
    /// updated under its name). Returns a log line per holder.
    func registerHolders(_ stack: StackSpec) throws -> [String] {
        let volumes = stack.volumes.filter { $0.filesystem != nil }
        guard !volumes.isEmpty else { return [] }
        let db = try registry.store.open()
        let inventory = try Machine.live.inventory()
        return try volumes.map { v in
            let name = Self.holderName(stack: stack.name, volume: v.name, v.filesystem!)
            // By its mapper path: a bare name could also be some kernel device's.
            let stored = try Machine.holders.register(.filesystem("/dev/mapper/\(v.name)"), name: name, hook: nil, by: "apply \(stack.name)",
                                                    in: db, inventory: inventory, rename: false)
            return "\(stored.created ? "registered" : "updated") holder \(stored.record.name) (\(stored.record.chains.count) chains)"
        }
    }
}
