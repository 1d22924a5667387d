import ArgumentParser
import StackEngine
import StackModel

/// `dmstack teardown NAME|SPEC`: unmount and remove a stack or a volume, top-down.
struct Teardown: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teardown",
        abstract: "Unmount and remove a stack's volumes (or one volume and what is built on it), top-down.",
        discussion: """
            NAME is a stack name (every volume whose dm uuid is DMSTACK-NAME:...), a dm name (that \
            device and every dm device built on it), or a spec file (its stack). Nothing is \
            touched while any process has a device of it open, a file open or mapped on one of \
            its filesystems, or its working directory there: the processes are named and the \
            exit status is 3. Devices without the DMSTACK- uuid prefix are refused unless \
            --force. JSON: {"teardown": {...}}, every field in \
            docs/json/teardown.schema.json. Exit status: 1 no such stack or device, or a kernel failure; 3 \
            refused (in use, not dmstack's). Holders registered on the removed devices are \
            unregistered.
            """
    )

    @Argument(help: "A stack name, a dm name or a spec file.")
    var target: String

    @Flag(name: .long, help: "Print what would be unmounted and removed; change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Also remove dm devices that lack the DMSTACK- uuid prefix.")
    var force = false

    @Flag(name: [.customShort("J"), .long], help: "Print JSON.")
    var json = false

    @OptionGroup var engine: EngineOptions

    struct Report: Encodable {
        var items: [TeardownItem]
        var log: [String]
        /// Holders whose device is removed, unregistered once it is.
        var holders: [String]
    }

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        try reportingFailures {
            let machine = engine.make()
            try machine.requireDryRun(dryRun)
            var selector = target
            if target.hasSuffix(".yaml") || target.hasSuffix(".yml") {
                selector = try SpecFile.load(target).name
            }
            var inventory = try machine.inventory()
            // An apply killed between a create and its table load left a device without a
            // table that only libdevmapper lists (no block device yet): removed first, when
            // an interrupted change of the stack is on record.
            if !dryRun, let db = try machine.registry(registry.store, readOnly: false),
               try db.unfinishedChanges().contains(where: { $0.stack == selector && !$0.running }) {
                let hidden = try machine.tablelessVolumes(ofStack: selector)
                if !hidden.isEmpty {
                    try machine.removeTableless(hidden)
                    if !json { print("teardown \(selector): removed \(hidden.joined(separator: ", ")) (no table, left by the interrupted change)") }
                    inventory = try machine.inventory()
                }
            }
            let items: [TeardownItem]
            do { items = try inventory.teardown(selector, force: force) } catch let e as TeardownError {
                // A teardown killed after its last removal: nothing is left but its intent.
                if e.category == .notFound, !dryRun, let db = try machine.registry(registry.store, readOnly: false),
                   let unfinished = try db.unfinishedChanges().first(where: { $0.stack == selector && !$0.running }) {
                    try db.endChange(stack: selector)
                    if json { print(try JSONOutput.encode(["teardown": Report(items: [], log: ["finished the interrupted \(unfinished.command)"], holders: [])])) }
                    else { print("teardown \(selector): nothing left; the interrupted \(unfinished.command) of it is finished") }
                    return
                }
                throw CommandFailure(status: e.category == .notOwned ? .refused : .failure, message: e.message)
            }
            // Holders whose own device goes: the registry describes what exists.
            // Matched by identity (the dm uuid), not dev_t: a dev_t recorded before a reboot may
            // be another device's now.
            let db = try machine.registry(registry.store, readOnly: dryRun)
            let removed = Set(items.map { $0.uuid.isEmpty ? "dm-name:\($0.name)" : "dm-uuid:\($0.uuid)" })
            let service = HolderService(engine: machine, time: Machine.time)
            let holders = try service.all(in: db)
                .filter { r in HolderRole.allCases.contains { r.top($0).map { removed.contains($0.identity) } ?? false } }
            var report = Report(items: items, log: [], holders: holders.map(\.name))
            if !json {
                print("teardown \(selector)\(dryRun ? ", dry run" : "")")
                for i in items {
                    for m in i.mountpoints { print("  unmount \(m)") }
                    print("  remove \(i.name) (\(i.majorMinor))\(i.owned ? "" : ", not dmstack's: --force")")
                }
                for h in report.holders { print("  unregister holder \(h)") }
            }
            guard !dryRun else {
                if json { print(try JSONOutput.encode(["teardown": report])) }
                return
            }
            let users = machine.users(of: items)
            if !users.isEmpty {
                let names = Dictionary(items.map { ($0.majorMinor, $0.name) }, uniquingKeysWith: { a, _ in a })
                throw CommandFailure(status: .refused, message: "teardown \(selector) refused: in use by " +
                    users.map { "\($0) on \(names[$0.device] ?? $0.device)" }.joined(separator: "; "))
            }
            // Written down before the first removal, each one recorded: a kill leaves the intent
            // (`list` shows it); a teardown run again removes what is left.
            if let db {
                try db.beginChange(stack: selector, command: "teardown", steps: items.map { "remove \($0.name)" }, at: Machine.time.now())
            }
            do {
                report.log = try machine.tearDown(items) { done in try? db?.changeProgress(stack: selector, done: done) }
            } catch let error as EngineError {
                throw EngineError(error.kind, "teardown \(selector) stopped: \(error.message)")
            }
            try db?.endChange(stack: selector)
            for h in report.holders {
                if let db, try service.unregister(h, in: db) { report.log.append("unregistered holder \(h)") }
            }
            if json { print(try JSONOutput.encode(["teardown": report])) } else { for l in report.log { print("  done: \(l)") } }
        }
    }
}
