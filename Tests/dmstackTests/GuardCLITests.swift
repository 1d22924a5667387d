import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 18 points 2, 6 and 10 end to end, one table of bad inputs with the expected status and
/// message: a registry that cannot be opened is an error naming the path and the reason for
/// every command that reads it (never "no holders registered", exit 0); a configuration or
/// exec hook others could change is refused before anything runs; configuration mistakes are
/// caught at load. The unprivileged cases run dmstack as nobody through setpriv(1), so they
/// need root to set up; without it they are skipped with that reason.
@Suite("Registry and configuration guards", .serialized)
struct GuardCLITests {
    static let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    static var canDropPrivileges: Bool { geteuid() == 0 && FileManager.default.isExecutableFile(atPath: nobody[0]) }

    /// A scratch directory (0755, root's) with `config.yaml` (a jsonl sink into it, 0644), a
    /// state directory holding one recorded event (0700), a regular file, and a file that is
    /// not a database in a directory of its own.
    static func scratch() throws -> String {
        var template = Array("/tmp/dmstack-guard-XXXXXX".utf8CString)
        let dir = try #require(mkdtemp(&template).map { String(cString: $0) })
        chmod(dir, 0o755)
        try "sinks:\n  - {type: jsonl, path: \(dir)/events.jsonl}\n".write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        chmod("\(dir)/config.yaml", 0o644)
        let made = try CLITests.run(["events", "test", "--config", "\(dir)/config.yaml", "--state-dir", "\(dir)/state"])
        #expect(made.status == 0, "\(made.stderr)")
        try "not a directory\n".write(toFile: "\(dir)/plain", atomically: true, encoding: .utf8)
        mkdir("\(dir)/notdb", 0o700)
        try String(repeating: "not an SQLite database\n", count: 400).write(toFile: "\(dir)/notdb/registry.db", atomically: true, encoding: .utf8)
        return dir
    }

    struct Case: CustomStringConvertible, Sendable {
        var arguments: String
        var asNobody = false
        /// Open the state directory to others (0755), its registry file staying 0600.
        var openState = false
        var status: Int32
        var message: String
        var description: String { (asNobody ? "as nobody: " : "") + arguments }
    }

    /// @D is the scratch directory; CONFIG its trusted configuration.
    static let cases: [Case] = [
        // Root's private state directory, read by another user.
        Case(arguments: "holders list --state-dir @D/state", asNobody: true, status: 1,
             message: "dmstack: cannot read registry @D/state/registry.db: Permission denied (the state directory @D/state is private to its owner: run as root, or choose another --state-dir)"),
        Case(arguments: "holders list --json --state-dir @D/state", asNobody: true, status: 1, message: "cannot read registry @D/state/registry.db: Permission denied"),
        Case(arguments: "holders show app --state-dir @D/state", asNobody: true, status: 1, message: "cannot read registry @D/state/registry.db: Permission denied"),
        Case(arguments: "events list --state-dir @D/state", asNobody: true, status: 1, message: "cannot read registry @D/state/registry.db: Permission denied"),
        Case(arguments: "holders list --state-dir @D/state", asNobody: true, openState: true, status: 1,
             message: "dmstack: cannot use registry @D/state/registry.db: Permission denied (run as root, or choose another --state-dir)"),
        Case(arguments: "events list --json --state-dir @D/state", asNobody: true, openState: true, status: 1,
             message: "dmstack: cannot use registry @D/state/registry.db: Permission denied"),
        Case(arguments: "events retry --config CONFIG --state-dir @D/state", asNobody: true, status: 1,
             message: "dmstack: state directory @D/state belongs to uid 0, not to this user (uid 65534)"),
        Case(arguments: "monitor --once --config CONFIG --state-dir @D/state", asNobody: true, status: 1,
             message: "dmstack: state directory @D/state belongs to uid 0, not to this user (uid 65534)"),
        // A state directory that is a regular file, or runs through one.
        Case(arguments: "holders list --state-dir @D/plain", status: 1,
             message: "dmstack: state directory @D/plain is not a directory (choose another with --state-dir or DMSTACK_STATE_DIR)"),
        Case(arguments: "holders show app --state-dir @D/plain", status: 1, message: "dmstack: state directory @D/plain is not a directory"),
        Case(arguments: "events list --json --state-dir @D/plain", status: 1, message: "dmstack: state directory @D/plain is not a directory"),
        Case(arguments: "events list --state-dir @D/plain/sub", status: 1, message: "dmstack: state directory @D/plain/sub is not a directory"),
        Case(arguments: "events retry --config CONFIG --state-dir @D/plain", status: 1, message: "dmstack: state directory @D/plain is not a directory"),
        Case(arguments: "holders unregister app --state-dir @D/plain", status: 1, message: "dmstack: state directory @D/plain is not a directory"),
        // A file that is not an SQLite database.
        Case(arguments: "holders list --state-dir @D/notdb", status: 1,
             message: "dmstack: registry @D/notdb/registry.db is corrupt (file is not a database); `dmstack holders refresh --rebuild`"),
        Case(arguments: "events list --state-dir @D/notdb", status: 1, message: "dmstack: registry @D/notdb/registry.db is corrupt (file is not a database)"),
        // Still fine: no state directory at all is nothing registered.
        Case(arguments: "holders list --state-dir @D/none", status: 0, message: ""),
        Case(arguments: "events list --json --state-dir @D/none", status: 0, message: ""),
        // The registry as it is: the event is listed.
        Case(arguments: "events list --state-dir @D/state", status: 0, message: ""),
    ]

    @Test(arguments: cases)
    func aRegistryThatCannotBeOpenedIsAnError(_ c: Case) throws {
        guard !c.asNobody || Self.canDropPrivileges else {
            print("skipped \(c): needs root and setpriv to run dmstack as nobody")
            return
        }
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        if c.openState { chmod("\(dir)/state", 0o755) }
        let arguments = c.arguments.replacingOccurrences(of: "CONFIG", with: "\(dir)/config.yaml")
            .replacingOccurrences(of: "@D", with: dir).split(separator: " ").map(String.init)
        let result = c.asNobody
            ? try CLITests.run(Array(Self.nobody.dropFirst()) + [CLITests.binary.path] + arguments, executable: URL(fileURLWithPath: Self.nobody[0]))
            : try CLITests.run(arguments)
        let message = c.message.replacingOccurrences(of: "@D", with: dir)
        #expect(result.status == c.status, "\(c): \(result.stderr)")
        if c.status == 0 {
            #expect(result.stderr.isEmpty, "\(result.stderr)")
        } else {
            #expect(result.stderr.contains(message), "\(c): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(result.stdout.isEmpty, "\(result.stdout)")
        }
    }

    /// The case: a configuration any user may write, whose exec hook runs `id` into a
    /// file. Every command that dispatches refuses it (65, naming the file, its mode and owner)
    /// and the hook never runs; the same file at 0644 is used.
    @Test(arguments: ["events test", "events retry", "monitor --once"])
    func aWorldWritableConfigurationNeverRunsItsHook(_ command: String) throws {
        var template = Array("/tmp/dmstack-guard-XXXXXX".utf8CString)
        let dir = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = "\(dir)/config.yaml"
        try "sinks:\n  - type: exec\n    argv: [\"/bin/sh\", \"-c\", \"id > \(dir)/owned\"]\n".write(toFile: config, atomically: true, encoding: .utf8)
        chmod(config, 0o666)
        let arguments = command.split(separator: " ").map(String.init) + ["--config", config, "--state-dir", "\(dir)/state"]
        let result = try CLITests.run(arguments)
        #expect(result.status == 65, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("dmstack: notification configuration \(config) is writable by every user (mode 0666, owner "), "\(result.stderr)")
        #expect(result.stderr.contains("; it must be writable only by root"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/owned"))
        if command == "events test" {
            chmod(config, 0o644)
            let trusted = try CLITests.run(arguments)
            #expect(trusted.status == 0, "\(trusted.stderr)")
            #expect((try? String(contentsOfFile: "\(dir)/owned", encoding: .utf8))?.hasPrefix("uid=\(geteuid())") == true)
        }
    }

    /// Configuration mistakes a delivery would hit later are refused at load, 65, one line
    /// naming file, line and key.
    @Test(arguments: [
        ("sinks:\n  - type: exec\n    argv: /bin/true\n", ":3: sinks[0].argv: expected a list (argv: [/path/to/program, arg, ...]), found one value"),
        ("sinks: []\n", ":1: sinks: is an empty list: no event would be delivered"),
        ("sinks:\n  - type: journal\nretry: {initial: 10m, max: 1m}\n", ":3: retry.initial: the first delay (initial: 10m) is longer than the longest (max: 1m)"),
    ])
    func configurationMistakesFailAtLoad(yaml: String, message: String) throws {
        var template = Array("/tmp/dmstack-guard-XXXXXX".utf8CString)
        let dir = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try yaml.write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        chmod("\(dir)/config.yaml", 0o644)
        let result = try CLITests.run(["events", "test", "--config", "\(dir)/config.yaml", "--state-dir", "\(dir)/state"])
        #expect(result.status == 65, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("dmstack: \(dir)/config.yaml\(message)"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        // Nothing was recorded: the state directory was never made.
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/state"))
    }

    /// A thin dump that does not fit the stack it is given for is 65, naming the file and the
    /// first bad element, up and down (issue 18 point 3); the fixture's own
    /// dump still translates.
    @Test(arguments: [
        ("data_begin=\"10\"", "data_begin=\"99\"", "line 3: device 1 mapping 1: data block 100 is past the pool's data device (100 blocks)"),
        ("dev_id=\"1\"", "dev_id=\"3\"", "no device 1, which thin device thin1 of pool pool is (metadata of another pool, or older than the device?)"),
        ("data_block_size=\"128\"", "data_block_size=\"256\"", "line 1: data_block_size 256 differs from pool pool's block size 128 sectors (a dump of another pool?)"),
    ])
    func aThinDumpThatDoesNotFitIsADataError(from: String, to: String, message: String) throws {
        let good = try String(contentsOf: CLITests.fixtures.appendingPathComponent("thin.xml"), encoding: .utf8)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-thin-\(UUID().uuidString).xml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try good.replacingOccurrences(of: from, with: to).write(toFile: file, atomically: true, encoding: .utf8)
        for direction in [[], ["--down"]] {
            let arguments = ["translate", "--table", "dynamic.table.txt", "--thin-dump", "pool=\(file)"] + direction + [direction.isEmpty ? "data" : "thin1", "0+8"]
            let result = try CLITests.run(arguments)
            #expect(result.status == 65 && result.stderr == "dmstack: \(file): \(message)\n", "\(arguments): \(result.stderr)")
        }
        #expect(try CLITests.run(["translate", "--table", "dynamic.table.txt", "--thin-dump", "pool=thin.xml", "data", "1290+4"]).status == 0)
    }
}
