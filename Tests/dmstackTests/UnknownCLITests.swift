import Foundation
import Testing

/// Issue 18 points 1, 5 and 11 through the real binary, offline: each case with the exit
/// status and what stdout or stderr must say (and, for the unknown ones, must not).
@Suite("Unknown answers in the CLI")
struct UnknownCLITests {
    static let examples = CLITests.packageRoot.appendingPathComponent("examples").path
    static let lvm = CLITests.packageRoot.appendingPathComponent("Tests/Fixtures/lvm/raid1-linear.json").path

    struct Case: Sendable, CustomStringConvertible {
        var arguments: [String]
        var status: Int32
        /// In stdout, or in stderr for a failure.
        var says: [String]
        var never: [String] = []
        var description: String { arguments.joined(separator: " ") }
    }

    static let cases: [Case] = [
        // A filesystem the snapshot has no reverse map of: unknown, not "actions: none".
        Case(arguments: ["simulate", "--snapshot", lvm, "gt-probe/lin", "--range", "0+8"], status: 2,
             says: ["unknown hit (data device)", "UNKNOWN: owners of data device bytes 0+4096 not known because the snapshot has no reverse map of /mnt/lin",
                    "[not-in-snapshot]", "unknown /mnt/lin: owners not known (not-in-snapshot)", "owners UNKNOWN on /mnt/lin (not-in-snapshot)",
                    "incomplete answer"],
             never: ["    none", "no owner found"]),
        Case(arguments: ["simulate", "--json", "--snapshot", lvm, "gt-probe/lin", "--range", "0+8"], status: 2,
             says: ["\"reason\" : \"not-in-snapshot\"", "\"hit\" : [\n          \"unknown\"", "\"action\" : \"unknown\""]),
        // A pool mapping not given: the layers and the filesystem that may lose say why.
        Case(arguments: ["simulate", "--snapshot", "\(examples)/thin-pool.json", "loop1"], status: 2,
             says: ["UNKNOWN outcome because thin device thin1: pool mapping not given", "[metadata-missing]", "UNKNOWN thin2: sectors"]),
        Case(arguments: ["simulate", "--json", "--snapshot", "\(examples)/thin-pool.json", "loop1"], status: 2,
             says: ["\"reason\" : \"metadata-missing\"", "\"reason_codes\" : [\n          \"metadata-missing\""]),
        // Whole answers: status 0, headings by what was hit, XFS notes on XFS.
        Case(arguments: ["simulate", "--snapshot", "\(examples)/pmem-linear-striped.json", "pmem1", "--range", "517248+8"], status: 0,
             says: ["(xfs on stripe): file data hit (data device)", "xfs_iget XFS_IGET_INCORE"], never: ["UNKNOWN", "incomplete"]),
        Case(arguments: ["simulate", "--snapshot", "\(examples)/xfs-external-log.json", "pmem1", "--range", "0+8"], status: 0,
             says: ["log hit (log device)"], never: ["data hit", "UNKNOWN"]),
        // capture --redact-paths: where the key goes must be given.
        Case(arguments: ["capture", "--redact-paths"], status: 64, says: ["--redact-paths needs -o FILE"]),
        Case(arguments: ["capture", "--redact-paths", "-o", "/tmp/x.json", "--redact-key", "zz"], status: 64, says: ["--redact-key: 'zz' is not 32 hex digits"]),
        Case(arguments: ["capture", "--redact-key", "000102030405060708090a0b0c0d0e0f", "-o", "/tmp/x.json"], status: 64, says: ["--redact-key is for --redact-paths"]),
    ]

    @Test(arguments: cases)
    func eachCaseSaysWhatItKnowsAndExitsAsDocumented(_ c: Case) throws {
        let result = try CLITests.run(c.arguments)
        #expect(result.status == c.status, "\(c): \(result.stderr)")
        let out = c.status == 64 ? result.stderr : result.stdout
        for s in c.says { #expect(out.contains(s), "\(c): no '\(s)' in:\n\(out)") }
        for s in c.never { #expect(!out.contains(s), "\(c): '\(s)' in:\n\(out)") }
    }
}
