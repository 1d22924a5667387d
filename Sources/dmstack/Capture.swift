import ArgumentParser
import FoundationEssentials
import StackEngine
import StackModel
import StackSystem

/// `dmstack capture`: this machine as one snapshot file, for offline analysis elsewhere.
struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a snapshot of this machine's block devices for offline use (--snapshot FILE).",
        discussion: """
            The snapshot holds every block device (sysfs), dm table, status and deps \
            (libdevmapper), filesystem signature (libblkid), mount and pmem region and \
            namespace, as versioned JSON. Run it as root so devices can be probed.
            """
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to FILE instead of standard output.", valueName: "FILE"))
    var output: String?

    func run() throws {
        try reportingFailures {
            let snapshot: SystemSnapshot
            do { snapshot = try LiveEngine(dmstackVersion: Dmstack.version).snapshot() } catch {
                throw CommandFailure(status: .failure, message: "cannot read the live system: \(error)")
            }
            let data = try SnapshotCodec.encode(snapshot)
            guard let output else {
                print(String(decoding: data, as: UTF8.self))
                return
            }
            do {
                // Written whole or not at all: a partial snapshot must never be left behind.
                try AtomicFile.write(Array(data) + Array("\n".utf8), to: output)
            } catch {
                throw CommandFailure(status: .failure, message: "\(error)")
            }
        }
    }
}
