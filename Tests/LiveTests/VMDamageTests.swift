import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The damage ledger on md arrays in the test VM: a bad block md records for a raid0 member
/// (dev-*/bad_blocks, as md.rst allows) is listed as the file and offset it hit, byte-verified
/// against the member; the metrics file then passes `promtool check metrics` and a real
/// node_exporter serves it; a raid1 leg failed is a degraded entry, and the leg re-added and
/// resynced clears it and ends the Alertmanager alert (endsAt).
@Suite("VM: damage ledger", .serialized, .enabled(if: Live.hasDeviceMapper && FileManager.default.fileExists(atPath: "/sys/module/md_mod"),
                                                  "needs root, device-mapper and md (the test VM)"))
struct VMDamageTests {
    @Test func anMdMemberBadBlockListsTheFileByteVerifiedAndTheMetricsAreServed() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let md = VMMdTests()
        let (array, members) = try md.array("md121", level: "0", count: 2, size: "40M", options: "--chunk=64", cleanup: &cleanup)
        let truth = try md.filesystem(on: array, members: members, cleanup: &cleanup)
        let (dir, options) = try md.outbox(&cleanup)
        try Live.sh("\(Live.dmstack) holders register \(VMMdTests.mnt) --state-dir \(dir)/state")
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        let leaf = members[1], kernel = URL(fileURLWithPath: leaf).lastPathComponent
        let (sector, owner) = try #require(truth[leaf]?.min { $0.key < $1.key })
        try Live.sh("echo '\(sector) 1' > /sys/block/md121/md/dev-\(kernel)/bad_blocks")
        let metrics = "\(dir)/textfile/dmstack.prom"
        try Live.sh("mkdir -p \(dir)/textfile && \(Live.dmstack) monitor --once --metrics-file \(metrics) \(options)")

        let entries = try Live.json("damage --json --state-dir \(dir)/state")["damage"] as! [[String: Any]]
        let files = entries.filter { $0["kind"] as? String == "file" }
        #expect(files.count == 1 && files.first?["path"] as? String == owner.path, "expected \(owner), ledger \(entries)")
        let f = try #require(files.first)
        #expect(f["offset"] as? Int == Int(owner.offset) && f["length"] as? Int == 512, "\(f)")
        // Byte-verified from the leaf: the member's sector is the file's bytes at that offset.
        #expect(try SimulateLiveTests.fileBytes(owner.path, owner.offset) == SimulateLiveTests.deviceSector(leaf, sector))
        #expect(entries.contains { $0["kind"] as? String == "device" && $0["what"] as? String == "bad range" && $0["device"] as? String == kernel }, "\(entries)")

        // The host's promtool and node_exporter, through the shared root.
        try Live.sh("promtool check metrics < \(metrics)")
        let prom = try String(contentsOfFile: metrics, encoding: .utf8)
        let uuid = try #require(f["fs_uuid"] as? String)
        let line = "dmstack_damaged_files{fs_uuid=\"\(uuid)\",mountpoint=\"\(VMMdTests.mnt)\"} 1\n"
        #expect(prom.contains(line) && prom.contains("dmstack_damaged_file_bytes{fs_uuid=\"\(uuid)\",mountpoint=\"\(VMMdTests.mnt)\"} 512\n"), "\(prom)")
        try Live.sh("ip link set lo up 2>/dev/null || true")
        let scraped = try DamageLiveTests.scrapeNodeExporter(textfiles: "\(dir)/textfile", tries: 300)
        #expect(scraped.contains(line) && scraped.contains("\nnode_textfile_scrape_error 0\n"), "\(scraped.suffix(2000))")
    }

    @Test func aRaid1LegReAddedAndResyncedClearsTheDegradedEntryAndEndsTheAlert() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let md = VMMdTests()
        let (array, members) = try md.array("md122", level: "1", count: 2, size: "16M", cleanup: &cleanup)
        try Live.sh("ip link set lo up 2>/dev/null || true")
        let server = try HTTPServer(statuses: [200, 200])
        let dir = try Live.temporary("/tmp/dmstack-vmdamage-XXXXXX", recursive: true, cleanup: &cleanup)
        try "sinks:\n  - {type: alertmanager, url: 'http://127.0.0.1:\(server.port)/api/v2/alerts', timeout: 5s}\n"
            .write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        let options = "--config \(dir)/config.yaml --state-dir \(dir)/state"
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        try Live.sh("mdadm \(array) --fail \(members[0]) 2>&1")
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        var entries = try Live.json("damage --json --state-dir \(dir)/state")["damage"] as! [[String: Any]]
        #expect(entries.map { "\($0["kind"]!) \($0["what"]!) \($0["device"]!)" } == ["device degraded md122"], "\(entries)")

        // The leg back: removed, added again, resynced (md's own wait), then one pass.
        try Live.sh("sleep 1; mdadm \(array) --remove \(members[0]) 2>&1; mdadm \(array) --add \(members[0]) 2>&1; mdadm --wait \(array) 2>&1 || true")
        print(md.sysfs(array))
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        #expect(try (Live.json("damage --json --state-dir \(dir)/state")["damage"] as! [[String: Any]]).isEmpty)
        entries = try Live.json("damage --all --json --state-dir \(dir)/state")["damage"] as! [[String: Any]]
        #expect(entries.count == 1 && entries.first?["cleared_reason"] as? String == "healthy again", "\(entries)")
        let requests = server.finish()
        #expect(requests.count == 2)
        let alerts = try requests.map { try #require((try JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [[String: Any]])?.first) }
        #expect(alerts.first?["endsAt"] == nil && alerts.last?["endsAt"] is String, "\(alerts)")
        #expect(Set(alerts.map { ($0["labels"] as? [String: String])?["dmstack_key"] ?? "" }).count == 1, "\(alerts)")
    }
}
