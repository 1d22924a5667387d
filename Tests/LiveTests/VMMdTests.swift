import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// md arrays built with mdadm on loop devices in the test VM, XFS on each: every leaf scanned
/// for the files' self-naming sectors (GroundTruth), then `simulate LEAF --range S+1` with no
/// flag added must name the file and offset (raid0, an LV on an md PV, a degraded array) or
/// lose nothing and say degraded (raid1, raid5, raid10 while whole). `monitor` turns a
/// member's md bad block into one failure event and `mdadm --fail` into one degraded event.
@Suite("VM: md arrays", .serialized, .enabled(if: Live.hasDeviceMapper && FileManager.default.fileExists(atPath: "/sys/module/md_mod"),
                                              "needs root, device-mapper and md (the test VM)"))
struct VMMdTests {
    static let mnt = "/tmp/dmstack-vm-md"

    /// An md array of `count` loop devices of `size`, created with mdadm (no bitmap, no
    /// resync); stopped by `cleanup`. Returns the array's path and its members.
    func array(_ name: String, level: String, count: Int, size: String = "48M", options: String = "", cleanup: inout [String]) throws -> (md: String, members: [String]) {
        var members: [String] = []
        for _ in 0..<count { members.append(try Live.loop(size: size, cleanup: &cleanup)) }
        let md = "/dev/\(name)"
        // mdadm refuses --bitmap for raid0 and linear ("bitmaps not meaningful").
        let clean = level == "0" || level == "linear" ? "" : "--bitmap=none --assume-clean"
        try Live.sh("mdadm --create \(md) --run --metadata=1.2 \(clean) --level=\(level) --raid-devices=\(count) \(options) \(members.joined(separator: " ")) 2>&1")
        cleanup.append("mdadm --stop \(md) 2>&1")
        try Live.sh("udevadm settle 2>/dev/null || true")
        return (md, members)
    }

    /// XFS on `device` with four ground-truth files, and each member's scan.
    func filesystem(on device: String, members: [String], cleanup: inout [String]) throws -> [String: [UInt64: GroundTruth.Owner]] {
        try GroundTruth.xfs(device, on: Self.mnt, cleanup: &cleanup)
        try GroundTruth.writeFiles("\(Self.mnt)/gt", count: 4, size: 1 << 20)
        var truth: [String: [UInt64: GroundTruth.Owner]] = [:]
        for m in members { truth[m] = try GroundTruth.scan(m) }
        return truth
    }

    /// What sysfs said, for the report and for failures.
    func sysfs(_ md: String) -> String {
        let name = URL(fileURLWithPath: md).lastPathComponent
        return (try? Live.sh("cd /sys/block/\(name)/md && grep -H . level layout chunk_size component_size raid_disks reshape_position array_state sync_action dev-*/slot dev-*/offset dev-*/size dev-*/state 2>/dev/null; true")) ?? ""
    }

    @Test func raid0NamesTheFile() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (md, members) = try array("md110", level: "0", count: 3, options: "--chunk=64", cleanup: &cleanup)
        let truth = try filesystem(on: md, members: members, cleanup: &cleanup)
        print(sysfs(md))
        let node = (try Live.json("tree --json md110")["tree"] as! [[String: Any]]).first
        #expect(node?["type"] as? String == "md/raid0" && node?["table"] as? String == "raid0 3 disks 64KiB chunks", "\(String(describing: node))")
        #expect((node?["children"] as? [[String: Any]])?.count == 3)
        // capture, then the same answers from the snapshot: the md table and status lines
        // read back as they were written.
        try Live.expectSnapshotIdentical(["tree --json", "translate --json --down md110 0+256"])
        for m in members { try GroundTruth.verify(m, truth[m]!, count: 12, expect: .named) }
    }

    @Test func raid1SurvivesThenNamesTheFileOnceDegraded() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (md, members) = try array("md111", level: "1", count: 2, cleanup: &cleanup)
        let truth = try filesystem(on: md, members: members, cleanup: &cleanup)
        print(sysfs(md))
        for m in members { try GroundTruth.verify(m, truth[m]!, count: 12, expect: .survives) }
        try Live.sh("mdadm \(md) --fail \(members[1]) 2>&1")
        print(sysfs(md))
        let state = try Live.json("show --json md111")
        #expect("\(state)".contains("degraded"), "\(state)")
        try GroundTruth.verify(members[0], truth[members[0]]!, count: 12, expect: .named)
    }

    @Test func raid5SurvivesThenNamesTheFileOnceDegraded() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (md, members) = try array("md112", level: "5", count: 3, options: "--chunk=64 --layout=left-symmetric", cleanup: &cleanup)
        let truth = try filesystem(on: md, members: members, cleanup: &cleanup)
        print(sysfs(md))
        for m in members { try GroundTruth.verify(m, truth[m]!, count: 12, expect: .survives) }
        try Live.sh("mdadm \(md) --fail \(members[2]) 2>&1")
        // Where the rest of a row is still zeros (free space never written), md's parity
        // equals the one data sector, header and all (assume-clean: parity is computed as
        // rows are written): such an owner found on two members is not ground truth for one.
        var seen: [GroundTruth.Owner: Int] = [:]
        for m in members { for o in truth[m]!.values { seen[o, default: 0] += 1 } }
        for m in members.prefix(2) {
            try GroundTruth.verify(m, truth[m]!.filter { seen[$0.value] == 1 }, count: 10, expect: .named)
        }
    }

    @Test(arguments: ["n2", "f2", "o2"])
    func raid10Survives(layout: String) throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (md, members) = try array("md113", level: "10", count: 4, size: "32M", options: "--chunk=64 --layout=\(layout)", cleanup: &cleanup)
        let truth = try filesystem(on: md, members: members, cleanup: &cleanup)
        print(sysfs(md))
        for m in members { try GroundTruth.verify(m, truth[m]!, count: 8, expect: .survives) }
    }

    /// raid0.c zones: members of different sizes stripe over all of them up to the smallest,
    /// then over the longer ones; the original and the alternate layout pick a zone's device
    /// differently (mdadm --layout=original|alternate; the kernel refuses a multi-zone raid0
    /// without one).
    @Test(arguments: ["original", "alternate"])
    func raid0ZonesNameTheFile(layout: String) throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        var members: [String] = []
        for size in ["24M", "48M", "48M"] { members.append(try Live.loop(size: size, cleanup: &cleanup)) }
        let md = "/dev/md117"
        try Live.sh("mdadm --create \(md) --run --metadata=1.2 --level=0 --chunk=64 --layout=\(layout) --raid-devices=3 \(members.joined(separator: " ")) 2>&1")
        cleanup.append("mdadm --stop \(md) 2>&1")
        try Live.sh("udevadm settle 2>/dev/null || true")
        let truth = try filesystem(on: md, members: members, cleanup: &cleanup)
        print(sysfs(md))
        // Files fill the filesystem's start; make sure the second zone holds some as well.
        try GroundTruth.writeFiles("\(Self.mnt)/gt2", count: 40, size: 1 << 20)
        var later: [String: [UInt64: GroundTruth.Owner]] = [:]
        for m in members { later[m] = try GroundTruth.scan(m) }
        for m in members { try GroundTruth.verify(m, later[m]!, count: 10, expect: .named) }
        // The longer members' sectors past the short one's end are in zone 1.
        let zoneOne = later[members[1]]!.filter { $0.key > 2048 + 24 * 2048 }
        #expect(zoneOne.count > 100, "\(zoneOne.count) sectors in zone 1")
        try GroundTruth.verify(members[1], zoneOne, count: 8, expect: .named)
        try GroundTruth.verify(members[2], later[members[2]]!.filter { $0.key > 2048 + 24 * 2048 }, count: 8, expect: .named)
        _ = truth
    }

    /// md-linear.c: the members one after the other.
    @Test func linearNamesTheFile() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        var members: [String] = []
        for size in ["24M", "40M"] { members.append(try Live.loop(size: size, cleanup: &cleanup)) }
        let md = "/dev/md118"
        try Live.sh("mdadm --create \(md) --run --metadata=1.2 --level=linear --raid-devices=2 \(members.joined(separator: " ")) 2>&1")
        cleanup.append("mdadm --stop \(md) 2>&1")
        try Live.sh("udevadm settle 2>/dev/null || true")
        _ = try filesystem(on: md, members: members, cleanup: &cleanup)
        try GroundTruth.writeFiles("\(Self.mnt)/gt2", count: 24, size: 1 << 20)
        for m in members { try GroundTruth.verify(m, try GroundTruth.scan(m), count: 10, expect: .named) }
    }

    /// md's own raid4 (parity on the last disk) and raid6 (two parities): whole, nothing is lost.
    @Test(arguments: [("4", 3), ("6", 4)])
    func parityLevelsSurvive(level: String, count: Int) throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (md, members) = try array("md119", level: level, count: count, size: "32M", options: "--chunk=64", cleanup: &cleanup)
        let truth = try filesystem(on: md, members: members, cleanup: &cleanup)
        print(sysfs(md))
        for m in members { try GroundTruth.verify(m, truth[m]!, count: 8, expect: .survives) }
        // raid4: the last disk holds only parity, so no file's own sector is there.
        if level == "4" {
            var seen: [GroundTruth.Owner: Int] = [:]
            for m in members { for o in truth[m]!.values { seen[o, default: 0] += 1 } }
            #expect(truth[members[2]]!.values.allSatisfy { seen[$0]! > 1 }, "raid4 parity disk holds a sector of its own")
        }
    }

    /// lvm2 on md: the PV is the array, the LV a dm device above it.
    @Test func logicalVolumeOnAnMdPhysicalVolume() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (md, members) = try array("md114", level: "0", count: 2, options: "--chunk=64", cleanup: &cleanup)
        try Live.sh("pvcreate -q -y \(md) 2>&1 && vgcreate -q vgmd114 \(md) 2>&1 && lvcreate -q -y -n lv -L 64M vgmd114 2>&1")
        cleanup.append("vgremove -q -f vgmd114 2>&1; pvremove -q -f \(md) 2>&1")
        try Live.sh("udevadm settle 2>/dev/null || true")
        let truth = try filesystem(on: "/dev/vgmd114/lv", members: members, cleanup: &cleanup)
        for m in members { try GroundTruth.verify(m, truth[m]!, count: 12, expect: .named) }
    }

    func outbox(_ cleanup: inout [String]) throws -> (dir: String, options: String) {
        let dir = try Live.temporary("/tmp/dmstack-vmmd-XXXXXX", recursive: true, cleanup: &cleanup)
        try "sinks:\n  - {type: jsonl, path: \(dir)/events.jsonl}\nmonitor: {badblocks-interval: 1s}\n".write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        return (dir, "--config \(dir)/config.yaml --state-dir \(dir)/state")
    }

    func events(_ dir: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: "\(dir)/events.jsonl", encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? Live.document(String($0))
        }
    }

    /// A bad block md records for a raid0 member (written as md.rst allows, into
    /// dev-*/bad_blocks: absolute member sectors) is one failure event naming the file.
    @Test func monitorTurnsAMemberBadBlockIntoOneFailureEvent() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (md, members) = try array("md115", level: "0", count: 2, options: "--chunk=64", cleanup: &cleanup)
        let truth = try filesystem(on: md, members: members, cleanup: &cleanup)
        let (dir, options) = try outbox(&cleanup)
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        let leaf = members[1], kernel = URL(fileURLWithPath: leaf).lastPathComponent
        let (sector, owner) = truth[leaf]!.min { $0.key < $1.key }!
        try Live.sh("echo '\(sector) 1' > /sys/block/md115/md/dev-\(kernel)/bad_blocks")
        print("bad_blocks: " + ((try? Live.sh("cat /sys/block/md115/md/dev-\(kernel)/bad_blocks")) ?? "?"))
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        let failures = events(dir).filter { $0["kind"] as? String == "failure" }
        #expect(failures.count == 1, "\(failures)")
        let e = failures.first
        #expect(e?["leaf"] as? String == kernel && e?["range"] as? String == "\(sector)+1", "\(String(describing: e))")
        let files = (e?["filesystems"] as? [[String: Any]] ?? []).flatMap { $0["files"] as? [String] ?? [] }
        #expect(files.contains(owner.path), "expected \(owner), event \(String(describing: e))")
    }

    @Test func monitorTurnsAFailedMemberIntoOneDegradedEvent() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (md, members) = try array("md116", level: "1", count: 2, size: "32M", cleanup: &cleanup)
        let (dir, options) = try outbox(&cleanup)
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        #expect(events(dir).isEmpty)
        try Live.sh("mdadm \(md) --fail \(members[0]) 2>&1")
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        print(sysfs(md))
        // md removes the failed device from its slot soon after; the finding stays the same one.
        try Live.sh("sleep 1; mdadm \(md) --remove \(members[0]) 2>&1 || true")
        _ = try Live.sh("\(Live.dmstack) monitor --once \(options)")
        let degraded = events(dir).filter { $0["kind"] as? String == "degraded" }
        #expect(degraded.count == 1 && degraded.first?["leaf"] as? String == "md116", "\(events(dir))")
    }
}
