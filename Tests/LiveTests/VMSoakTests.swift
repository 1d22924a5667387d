import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `dmstack monitor` left running (issue 20, point 3) while one shell process makes a storm:
/// dm create/remove cycles (dmsetup create --concise, batches), loop attach/detach, bad blocks
/// written into md members' dev-*/bad_blocks, and registered leaves detached at known points.
/// Then: every registered leaf's removal is one remove event, every bad block one failure
/// event, no key twice (outbox and sink), a range cleared (the array made again) and bad again
/// is a new event, resident memory grew under 10% after the warm-up, the descriptor count is
/// the same, and no wakeup kept more than `KernelEventSource.maxPending` uevents.
/// DMSTACK_SOAK_SCALE (default 10, as `make test` runs it: 10,000 uevents, 1,800 bad blocks,
/// 20 leaves after a warm-up of 150 uevents, 20 bad blocks and 1 leaf; `make soak` sets 30)
/// multiplies the storm's uevents, bad blocks and leaves; the figures are printed as `soak:`
/// lines. The monitor runs with DMSTACK_MONITOR_HEAP=1, so its heap in use is there too.
@Suite("VM: monitor soak", .serialized, .enabled(if: Live.hasDeviceMapper && FileManager.default.fileExists(atPath: "/sys/module/md_mod"),
                                                 "needs root, device-mapper and md (the test VM)"))
struct VMSoakTests {
    static var scale: Int {
        ProcessInfo.processInfo.environment["DMSTACK_SOAK_SCALE"].flatMap { Int($0) }.map { max(1, $0) } ?? 10
    }

    /// The kernel's uevent sequence number (lib/kobject_uevent.c: one more per uevent sent,
    /// of every subsystem).
    static func seqnum() throws -> Int { Int(try Live.sh("cat /sys/kernel/uevent_seqnum").trimmed) ?? 0 }

    /// A progress line, at once (the log of a long VM run shows where it is).
    /// In the VM, also appended to soak.log in the run's output directory (Tests/VM/guest.sh's
    /// DMSTACK_VM_OUT), which the host can read while the test runs.
    static func say(_ line: String) {
        print("soak: \(line)")
        fflush(nil)
        if let out = ProcessInfo.processInfo.environment["DMSTACK_VM_OUT"] {
            _ = try? TestProcess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "echo \"$(date -u +%T) $1\" >> \(out)/soak.log", "say", line])
        }
    }

    /// The storm's progress lines go to soak-storm.log there too.
    static var progress: String {
        ProcessInfo.processInfo.environment["DMSTACK_VM_OUT"].map { "SOAK_PROGRESS=\($0)/soak-storm.log " } ?? ""
    }

    /// VmRSS of `pid` in KiB (/proc/PID/status): the least of five looks a tenth of a second
    /// apart, as `descriptors` (a pass in progress holds its working set for a moment; the
    /// growth that matters is what stays between passes).
    static func rss(_ pid: Int32) -> Int {
        var least = Int.max
        for _ in 0..<5 {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            least = min(least, Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0)
            usleep(100_000)
        }
        return least
    }

    /// The monitor's last "heap in use" line (DMSTACK_MONITOR_HEAP: after each pass, the bytes
    /// mallinfo2(3) counts allocated), in KiB; 0 if none.
    static func heap(_ err: String) -> Int {
        let log = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        let line = log.split(separator: "\n").last { $0.contains("heap in use ") } ?? ""
        return (Int(line.split(separator: " ").last ?? "") ?? 0) / 1024
    }

    /// Where the resident memory is (/proc/PID/smaps_rollup: anonymous, file-backed, shared),
    /// for the `soak:` lines: heap growth and SQLite's mapped WAL index look alike in VmRSS.
    static func residentParts(_ pid: Int32) -> String {
        let rollup = (try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8)) ?? ""
        return rollup.split(separator: "\n").filter { l in ["Rss:", "Anonymous:", "Shared_Clean:", "Private_Clean:"].contains { l.hasPrefix($0) } }
            .map { $0.split(separator: " ").prefix(2).joined(separator: " ") }.joined(separator: ", ")
    }

    /// The test's cleanup, each step logged by `say` (soak.log: the host sees where a guest
    /// hangs) and bounded by timeout(1) to two minutes: twice the guest hung in this cleanup.
    static func clean(_ commands: [String]) {
        for c in commands.reversed() {
            say("cleanup: \(c)")
            let status = (try? TestProcess.run(URL(fileURLWithPath: "/usr/bin/timeout"), ["120", "/bin/sh", "-c", c]).status) ?? -1
            if status != 0 { say("cleanup: status \(status)\(status == 124 ? " (timed out)" : "")") }
        }
        say("cleanup: done")
    }

    /// Open descriptors of `pid`: the fewest of five looks a tenth of a second apart (a pass
    /// in progress holds sysfs files for a moment).
    static func descriptors(_ pid: Int32) -> Int {
        var fewest = Int.max
        for _ in 0..<5 {
            fewest = min(fewest, ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count)
            usleep(100_000)
        }
        return fewest
    }

    /// The modification time of `path` in nanoseconds, 0 if it is not there.
    static func mtime(_ path: String) -> Int {
        var s = stat()
        guard stat(path, &s) == 0 else { return 0 }
        return Int(s.st_mtim.tv_sec) * 1_000_000_000 + Int(s.st_mtim.tv_nsec)
    }

    /// Waits until the monitor has finished `passes` passes after now (its metrics file is
    /// written after each), at most `limit` seconds; whether it did.
    @discardableResult
    static func waitForPasses(_ passes: Int, metrics: String, limit: Double = 120) -> Bool {
        var seen = mtime(metrics), count = 0
        let end = Date().addingTimeInterval(limit)
        while count < passes && Date() < end {
            usleep(50_000)
            let now = mtime(metrics)
            if now != seen { seen = now; count += 1 }
        }
        return count >= passes
    }

    /// The outbox, every event (`events list -J`).
    static func outbox(_ state: String) throws -> [[String: Any]] {
        try Live.json("events list -J --limit 1000000 --state-dir \(state)")["events"] as! [[String: Any]]
    }

    /// Waits until the outbox holds `count` events, or `limit` seconds pass, or 60 s pass
    /// without a new one; the outbox then.
    static func waitForEvents(_ count: Int, state: String, limit: Double) throws -> [[String: Any]] {
        let end = Date().addingTimeInterval(limit)
        var events = try outbox(state), changed = Date()
        while events.count < count && Date() < end && Date().timeIntervalSince(changed) < 60 {
            sleep(2)
            let now = try outbox(state)
            if now.count != events.count { changed = Date() }
            events = now
        }
        return events
    }

    /// The storm, one bash process: until the kernel has sent `uevents` more uevents, batches
    /// of `batch` dm devices made and removed (two dmsetup runs a batch) and one loop
    /// attach/detach; the bad blocks (`member sector` lines in FILE.bad) are written as the
    /// storm goes, evenly, and each registered leaf (FILE.leaves) detached at its share of it.
    /// Each detach is logged with the uevent count and time it happened at.
    static let storm = #"""
        set -u
        target=$1 batch=$2 img=$3 bad=$4 leaves=$5 log=$6
        read -r seq0 < /sys/kernel/uevent_seqnum
        mapfile -t badlines < "$bad"
        mapfile -t leaf < "$leaves"
        nbad=${#badlines[@]} nleaf=${#leaf[@]} nextbad=0 nextleaf=0 b=0 done=0
        while :; do
            read -r seq < /sys/kernel/uevent_seqnum
            done=$((seq - seq0))
            # Bad blocks and detaches due at this share of the storm.
            while [ $nextbad -lt $nbad ] && [ $((nextbad * target)) -le $((done * nbad)) ]; do
                set -- ${badlines[$nextbad]}
                echo "$2 1" > "$1" || echo "bad block $nextbad ($1 $2) refused" >> "$log.errors"
                nextbad=$((nextbad + 1))
            done
            while [ $nextleaf -lt $nleaf ] && [ $(((nextleaf + 1) * target)) -le $((done * (nleaf + 1))) ]; do
                losetup -d "${leaf[$nextleaf]}" || echo "detach ${leaf[$nextleaf]} failed" >> "$log.errors"
                read -r at < /sys/kernel/uevent_seqnum
                echo "${leaf[$nextleaf]} $((at - seq0)) $(date +%s.%N)" >> "$log"
                nextleaf=$((nextleaf + 1))
            done
            [ $done -ge "$target" ] && [ $nextbad -ge $nbad ] && [ $nextleaf -ge $nleaf ] && break
            spec=
            names=
            for ((j = 0; j < batch; j++)); do spec="$spec;soak-$b-$j,,,,0 8 zero"; names="$names soak-$b-$j"; done
            dmsetup create --noudevsync --concise "${spec#;}" >/dev/null || echo "create batch $b failed" >> "$log.errors"
            dmsetup remove --noudevsync --retry $names >/dev/null || echo "remove batch $b failed" >> "$log.errors"
            d=$(losetup -f --show "$img") && losetup -d "$d" || echo "loop cycle $b failed" >> "$log.errors"
            b=$((b + 1))
            [ -z "${SOAK_PROGRESS:-}" ] || echo "$(date -u +%T) batch $b: $done uevents, $nextbad bad blocks, $nextleaf leaves" >> "$SOAK_PROGRESS"
        done
        echo "batches $b uevents $done" >> "$log"
        """#

    /// An md raid0 of `count` loop devices; its member names.
    func array(_ md: String, members: [String], cleanup: inout [String]) throws {
        try Live.sh("mdadm --create /dev/\(md) --run --metadata=1.2 --level=0 --chunk=64 --raid-devices=\(members.count) \(members.joined(separator: " ")) 2>&1")
        try Live.sh("udevadm settle 2>/dev/null || true")
    }

    @Test func theMonitorSurvivesAStormOfUevents() throws {
        var cleanup: [String] = []
        defer { Self.clean(cleanup) }
        let scale = Self.scale
        let dir = try Live.temporary("/tmp/dmstack-soak-XXXXXX", recursive: true, cleanup: &cleanup)
        let state = "\(dir)/state", metrics = "\(dir)/metrics.prom"
        if let out = ProcessInfo.processInfo.environment["DMSTACK_VM_OUT"] {
            cleanup.append("mkdir -p \(out)/soak && cp \(dir)/monitor.err \(dir)/*.log* \(out)/soak/ 2>/dev/null; true")
        }
        try "sinks:\n  - {type: jsonl, path: \(dir)/events.jsonl}\nmonitor: {badblocks-interval: 1s}\n".write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)

        // The registered leaves: a warm-up one, then 2 a scale for the storm.
        var leaves: [String] = []
        for i in 0..<(1 + 2 * scale) {
            let dev = try Live.loop(size: "8M", cleanup: &cleanup)
            try Live.sh("\(Live.dmstack) holders register --raw \(dev) --name soak\(i) --state-dir \(state)")
            leaves.append(dev)
        }
        // The md array whose members take the bad blocks: 2 members a scale, 100 bad blocks a
        // member (md keeps at most 512 a member, block/badblocks.c); sectors 4 apart, so none
        // merge.
        let md = "md125"
        var members: [String] = []
        for _ in 0..<(2 * scale) { members.append(try Live.loop(size: "16M", cleanup: &cleanup)) }
        try array(md, members: members, cleanup: &cleanup)
        cleanup.append("mdadm --stop /dev/\(md) 2>&1")
        func badFile(_ name: String, members: ArraySlice<String>, perMember: Int, first: Int) throws -> [(leaf: String, sector: Int)] {
            var lines: [String] = [], out: [(String, Int)] = []
            for n in 0..<(perMember * members.count) {
                let m = members[members.startIndex + n % members.count], kernel = URL(fileURLWithPath: m).lastPathComponent
                let sector = 8192 + (first + n / members.count) * 4
                lines.append("/sys/block/\(md)/md/dev-\(kernel)/bad_blocks \(sector)")
                out.append((kernel, sector))
            }
            try lines.joined(separator: "\n").appending("\n").write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
            return out
        }
        let image = try Live.temporary("/tmp/dmstack-soak-XXXXXX.img", directory: false, cleanup: &cleanup)
        try Live.sh("truncate -s 4M \(image)")
        try Self.storm.write(toFile: "\(dir)/storm.sh", atomically: true, encoding: .utf8)
        // --noudevsync: a synced dmsetup waits forever for a udevd that is not there.
        cleanup.append("dmsetup remove --noudevsync --retry $(dmsetup ls | awk '/^soak-/ {print $1}') 2>/dev/null || true")

        // udevd stopped for the storm, started again at the end: under TCG it handles about
        // 8 uevents a second (1,000 synthetic changes of one loop device took over 128 s), so
        // with it the storm measures udev's queue (and dmsetup's wait for it), not the
        // monitor, which reads the kernel's uevents itself. The storm's dmsetup runs with
        // --noudevsync: udevd's control socket stays behind, and a synced dmsetup would wait
        // for a udevd that is not there (it did: the storm hung).
        let udevd = try Live.sh("pgrep -x systemd-udevd || true").trimmed
        if !udevd.isEmpty { try Live.sh("udevadm settle -t 120 || true; udevadm control --exit || true") }
        // Started again by Tests/VM/guest.sh after this suite, from its shell: started from here
        // (through a shell whose output the test read, or directly), the test hung in its
        // cleanup three times. udevd keeps the descriptors it inherits (in the guest it holds
        // virtme's /dev/vport ones), so a pipe of the test's would never reach its end.

        // The monitor, in the background, its output into files.
        let monitor = try TestProcess.start("/bin/sh", ["-c", "DMSTACK_MONITOR_HEAP=1 exec \(Live.dmstack) monitor -J --config \(dir)/config.yaml --state-dir \(state) --metrics-file \(metrics) >\(dir)/monitor.out 2>\(dir)/monitor.err"])
        let pid = monitor.processIdentifier
        cleanup.append("kill -KILL \(pid) 2>/dev/null || true")
        #expect(Self.waitForPasses(1, metrics: metrics), "the monitor made no pass: \((try? String(contentsOfFile: "\(dir)/monitor.err", encoding: .utf8)) ?? "")")

        Self.say("monitor \(pid) running; warm-up")
        // Warm-up: a short storm with every kind of event (one leaf gone, 20 bad blocks).
        let warmBad = try badFile("warm.bad", members: members[0..<2], perMember: 10, first: 0)
        try leaves[0].appending("\n").write(toFile: "\(dir)/warm.leaves", atomically: true, encoding: .utf8)
        try Live.sh("\(Self.progress)bash \(dir)/storm.sh 150 25 \(image) \(dir)/warm.bad \(dir)/warm.leaves \(dir)/warm.log")
        var expected = 1 + warmBad.count
        var events = try Self.waitForEvents(expected, state: state, limit: 300)
        #expect(events.count == expected, "warm-up: \(events.count) events, \(expected) expected")
        Self.waitForPasses(2, metrics: metrics)
        let rssStart = Self.rss(pid), fdsStart = Self.descriptors(pid), partsStart = Self.residentParts(pid), heapStart = Self.heap("\(dir)/monitor.err")

        Self.say("warm-up done: \(events.count) events, VmRSS \(rssStart) KiB, \(fdsStart) descriptors; the storm")
        // The storm.
        let target = 1000 * scale
        let stormBad = try badFile("storm.bad", members: members[...], perMember: 90, first: 10)
        try leaves.dropFirst().joined(separator: "\n").appending("\n").write(toFile: "\(dir)/storm.leaves", atomically: true, encoding: .utf8)
        let seq0 = try Self.seqnum(), started = Date()
        try Live.sh("\(Self.progress)bash \(dir)/storm.sh \(target) 50 \(image) \(dir)/storm.bad \(dir)/storm.leaves \(dir)/storm.log")
        let stormSeconds = Date().timeIntervalSince(started), sent = try Self.seqnum() - seq0
        expected += 2 * scale + stormBad.count
        events = try Self.waitForEvents(expected, state: state, limit: 600)
        let caughtUp = Date().timeIntervalSince(started) - stormSeconds
        Self.waitForPasses(2, metrics: metrics)
        let rssStorm = Self.rss(pid), fdsStorm = Self.descriptors(pid)
        let errors = (try? String(contentsOfFile: "\(dir)/storm.log.errors", encoding: .utf8)) ?? ""
        #expect(errors.isEmpty, "the storm: \(errors)")

        Self.say("storm done in \(Int(stormSeconds)) s, \(sent) uevents; \(events.count) events \(Int(caughtUp)) s later; repair")
        // A repair: the array made again clears its members' bad blocks; the same block bad
        // again is a new event (device_states), with a new key.
        try Live.sh("mdadm --stop /dev/\(md) 2>&1 && mdadm --zero-superblock \(members.joined(separator: " ")) 2>&1")
        try array(md, members: members, cleanup: &cleanup)
        // Each failure event is resolved (damage ledger: the bad range gone), once.
        let failuresBefore = warmBad.count + stormBad.count
        expected += failuresBefore
        events = try Self.waitForEvents(expected, state: state, limit: 600)
        #expect(Self.waitForPasses(2, metrics: metrics))
        Self.say("repaired: \(events.count) events, \(expected) expected")
        let again = warmBad[0]
        try Live.sh("echo '\(again.sector) 1' > /sys/block/\(md)/md/dev-\(again.leaf)/bad_blocks")
        expected += 1
        events = try Self.waitForEvents(expected, state: state, limit: 120)
        Self.waitForPasses(2, metrics: metrics)
        let rssEnd = Self.rss(pid), fdsEnd = Self.descriptors(pid), partsEnd = Self.residentParts(pid), heapEnd = Self.heap("\(dir)/monitor.err")
        #expect(monitor.isRunning, "the monitor exited: \((try? String(contentsOfFile: "\(dir)/monitor.err", encoding: .utf8)) ?? "")")

        // Every event once, in the outbox and in the sink.
        let keys = events.map { $0["key"] as? String ?? "" }
        #expect(Set(keys).count == keys.count, "keys recorded twice: \(Dictionary(grouping: keys, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted())")
        let sink = ((try? String(contentsOfFile: "\(dir)/events.jsonl", encoding: .utf8)) ?? "").split(separator: "\n")
        let delivered = try sink.map { try Live.document(String($0)) }
        let sinkKeys = delivered.map { $0["key"] as? String ?? "" }
        #expect(sinkKeys.count == keys.count && Set(sinkKeys) == Set(keys), "sink: \(sinkKeys.count) lines, \(Set(sinkKeys).count) keys; outbox: \(keys.count)")
        #expect(events.count == expected, "\(events.count) events, \(expected) expected")
        // The sink has the whole events: a resolution names the event it ends (`resolves`).
        let resolutions = delivered.compactMap { $0["resolves"] as? String }
        let originals = delivered.filter { $0["resolves"] as? String == nil }
        let failureKeys = Set(originals.filter { $0["kind"] as? String == "failure" }.map { $0["key"] as? String ?? "" })
        #expect(resolutions.count == failuresBefore && Set(resolutions).count == resolutions.count && Set(resolutions).isSubset(of: failureKeys),
                "\(resolutions.count) resolutions (\(Set(resolutions).count) distinct) of \(failuresBefore) failures")
        // Each registered leaf's removal: one remove event.
        let removes = originals.filter { $0["kind"] as? String == "remove" }.map { $0["leaf"] as? String ?? "" }
        #expect(removes.sorted() == leaves.map { URL(fileURLWithPath: $0).lastPathComponent }.sorted(), "remove events: \(removes)")
        // Each bad block: one failure event; the one bad again after the repair: two.
        var failures: [String: Int] = [:]
        for e in originals where e["kind"] as? String == "failure" { failures["\(e["leaf"] as? String ?? "") \(e["range"] as? String ?? "")", default: 0] += 1 }
        var want: [String: Int] = [:]
        for b in warmBad + stormBad { want["\(b.leaf) \(b.sector)+1"] = 1 }
        want["\(again.leaf) \(again.sector)+1"] = 2
        #expect(failures == want, "failure events differ: missing \(want.filter { failures[$0.key] != $0.value }.keys.sorted().prefix(10))")
        let others = delivered.filter { $0["kind"] as? String != "failure" && $0["kind"] as? String != "remove" }
        #expect(others.isEmpty, "other events: \(others.prefix(5))")

        // A flood coalesces: no wakeup kept more than 64 uevents.
        let log = (try? String(contentsOfFile: "\(dir)/monitor.err", encoding: .utf8)) ?? ""
        let wakeups = log.split(separator: "\n").filter { $0.contains(" uevents kept, ") }
        let kept = wakeups.compactMap { line in line.components(separatedBy: "monitor: ").last?.split(separator: " ").first.flatMap { Int($0) } }
        #expect(kept.allSatisfy { $0 <= 64 }, "a wakeup kept more than 64: \(kept.max() ?? 0)")
        #expect(!wakeups.isEmpty, "no wakeup coalesced anything: \(log.suffix(2000))")

        let growth = Double(rssEnd - rssStart) / Double(max(rssStart, 1)) * 100
        print("""
            soak: scale \(scale): \(sent) uevents sent by the kernel in \(String(format: "%.1f", stormSeconds)) s \
            (\(String(format: "%.1f", Double(sent) / stormSeconds)) uevents/s), monitor caught up \(String(format: "%.1f", caughtUp)) s after the storm
            soak: \(events.count) events (\(removes.count) remove, \(failures.values.reduce(0, +)) failure, \(resolutions.count) resolutions), \(sink.count) sink lines
            soak: VmRSS \(rssStart) KiB after warm-up, \(rssStorm) KiB after the storm, \(rssEnd) KiB at the end (\(String(format: "%+.1f", growth))%)
            soak: resident after warm-up: \(partsStart); at the end: \(partsEnd)
            soak: heap in use (mallinfo2) \(heapStart) KiB after warm-up, \(heapEnd) KiB at the end
            soak: descriptors \(fdsStart) after warm-up, \(fdsStorm) after the storm, \(fdsEnd) at the end
            soak: \(wakeups.count) coalescing wakeups, at most \(kept.max() ?? 0) uevents kept; last: \(wakeups.last ?? "none")
            soak: storm log: \((try? String(contentsOfFile: "\(dir)/storm.log", encoding: .utf8)) ?? "")
            """)
        let passFailures = log.split(separator: "\n").filter { $0.contains("pass failed") }
        print("soak: \(passFailures.count) failed passes\(passFailures.isEmpty ? "" : ", first: \(passFailures[0])")")
        #expect(growth < 10, "VmRSS grew \(growth)% (\(rssStart) to \(rssEnd) KiB)")
        #expect(fdsEnd == fdsStart && fdsStorm == fdsStart, "descriptors: \(fdsStart), \(fdsStorm), \(fdsEnd)")
    }
}
