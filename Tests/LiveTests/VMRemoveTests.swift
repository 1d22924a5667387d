import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `remove` and `monitor` on real dm stacks over fsdax pmem in the test VM: a stack taken down
/// for real in the safe order, a raid1 member removed under a live filesystem, the monitor
/// seeing a pmem unbound by hand and a new bad range.
@Suite("VM: remove and monitor", .serialized,
       .enabled(if: Live.hasDeviceMapper && VMLiveTests.hasTwoPmem, "needs root, device-mapper and two fsdax pmem devices (the test VM)"))
struct VMRemoveTests {
    /// pmemN's pfn device, and a cleanup that binds it again once it is gone (last of all).
    func pfn(_ pmem: String, _ cleanup: inout [String]) throws -> String {
        let pfn = URL(fileURLWithPath: "/sys/class/block/\(pmem)/device").resolvingSymlinksInPath().lastPathComponent
        #expect(pfn.hasPrefix("pfn"), "\(pmem) is claimed by \(pfn)")
        cleanup.append("[ -e /sys/class/block/\(pmem) ] || echo \(pfn) > /sys/bus/nd/drivers/nd_pmem/bind; wipefs -q -a /dev/\(pmem) 2>/dev/null || true")
        return pfn
    }

    /// A state directory and a config with one JSON lines sink; the options naming them.
    func outbox(_ cleanup: inout [String]) throws -> (dir: String, options: String) {
        let dir = try Live.temporary("/tmp/dmstack-vmev-XXXXXX", recursive: true, cleanup: &cleanup)
        try "sinks:\n  - {type: jsonl, path: \(dir)/events.jsonl}\nmonitor: {badblocks-interval: 1s}\n".write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        return (dir, "--config \(dir)/config.yaml --state-dir \(dir)/state")
    }

    func events(_ dir: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: "\(dir)/events.jsonl", encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? Live.document(String($0))
        }
    }

    func waitFor(_ seconds: Int, _ condition: () -> Bool) -> Bool {
        for _ in 0..<(seconds * 10) { if condition() { return true }; usleep(100_000) }
        return condition()
    }

    @Test func removeTakesTheStripedStackDownInTheSafeOrder() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        _ = try pfn("pmem1", &cleanup)
        let mnt = try Live.temporary("/tmp/dmstack-vmmnt-XXXXXX", recursive: true, cleanup: &cleanup)
        cleanup.append("\(Live.packageRoot.path)/Tests/VM/stacks.sh down 1 \(mnt)")
        try Live.sh("\(Live.packageRoot.path)/Tests/VM/stacks.sh up 1 \(mnt)")
        let (dir, options) = try outbox(&cleanup)
        let pid = try Live.mapper("\(mnt)/stripe/data/file3", out: "\(dir)/signal", cleanup: &cleanup)
        // stacks.sh names its volumes DMSTACK-example-NAME, not DMSTACK-STACK:VOLUME as apply does: --force.
        let report = try Live.json("remove pmem1 --yes --force --kill term --json \(options)")["remove"] as! [String: Any]
        let steps = (report["steps"] as! [[String: Any]]).map { "\($0["step"]!) \($0["target"]!) \($0["outcome"]!)" }
        #expect(steps.first == "freeze \(mnt)/concat done" || steps.first == "freeze \(mnt)/stripe done")
        #expect(steps.filter { $0.hasPrefix("freeze") }.count == 2 && steps.filter { $0.hasPrefix("thaw") }.count == 2)
        #expect(steps.contains("signal pid \(pid) (python3) done"))
        #expect(Array(steps.suffix(3)).map { $0.split(separator: " ").prefix(2).joined(separator: " ") }.sorted() == ["detach pmem1", "remove concat", "remove stripe"])
        // No dm device above the leaf, no mount, the leaf gone, the process told.
        #expect(try Live.sh("dmsetup ls").contains("stripe") == false)
        #expect(try Live.sh("dmsetup ls").contains("concat") == false)
        #expect((try? Live.sh("findmnt -n \(mnt)/stripe")) == nil && (try? Live.sh("findmnt -n \(mnt)/concat")) == nil)
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/block/pmem1"))
        #expect(waitFor(5) { (try? String(contentsOfFile: "\(dir)/signal", encoding: .utf8)) == "SIGTERM" })
        // The event, delivered: both filesystems, the mapped file and its pid.
        let e = events(dir)
        #expect(e.count == 1 && e.first?["kind"] as? String == "remove" && e.first?["key"] as? String == report["event"] as? String)
        let fss = (e.first?["filesystems"] as? [[String: Any]]) ?? []
        #expect(Set(fss.map { $0["mountpoint"] as! String }) == ["\(mnt)/concat", "\(mnt)/stripe"])
        let stripe = fss.first { $0["mountpoint"] as? String == "\(mnt)/stripe" }
        #expect((stripe?["files"] as? [String])?.contains("\(mnt)/stripe/data/file3") == true)
        #expect((stripe?["processes"] as? [[String: Any]])?.contains { $0["pid"] as? Int == Int(pid) } == true)
    }

    @Test func aRaid1MemberRemovedKeepsTheVolumeServing() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        _ = try pfn("pmem1", &cleanup)
        let (dir, options) = try outbox(&cleanup)
        // Each leg with its metadata volume on the same pmem, as LVM lays out a raid1: without
        // metadata md cannot record the failed leg and blocks writes (md_wait_for_blocked_rdev).
        for i in 0...1 {
            try Live.sh("dmsetup create rm\(i) -u DMSTACK-rtest:rm\(i) --table '0 16384 linear /dev/pmem\(i) 0'")
            try Live.sh("dmsetup create rd\(i) -u DMSTACK-rtest:rd\(i) --table \"0 $(( ($(blockdev --getsz /dev/pmem\(i)) - 16384) / 2048 * 2048 )) linear /dev/pmem\(i) 16384\"")
            cleanup.append("dmsetup remove rm\(i); dmsetup remove rd\(i)")
        }
        let size = min(Int(try Live.sh("blockdev --getsz /dev/mapper/rd0").trimmed)!, Int(try Live.sh("blockdev --getsz /dev/mapper/rd1").trimmed)!)
        try Live.sh("dmsetup create rmirror -u DMSTACK-rtest:rmirror --table '0 \(size) raid raid1 2 0 nosync 2 /dev/mapper/rm0 /dev/mapper/rd0 /dev/mapper/rm1 /dev/mapper/rd1'")
        cleanup.append("dmsetup remove rmirror")
        let mnt = try Live.temporary("/tmp/dmstack-vmmnt-XXXXXX", cleanup: &cleanup)
        try Live.sh("mkfs.xfs -q -f /dev/mapper/rmirror && mount /dev/mapper/rmirror \(mnt)")
        cleanup.append("umount \(mnt)")
        try Live.sh("head -c 4194304 /dev/urandom > \(mnt)/before && sync")
        let report = try Live.json("remove pmem1 --yes --json \(options)")["remove"] as! [String: Any]
        let plan = report["plan"] as! [String: Any]
        #expect(plan["degraded"] as? [String] == ["rmirror"] && (plan["layers"] as? [Any])?.isEmpty == true && (plan["unmount"] as? [Any])?.isEmpty == true)
        // The leg's volumes stay: the raid holds them.
        #expect(plan["staying"] as? [String] == ["rd1", "rm1"])
        #expect((report["steps"] as! [[String: Any]]).map { $0["step"] as! String } == ["dispatch", "detach"])
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/block/pmem1"))
        // The event says degraded, which volume, and is a warning.
        let e = events(dir)
        #expect(e.count == 1 && e.first?["degraded"] as? [String] == ["rmirror"] && e.first?["severity"] as? String == "warning")
        #expect((e.first?["filesystems"] as? [Any])?.isEmpty == true)
        // Still serving: a write and a read of old and new data from the device, not the cache.
        try Live.sh("head -c 4194304 /dev/urandom > \(mnt)/after && sync && cp \(mnt)/after /tmp/dmstack-after.copy && echo 3 > /proc/sys/vm/drop_caches")
        cleanup.append("rm -f /tmp/dmstack-after.copy")
        #expect(try Live.sh("cmp \(mnt)/after /tmp/dmstack-after.copy && cat \(mnt)/before > /dev/null && echo same").trimmed == "same")
        #expect(try Live.sh("findmnt -n -o SOURCE \(mnt)").trimmed == "/dev/mapper/rmirror")
        // The raid noticed the dead leg; the monitor's pass says degraded, once.
        #expect(waitFor(10) { ((try? Live.sh("dmsetup status rmirror")) ?? "").split(separator: " ").dropFirst(5).first?.contains("D") == true })
        let first = try Live.sh("\(Live.dmstack) monitor --once --json \(options)")
        let degraded = events(dir).filter { $0["kind"] as? String == "degraded" }
        #expect(degraded.count == 1 && degraded.first?["leaf"] as? String == "rmirror" && first.contains("\"kind\":\"degraded\""))
        #expect(try Live.sh("\(Live.dmstack) monitor --once \(options)").trimmed.isEmpty)
    }

    @Test func theMonitorSeesAPmemUnboundByHandAndABadRange() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let pfn1 = try pfn("pmem1", &cleanup)
        let pfn0 = try pfn("pmem0", &cleanup)
        let (dir, options) = try outbox(&cleanup)
        // XFS on a dm linear over all of pmem1, a file mapped. Not DAX: after the pmem is
        // unbound under it, unmounting a DAX XFS oopses Debian's 6.1 (dax_disassociate_entry
        // on the vanished pages), the very hazard `remove` avoids by unmounting first.
        try Live.sh("dmsetup create mlin -u DMSTACK-mtest:mlin --table \"0 $(blockdev --getsz /dev/pmem1) linear /dev/pmem1 0\"")
        cleanup.append("dmsetup remove mlin")
        let mnt = try Live.temporary("/tmp/dmstack-vmmnt-XXXXXX", cleanup: &cleanup)
        try Live.sh("mkfs.xfs -q -f -m rmapbt=1,reflink=1 /dev/mapper/mlin && mount /dev/mapper/mlin \(mnt)")
        cleanup.append("umount \(mnt)")
        try Live.sh("head -c 2097152 /dev/urandom > \(mnt)/mapped && sync")
        let pid = try Live.mapper("\(mnt)/mapped", out: "\(dir)/signal", cleanup: &cleanup)
        try Live.sh("\(Live.dmstack) holders register \(mnt) --state-dir \(dir)/state")

        let monitor = try TestProcess.start(Live.dmstack, ["monitor"] + options.split(separator: " ").map(String.init))
        cleanup.append("kill -KILL \(monitor.processIdentifier) 2>/dev/null || true")
        usleep(1_500_000)
        try Live.sh("echo \(pfn1) > /sys/bus/nd/drivers/nd_pmem/unbind")
        #expect(waitFor(60) { events(dir).contains { $0["kind"] as? String == "remove" } }, "no remove event within 60 s")
        let removal = events(dir).first { $0["kind"] as? String == "remove" }
        #expect(removal?["leaf"] as? String == "pmem1" && removal?["origin"] as? String == "monitor")
        let fs = (removal?["filesystems"] as? [[String: Any]])?.first
        #expect(fs?["mountpoint"] as? String == mnt)
        #expect((fs?["files"] as? [String])?.contains("\(mnt)/mapped") == true)
        #expect((fs?["processes"] as? [[String: Any]])?.contains { $0["pid"] as? Int == Int(pid) } == true)
        // The registry now says the leaf is gone; the same removal is not a second event.
        let holder = try Live.json("holders show --json \(mnt) --state-dir \(dir)/state")["holder"] as! [String: Any]
        let leaf = (holder["layers"] as! [[String: Any]]).first { ($0["device"] as? [String: Any])?["kernel_name"] as? String == "pmem1" }
        #expect(leaf?["state"] as? String == "gone")
        kill(monitor.processIdentifier, SIGKILL)
        monitor.waitUntilExit()
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        #expect(events(dir).filter { $0["kind"] as? String == "remove" }.count == 1)

        // A bad range on pmem0 (the block layer's badblocks list, as the nvdimm poison list
        // fills it): a failure event for exactly that range, once.
        cleanup.append("echo \(pfn0) > /sys/bus/nd/drivers/nd_pmem/unbind; echo \(pfn0) > /sys/bus/nd/drivers/nd_pmem/bind")
        try Live.sh("echo '4096 8' > /sys/block/pmem0/badblocks")
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        let bad = events(dir).filter { $0["kind"] as? String == "failure" }
        #expect(bad.count == 1 && bad.first?["leaf"] as? String == "pmem0" && bad.first?["range"] as? String == "4096+8")

        // The damage ledger (issue 21) keeps the bad range of pmem0 as current damage until
        // it is gone: a re-probe of the namespace (unbind, bind) empties its badblocks list,
        // and the next pass clears the entry (kept, with when and why, under --all).
        func ledger(_ all: Bool) throws -> [[String: Any]] {
            try Live.json("damage --json\(all ? " --all" : "") --state-dir \(dir)/state")["damage"] as! [[String: Any]]
        }
        let isBadRange: ([String: Any]) -> Bool = {
            $0["kind"] as? String == "device" && $0["device"] as? String == "pmem0" && $0["what"] as? String == "bad range"
                && $0["offset"] as? Int == 4096 * 512 && $0["length"] as? Int == 8 * 512
        }
        let damaged = try ledger(false)
        #expect(damaged.contains(where: isBadRange) && damaged.allSatisfy { $0["cleared_at"] == nil }, "\(damaged)")
        try Live.sh("echo \(pfn0) > /sys/bus/nd/drivers/nd_pmem/unbind && echo \(pfn0) > /sys/bus/nd/drivers/nd_pmem/bind")
        #expect(waitFor(10) { FileManager.default.fileExists(atPath: "/sys/block/pmem0/badblocks") })
        #expect(try Live.sh("cat /sys/block/pmem0/badblocks").trimmed.isEmpty, "a re-probe empties the badblocks list")
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        let after = try ledger(false)
        #expect(after.filter(isBadRange).isEmpty, "still damaged after the range went: \(after)")
        let cleared = try ledger(true).filter(isBadRange)
        #expect(cleared.count == 1 && cleared.first?["cleared_at"] as? String != nil && cleared.first?["cleared_reason"] as? String != nil, "\(cleared)")
    }
}
