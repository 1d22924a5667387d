import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The damage ledger on a loop device with XFS (the host has no badblocks list on loop:
/// DMSTACK_BADBLOCKS, the documented test hook, gives the monitor its bad ranges): the files
/// and offsets it lists are byte-verified against the device, a file rewritten elsewhere
/// (reflink copy-on-write) and a deleted one clear on the next pass, a renamed one keeps its
/// entry under its new name, the bad range gone clears the rest and Alertmanager receives the
/// resolved alerts; the metrics file passes promtool and a real node_exporter serves it.
@Suite("Live: damage ledger", .serialized, .enabled(if: Live.hasLoop, "needs root and /dev/loop-control"))
struct DamageLiveTests {
    func status(_ command: String) -> Int32 {
        do { try Live.sh(command); return 0 } catch let e as Live.CommandError { return e.status } catch { return -1 }
    }

    /// A TCP port nothing listens on now (bound to 0, read, closed).
    /// What a real node_exporter serves from the textfile directory `textfiles` (its textfile
    /// collector only), once it serves dmstack's metrics or `tries` tenths of a second passed.
    /// Started directly (not through a shell that would wait on its output), stopped after.
    static func scrapeNodeExporter(textfiles: String, tries: Int = 100) throws -> String {
        let port = try freePort()
        let exporter = Process()
        exporter.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus-node-exporter")
        exporter.arguments = ["--web.listen-address=127.0.0.1:\(port)", "--collector.disable-defaults", "--collector.textfile",
                              "--collector.textfile.directory=\(textfiles)"]
        exporter.standardInput = FileHandle.nullDevice
        exporter.standardOutput = FileHandle.nullDevice
        exporter.standardError = FileHandle.nullDevice
        try exporter.run()
        defer { exporter.terminate(); exporter.waitUntilExit() }
        var scraped = ""
        for _ in 0..<tries where !scraped.contains("dmstack_") {
            scraped = (try? Live.sh("curl -sf http://127.0.0.1:\(port)/metrics")) ?? ""
            if !scraped.contains("dmstack_") { usleep(100_000) }
        }
        return scraped
    }

    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) == 0 && getsockname(fd, $0, &size) == 0 }
        }
        guard ok else { throw Live.CommandError(command: "bind", status: errno, output: "") }
        return UInt16(bigEndian: a.sin_port)
    }

    @Test func theLedgerListsByteVerifiedFilesAndClearsThemWhenTheDamageIsGone() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let dev = try Live.loop(size: "400M", cleanup: &cleanup)
        let name = String(dev.split(separator: "/").last!)
        let dir = try Live.temporary("/tmp/dmstack-damage-XXXXXX", recursive: true, cleanup: &cleanup)
        let mnt = "\(dir)/m"
        try GroundTruth.xfs(dev, on: mnt, options: "", cleanup: &cleanup)
        let paths = try GroundTruth.writeFiles("\(mnt)/d", count: 3, size: 2 << 20)
        let server = try HTTPServer(statuses: [200, 200, 200, 200, 200, 200])
        try "sinks:\n  - {type: alertmanager, url: 'http://127.0.0.1:\(server.port)/api/v2/alerts', timeout: 5s}\n"
            .write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        let options = "--config \(dir)/config.yaml --state-dir \(dir)/state"
        let state = "--state-dir \(dir)/state"
        try Live.sh("\(Live.dmstack) holders register \(mnt) \(state)")
        // 16 sectors inside each file, 8 sectors past its first extent's start.
        var bad: [(path: String, sector: UInt64, fileOffset: UInt64)] = []
        for p in paths {
            let e = try #require(try SimulateLiveTests.extents(p).first)
            bad.append((p, e.deviceSector + 8, (e.fileSector + 8) * 512))
        }
        let hook = "DMSTACK_BADBLOCKS=" + bad.map { "\(name):\($0.sector)+16" }.joined(separator: ",")
        try Live.sh("\(hook) \(Live.dmstack) monitor --once \(options)")

        var entries = try Live.json("damage --json \(state)")["damage"] as! [[String: Any]]
        let files = entries.filter { $0["kind"] as? String == "file" }
        #expect(files.count == 3)
        #expect(entries.filter { $0["kind"] as? String == "device" && $0["what"] as? String == "bad range" }.count == 3)
        for b in bad {
            let f = try #require(files.first { $0["path"] as? String == b.path }, "\(b.path) not in the ledger")
            #expect(f["offset"] as? Int == Int(b.fileOffset) && f["length"] as? Int == 8192)
            #expect(f["generation"] is Int && f["fs_uuid"] is String && f["mountpoint"] as? String == mnt)
            // Byte-verified: the file's bytes at the offset are the device's at the bad sector.
            for k in UInt64(0)..<16 {
                #expect(try SimulateLiveTests.fileBytes(b.path, b.fileOffset + k * 512) == SimulateLiveTests.deviceSector(dev, b.sector + k))
            }
        }
        let text = try Live.sh("\(Live.dmstack) damage \(mnt) -r -o PATH,OFFSET,LENGTH \(state)")
        #expect(text.contains("\(paths[1]) \(bad[1].fileOffset) 8192"))
        // The table (read twice, to size and to print): LENGTH right-aligned last, so every
        // line, the heading's too, is as long as the widest.
        let table = try Live.sh("COLUMNS=200 \(Live.dmstack) damage \(mnt) -o PATH,LENGTH \(state)").split(separator: "\n").map(String.init)
        #expect(table.count == 4 && table[0].hasPrefix("PATH ") && table[0].hasSuffix(" LENGTH") && Set(table.map(\.count)).count == 1, "\(table)")
        #expect(table.contains { $0.hasPrefix(paths[1] + " ") && $0.hasSuffix(" 8192") }, "\(table)")

        // paths[0] renamed, paths[1] rewritten elsewhere (a reflinked clone keeps the old
        // blocks, the overwrite gets new ones), paths[2] deleted.
        try Live.sh("mv \(paths[0]) \(paths[0]).renamed && cp --reflink=always \(paths[1]) \(mnt)/clone && dd if=/dev/zero of=\(paths[1]) bs=4096 seek=\(bad[1].fileOffset / 4096 - 1) count=4 conv=notrunc,fsync status=none && rm \(paths[2]) && sync")
        let metrics = "\(dir)/textfile/dmstack.prom"
        try Live.sh("mkdir -p \(dir)/textfile && \(hook) \(Live.dmstack) monitor --once --metrics-file \(metrics) \(options)")
        entries = try Live.json("damage --all --json \(state)")["damage"] as! [[String: Any]]
        func entry(_ path: String) -> [String: Any]? { entries.first { $0["kind"] as? String == "file" && $0["path"] as? String == path } }
        #expect(entry(paths[1])?["cleared_reason"] as? String == "file rewritten")
        #expect(entry(paths[2])?["cleared_reason"] as? String == "file deleted")
        #expect(entry("\(paths[0]).renamed") != nil && entry("\(paths[0]).renamed")?["cleared_at"] == nil)

        // As after a reboot: the filesystem mounted again (a new mount, its caches gone) and
        // the file moved once more; `damage --check` finds it by its handle under the new
        // name, still damaged (issue 21 point 2: paths re-resolved after renames and reboots).
        let moved = "\(mnt)/moved/again"
        try Live.sh("umount \(mnt) && mount \(dev) \(mnt) && mkdir \(mnt)/moved && mv \(paths[0]).renamed \(moved) && sync")
        try Live.sh("\(hook) \(Live.dmstack) damage --check \(options)")
        entries = try Live.json("damage --json \(state)")["damage"] as! [[String: Any]]
        #expect(entry(moved)?["cleared_at"] == nil && entry(moved)?["offset"] as? Int == Int(bad[0].fileOffset), "\(entries)")
        entries = try Live.json("damage --all --json \(state)")["damage"] as! [[String: Any]]

        // The metrics file: promtool accepts it, node_exporter's textfile collector serves it.
        try Live.sh("promtool check metrics < \(metrics)")
        let prom = try String(contentsOfFile: metrics, encoding: .utf8)
        let uuid = try #require(entry(moved)?["fs_uuid"] as? String)
        #expect(prom.contains("dmstack_damaged_files{fs_uuid=\"\(uuid)\",mountpoint=\"\(mnt)\"} 1\n"))
        #expect(prom.contains("dmstack_damaged_file_bytes{fs_uuid=\"\(uuid)\",mountpoint=\"\(mnt)\"} 8192\n"))
        #expect(prom.contains("dmstack_damage_cleared_total{reason=\"file deleted\"} 1\n"))
        let scraped = try Self.scrapeNodeExporter(textfiles: "\(dir)/textfile")
        #expect(scraped.contains("dmstack_damaged_files{fs_uuid=\"\(uuid)\",mountpoint=\"\(mnt)\"} 1\n"))
        #expect(scraped.contains("dmstack_damaged_devices 1\n"))
        #expect(scraped.contains("\nnode_textfile_scrape_error 0\n"))

        // The bad ranges gone: everything clears, each event is resolved, Alertmanager gets the end.
        try Live.sh("\(Live.dmstack) monitor --once \(options)")
        entries = try Live.json("damage --json \(state)")["damage"] as! [[String: Any]]
        #expect(entries.isEmpty)
        entries = try Live.json("damage --all --json \(state)")["damage"] as! [[String: Any]]
        #expect(entry(moved)?["cleared_reason"] as? String == "bad range gone")
        let requests = server.finish()
        #expect(requests.count == 6)
        let alerts = try requests.map { try #require((try JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [[String: Any]])?.first) }
        let started = Set(alerts.filter { $0["endsAt"] == nil }.map { ($0["labels"] as! [String: String])["dmstack_key"]! })
        let ended = alerts.filter { $0["endsAt"] != nil }
        #expect(started.count == 3 && ended.count == 3)
        #expect(Set(ended.map { ($0["labels"] as! [String: String])["dmstack_key"]! }) == started)
        // A bad range that returns after its event was resolved is a new event.
        let again = try Live.sh("DMSTACK_BADBLOCKS=\(name):\(bad[0].sector)+16 \(Live.dmstack) monitor --once \(options)")
        #expect(again.contains("failure \(name) \(bad[0].sector)+16"))
    }

    @Test func pruneDeletesOnlyDeliveredEventsOlderThanTheDuration() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let dir = try Live.temporary("/tmp/dmstack-prune-XXXXXX", recursive: true, cleanup: &cleanup)
        try "sinks:\n  - {type: jsonl, path: \(dir)/events.jsonl}\n".write(toFile: "\(dir)/ok.yaml", atomically: true, encoding: .utf8)
        try "sinks:\n  - {type: alertmanager, url: 'http://127.0.0.1:1/api/v2/alerts', timeout: 1s}\n".write(toFile: "\(dir)/bad.yaml", atomically: true, encoding: .utf8)
        let state = "--state-dir \(dir)/state"
        try Live.sh("\(Live.dmstack) events test --config \(dir)/ok.yaml \(state)")
        #expect(status("\(Live.dmstack) events test --config \(dir)/bad.yaml \(state)") == 2)
        #expect(try Live.sh("\(Live.dmstack) events prune --older-than 1d \(state)") == "0 pruned\n")
        sleep(1)
        #expect(try Live.sh("\(Live.dmstack) events prune --older-than 0s \(state)") == "1 pruned\n")
        let left = try Live.json("events list --json \(state)")["events"] as! [[String: Any]]
        #expect(left.count == 1 && (left[0]["deliveries"] as! [[String: Any]])[0]["state"] as? String == "pending")
        #expect(status("\(Live.dmstack) events prune --older-than 3x \(state)") == 64)
    }
}
