import FoundationEssentials
import ArgumentParser
import StackEngine
import StackModel

/// `dmstack tree`: every stack as a tree.
struct Tree: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tree",
        abstract: "Show every device stack as a tree: top devices first, or leaves first with --inverse.",
        discussion: """
            Top-down (the default) starts at each device nothing is built on and lists what it \
            is built on, down to the leaves (like `lsblk -s` and `dmsetup ls --tree`). --inverse \
            starts at each leaf and lists what is built on it (like `lsblk` and \
            `dmsetup ls --tree -o inverted`). Each device shows its major:minor, size, a summary \
            of its table, filesystem, mountpoints, pmem mode and state (suspended, degraded). \
            Volumes lvm2 activated are named vg/lv, and lvm's internal parts of one (raid images \
            and metadata, thin pool data and metadata, snapshot layers) vg/lv:PART, under their \
            volume. Past 32 levels the text tree stops indenting and prefixes each name with \
            its depth ([33] name); the JSON nests to any depth, indented to 64 levels. A device \
            met again once the forest holds 10000 nodes (a stack where each layer sits on two \
            copies of the one below doubles with every level) is drawn once more without its \
            children, marked "(see above)" (JSON: "repeated": true). A table that does not \
            parse or devices that form a cycle are refused as translate refuses them (exit 65). \
            JSON: {"tree": [node]}, every field in docs/json/tree.schema.json.
            """
    )

    @OptionGroup var engine: EngineOptions

    @Flag(name: .long, help: "Start at the leaves and list what is built on them.")
    var inverse = false

    @Flag(name: .long, help: "Also list empty devices and RAM disks.")
    var all = false

    @Flag(name: [.customShort("J"), .long], help: "Print JSON: {\"tree\": [...]}.")
    var json = false

    @OptionGroup var table: TableOptions<Tree>

    @Argument(help: "Show only the trees starting at these devices.")
    var devices: [String] = []

    func run() throws {
        try reportingFailures {
            let machine = engine.make()
            let inventory = try machine.inventory()
            let roots = try devices.map { try machine.argument($0, in: inventory).kernelName }
            let forest = try Self.refusingCorrupt(machine.source) { () throws(TreeError) in try inventory.tree(roots: roots, inverse: inverse, all: all) }
            if json {
                print(try TreeJSON.document(forest))
            } else if !forest.isEmpty || !table.quietWhenEmpty {
                print(table.render(Self.rows(forest, table.layout)))
            }
        }
    }

    /// `body`'s result, its refusals told as translate tells them: a table that does not
    /// parse or devices that form a cycle are the input's fault (65, naming `source`).
    static func refusingCorrupt<T>(_ source: String, _ body: () throws(TreeError) -> T) throws -> T {
        do throws(TreeError) { return try body() } catch {
            switch error {
            case .unknownDevice(let e): throw CommandFailure(status: .usage, message: e.description)
            case .table, .cycle: throw CommandFailure(status: .dataError, message: "\(source): \(error)")
            }
        }
    }

    /// One line of the tree: a node and the branches drawn before its name.
    struct Row {
        var node: TreeNode
        var prefix: String
    }

    static let columns = ReportColumns<Row>(all: [
        ReportColumn(name: "NAME", header: "NAME", help: "device name (vg/lv for lvm), drawn as a tree") { row, layout in
            (layout.raw ? "" : row.prefix) + row.node.name + (row.node.repeated == true ? " (see above)" : "")
        },
        ReportColumn(name: "KNAME", header: "KNAME", help: "kernel name") { row, _ in row.node.kernelName },
        ReportColumn(name: "MAJ:MIN", header: "MAJ:MIN", help: "major:minor") { row, _ in row.node.majorMinor },
        ReportColumn(name: "SIZE", header: "SIZE", alignment: .right, help: "size") { row, layout in
            layout.bytes ? String(row.node.size) : HumanSize.format(row.node.size)
        },
        ReportColumn(name: "TYPE", header: "TYPE", help: "dm, part, disk, loop, pmem or a layer kind") { row, _ in row.node.type },
        ReportColumn(name: "TABLE", header: "TABLE", narrows: true, help: "summary of the table") { row, _ in row.node.table ?? "" },
        ReportColumn(name: "FSTYPE", header: "FSTYPE", help: "filesystem type") { row, _ in row.node.fsType ?? "" },
        ReportColumn(name: "UUID", header: "UUID", help: "filesystem UUID") { row, _ in row.node.fsUUID ?? "" },
        ReportColumn(name: "LABEL", header: "LABEL", narrows: true, help: "filesystem label") { row, _ in row.node.label ?? "" },
        ReportColumn(name: "MOUNTPOINTS", header: "MOUNTPOINTS", narrows: true, help: "where it is mounted") { row, _ in row.node.mountpoints.joined(separator: ",") },
        ReportColumn(name: "PMEM", header: "PMEM", help: "pmem mode") { row, _ in row.node.pmemMode ?? "" },
        ReportColumn(name: "STATE", header: "STATE", narrows: true, help: "device state (suspended, degraded, read-only and the like)") { row, _ in row.node.state.joined(separator: ",") },
    ], defaults: ["NAME", "MAJ:MIN", "SIZE", "TABLE", "FSTYPE", "MOUNTPOINTS", "PMEM", "STATE"])

    /// The forest as lines, depth-first with an explicit stack: a snapshot may chain thousands
    /// of devices. Past `TreeJSON.indentedLevels / 2` levels the branches stop moving right
    /// and each name says its depth (`[40] name`), so a deep chain is not quadratic in width.
    static func rows(_ forest: [TreeNode], _ layout: TextLayout) -> [Row] {
        var rows: [Row] = []
        let widest = TreeJSON.indentedLevels / 2
        var todo = forest.reversed().map { (node: $0, prefix: "", childPrefix: "", depth: 0) }
        while let (n, prefix, childPrefix, depth) = todo.popLast() {
            rows.append(Row(node: n, prefix: prefix + (depth > widest ? "[\(depth)] " : "")))
            let base = depth < widest ? childPrefix : String(childPrefix.dropLast(2))
            for (i, c) in n.children.enumerated().reversed() {
                let branch = layout.branch(last: i == n.children.count - 1)
                todo.append((c, base + branch.node, base + branch.under, depth + 1))
            }
        }
        return rows
    }
}

extension Tree: ColumnReport {}

/// Sizes as lsblk prints them: powers of 1024 with one letter, one decimal when not whole.
enum HumanSize {
    static func format(_ bytes: UInt64) -> String {
        let units = ["B", "K", "M", "G", "T", "P", "E"]
        var value = Double(bytes)
        var i = 0
        while value >= 1024 && i < units.count - 1 { value /= 1024; i += 1 }
        if i == 0 { return "\(bytes)B" }
        let tenths = Int((value * 10).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10)\(units[i])" : "\(tenths / 10).\(tenths % 10)\(units[i])"
    }
}
