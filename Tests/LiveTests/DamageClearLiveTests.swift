import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The damage ledger's other ways of clearing, on loop devices (host and VM): ext4 (the FIEMAP
/// walk) with the files and offsets byte-verified against the device, a file truncated below
/// its range, `damage clear PATH|FS|--all`, `damage --check` and its exit status, `events prune`
/// and `holders refresh --rebuild` keeping the ledger; `remove` recording its event's damage and
/// the leaf back resolving it (Alertmanager's endsAt); `damage` on a read-only state directory.
extension DamageLiveTests {
    /// Status and combined output of a dmstack command line (stdin closed).
    func run(_ arguments: String, environment: String = "") -> (status: Int32, output: String) {
        do { return (0, try Live.sh("\(environment) \(Live.dmstack) \(arguments) </dev/null 2>&1")) } catch let e as Live.CommandError {
            return (e.status, e.output)
        } catch { return (-1, "\(error)") }
    }

    /// A 1 MiB file on a fresh XFS on a loop device, the filesystem registered, and a config
    /// with a JSON lines sink in the state's directory: the directory, the loop device's
    /// name, the file and its first device sector.
    static func oneFileRegistered(_ tag: String, _ cleanup: inout [String]) throws -> (dir: String, name: String, paths: [String], sector: UInt64) {
        let dir = try Live.temporary("/tmp/dmstack-\(tag)-XXXXXX", recursive: true, cleanup: &cleanup)
        let dev = try Live.loop(size: "300M", cleanup: &cleanup)
        let mnt = "\(dir)/m"
        try GroundTruth.xfs(dev, on: mnt, cleanup: &cleanup)
        let paths = try GroundTruth.writeFiles("\(mnt)/d", count: 1, size: 1 << 20)
        let e = try #require(try SimulateLiveTests.extents(paths[0]).first)
        try "sinks:\n  - {type: jsonl, path: \(dir)/events.jsonl}\n".write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        try Live.sh("\(Live.dmstack) holders register \(mnt) --state-dir \(dir)/state")
        return (dir, String(dev.split(separator: "/").last!), paths, e.deviceSector)
    }

    func damage(_ arguments: String) throws -> [[String: Any]] {
        try Live.json("damage --json \(arguments)")["damage"] as! [[String: Any]]
    }

    @Test func ext4FilesAreByteVerifiedAndClearByTruncationByHandAndSurvivePruneAndRebuild() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let dev = try Live.loop(size: "200M", cleanup: &cleanup)
        let name = String(dev.split(separator: "/").last!)
        let dir = try Live.temporary("/tmp/dmstack-damage4-XXXXXX", recursive: true, cleanup: &cleanup)
        let mnt = "\(dir)/m"
        try Live.sh("mkdir \(mnt) && mkfs.ext4 -q -F \(dev) && mount \(dev) \(mnt)")
        cleanup.append("umount \(mnt) 2>/dev/null")
        let paths = try GroundTruth.writeFiles("\(mnt)/d", count: 4, size: 1 << 20)
        try "sinks:\n  - {type: jsonl, path: \(dir)/events.jsonl}\n".write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        let state = "--state-dir \(dir)/state"
        let options = "--config \(dir)/config.yaml \(state)"
        try Live.sh("\(Live.dmstack) holders register \(mnt) \(state)")
        // 8 sectors inside each file, 16 past its first extent's start.
        var bad: [(path: String, sector: UInt64, fileOffset: UInt64)] = []
        for p in paths {
            let e = try #require(try SimulateLiveTests.extents(p).first)
            bad.append((p, e.deviceSector + 16, (e.fileSector + 16) * 512))
        }
        let hook = "DMSTACK_BADBLOCKS=" + bad.map { "\(name):\($0.sector)+8" }.joined(separator: ",")
        try Live.sh("\(hook) \(Live.dmstack) monitor --once \(options)")

        var entries = try damage(state)
        let files = entries.filter { $0["kind"] as? String == "file" }
        #expect(files.count == 4, "\(entries)")
        for b in bad {
            let f = try #require(files.first { $0["path"] as? String == b.path }, "\(b.path) not in the ledger: \(entries)")
            #expect(f["offset"] as? Int == Int(b.fileOffset) && f["length"] as? Int == 4096)
            // Byte-verified from the leaf: the loop device's sector names the file and offset
            // the ledger gives, and the file's bytes there are the device's.
            for k in UInt64(0)..<8 {
                let sector = try SimulateLiveTests.deviceSector(dev, b.sector + k)
                let header = Array("DMSTACK-GT \(b.path) \(b.fileOffset + k * 512)\n".utf8)
                #expect(Array(sector.prefix(header.count)) == header)
                #expect(try SimulateLiveTests.fileBytes(b.path, b.fileOffset + k * 512) == sector)
            }
        }

        // --check with the bad ranges still there: nothing clears, exit 0; a file truncated
        // below its range clears ("file truncated").
        let check = run("damage --check -n -r -o PATH,OFFSET \(mnt) \(options)", environment: hook)
        #expect(check.status == 0 && check.output.split(separator: "\n").map(String.init).sorted() == bad.map { "\($0.path) \($0.fileOffset)" }.sorted(), "\(check)")
        try Live.sh("truncate -s \(bad[0].fileOffset) \(paths[0]) && sync")
        try Live.sh("\(hook) \(Live.dmstack) damage --check \(options) >/dev/null")
        entries = try damage("--all \(state)")
        func entry(_ path: String) -> [String: Any]? { entries.first { $0["kind"] as? String == "file" && $0["path"] as? String == path } }
        #expect(entry(paths[0])?["cleared_reason"] as? String == "file truncated")
        #expect(entry(paths[1])?["cleared_at"] == nil)
        // A filesystem not mounted cannot be checked: said on stderr, exit 2, nothing cleared.
        try Live.sh("umount \(mnt)")
        let unmounted = run("damage --check \(options)", environment: hook)
        try Live.sh("mount \(dev) \(mnt)")
        #expect(unmounted.status == 2 && unmounted.output.contains("dmstack: damage: not checked: "), "\(unmounted)")
        #expect(try damage(state).filter { $0["kind"] as? String == "file" }.count == 3)

        // prune keeps events whose damage is current; a rebuild keeps the ledger as it was.
        sleep(1)
        #expect(try Live.sh("\(Live.dmstack) events prune --older-than 0s \(state)") == "0 pruned\n")
        let before = try Live.sh("\(Live.dmstack) damage --all --json \(state)")
        let rebuilt = run("holders refresh --rebuild \(state)")
        #expect(rebuilt.status == 0, "\(rebuilt)")
        #expect(try Live.sh("\(Live.dmstack) damage --all --json \(state)") == before)

        // By hand: a path, then a filesystem by mountpoint, then everything (the device rows).
        #expect(try Live.sh("\(Live.dmstack) damage clear \(paths[1]) \(options)") == "1 cleared\n")
        let nothing = run("damage clear \(mnt)/none \(options)")
        #expect(nothing.status == 1 && nothing.output == "dmstack: nothing to clear: no damage recorded for '\(mnt)/none'\n", "\(nothing)")
        #expect(try Live.sh("\(Live.dmstack) damage clear \(mnt)/ \(options)") == "2 cleared\n")
        #expect(try damage(state).map { "\($0["kind"]!) \($0["what"]!)" } == Array(repeating: "device bad range", count: 4))
        let all = try Live.sh("\(Live.dmstack) damage clear --all \(options)")
        #expect(all.hasPrefix("4 cleared\n") && all.components(separatedBy: "\nresolved ").count == 5, "\(all)")
        #expect(try damage(state).isEmpty)
        entries = try damage("--all \(state)")
        #expect(entries.count == 8 && entry(paths[1])?["cleared_reason"] as? String == "cleared by hand")
        let sent = try String(contentsOfFile: "\(dir)/events.jsonl", encoding: .utf8).split(separator: "\n").map { try Live.document(String($0)) }
        #expect(sent.count == 8 && sent.filter { $0["resolves"] is String }.count == 4)

        // Resolved and delivered: prune deletes the events, the ledger's history stays whole.
        sleep(1)
        #expect(try Live.sh("\(Live.dmstack) events prune --older-than 0s \(state)") == "8 pruned\n")
        let history = try damage("--all \(state)")
        #expect(history.count == 8 && Set(history.compactMap { $0["event"] as? String }).count == 4)
        #expect(try Live.sh("sqlite3 \(dir)/state/registry.db 'PRAGMA foreign_key_check' ").isEmpty)
    }

    @Test func removeRecordsItsDamageAndTheLeafBackResolvesTheAlert() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let dir = try Live.temporary("/tmp/dmstack-damagerm-XXXXXX", recursive: true, cleanup: &cleanup)
        let loop = try Live.loop(size: "400M", cleanup: &cleanup)
        let file = try Live.sh("losetup -n -O BACK-FILE \(loop)").trimmed
        let mnt = "\(dir)/m"
        try GroundTruth.xfs(loop, on: mnt, cleanup: &cleanup)
        let paths = try GroundTruth.writeFiles("\(mnt)/d", count: 2, size: 1 << 20)
        let server = try HTTPServer(statuses: [200, 200])
        try "sinks:\n  - {type: alertmanager, url: 'http://127.0.0.1:\(server.port)/api/v2/alerts', timeout: 5s}\n"
            .write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        let state = "--state-dir \(dir)/state"
        let options = "--config \(dir)/config.yaml \(state)"
        try Live.sh("\(Live.dmstack) holders register \(mnt) \(state)")
        let name = String(loop.dropFirst(5))
        let removed = run("remove \(name) --yes --kill none \(options)")
        #expect(removed.status == 0, "\(removed)")

        var entries = try damage(state)
        #expect(entries.contains { $0["kind"] as? String == "device" && $0["what"] as? String == "removed" && $0["device"] as? String == name }, "\(entries)")
        for p in paths {
            // The whole file is lost: one entry from offset 0 covering its MiB (or its extents).
            let mine = entries.filter { $0["path"] as? String == p }
            #expect(!mine.isEmpty && mine.reduce(0) { $0 + ($1["length"] as? Int ?? 0) } == 1 << 20, "\(p): \(mine)")
        }
        #expect(Set(entries.compactMap { $0["condition"] as? String }) == ["gone loop:\(file)"])

        // The leaf back (the same backing file, maybe another loop name): a pass clears all,
        // resolves the event, and Alertmanager hears the alert end.
        let back = try Live.sh("losetup -f --show \(file)").trimmed
        cleanup.append("losetup -d \(back)")
        let pass = run("monitor --once \(options)")
        #expect(pass.status == 0, "\(pass)")
        #expect(try damage(state).isEmpty)
        entries = try damage("--all \(state)")
        #expect(!entries.isEmpty && entries.allSatisfy { $0["cleared_reason"] as? String == "leaf back" }, "\(entries)")
        let requests = server.finish()
        #expect(requests.count == 2)
        let alerts = try requests.map { try #require((try JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [[String: Any]])?.first) }
        #expect(alerts.first?["endsAt"] == nil && alerts.last?["endsAt"] is String, "\(alerts)")
        #expect(Set(alerts.map { ($0["labels"] as? [String: String])?["dmstack_key"] ?? "" }).count == 1)
    }

    /// `damage --check` resolving a bad range's event updates the monitor's device states too:
    /// the same range back is a new event, recorded again in the ledger.
    @Test func aRangeBackAfterDamageCheckResolvedItIsANewEvent() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (dir, name, paths, sector) = try Self.oneFileRegistered("damageagain", &cleanup)
        let options = "--config \(dir)/config.yaml --state-dir \(dir)/state"
        let hook = "DMSTACK_BADBLOCKS=\(name):\(sector)+1"
        try Live.sh("\(hook) \(Live.dmstack) monitor --once \(options)")
        #expect(try damage("--state-dir \(dir)/state").count == 2)
        let check = run("damage --check \(options)")
        #expect(check.status == 0 && check.output.hasPrefix("resolved "), "\(check)")
        #expect(try damage("--state-dir \(dir)/state").isEmpty)
        let again = run("monitor --once \(options)", environment: hook)
        #expect(again.output.contains("failure \(name) \(sector)+1"), "\(again)")
        let now = try damage("--state-dir \(dir)/state")
        #expect(now.contains { $0["path"] as? String == paths[0] } && Set(now.compactMap { $0["event"] as? String }).count == 1, "\(now)")
    }

    @Test func damageListsFromAReadOnlyStateDirectory() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (dir, name, paths, sector) = try Self.oneFileRegistered("damagero", &cleanup)
        let mnt = "\(dir)/m"
        try Live.sh("DMSTACK_BADBLOCKS=\(name):\(sector)+1 \(Live.dmstack) monitor --once --config \(dir)/config.yaml --state-dir \(dir)/state")
        // Commands that only read never open the registry writable: its inode is untouched
        // (a writable open chmods it, which moves the ctime even to the same mode).
        let ctime = "stat -c %z \(dir)/state/registry.db"
        let before = try Live.sh(ctime)
        for command in ["damage", "damage --json", "list", "metrics"] { try Live.sh("\(Live.dmstack) \(command) --state-dir \(dir)/state >/dev/null") }
        #expect(try Live.sh(ctime) == before)
        let writable = try Live.sh("\(Live.dmstack) damage --json --state-dir \(dir)/state")
        // Root ignores modes: a read-only bind mount is what makes the directory read-only.
        try Live.sh("mkdir \(dir)/ro && mount --bind \(dir)/state \(dir)/ro && mount -o remount,bind,ro \(dir)/ro")
        cleanup.append("umount \(dir)/ro")
        let listed = run("damage --json --state-dir \(dir)/ro")
        #expect(listed.status == 0 && listed.output == writable, "\(listed)")
        let table = run("damage \(mnt) -n -r -o PATH --state-dir \(dir)/ro")
        #expect(table.status == 0 && table.output == "\(paths[0])\n", "\(table)")
        #expect(run("list --state-dir \(dir)/ro").status == 0 && run("metrics --state-dir \(dir)/ro").status == 0)
    }
}
