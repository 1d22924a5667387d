import Foundation
import Testing
import TestSupport

/// Dynamic targets answered live, with no metadata file given: dm-cache (writeback, then
/// writethrough), an old-style snapshot, a writecache and dm-integrity, each built with the
/// standard tools on loop devices, an XFS of self-naming files on it, and the leaves scanned
/// for ground truth (GroundTruth). `simulate LEAF --range S+1` must name the file and offset a
/// leaf sector holds, or say it survives where a current copy remains, or name the file as
/// may be lost where the outcome is unknown.
@Suite("VM: dynamic targets read live", .serialized, .enabled(if: Live.hasDeviceMapper, "needs root and device-mapper (the test VM)"))
struct VMDynamicLiveTests {
    static let lvm = "LVM_SUPPRESS_FD_WARNINGS=1"

    /// The sectors of `truth` whose owner `keep` accepts.
    static func only(_ truth: [UInt64: GroundTruth.Owner], _ keep: (GroundTruth.Owner) -> Bool) -> [UInt64: GroundTruth.Owner] {
        truth.filter { keep($0.value) }
    }

    /// The status words of a cache after `start length cache` (cache.rst "Status").
    static func cacheStatus(_ dm: String) throws -> [String] {
        Array(try Live.sh("dmsetup status \(dm)").trimmed.split(separator: " ").map(String.init).dropFirst(3))
    }

    /// An lvm2 cache: writeback with migrations stopped (`migration_threshold 0`: no
    /// background writeback or demotion, dm-cache-target.c `spare_migration_bandwidth`), so
    /// whole-block writes are promoted dirty and stay so; then switched to writethrough, which
    /// lvm2 does by flushing every dirty block to the origin: the cached blocks become clean
    /// copies.
    @Test func cacheWritebackThenWritethrough() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let slow = try Live.loop(size: "128M", cleanup: &cleanup), fast = try Live.loop(size: "64M", cleanup: &cleanup)
        try Live.sh("modprobe dm-cache; modprobe dm-cache-smq")
        try Live.sh("\(Self.lvm) pvcreate -q -y \(slow) \(fast) && \(Self.lvm) vgcreate -q dmtc \(slow) \(fast)")
        cleanup.append("\(Self.lvm) vgremove -q -f dmtc; \(Self.lvm) pvremove -q -y \(slow) \(fast)")
        try Live.sh("\(Self.lvm) lvcreate -q -y -n lv -L 80M dmtc \(slow) && \(Self.lvm) lvcreate -q -y --type cache-pool -n pool -L 32M dmtc \(fast)")
        // Files written before the cache is attached are on the origin only.
        let mnt = "/tmp/dmstack-vm-cache"
        try GroundTruth.xfs("/dev/mapper/dmtc-lv", on: mnt, cleanup: &cleanup)
        try GroundTruth.writeFiles("\(mnt)/before", count: 2, size: 1 << 20)
        try Live.sh("\(Self.lvm) lvconvert -q -y --type cache --cachepool dmtc/pool --cachemode writeback dmtc/lv")
        try Live.sh("dmsetup message dmtc-lv 0 migration_threshold 0")
        try GroundTruth.writeFiles("\(mnt)/gt", count: 4, size: 1 << 20)
        defer {
            // What dmstack read, for a failure's diagnosis.
            print((try? Live.sh("dmsetup table dmtc-lv; dmsetup status dmtc-lv; \(Live.dmstack) translate --down dmtc-lv 0+8")) ?? "")
        }

        // Writeback: blocks on the cache are dirty or clean, which ones the kernel keeps in
        // memory; their files may be lost. Blocks only on the origin are lost.
        let status = try Self.cacheStatus("dmtc-lv")
        #expect(status.count > 10 && (UInt64(status[10]) ?? 0) > 0, "no dirty blocks to test: \(status)")
        let cached = try GroundTruth.scan(fast), origin = try GroundTruth.scan(slow)
        let onCache = Set(cached.values)
        try GroundTruth.verify(fast, cached, count: 15, expect: .mayBeLost)
        try GroundTruth.verify(slow, Self.only(origin) { !onCache.contains($0) }, count: 10, expect: .named)

        // Writethrough: every cached block is a clean copy of its origin block.
        try Live.sh("dmsetup message dmtc-lv 0 migration_threshold 2048")
        try Live.sh("\(Self.lvm) lvchange -q -y --cachemode writethrough dmtc/lv")
        let after = try Self.cacheStatus("dmtc-lv")
        #expect(after.count > 10 && after[10] == "0" && after.contains("writethrough"), "\(after)")
        let cached2 = try GroundTruth.scan(fast), origin2 = try GroundTruth.scan(slow)
        let onCache2 = Set(cached2.values)
        try GroundTruth.verify(fast, cached2, count: 10, expect: .survives)
        try GroundTruth.verify(slow, Self.only(origin2) { onCache2.contains($0) }, count: 8, expect: .survives)
        try GroundTruth.verify(slow, Self.only(origin2) { !onCache2.contains($0) }, count: 8, expect: .named)
    }

    /// An old-style snapshot of a mounted origin: files written (generation 1), the snapshot
    /// taken, half of them rewritten in place (generation 2), so the COW store holds their old
    /// chunks. The origin's sectors name the origin's files; a COW chunk is the snapshot's
    /// (no filesystem mounted there): translate takes it to the snapshot sector with its bytes.
    @Test func snapshotOfAMountedOrigin() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let disk = try Live.loop(size: "128M", cleanup: &cleanup)
        try Live.sh("modprobe dm-snapshot")
        try Live.sh("\(Self.lvm) pvcreate -q -y \(disk) && \(Self.lvm) vgcreate -q dmts \(disk)")
        cleanup.append("\(Self.lvm) vgremove -q -f dmts; \(Self.lvm) pvremove -q -y \(disk)")
        try Live.sh("\(Self.lvm) lvcreate -q -y -n lv -L 64M dmts")
        let mnt = "/tmp/dmstack-vm-snap"
        try GroundTruth.xfs("/dev/mapper/dmts-lv", on: mnt, cleanup: &cleanup)
        let paths = try GroundTruth.writeFiles("\(mnt)/gt", count: 4, size: 1 << 20)
        try Live.sh("\(Self.lvm) lvcreate -q -y -s -L 32M -n snap dmts/lv")
        try GroundTruth.writeFiles("\(mnt)/gt", count: 2, size: 1 << 20, generation: 2, inPlace: true)
        let rewritten = Set(paths.prefix(2))
        let truth = try GroundTruth.scan(disk)
        // Current content: generation 2 of the rewritten files, 1 of the others.
        let current = Self.only(truth) { rewritten.contains($0.path) ? $0.generation == 2 : $0.generation == 1 }
        try GroundTruth.verify(disk, current, count: 15, expect: .named)
        // Old chunks of the rewritten files, kept by the snapshot only.
        let old = Self.only(truth) { rewritten.contains($0.path) && $0.generation == 1 }
        #expect(old.count >= 8, "the COW store should hold the rewritten files' old chunks: \(old.count) sectors")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<min(8, old.count) {
            let sector = old.keys.randomElement(using: &rng)!
            let rows = try Live.json("translate --json \(disk) \(sector)+1")["translations"] as! [[String: Any]]
            let snap = rows.filter { $0["device"] as? String == "dmts/snap" }
            #expect(snap.count == 1 && snap.first?["outcome"] as? String == "lost", "\(sector): \(rows)")
            if let s = snap.first, let start = s["start"] as? UInt64 {
                #expect(try SimulateLiveTests.deviceSector("/dev/mapper/dmts-snap", start) == SimulateLiveTests.deviceSector(disk, sector),
                        "\(sector): snapshot sector \(start) does not hold the COW chunk's bytes")
            }
            let impact = try Live.json("simulate --json \(disk) --range \(sector)+1")["impact"] as! [String: Any]
            #expect((impact["filesystems"] as! [Any]).isEmpty && (impact["may_lose"] as! [Any]).isEmpty)
            #expect((impact["notices"] as! [[String: Any]]).contains { $0["action"] as? String == "lost" && $0["target"] as? String == "dmts/snap" })
        }
    }

    /// A transient snapshot (`N`) keeps its exceptions in kernel memory: its COW device's
    /// ranges are unknown, and say so.
    @Test func transientSnapshotIsUnknownWithWhy() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let origin = try Live.loop(size: "16M", cleanup: &cleanup), cow = try Live.loop(size: "8M", cleanup: &cleanup)
        try Live.sh("modprobe dm-snapshot")
        try Live.sh("dmsetup create dmt-tsnap --table '0 32768 snapshot \(origin) \(cow) N 8'")
        cleanup.append("dmsetup remove dmt-tsnap")
        // An unknown row is an incomplete answer: exit 2, with its reason code.
        let result = try TestProcess.shell("\(Live.dmstack) translate --json \(cow) 100+1")
        #expect(result.status == 2, "\(result.stderr)")
        let rows = try Live.document(result.stdout)["translations"] as! [[String: Any]]
        #expect(rows.count == 1 && rows[0]["outcome"] as? String == "unknown" && (rows[0]["reason"] as? String ?? "").contains("kernel memory"), "\(rows)")
        // Not read from the COW device (mapping-unknown), or read and refused as transient.
        #expect(["mapping-unknown", "metadata-unreadable"].contains(rows.first?["reason_code"] as? String ?? ""), "\(rows)")
    }

    /// lvm2 writecache (ssd mode) on a cachevol, the filesystem made before the conversion, so
    /// the files written after it sit on the cache device (below the high watermark nothing is
    /// written back): its committed entries, read live, name them.
    @Test func writecacheHoldsTheNewWrites() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let slow = try Live.loop(size: "128M", cleanup: &cleanup), fast = try Live.loop(size: "64M", cleanup: &cleanup)
        try Live.sh("modprobe dm-writecache")
        try Live.sh("\(Self.lvm) pvcreate -q -y \(slow) \(fast) && \(Self.lvm) vgcreate -q dmtw \(slow) \(fast)")
        cleanup.append("\(Self.lvm) vgremove -q -f dmtw; \(Self.lvm) pvremove -q -y \(slow) \(fast)")
        try Live.sh("\(Self.lvm) lvcreate -q -y -n lv -L 80M dmtw \(slow) && \(Self.lvm) lvcreate -q -y -n fast -L 40M dmtw \(fast)")
        try Live.sh("TEST_DIR=/tmp TEST_DEV=/dev/null QA_CHECK_FS=xfs mkfs.xfs -q -f -m rmapbt=1 /dev/mapper/dmtw-lv")
        try Live.sh("\(Self.lvm) lvchange -q -an dmtw/fast && \(Self.lvm) lvconvert -q -y --type writecache --cachevol fast dmtw/lv")
        let mnt = "/tmp/dmstack-vm-wc"
        try Live.sh("mkdir -p \(mnt) && mount /dev/mapper/dmtw-lv \(mnt)")
        cleanup.append("umount \(mnt)")
        try GroundTruth.writeFiles("\(mnt)/gt", count: 4, size: 1 << 20)
        let cached = try GroundTruth.scan(fast), origin = try GroundTruth.scan(slow)
        // A block written back leaves a stale copy on the cache device: only what the origin
        // does not hold is checked there.
        let written = Set(origin.values)
        try GroundTruth.verify(fast, Self.only(cached) { !written.contains($0) }, count: 15, expect: .named)
        if !origin.isEmpty { try GroundTruth.verify(slow, origin, count: 5, expect: .named) }
    }

    /// integritysetup's default layout (journal, crc32c tags, interleaved areas), read from the
    /// superblock live. Data passes through the journal, which precedes the areas on the
    /// device (dm-integrity.c: superblock, journal sections, then areas): a suspend writes the
    /// journal out, so each sector's home is its last copy on the device; the earlier copies
    /// are the journal's, whose loss dmstack cannot judge (the whole device is unknown).
    @Test func integrityDeviceFromItsSuperblock() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let disk = try Live.loop(size: "48M", cleanup: &cleanup)
        try Live.sh("modprobe dm-integrity; modprobe crc32c 2>/dev/null || true")
        try Live.sh("integritysetup format -q --batch-mode \(disk) && integritysetup open \(disk) dmt-gtint")
        cleanup.append("integritysetup close dmt-gtint")
        let mnt = "/tmp/dmstack-vm-int"
        try GroundTruth.xfs("/dev/mapper/dmt-gtint", on: mnt, cleanup: &cleanup)
        try GroundTruth.writeFiles("\(mnt)/gt", count: 3, size: 1 << 20)
        try Live.sh("dmsetup suspend dmt-gtint && dmsetup resume dmt-gtint")
        let truth = try GroundTruth.scan(disk)
        var home: [GroundTruth.Owner: UInt64] = [:]
        for (sector, owner) in truth where sector > home[owner] ?? 0 { home[owner] = sector }
        let homes = Set(home.values)
        try GroundTruth.verify(disk, truth.filter { homes.contains($0.key) }, count: 15, expect: .named)
        let journal = truth.filter { !homes.contains($0.key) }
        if !journal.isEmpty { try GroundTruth.verify(disk, journal, count: 3, expect: .mayBeLost) }
    }
}
