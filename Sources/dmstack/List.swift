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

    @Flag(name: [.customShort("J"), .long], help: "Print JSON.")
    var json = false

    @OptionGroup var engine: EngineOptions

    @OptionGroup var table: TableOptions<List>

    func run() throws {
        try reportingFailures {
            let volumes = try engine.make().inventory().ownedVolumes()
            if json {
                print(try JSONOutput.encode(["volumes": volumes]))
                return
            }
            guard !volumes.isEmpty else {
                if !table.quietWhenEmpty { print("no volumes owned by dmstack (dm uuid prefix DMSTACK-)") }
                return
            }
            print(table.render(volumes))
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
