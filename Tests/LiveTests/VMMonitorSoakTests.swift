import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `dmstack monitor` running through a storm in the test VM (issue 20 point 3): dm devices
/// created and removed in batches and loop devices attached and detached (block uevents), md
/// member bad blocks set and cleared (an array made and stopped) twice over the same ranges,
/// and the registered loop leaves detached one by one while it goes on. Checked: one remove
/// event per registered leaf, one failure event per range and round (the second round's a new
/// event: its state was kept clear in between), no key twice, resident memory growth under
/// 10% after warm-up, the descriptors the same, and the flood coalesced (the monitor's counter).
/// `make soak` (DMSTACK_SOAK=long) runs a longer storm.
@Suite("VM: monitor soak", .serialized, .enabled(if: Live.hasDeviceMapper && FileManager.default.fileExists(atPath: "/sys/module/md_mod"),
                                                 "needs root, device-mapper and md (the test VM)"))
struct VMMonitorSoakTests {
    static var long: Bool { ProcessInfo.processInfo.environment["DMSTACK_SOAK"] == "long" }
    /// dm devices a storm batch creates and removes (3 block uevents each: add, change, remove).
    static let batch = 50
    /// Storm batches: short fits `make test`'s bound under TCG, long is `make soak`.
    static var batches: Int { long ? 400 : 70 }
    /// Bad block rounds (each sets `ranges` ranges, then clears them by stopping the array).
    static var rounds: Int { long ? 4 : 2 }
    static let ranges = 250
    static let leaves = 6

    static func number(_ status: String, _ field: String) -> Int? {
        status.split(separator: "\n").first { $0.hasPrefix("\(field):") }
            .flatMap { Int($0.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") }
    }

    /// VmRSS (KiB) and the open descriptors of `pid`.
    static func usage(_ pid: Int32) -> (rss: Int, fds: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
        return (number(status, "VmRSS") ?? -1, fds)
    }

    static func events(_ dir: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: "\(dir)/events.jsonl", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? Live.document(String($0)) }
    }

    /// Waits (bounded) until `done` holds for the events written so far.
    static func waitFor(_ dir: String, seconds: Int, _ done: ([[String: Any]]) -> Bool) -> [[String: Any]] {
        for _ in 0..<(seconds * 2) {
            let e = events(dir)
            if done(e) { return e }
            usleep(500_000)
        }
        return events(dir)
    }

    /// `count` dm zero devices created in one dmsetup call and removed in another.
    static func storm(batches: Int, tag: String) throws {
        for b in 0..<batches {
            let names = (0..<batch).map { "soak\(tag)\(b)x\($0)" }
            try Live.sh("dmsetup create --noudevsync --concise '\(names.map { "\($0),,,,0 8 zero" }.joined(separator: ";"))' && dmsetup remove --noudevsync \(names.joined(separator: " "))")
            if b % 5 == 0 {
                // A loop attached and detached: change uevents, and a kernel name a detached
                // registered leaf had may be taken meanwhile.
                try Live.sh("f=$(mktemp /tmp/dmstack-soakf-XXXXXX); truncate -s 1M $f; l=$(losetup -f --show $f); losetup -d $l; rm -f $f")
            }
        }
    }

    @Test func theMonitorMissesNoRemovalDoublesNoEventAndDoesNotGrowThroughAStorm() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let dir = try Live.temporary("/tmp/dmstack-soak-XXXXXX", recursive: true, cleanup: &cleanup)
        try "sinks:\n  - {type: jsonl, path: \(dir)/events.jsonl}\nmonitor: {badblocks-interval: 1s}\n".write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        let options = "--config \(dir)/config.yaml --state-dir \(dir)/state"
        var leaves: [String] = []
        for i in 0..<Self.leaves {
            let loop = try Live.loop(size: "4M", cleanup: &cleanup)
            try Live.sh("\(Live.dmstack) holders register --raw \(loop) --name soak\(i) \(options)")
            leaves.append(loop)
        }
        let members = [try Live.loop(size: "48M", cleanup: &cleanup), try Live.loop(size: "48M", cleanup: &cleanup)]
        let md = "/dev/md117", member = URL(fileURLWithPath: members[1]).lastPathComponent
        cleanup.append("mdadm --stop \(md) 2>&1; true")
        let pid = Int32(try Live.sh("\(Live.dmstack) monitor \(options) > \(dir)/out 2> \(dir)/err < /dev/null & echo $!").trimmed) ?? -1
        cleanup.append("kill -KILL \(pid) 2>/dev/null; true")
        #expect(pid > 0)
        // Warm-up: a first storm, then the usage every later figure is measured against.
        try Self.storm(batches: max(2, Self.batches / 10), tag: "w")
        _ = Self.waitFor(dir, seconds: 5) { _ in false }
        let warm = Self.usage(pid)
        let started = Date()
        var rangesSet = 0
        for round in 1...Self.rounds {
            try Live.sh("mdadm --zero-superblock \(members.joined(separator: " ")) 2>/dev/null; mdadm --create \(md) --run --metadata=1.2 --level=0 --chunk=64 --raid-devices=2 \(members.joined(separator: " ")) 2>&1")
            // Ranges 16 sectors apart (md merges adjacent ones), in the member's data area.
            let ranges = (0..<Self.ranges).map { 65536 + 16 * $0 }
            try Live.sh(ranges.map { "echo '\($0) 1' > /sys/block/md117/md/dev-\(member)/bad_blocks" }.joined(separator: "; "))
            rangesSet += ranges.count
            try Self.storm(batches: Self.batches / Self.rounds / 2, tag: "a\(round)")
            // A registered leaf goes while the storm runs (detached: nothing holds it).
            for leaf in leaves[((round - 1) * Self.leaves / Self.rounds)..<(round * Self.leaves / Self.rounds)] { try Live.sh("losetup -d \(leaf)") }
            try Self.storm(batches: Self.batches / Self.rounds / 2, tag: "b\(round)")
            let seen = Self.waitFor(dir, seconds: 180) { $0.filter { $0["kind"] as? String == "failure" }.count >= rangesSet }
            #expect(seen.filter { $0["kind"] as? String == "failure" }.count == rangesSet, "round \(round)")
            // Cleared: the array stopped, its members still here; the monitor's next pass keeps them clear.
            try Live.sh("mdadm --stop \(md) 2>&1")
            let cleared = "sqlite3 \(dir)/state/registry.db \"SELECT count(*) FROM device_states WHERE state = 'clear' AND epoch = \(round)\""
            for _ in 0..<240 where (Int((try? Live.sh(cleared))?.trimmed ?? "") ?? 0) < Self.ranges { usleep(500_000) }
            #expect(Int((try? Live.sh(cleared))?.trimmed ?? "") == Self.ranges, "round \(round): the ranges not kept clear")
        }
        let events = Self.waitFor(dir, seconds: 120) { $0.filter { $0["kind"] as? String == "remove" }.count >= Self.leaves }
        let end = Self.usage(pid)
        let seconds = Date().timeIntervalSince(started)
        try Live.sh("kill -KILL \(pid)")
        let err = (try? String(contentsOfFile: "\(dir)/err", encoding: .utf8)) ?? ""
        let totals = err.split(separator: "\n").last { $0.contains("(totals: ") }.map(String.init) ?? ""
        let received = Int(totals.components(separatedBy: "(totals: ").last?.split(separator: " ").first ?? "") ?? 0
        let coalesced = Int(totals.components(separatedBy: "received, ").last?.split(separator: " ").first ?? "") ?? 0
        let removes = events.filter { $0["kind"] as? String == "remove" }, failures = events.filter { $0["kind"] as? String == "failure" }
        print("soak: \(Self.long ? "long" : "short"): \(received) block uevents received, \(coalesced) coalesced, \(rangesSet) ranges set and as many cleared,"
              + " \(events.count) events (\(removes.count) remove, \(failures.count) failure) in \(Int(seconds)) s;"
              + " VmRSS \(warm.rss) KiB after warm-up, \(end.rss) KiB at the end; fds \(warm.fds) then \(end.fds)")
        print("soak: monitor stderr (last lines):\n" + err.split(separator: "\n").suffix(5).joined(separator: "\n"))
        // No registered leaf's removal missed, none twice: one remove event per leaf.
        #expect(removes.count == Self.leaves && Set(removes.compactMap { $0["leaf"] as? String }) == Set(leaves.map { URL(fileURLWithPath: $0).lastPathComponent }),
                "\(removes.map { $0["leaf"] ?? "?" })")
        // One failure event per range and round; no key twice in the outbox's sink.
        #expect(failures.count == rangesSet)
        #expect(Set(failures.compactMap { $0["range"] as? String }).count == Self.ranges)
        let keys = events.compactMap { $0["key"] as? String }
        #expect(keys.count == events.count && Set(keys).count == keys.count, "doubled: \(Dictionary(grouping: keys) { $0 }.filter { $0.value.count > 1 }.keys.prefix(5))")
        #expect(warm.rss > 0 && end.rss > 0 && Double(end.rss) < Double(warm.rss) * 1.10, "VmRSS \(warm.rss) → \(end.rss) KiB")
        #expect(warm.fds > 0 && end.fds == warm.fds, "fds \(warm.fds) → \(end.fds)")
        #expect(received >= Self.batches * Self.batch * 3 * 9 / 10 && coalesced > 0, "received \(received), coalesced \(coalesced): \(totals)")
    }
}
