import Foundation
import JSONSchemaCheck
import StackModel
import TestSupport
import Testing

/// Input bounds and the snapshot format's versions through the real binary: a file that
/// cannot be a snapshot, or is past the limit, is one line and status 65 at once; a snapshot
/// on standard input answers as the file does; the bundled version-2 and -3 snapshots rewritten in
/// version 4 (compact reverse maps) answer byte for byte as they do.
@Suite("Snapshot input")
struct SnapshotInputTests {
    static var dmstack: String { CLITests.binary.path }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-input-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func devZeroIsRefusedAtOnce() throws {
        let r = try CLITests.run(["tree", "--snapshot", "/dev/zero"])
        #expect(r.status == 65)
        #expect(r.stderr == "dmstack: /dev/zero: not a dmstack snapshot (not a JSON object)\n")
    }

    /// Sparse files past each limit: refused from their size, before a byte is read.
    @Test(arguments: [
        (["tree", "--snapshot"], 4 << 30, "the snapshot is 4294967297 bytes, more than the limit of 4 GiB"),
        (["translate", "--table"], 256 << 20, "the table file is 268435457 bytes, more than the limit of 256 MiB"),
        (["apply", "--dry-run"], 16 << 20, "the spec is 16777217 bytes, more than the limit of 16 MiB"),
    ])
    func filesPastTheLimitAreDataErrors(command: [String], limit: Int, message: String) throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("big").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data("{".utf8)))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try handle.truncate(atOffset: UInt64(limit) + 1)
        try handle.close()
        var arguments = command + [file]
        if command[0] == "translate" { arguments += ["/dev/sda", "0+8"] }
        let r = try CLITests.run(arguments)
        #expect(r.status == 65, "\(r.stderr)")
        #expect(r.stderr == "dmstack: \(file): \(message)\n")
    }

    @Test(arguments: JSONDocsTests.examples)
    func standardInputAnswersAsTheFile(file: String) throws {
        for command in ["tree --json", "tree --inverse --all", "list --json"] {
            let piped = try TestProcess.shell("\(Self.dmstack) \(command) --snapshot - < \(file)")
            let direct = try TestProcess.shell("\(Self.dmstack) \(command) --snapshot \(file)")
            #expect(piped.status == 0 && piped == direct, "\(command): \(piped.stderr)")
        }
        let bad = try TestProcess.shell("echo '{\"format\": \"other\"}' | \(Self.dmstack) tree --snapshot -")
        #expect(bad.status == 65 && bad.stderr == "dmstack: standard input: not a dmstack snapshot (format is 'other', expected 'dmstack-snapshot')\n")
    }

    /// What simulate and translate answer from each bundled snapshot (versions 2 and 3, a reverse
    /// map of one object a record) and from the same snapshot written in version 4.
    static let questions: [(String, [String])] = [
        ("pmem-linear-striped", ["simulate", "--json", "pmem1", "--range", "517248+8"]),
        ("pmem-linear-striped", ["simulate", "--json", "pmem1", "--event", "remove"]),
        ("pmem-linear-striped", ["simulate", "pmem0"]),
        ("xfs-external-log", ["simulate", "--json", "pmem1", "--range", "0+8"]),
        ("xfs-external-log", ["simulate", "--json", "pmem0", "--event", "remove"]),
        ("raid1-raid5-loop", ["simulate", "--json", "loop0", "--range", "4096+8"]),
        ("raid1-raid5-loop", ["simulate", "loop3", "--event", "remove"]),
        ("thin-pool", ["translate", "--json", "--down", "thin1", "0+8"]),
        ("crypt-over-linear", ["simulate", "--json", "pmem0", "--event", "remove"]),
    ]

    @Test func versionFourAnswersAsTheOlderOnes() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var records = 0
        for name in Set(Self.questions.map(\.0)) {
            let old = "\(CLITests.packageRoot.path)/examples/\(name).json"
            let snapshot = try SnapshotCodec.decode(try Data(contentsOf: URL(fileURLWithPath: old)), file: old)
            #expect(snapshot.version < 4, "\(name): the bundled snapshots test reading the older versions")
            records += snapshot.reverseMaps?.reduce(0) { $0 + $1.recordCount } ?? 0
            var rewritten = snapshot
            rewritten.version = SystemSnapshot.currentVersion
            let new = dir.appendingPathComponent("\(name).json")
            try SnapshotCodec.encode(rewritten).write(to: new)
            let text = try String(contentsOf: new, encoding: .utf8)
            #expect(text.contains("\"record_blocks\"") && !text.contains("\"records\""))
            #expect(JSONSchemaCheck.parse(text).1 == [], "\(name) in version 4")
            // The same file marked version 3 (the last with one object a record) reads alike.
            let three = dir.appendingPathComponent("\(name)-3.json")
            let oldText = try String(contentsOfFile: old, encoding: .utf8)
            #expect(oldText.contains("\"version\" : 2\n"))
            try oldText.replacing("\"version\" : 2\n", with: "\"version\" : 3\n").write(to: three, atomically: true, encoding: .utf8)
            for (_, arguments) in Self.questions.filter({ $0.0 == name }) {
                let before = try CLITests.run(arguments + ["--snapshot", old])
                let after = try CLITests.run(arguments + ["--snapshot", new.path])
                #expect(before.stdout.count > 100 && before == after, "\(name) \(arguments): \(after.stderr)")
                #expect(before == (try CLITests.run(arguments + ["--snapshot", three.path])), "\(name) \(arguments) as version 3")
            }
        }
        #expect(records > 100)
    }
}
