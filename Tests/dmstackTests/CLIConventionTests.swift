import Foundation
import TestSupport
import Testing

/// lsblk's and lvm's habits (issue 18 points 4, 7, 8): bad inputs end in one documented status
/// per kind and one `dmstack:` line (a usage error two, the second naming --help); tables
/// take -o/-n/-r/-b/-i, fit 80 columns, draw ASCII outside UTF-8 locales; -J is --json;
/// tree refuses what translate refuses. Runs the real binary with a pinned locale and width.
@Suite("CLI conventions")
struct CLIConventionTests {
    static let fixtures = CLITests.packageRoot.appendingPathComponent("Tests/Fixtures/cli")
    static let pmem = "\(CLITests.packageRoot.path)/examples/pmem-linear-striped.json"

    /// `dmstack ARGUMENTS` in the translate fixtures, with `environment` (LANG=C.UTF-8 and no
    /// COLUMNS unless given) through env(1), so the result does not depend on the caller's.
    static func run(_ arguments: [String], _ environment: [String] = []) throws -> CLITests.Result {
        let pinned = ["-u", "COLUMNS", "-u", "LC_ALL", "-u", "LC_CTYPE", "LANG=C.UTF-8"] + environment
        return try TestProcess.run(URL(fileURLWithPath: "/usr/bin/env"), pinned + [CLITests.binary.path] + arguments, directory: CLITests.fixtures)
    }

    /// Every kind of bad input: its status (the same across commands), its message, on one
    /// line (usage errors: a second one pointing to --help), nothing on stdout.
    @Test(arguments: [
        // Point 4: tree and show refuse a cycle and a corrupt table exactly as translate does.
        (["tree", "--snapshot", "cycle-snapshot.json"], Int32(65), "dmstack: cycle-snapshot.json: devices a → b form a cycle"),
        (["tree", "--inverse", "--snapshot", "cycle-snapshot.json"], 65, "dmstack: cycle-snapshot.json: devices a → b form a cycle"),
        (["show", "a", "--snapshot", "cycle-snapshot.json"], 65, "dmstack: cycle-snapshot.json: devices a → b form a cycle"),
        (["translate", "--snapshot", "cycle-snapshot.json", "loop0", "0+8"], 65, "dmstack: cycle-snapshot.json: devices a → b form a cycle"),
        (["simulate", "--snapshot", "cycle-snapshot.json", "a"], 65, "dmstack: cycle-snapshot.json: devices a → b form a cycle"),
        (["tree", "--snapshot", "bad-table-snapshot.json"], 65, "dmstack: bad-table-snapshot.json: line 1: striped chunk size: expected an unsigned integer, got 'big'"),
        (["translate", "--snapshot", "bad-table-snapshot.json", "loop0", "0+8"], 65, "dmstack: bad-table-snapshot.json: line 1: striped chunk size: expected an unsigned integer, got 'big'"),
        // Point 8: a missing input file is 1 whatever it is.
        (["tree", "--snapshot", "missing.json"], 1, "dmstack: cannot open missing.json: No such file or directory"),
        (["translate", "--table", "missing.table", "loop0", "0+8"], 1, "dmstack: cannot open missing.table: No such file or directory"),
        (["apply", "--dry-run", "missing.yaml"], 1, "dmstack: cannot open missing.yaml: No such file or directory"),
        (["translate", "--table", "dynamic.table.txt", "--thin-dump", "pool=missing.xml", "data", "0+8"], 1, "dmstack: cannot open missing.xml: No such file or directory"),
        (["monitor", "--once", "--config", "missing.yaml"], 1, "dmstack: cannot open missing.yaml: No such file or directory"),
        // A directory where a file is wanted is said of the path (not of "sector 0").
        (["translate", "--table", "dynamic.table.txt", "--thin-dump", "pool=.", "data", "0+8"], 1, "dmstack: cannot read .: Is a directory"),
        (["tree", "--snapshot", "."], 1, "dmstack: cannot read .: Is a directory"),
        // An unknown device is 64 in every command.
        (["translate", "--snapshot", pmem, "nosuch", "0+8"], 64, "dmstack: no block device 'nosuch'"),
        (["simulate", "--snapshot", pmem, "nosuch"], 64, "dmstack: no block device 'nosuch'"),
        (["show", "--snapshot", pmem, "nosuch"], 64, "dmstack: no block device 'nosuch'"),
        (["tree", "--snapshot", pmem, "nosuch"], 64, "dmstack: no block device 'nosuch'"),
        // Usage errors, ArgumentParser's too: `dmstack:`, then a line naming --help.
        (["tree", "--bogus"], 64, "dmstack: Unknown option '--bogus'\nTry 'dmstack tree --help' for more information."),
        (["translate"], 64, "dmstack: Missing expected argument '<device>'\nTry 'dmstack translate --help' for more information."),
        (["holders", "list", "--bogus"], 64, "dmstack: Unknown option '--bogus'\nTry 'dmstack holders list --help' for more information."),
        (["tree", "-o", "NAME,bogus", "--snapshot", pmem], 64, "dmstack: unknown column 'bogus' (columns: NAME, KNAME, MAJ:MIN, SIZE, TYPE, TABLE, FSTYPE, UUID, LABEL, MOUNTPOINTS, PMEM, STATE)\nTry 'dmstack tree --help'"),
        (["translate", "--table", "raid.table", "loop0", "--", "-5+8"], 64, "dmstack: invalid range '-5+8': start: negative numbers are not allowed\nTry 'dmstack translate --help'"),
        (["simulate", "--snapshot", pmem, "pmem0", "--range", "-5+8"], 64, "dmstack: invalid range '-5+8': start: negative numbers are not allowed\nTry 'dmstack simulate --help'"),
        (["translate", "--table", "raid.table", "loop0", "8+-8"], 64, "dmstack: invalid range '8+-8': length: '-8' is negative\nTry 'dmstack translate --help'"),
        (["translate", "--table", "raid.table", "loop0", "8-"], 64, "dmstack: invalid range '8-': end: missing number\nTry 'dmstack translate --help'"),
        (["translate", "--table", "raid.table", "loop0", "99999999999999999999999+8"], 64, "dmstack: invalid range '99999999999999999999999+8': start: '99999999999999999999999' is too large (past 2^64; no Linux block device has that many sectors)\nTry 'dmstack translate --help'"),
        (["translate", "--table", "raid.table", "loop0", "1kB+8"], 64, "dmstack: invalid range '1kB+8': start: '1kB' is not a whole number with an optional suffix\nTry 'dmstack translate --help'"),
    ])
    func badInput(arguments: [String], status: Int32, message: String) throws {
        let result = try Self.run(arguments)
        #expect(result.status == status, "dmstack \(arguments.joined(separator: " ")): \(result.stderr)")
        #expect(result.stdout.isEmpty, "\(result.stdout)")
        // The first line begins with the message's first line (ArgumentParser may add a
        // suggestion, "Did you mean ...?"); a second expected line begins the second.
        let expected = message.split(separator: "\n").map(String.init)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == expected.count, "\(result.stderr)")
        for (line, wanted) in zip(lines, expected) { #expect(line.hasPrefix(wanted), "\(result.stderr)") }
        #expect(lines.first?.hasPrefix("dmstack: ") == true)
    }

    /// Outside a UTF-8 locale a message's arrow is ASCII on stderr too, as -i makes tables.
    @Test func messagesAreASCIIOutsideAUTF8Locale() throws {
        let result = try Self.run(["tree", "--snapshot", "cycle-snapshot.json"], ["LANG=C"])
        #expect(result.status == 65 && result.stderr == "dmstack: cycle-snapshot.json: devices a -> b form a cycle\n", "\(result.stderr)")
    }

    /// Each case: a name (its expected stdout is `Tests/Fixtures/cli/<name>.out`), the
    /// arguments and the environment.
    static let goldens: [(String, [String], [String])] = [
        ("tree-80-columns", ["tree", "--snapshot", pmem], []),
        ("tree-columns-ascii-bytes", ["tree", "-i", "-b", "-o", "name,SIZE,type,fstype", "--snapshot", pmem], []),
        ("tree-add-columns", ["tree", "-o", "+KNAME", "--snapshot", pmem], ["COLUMNS=200"]),
        ("tree-raw-noheadings", ["tree", "-r", "-n", "--snapshot", pmem], []),
        ("tree-narrow", ["tree", "--snapshot", pmem], ["COLUMNS=60"]),
        ("tree-c-locale", ["tree", "--inverse", "--snapshot", pmem], ["LANG=C"]),
        ("translate-80-columns", ["translate", "--table", "raid.table", "/dev/loop3", "0+384"], []),
        ("translate-columns-bytes", ["translate", "-b", "-o", "DEVICE,START,LENGTH,OUTCOME", "--table", "raid.table", "/dev/loop3", "0+384"], []),
        ("translate-raw", ["translate", "-r", "--table", "raid.table", "/dev/loop3", "0+384"], []),
        ("translate-ascii", ["translate", "-i", "-o", "device,path", "--table", "raid.table", "/dev/loop3", "0+128"], ["COLUMNS=300"]),
        ("list-json-empty", ["list", "-J", "--snapshot", "minimal.json"], []),
        ("list-empty", ["list", "--snapshot", "minimal.json"], []),
        ("list-columns", ["list", "-o", "NAME,SIZE,TARGETS,MEMBERS", "-b", "--snapshot", "\(fixtures.path)/owned.json"], []),
        ("list-raw", ["list", "-r", "-o", "name,uuid,maj:min", "--snapshot", "\(fixtures.path)/owned.json"], []),
    ]

    @Test(arguments: goldens.map(\.0))
    func outputMatchesGolden(name: String) throws {
        let (_, arguments, environment) = Self.goldens.first { $0.0 == name }!
        let result = try Self.run(arguments, environment)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        let url = Self.fixtures.appendingPathComponent("\(name).out")
        if ProcessInfo.processInfo.environment["DMSTACK_UPDATE_FIXTURES"] == "1" {
            try result.stdout.write(to: url, atomically: true, encoding: .utf8)
        }
        #expect(result.stdout == (try String(contentsOf: url, encoding: .utf8)), "dmstack \(arguments.joined(separator: " "))")
        if !environment.contains(where: { $0.hasPrefix("COLUMNS=") }) && !arguments.contains("-r") {
            #expect(result.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 }, "wider than 80 columns")
        }
        if environment.contains("LANG=C") || arguments.contains("-i") {
            #expect(result.stdout.utf8.allSatisfy { $0 < 0x80 }, "not ASCII")
        }
    }

    /// Widths the goldens do not pin: every line fits $COLUMNS while a column can narrow.
    @Test(arguments: [40, 60, 72, 100])
    func linesFitTheWidth(columns: Int) throws {
        let result = try Self.run(["tree", "--snapshot", Self.pmem], ["COLUMNS=\(columns)"])
        let widest = result.stdout.split(separator: "\n").map(\.count).max() ?? 0
        // Columns that do not narrow (NAME, MAJ:MIN, SIZE, FSTYPE, PMEM) take 44 here.
        #expect(widest <= max(columns, 44 + 3 * 10), "\(result.stdout)")
        #expect(result.status == 0)
    }

    /// Empty results: nothing at all under -n and -r, an empty list under -J, a sentence
    /// otherwise; -J is --json.
    @Test func emptyResultsAndShortJSON() throws {
        for arguments in [["list", "-n"], ["list", "-r"], ["tree", "-r"], ["tree", "-n"]] {
            let result = try Self.run(arguments + ["--snapshot", "minimal.json"])
            #expect(result.status == 0 && result.stdout.isEmpty && result.stderr.isEmpty, "\(arguments): '\(result.stdout)'")
        }
        let unused = ["translate", "--table", "pmem-stack.table", "pmem0", "600000+8"]
        #expect(try Self.run(unused + ["-n"]).stdout.isEmpty)
        #expect(try Self.run(unused + ["-r"]).stdout.isEmpty)
        #expect(try Self.run(unused).stdout == "pmem0 600000+8: no device above it\n")
        #expect(try Self.run(unused + ["-J"]).stdout == (try Self.run(unused + ["--json"])).stdout)
        for command in [["tree"], ["show", "concat"], ["list"], ["simulate", "pmem0", "--range", "0+8"]] {
            let short = try Self.run(command + ["-J", "--snapshot", Self.pmem])
            let long = try Self.run(command + ["--json", "--snapshot", Self.pmem])
            #expect(short.status == long.status && short.stdout == long.stdout && !short.stdout.isEmpty, "\(command)")
        }
    }

    /// Sizes with K, M, G, T in any case, k as KiB: the same ranges as the long suffixes.
    @Test func shortSizeSuffixesMeanPowersOf1024() throws {
        let long = try Self.run(["translate", "--table", "pmem-stack.table", "pmem0", "255MiB+2MiB"])
        #expect(long.status == 0 && !long.stdout.isEmpty, "\(long.stderr)")
        for spelled in ["255M+2M", "255m+2m", "255mib+2MIB", "261120k+2048K", "522240s+4096S", "267386880b+2097152B"] {
            let r = try Self.run(["translate", "--table", "pmem-stack.table", "pmem0", spelled])
            #expect(r.stdout == long.stdout, "\(spelled): \(r.stderr)")
        }
    }

    /// The registry's reports take the same options: one event waiting in the outbox (its
    /// only sink fails) as three raw fields, no holders as nothing under -n.
    @Test func registryListsTakeTheTableOptions() throws {
        let sink = try ExitStatusTests.failingSink()
        defer { try? FileManager.default.removeItem(atPath: sink.dir) }
        #expect(try Self.run(["events", "test"] + sink.options).status == 2)
        let state = Array(sink.options.suffix(2))
        let events = try Self.run(["events", "list", "-r", "-n", "-o", "kind,SINK,state"] + state)
        #expect(events.status == 0 && events.stdout == "test exec-1 pending\n", "\(events.stdout)\(events.stderr)")
        let holders = try Self.run(["holders", "list", "-n"] + state)
        #expect(holders.status == 0 && holders.stdout.isEmpty, "\(holders.stdout)\(holders.stderr)")
        let bad = try Self.run(["holders", "list", "-o", "NAME,CREATED"] + state)
        #expect(bad.status == 64 && bad.stderr.hasPrefix("dmstack: unknown column 'CREATED' (columns: NAME, KIND, FILESYSTEM,"), "\(bad.stderr)")
    }

    /// --snapshot - reads standard input for every command that takes --snapshot.
    @Test(arguments: [["tree"], ["show", "concat"], ["list"], ["translate", "pmem0", "0+8"], ["simulate", "pmem0", "--range", "0+8"]])
    func snapshotFromStandardInput(command: [String]) throws {
        let direct = try Self.run(command + ["--snapshot", Self.pmem])
        let piped = try TestProcess.shell("LANG=C.UTF-8 '\(CLITests.binary.path)' \(command.joined(separator: " ")) --snapshot - < '\(Self.pmem)'", directory: CLITests.fixtures)
        #expect(piped.status == direct.status && piped.stdout == direct.stdout && !piped.stdout.isEmpty, "\(command): \(piped.stderr)")
    }
}
