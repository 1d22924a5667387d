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
            its depth ([33] name); the JSON nests to any depth, indented to 64 levels. \
            JSON: {"tree": [node]}, every field in docs/json/tree.schema.json.
            """
    )

    @OptionGroup var engine: EngineOptions

    @Flag(name: .long, help: "Start at the leaves and list what is built on them.")
    var inverse = false

    @Flag(name: .long, help: "Also list empty devices and RAM disks.")
    var all = false

    @Flag(name: .long, help: "Print JSON: {\"tree\": [...]}.")
    var json = false

    @Argument(help: "Show only the trees starting at these devices.")
    var devices: [String] = []

    func run() throws {
        try reportingFailures {
            let machine = engine.make()
            let inventory = try machine.inventory()
            let roots = try devices.map { try machine.argument($0, in: inventory).kernelName }
            let forest = try inventory.tree(roots: roots, inverse: inverse, all: all)
            if json {
                print(try TreeJSON.document(forest))
            } else {
                print(Self.render(forest))
            }
        }
    }

    static func render(_ forest: [TreeNode]) -> String {
        var table = TextTable(columns: [
            Column(header: "NAME"), Column(header: "MAJ:MIN"), Column(header: "SIZE", alignment: .right),
            Column(header: "TABLE"), Column(header: "FSTYPE"), Column(header: "MOUNTPOINTS"), Column(header: "PMEM"), Column(header: "STATE"),
        ])
        // Depth-first with an explicit stack: a snapshot may chain thousands of devices. Past
        // `TreeJSON.indentedLevels / 2` levels the branches stop moving right and each name
        // says its depth (`[40] name`), so a deep chain is not quadratic in width.
        let widest = TreeJSON.indentedLevels / 2
        var todo = forest.reversed().map { (node: $0, prefix: "", childPrefix: "", depth: 0) }
        while let (n, prefix, childPrefix, depth) = todo.popLast() {
            table.rows.append([prefix + (depth > widest ? "[\(depth)] " : "") + n.name, n.majorMinor, HumanSize.format(n.size), n.table ?? "",
                               n.fsType ?? "", n.mountpoints.joined(separator: ","), n.pmemMode ?? "", n.state.joined(separator: ",")])
            let base = depth < widest ? childPrefix : String(childPrefix.dropLast(2))
            for (i, c) in n.children.enumerated().reversed() {
                let last = i == n.children.count - 1
                todo.append((c, base + (last ? "└─" : "├─"), base + (last ? "  " : "│ "), depth + 1))
            }
        }
        return table.render()
    }
}

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
