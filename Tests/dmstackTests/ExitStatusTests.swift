import Foundation
import Testing

/// Each documented exit status, from a real run that needs neither root nor devices, and its
/// line in `dmstack --help` and in the man page's EXIT STATUS.
@Suite("Exit statuses")
struct ExitStatusTests {
    static let examples = CLITests.packageRoot.appendingPathComponent("examples").path

    /// A state directory and a notification config whose only sink is a hook that fails.
    static func failingSink() throws -> (dir: String, options: [String]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-exit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "sinks:\n  - {type: exec, argv: [/bin/false]}\n".write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        return (dir, ["--config", "\(dir)/config.yaml", "--state-dir", "\(dir)/state"])
    }

    /// A spec whose only member is pmem0 of the example machine, where a volume holds it.
    static func inUseSpec() throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-inuse-\(UUID().uuidString).yaml").path
        try "version: 1\nname: t\nvolumes:\n  v:\n    targets:\n      - type: linear\n        members: [/dev/pmem0]\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    enum Case: String, CaseIterable {
        case success, usageUnknownOption, usageBadRange, runtimeMissingFile, runtimeNoHolder
        case partialUndelivered, refusedInUse, malformedSnapshot
    }

    @Test(arguments: Case.allCases)
    func status(_ c: Case) throws {
        var cleanup: [String] = []
        defer { for path in cleanup { try? FileManager.default.removeItem(atPath: path) } }
        let (arguments, status, message): ([String], Int32, String)
        switch c {
        case .success:
            (arguments, status, message) = (["tree", "--snapshot", "\(Self.examples)/pmem-linear-striped.json"], 0, "")
        case .usageUnknownOption:
            (arguments, status, message) = (["tree", "--bogus"], 64, "Unknown option '--bogus'")
        case .usageBadRange:
            (arguments, status, message) = (["translate", "--table", "raid.table", "loop0", "8+0"], 64, "invalid range '8+0'")
        case .runtimeMissingFile:
            (arguments, status, message) = (["translate", "--table", "missing.table", "loop0", "0+8"], 1, "cannot open missing.table")
        case .runtimeNoHolder:
            let sink = try Self.failingSink()
            cleanup.append(sink.dir)
            (arguments, status, message) = (["holders", "show", "nosuch"] + sink.options.suffix(2), 1, "no holder 'nosuch' registered")
        case .partialUndelivered:
            // The event is recorded, its one delivery failed: it waits in the outbox.
            let sink = try Self.failingSink()
            cleanup.append(sink.dir)
            (arguments, status, message) = (["events", "test"] + sink.options, 2, "1 deliveries still pending in the outbox")
        case .refusedInUse:
            let spec = try Self.inUseSpec()
            cleanup.append(spec)
            (arguments, status, message) = (["apply", "--dry-run", "--snapshot", "\(Self.examples)/pmem-linear-striped.json", spec], 3,
                                             "member /dev/pmem0 (/dev/pmem0) is in use: held by concat")
        case .malformedSnapshot:
            (arguments, status, message) = (["tree", "--snapshot", "corrupt.json"], 65, "corrupt snapshot")
        }
        let result = try CLITests.run(arguments)
        #expect(result.status == status, "dmstack \(arguments.joined(separator: " ")): \(result.stderr)")
        if status == 0 {
            #expect(result.stderr.isEmpty && !result.stdout.isEmpty)
        } else {
            #expect(result.stderr.contains(message), "\(result.stderr)")
            if status != 64 && status != 2 { #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)") }
        }
        if c == .partialUndelivered {
            // Retrying does not make a failing hook succeed: still partial, still there.
            let again = try CLITests.run(["events", "retry"] + Array(arguments.dropFirst(2)))
            #expect(again.status == 2, "\(again.stderr)")
        }
    }

    /// Every status the code can end with is explained in --help and in the man page.
    @Test func everyStatusIsDocumented() throws {
        let help = try CLITests.run(["--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let man = try DocsTests.file("man/dmstack.8")
        let section = man.components(separatedBy: ".Sh \"EXIT STATUS\"").last?.components(separatedBy: "\n.Sh ").first ?? ""
        for (code, word) in [(0, "success"), (1, "runtime failure"), (2, "partial success"), (3, "refused for safety"), (64, "usage error"), (65, "malformed input file")] {
            #expect(help.contains("\(code) \(word)"), "--help does not explain exit status \(code)")
            #expect(section.contains(".It \(code)\n"), "man EXIT STATUS does not explain \(code)")
        }
    }
}
