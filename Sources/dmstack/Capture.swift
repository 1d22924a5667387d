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
            the reverse maps of the registered filesystems (`dmstack holders register`; \
            --reverse-maps all: every mounted filesystem on a block device; none: no map) and \
            every process's open and mapped files on them, so `simulate --snapshot` names \
            files, metadata and processes offline.
            """
    )

    @Option(name: .customLong("reverse-maps"), help: ArgumentHelp("Which filesystems' reverse maps to include: registered, all or none.", valueName: "WHICH"))
    var reverseMaps: SnapshotCapture.Selection = .registered

    @OptionGroup var registry: RegistryOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to FILE instead of standard output.", valueName: "FILE"))
    var output: String?

    func run() throws {
        try reportingFailures {
            let machine = Machine.live
            let inventory = try machine.inventory()
            let snapshot = try SnapshotCapture(engine: machine).snapshot(of: inventory, selection: reverseMaps) { try registry.store.openExisting() }
            let data = try SnapshotCodec.encode(snapshot)
            guard let output else {
                print(String(decoding: data, as: UTF8.self))
                return
            }
            try SnapshotCapture.write(Array(data) + Array("\n".utf8), to: output)
        }
    }
}

extension SnapshotCapture.Selection: ExpressibleByArgument {}
