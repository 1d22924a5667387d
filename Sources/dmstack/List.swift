import ArgumentParser
import StackEngine
import StackModel

/// `dmstack list`: the volumes dmstack owns.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the dm devices dmstack owns (uuid prefix DMSTACK-), with their state.",
        discussion: """
            State is active, or any of suspended, degraded, recovering, missing member (a \
            device its table uses no longer exists), read-only, failed, invalid. JSON: \
            {"volumes": [...]}, every field in docs/json/list.schema.json.
            """
    )

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var engine: EngineOptions

    func run() throws {
        try reportingFailures {
            let volumes = try engine.make().inventory().ownedVolumes()
            if json {
                print(try JSONOutput.encode(["volumes": volumes]))
                return
            }
            guard !volumes.isEmpty else {
                print("no volumes owned by dmstack (dm uuid prefix DMSTACK-)")
                return
            }
            var table = TextTable(columns: [Column(header: "NAME"), Column(header: "STACK"), Column(header: "SIZE", alignment: .right),
                                            Column(header: "TARGETS"), Column(header: "STATE"), Column(header: "MEMBERS"), Column(header: "MOUNTPOINTS")])
            for v in volumes {
                table.rows.append([v.name, v.stack, HumanSize.format(v.size), v.targets.joined(separator: ","), v.state.joined(separator: ","),
                                   v.members.joined(separator: ","), v.mountpoints.joined(separator: ",")])
            }
            print(table.render())
        }
    }
}
