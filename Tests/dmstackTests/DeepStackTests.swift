import Foundation
import TestSupport
import Testing

/// issue 17, point 4: the depth of a stack comes from its tables, so translation walks it
/// with an explicit stack. A chain of ~1,100 linear devices overflowed the thread's stack
/// (SIGSEGV) in `translate` and `simulate`, `--down` at ~1,800.
@Suite("deep stacks")
struct DeepStackTests {
    static let depth = 5000

    /// `d0` on /dev/loop0, `d1` on `d0`, ... `d4999`, each 2048 sectors.
    static func chainTable() -> String {
        (0..<depth).map { "d\($0): 0 2048 linear \($0 == 0 ? "/dev/loop0" : "/dev/mapper/d\($0 - 1)") 0\n" }.joined()
    }

    /// The same chain as a snapshot (the example snapshot with its devices replaced).
    static func chainSnapshot() throws -> Data {
        let example = CLITests.packageRoot.appendingPathComponent("examples/crypt-over-linear.json")
        var doc = try JSONSerialization.jsonObject(with: Data(contentsOf: example)) as! [String: Any]
        var devices: [[String: Any]] = [[
            "badblocks": [], "holders": ["dm-0"], "kernel_name": "loop0", "logical_block_size": 512, "major": 7, "minor": 0,
            "read_only": false, "removable": false, "size": 2048, "slaves": [],
        ]]
        for k in 0..<depth {
            let dep = k == 0 ? "7:0" : "254:\(k - 1)"
            devices.append([
                "badblocks": [], "holders": k + 1 < depth ? ["dm-\(k + 1)"] : [], "kernel_name": "dm-\(k)", "logical_block_size": 512,
                "major": 254, "minor": k, "read_only": false, "removable": false, "size": 2048, "slaves": [k == 0 ? "loop0" : "dm-\(k - 1)"],
                "dm": ["deps": [dep], "name": "d\(k)", "open_count": 1, "status": ["0 2048 linear"], "suspended": false,
                       "table": ["0 2048 linear \(dep) 0"], "uuid": ""] as [String: Any],
            ])
        }
        doc["devices"] = devices
        doc["mounts"] = []
        doc["reverse_maps"] = []
        doc["file_uses"] = []
        return try JSONSerialization.data(withJSONObject: doc)
    }

    @Test func aChainOf5000DevicesTranslatesAndSimulates() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-deep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let table = dir.appendingPathComponent("chain.table"), snapshot = dir.appendingPathComponent("chain.json")
        try Self.chainTable().write(to: table, atomically: true, encoding: .utf8)
        try Self.chainSnapshot().write(to: snapshot)

        // Wide enough for a path of 5000 hops: by default the PATH column is cut at 80 columns.
        let wide = ["COLUMNS=10000000"]
        let up = try CLIConventionTests.run(["translate", "--table", table.path, "/dev/loop0", "16+8"], wide)
        #expect(up.status == 0, "\(up.stderr)")
        let row = up.stdout.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
        #expect(row.hasPrefix("d4999") && row.contains("lost") && row.contains("d2500 16+8 (linear)"))

        let down = try CLIConventionTests.run(["translate", "--table", table.path, "--down", "d4999", "0+2048"], wide)
        #expect(down.status == 0, "\(down.stderr)")
        let leaf = down.stdout.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
        #expect(leaf.hasPrefix("loop0") && leaf.contains("lost") && leaf.hasSuffix("loop0 0+2048 (linear)"))

        let simulate = try CLITests.run(["simulate", "--snapshot", snapshot.path, "loop0", "--event", "remove"])
        #expect(simulate.status == 0, "\(simulate.stderr)")
        #expect(simulate.stdout.contains("d4999: 0+2048 lost"))
    }
}
