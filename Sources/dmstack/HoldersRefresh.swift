import ArgumentParser
import StackEngine
import StackModel

extension Holders {
    struct Refresh: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "refresh",
            abstract: "Re-read holders from the live system and record what changed.",
            discussion: """
                Reports per holder: tables reloaded, members replaced (a device left the chain, \
                another joined), devices gone or back, devices renumbered, remounts. A device \
                that is gone is marked gone, never forgotten. --rebuild is the recovery for a \
                damaged registry: the file (and its -wal, -shm) is moved aside to \
                registry.db.corrupt-TIME, every holder that can still be read from it is \
                carried over, every mounted filesystem on a dmstack volume is registered, and \
                all are refreshed. JSON: {"refresh": {...}}, every field in \
                docs/json/holders-refresh.schema.json.
                """
        )

        @Argument(help: "A holder name, mountpoint or filesystem UUID (default: every holder).")
        var name: String?

        @Flag(help: "Move a damaged registry aside and rebuild it.")
        var rebuild = false

        @Flag(name: [.customShort("J"), .long], help: "Print JSON.")
        var json = false

        @OptionGroup var registry: RegistryOptions

        struct Report: Encodable {
            var movedTo: String?
            var salvaged: [String]?
            var holders: [Item]
        }

        struct Item: Encodable { var name: String; var state: HolderState; var changes: [String] }

        func run() throws {
            try reportingFailures {
                if rebuild && name != nil { throw CommandFailure(status: .usage, message: "--rebuild rebuilds every holder; give no NAME") }
                let inventory = try Machine.live.inventory()
                let rebuilt = rebuild ? try Machine.holders.rebuild(registry.store, inventory: inventory) : nil
                var report = Report(movedTo: rebuilt?.movedTo, salvaged: rebuilt?.salvaged.map(\.name), holders: [])
                let db = try rebuilt?.registry ?? registry.store.open()
                var names: [String] = []
                if let name {
                    guard let stored = try Machine.holders.find(name, in: db) else {
                        throw CommandFailure(status: .failure, message: "no holder '\(name)' registered in \(registry.directory)")
                    }
                    names = [stored.name]
                }
                report.holders = try Machine.holders.refresh(names, in: db, inventory: inventory)
                    .map { Item(name: $0.record.name, state: $0.record.state, changes: $0.changes) }
                if json {
                    print(try JSONOutput.encode(["refresh": report]))
                    return
                }
                if let moved = report.movedTo { print("moved the damaged registry to \(moved)") }
                if rebuild { print("rebuilt \(registry.store.path): \(report.salvaged?.count ?? 0) holder(s) salvaged, \(report.holders.count) now") }
                if report.holders.isEmpty && !rebuild { print("no holders registered in \(registry.directory)") }
                for h in report.holders {
                    print("\(h.name): \(h.state)\(h.changes.isEmpty ? ", no change" : "")")
                    for c in h.changes { print("  \(c)") }
                }
            }
        }
    }
}
