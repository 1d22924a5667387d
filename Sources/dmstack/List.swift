import ArgumentParser
import StackEngine
import StackModel
import StackSystem

/// `dmstack list`: the volumes dmstack owns.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the dm devices dmstack owns (uuid prefix DMSTACK-), with their state.",
        discussion: """
            State is active, or any of suspended, degraded, recovering, missing member (a \
            device its table uses no longer exists), read-only, failed, invalid. An apply or \
            teardown that was written down in the registry and never finished (killed, or \
            still running) is listed after the volumes with the step it stopped after. JSON: \
            {"volumes": [...], "interrupted": [...]}, every field in docs/json/list.schema.json.
            """
    )

    @Flag(name: [.customShort("J"), .long], help: "Print JSON.")
    var json = false

    @OptionGroup var engine: EngineOptions

    @OptionGroup var table: TableOptions<List>

    @OptionGroup var registry: RegistryOptions

    /// A change under way or interrupted, as `list` prints it.
    struct Interrupted: Encodable {
        var stack: String
        var command: String
        var startedAt: String
        var pid: Int32
        var running: Bool
        var steps: [String]
        var done: Int
        var lastDone: String?
        var next: String?
        init(_ c: ChangeIntent) {
            (stack, command, startedAt, pid, running, steps, done, lastDone, next) =
                (c.stack, c.command, c.startedAt, c.pid, c.running, c.steps, c.done, c.lastDone, c.next)
        }
        var line: String {
            "\(command) \(stack) started \(startedAt) " + (running ? "is running (pid \(pid))" : "was interrupted")
                + ": \(done) of \(steps.count) steps done" + (lastDone.map { ", the last: \($0)" } ?? "")
                + (next.map { "; not done: \($0)" } ?? "")
                + (running ? "" : command == "apply" ? " (apply the spec again to finish it, or teardown \(stack))" : " (teardown \(stack) again)")
        }
    }

    struct Report: Encodable {
        var volumes: [OwnedVolume]
        var interrupted: [Interrupted]
    }

    func run() throws {
        try reportingFailures {
            let machine = engine.make()
            let volumes = try machine.inventory().ownedVolumes()
            // Opened read-only (a read-only state directory serves); migrated only if it is
            // older (the intents table), never created.
            let db: HolderRegistry?
            do { db = try machine.registry(registry.store, readOnly: true) } catch {
                guard (try? HolderRegistry.isOlderThanThisVersion(directory: registry.store.directory)) == true else { throw error }
                db = try machine.registry(registry.store, readOnly: false)
            }
            let interrupted = try db?.unfinishedChanges().map(Interrupted.init) ?? []
            if json {
                print(try JSONOutput.encode(Report(volumes: volumes, interrupted: interrupted)))
                return
            }
            if volumes.isEmpty {
                if !table.quietWhenEmpty || !interrupted.isEmpty { print("no volumes owned by dmstack (dm uuid prefix DMSTACK-)") }
            } else {
                print(table.render(volumes))
            }
            for i in interrupted { print("\(i.running ? "running" : "INTERRUPTED"): \(i.line)") }
        }
    }

    static let columns = ReportColumns<OwnedVolume>(all: [
        ReportColumn(name: "NAME", header: "NAME", help: "dm name") { v, _ in v.name },
        ReportColumn(name: "STACK", header: "STACK", help: "the spec's stack") { v, _ in v.stack },
        ReportColumn(name: "UUID", header: "UUID", help: "dm uuid") { v, _ in v.uuid },
        ReportColumn(name: "MAJ:MIN", header: "MAJ:MIN", help: "major:minor") { v, _ in v.majorMinor },
        ReportColumn(name: "SIZE", header: "SIZE", alignment: .right, help: "size") { v, layout in layout.bytes ? String(v.size) : HumanSize.format(v.size) },
        ReportColumn(name: "TARGETS", header: "TARGETS", narrows: true, help: "target types of its table") { v, _ in v.targets.joined(separator: ",") },
        ReportColumn(name: "STATE", header: "STATE", narrows: true, help: "active, suspended, degraded, missing member and the like") { v, _ in v.state.joined(separator: ",") },
        ReportColumn(name: "MEMBERS", header: "MEMBERS", narrows: true, help: "devices its table uses") { v, _ in v.members.joined(separator: ",") },
        ReportColumn(name: "MOUNTPOINTS", header: "MOUNTPOINTS", narrows: true, help: "where it is mounted") { v, _ in v.mountpoints.joined(separator: ",") },
    ], defaults: ["NAME", "STACK", "SIZE", "TARGETS", "STATE", "MEMBERS", "MOUNTPOINTS"])
}

extension List: ColumnReport {}
