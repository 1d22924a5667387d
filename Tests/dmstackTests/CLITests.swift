import Foundation
import JSONSchemaCheck
import TestSupport
import Testing

/// The real `dmstack` binary against fixtures: whole stdout compared, stderr and exit status
/// checked, as swift-argument-parser's AssertExecuteCommand does.
@Suite("dmstack CLI")
struct CLITests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/translate")

    static var binary: URL {
        let beside = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent().appendingPathComponent("dmstack")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return packageRoot.appendingPathComponent(".build/debug/dmstack")
    }

    typealias Result = TestProcess.Result

    /// `dmstack ARGUMENTS` (or another `executable`) in `directory`, waited for.
    static func run(_ arguments: [String], directory: URL = fixtures, executable: URL = binary) throws -> Result {
        try TestProcess.run(executable, arguments, directory: directory)
    }

    /// dmstack's JSON output parsed and checked against its schema in docs/json.
    static func document(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let (value, problems) = JSONSchemaCheck.parse(text)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))", sourceLocation: sourceLocation)
        return try #require(value as? [String: Any], sourceLocation: sourceLocation)
    }

    /// Each case: a name (its expected output is `<name>.out`) and the arguments.
    static let cases: [(String, [String])] = [
        ("pmem-up", ["translate", "--table", "pmem-stack.table", "/dev/pmem1", "262400+8"]),
        ("pmem-up-bytes", ["translate", "--table", "pmem-stack.table", "pmem0", "255MiB+2MiB"]),
        ("pmem-down", ["translate", "--table", "pmem-stack.table", "--down", "data", "0+256KiB"]),
        ("raid5-leg", ["translate", "--table", "raid.table", "/dev/loop3", "0+384"]),
        ("careless-mirror", ["translate", "--table", "raid.table", "/dev/loop5", "0-409600"]),
        ("raid-down", ["translate", "--table", "raid.table", "--down", "volume", "409600+256"]),
        ("mirror-json", ["translate", "--table", "raid.table", "/dev/loop0", "2048+8", "--json"]),
        ("raid5-down-json", ["translate", "--table", "raid.table", "--down", "--json", "parity", "0+8"]),
        ("unused-range", ["translate", "--table", "pmem-stack.table", "pmem0", "600000+8"]),
    ]

    @Test(arguments: cases.map(\.0))
    func outputMatchesFixture(name: String) throws {
        let arguments = Self.cases.first { $0.0 == name }!.1
        let result = try Self.run(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let expectedURL = Self.fixtures.appendingPathComponent("\(name).out")
        if ProcessInfo.processInfo.environment["DMSTACK_UPDATE_FIXTURES"] == "1" {
            try result.stdout.write(to: expectedURL, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        #expect(result.stdout == expected, "dmstack \(arguments.joined(separator: " "))")
        if arguments.contains("--json") { _ = try Self.document(result.stdout) }
    }

    @Test func jsonIsOneNamedObjectWithRawIntegers() throws {
        let result = try Self.run(["translate", "--table", "raid.table", "/dev/loop3", "0+384", "--json"])
        let object = try Self.document(result.stdout)
        #expect(Array(object.keys) == ["translations"])
        let rows = object["translations"] as! [[String: Any]]
        #expect(rows.count == 4)
        for row in rows {
            #expect(row["start"] is Int && row["length"] is Int)
            #expect(["lost", "degraded", "unknown"].contains(row["outcome"] as! String))
            let path = row["path"] as! [[String: Any]]
            #expect((path.first!["device"] as! String) == "loop3" && (path.last!["device"] as! String) == "volume")
        }
    }

    /// Every failure: one line on stderr naming the thing, nothing on stdout, the documented
    /// status (64 usage, 65 malformed input, 1 runtime).
    @Test(arguments: [
        (["translate", "--table", "raid.table", "loop0", "8+0"], Int32(64), "invalid range '8+0': length must be greater than zero"),
        (["translate", "--table", "raid.table", "loop0", "1B+512B"], 64, "start: 1 bytes is not a multiple of the 512-byte sector"),
        (["translate", "--table", "raid.table", "nosuch", "0+8"], 64, "device 'nosuch' is not in the stack"),
        (["translate", "--table", "raid.table", "--down", "volume", "1228800+8"], 64, "range 1228800+8 ends past the end of volume (1228800 sectors)"),
        (["translate", "--table", "missing.table", "loop0", "0+8"], 1, "cannot open missing.table: No such file or directory"),
        (["translate", "--table", "bad.table.txt", "loop0", "0+8"], 65, "bad.table.txt: line 3: striped chunk size: expected an unsigned integer, got 'big'"),
        (["translate", "--table", "cycle.table.txt", "a", "0+8"], 65, "cycle.table.txt: devices a → b form a cycle"),
        (["tree", "--snapshot", "missing.json"], 1, "cannot open missing.json: No such file or directory"),
        (["tree", "--snapshot", "raid.table"], 65, "raid.table: not a dmstack snapshot (not a JSON object)"),
        (["show", "x", "--snapshot", "not-a-snapshot.json"], 65, "not-a-snapshot.json: not a dmstack snapshot (format is missing, expected 'dmstack-snapshot')"),
        (["tree", "--snapshot", "newer.json"], 65, "newer.json: snapshot format version 99 is newer than this dmstack reads (4); use a newer dmstack"),
        (["tree", "--snapshot", "corrupt.json"], 65, "corrupt.json: corrupt snapshot: missing 'devices' at the top level"),
        (["show", "--snapshot", "minimal.json", "nosuch"], 64, "no block device 'nosuch'"),
        (["translate", "--snapshot", "minimal.json", "pmem0", "0+8"], 64, "no block device 'pmem0'"),
        (["translate", "--table", "raid.table", "--thin-dump", "pool", "loop0", "0+8"], 64, "expected NAME=FILE, got 'pool'"),
        (["translate", "--table", "raid.table", "--thin-dump", "pool=raid.table", "loop0", "0+8"], 64, "--thin-dump: 'pool' is not a thin-pool device of the tables"),
        (["translate", "--table", "dynamic.table.txt", "--thin-dump", "pool=raid.table", "data", "0+8"], 65, "raid.table: no <superblock data_block_size=...> element"),
        (["translate", "--table", "dynamic.table.txt", "--writecache-metadata", "thin1=writecache.img", "slow", "0+8"], 64, "--writecache-metadata: 'thin1' is not a writecache device of the tables"),
    ])
    func failuresAreOneClearLine(arguments: [String], status: Int32, message: String) throws {
        let result = try Self.run(arguments)
        #expect(result.status == status, "\(arguments): \(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        if status != 64 { #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)") }
    }

    /// Mapping names resolve like device arguments (/dev/mapper/NAME), and a writecache's
    /// metadata is read from its table's start_sector.
    @Test func dynamicMappingOptions() throws {
        let thin = try Self.run(["translate", "--table", "dynamic.table.txt", "--thin-dump", "/dev/mapper/pool=thin.xml", "--json", "data", "1290+4"])
        #expect(thin.status == 0, "\(thin.stderr)")
        let rows = try Self.document(thin.stdout)["translations"] as! [[String: Any]]
        #expect(rows.map { "\($0["device"]!) \($0["start"]!) \($0["outcome"]!)" } == ["thin1 10 lost"])
        // Block 1 of the volume (sectors 8..15) lives on the cache device: superblock at sector
        // 16, metadata rounded up to one 4 KiB block, so data block 0 starts at 16 + 8 = 24.
        let wc = try Self.run(["translate", "--table", "dynamic.table.txt", "--writecache-metadata", "wc=writecache.img", "--down", "--json", "wc", "8+8"])
        #expect(wc.status == 0, "\(wc.stderr)")
        let down = try Self.document(wc.stdout)["translations"] as! [[String: Any]]
        #expect(down.map { "\($0["device"]!) \($0["start"]!)" } == ["fast 24"])
    }

    /// --thin-dump also takes the pool's metadata device, here an image thin_restore wrote
    /// from the same XML: read by dmstack's btree reader, the same answer.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/thin_restore"), "needs thin_restore (thin-provisioning-tools)"))
    func thinDumpTakesAMetadataImage() throws {
        let image = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-cli-thin-\(UUID().uuidString).img")
        defer { try? FileManager.default.removeItem(at: image) }
        try Data(count: 4 << 20).write(to: image)
        let restore = try TestProcess.run(URL(fileURLWithPath: "/usr/sbin/thin_restore"), ["-i", Self.fixtures.appendingPathComponent("thin.xml").path, "-o", image.path])
        #expect(restore.status == 0, "\(restore.stderr)")
        let thin = try Self.run(["translate", "--table", "dynamic.table.txt", "--thin-dump", "pool=\(image.path)", "--json", "data", "1290+4"])
        #expect(thin.status == 0, "\(thin.stderr)")
        let rows = try Self.document(thin.stdout)["translations"] as! [[String: Any]]
        #expect(rows.map { "\($0["device"]!) \($0["start"]!) \($0["outcome"]!)" } == ["thin1 10 lost"])
    }

    /// Losing a raid5 leg degrades thousands of chunk rows: one notice for the device says it,
    /// with its first ranges and the total (the layers carry every range).
    @Test func degradedRowsAreOneNoticePerDevice() throws {
        let result = try Self.run(["simulate", "--json", "--snapshot", "\(Self.packageRoot.path)/examples/raid1-raid5-loop.json", "loop3", "--event", "remove"])
        #expect(result.status == 0, "\(result.stderr)")
        let impact = try Self.document(result.stdout)["impact"] as! [String: Any]
        let notices = impact["notices"] as! [[String: String]]
        #expect(notices.map { "\($0["action"]!) \($0["target"]!)" } == ["notify-degraded parity"])
        // The leg is four runs of chunks, one per place in the parity rotation, and a last row.
        #expect(notices.first?["reason"]?.hasPrefix("sectors 128+128/768×1701, 256+128/768×1701, ") == true && notices.first?["reason"]?.contains(" (871040 sectors) still have a copy or parity") == true,
                "\(notices)")
        let layer = (impact["layers"] as! [[String: Any]]).first { $0["device"] as? String == "parity" }
        #expect((layer?["ranges"] as? [[String: Any]])?.reduce(0) { $0 + ($1["length"] as! Int) * (($1["count"] as? Int) ?? 1) } == 871040)
    }

    /// A row that stops at a device (here a thin volume without its pool's mapping) carries
    /// the path of its own piece, not of the whole query.
    @Test func aRowThatStopsHasItsOwnPath() throws {
        let result = try Self.run(["translate", "--table", "mixed.table.txt", "--down", "--json", "mix", "0+5120"])
        // An unknown row makes the answer incomplete: 2, said once on stderr (issue 18).
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr == "dmstack: incomplete answer: 1 row of unknown outcome [metadata-missing] (exit status 2)\n")
        let rows = try Self.document(result.stdout)["translations"] as! [[String: Any]]
        let paths = rows.map { row in
            "\(row["device"]!) \(row["outcome"]!): " + (row["path"] as! [[String: Any]]).map { "\($0["device"]!) \($0["start"]!)+\($0["length"]!)" }.joined(separator: " > ")
        }
        #expect(paths == ["mix unknown: mix 1024+4096", "x lost: mix 0+1024 > a 0+1024 > x 0+1024"], "\(paths)")
    }

    @Test func unknownTargetWarnsOnStderrOnly() throws {
        let result = try Self.run(["translate", "--table", "opaque.table.txt", "/dev/meta", "0+8", "--json"])
        #expect(result.status == 2)
        #expect(result.stderr == "dmstack: warning: opaque.table.txt: line 1: unknown target type 'era': kept as opaque with devices /dev/meta, /dev/origin; its mapping is unknown\n"
                + "dmstack: incomplete answer: 1 row of unknown outcome [mapping-unknown] (exit status 2)\n")
        let object = try Self.document(result.stdout)
        #expect((object["translations"] as! [[String: Any]]).map { $0["outcome"] as! String } == ["unknown"])
        #expect((object["translations"] as! [[String: Any]]).map { $0["reason_code"] as? String } == ["mapping-unknown"])
        // The text says the code first in REASON.
        let text = try Self.run(["translate", "--table", "opaque.table.txt", "/dev/meta", "0+8", "-o", "DEVICE,OUTCOME,REASON", "-n"])
        #expect(text.status == 2 && text.stdout.contains("  mapping-unknown: unknown target type"), "\(text.stdout)")
    }

    @Test func versionNamesTheLibraries() throws {
        let result = try Self.run(["version"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("dmstack "))
        #expect(result.stdout.contains("libdevmapper 1.02."))
        #expect(result.stdout.contains("libblkid 2."))
    }
}
