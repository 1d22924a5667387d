import ArgumentParser
import FoundationEssentials
import StackEngine
import StackModel

/// `dmstack capture`: this machine as one snapshot file, for offline analysis elsewhere.
struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Write a snapshot of this machine's block devices for offline use (--snapshot FILE).",
        discussion: """
            The snapshot holds every block device (sysfs), dm table, status and deps \
            (libdevmapper), filesystem signature (libblkid), mount and pmem region and \
            namespace, as versioned JSON (docs/json/snapshot.schema.json). Run it as root so devices can be probed. With it go \
            the reverse maps of the chosen filesystems and every process's open and mapped \
            files on them, so `simulate --snapshot` names files, metadata and processes \
            offline. --reverse-maps registered (the default): the filesystems registered \
            with `dmstack holders register`; all: every mounted filesystem on a dm or md \
            device or a pmem namespace, or on a device with one below it (a root on a plain \
            disk is left out); a comma-separated list of mountpoints: exactly those, \
            whatever they are on; none: no map. The file is written as the maps are read \
            (a reverse map in blocks of delta-coded columns, a dozen bytes or so a record) \
            and put in place whole: a failed capture leaves no file. `--snapshot` reads \
            files of up to 4 GiB.
            """
    )

    @Option(name: .customLong("reverse-maps"), help: ArgumentHelp("Which filesystems' reverse maps to include: registered, all (those on dm, md or pmem stacks), none, or MOUNTPOINT[,MOUNTPOINT...].", valueName: "WHICH"))
    var reverseMaps: SnapshotCapture.Selection = .registered

    @OptionGroup var registry: RegistryOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to FILE instead of standard output.", valueName: "FILE"))
    var output: String?

    func run() throws {
        try reportingFailures {
            let machine = Machine.live
            let inventory = try machine.inventory()
            try SnapshotCapture(engine: machine).write(of: inventory, selection: reverseMaps, registry: { try registry.store.openExisting() }, to: output)
        }
    }
}

extension SnapshotCapture.Selection: ExpressibleByArgument {
    /// The words completions offer (a list of mountpoints is the other choice).
    public static var allValueStrings: [String] { ["registered", "all", "none"] }
    public static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }

    public var defaultValueDescription: String {
        switch self {
        case .registered: "registered"
        case .all: "all"
        case .none: "none"
        case .mountpoints(let paths): paths.joined(separator: ",")
        }
    }
}
