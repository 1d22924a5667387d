import Foundation
import Testing

/// A live lvm2 thin pool in the test VM: `simulate` on the pool's data leaf, given nothing but
/// the leaf and a sector, names the thin volume's file and offset (the pool's metadata read
/// live under a metadata snapshot, Sources/StackSystem/Metadata/ThinPoolReader.swift), the
/// snapshot is released after every run, one held by someone else stays held, and capture
/// then `--snapshot` answers the same offline. Ground truth from the leaf (GroundTruth).
@Suite("VM: live thin pool metadata", .serialized, .enabled(if: Live.hasDeviceMapper, "needs root and device-mapper (the test VM)"))
struct VMThinLiveTests {
    static let lvm = "LVM_SUPPRESS_FD_WARNINGS=1"

    /// The pool's thin-pool dm device (lvm2 names it VG-POOL-tpool) and its held root word.
    static func heldRoot(_ pool: String) throws -> String {
        // `0 LEN thin-pool TRANS META/TOTAL DATA/TOTAL HELD MODE ...` (dm-thin.c pool_status)
        let w = try Live.sh("dmsetup status \(pool)").split(separator: " ")
        return w.count > 6 ? String(w[6]) : "?"
    }

    /// A VG on one loop device, a thin pool and a thin LV with an XFS holding ground-truth
    /// files; `body` gets the loop (the pool's data leaf), the pool's dm name, the mount and
    /// the thin volume.
    func withThinVolume(_ body: (String, String, String, String) throws -> Void) throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let loop = try Live.loop(size: "160M", cleanup: &cleanup)
        let vg = "dmsthin\(getpid() % 10000)"
        try Live.sh("\(Self.lvm) vgcreate -q \(vg) \(loop)")
        cleanup.append("\(Self.lvm) vgremove -q -f \(vg)")
        // Small chunks (64 KiB), so the files' blocks interleave with XFS's own.
        try Live.sh("\(Self.lvm) lvcreate -q -y --type thin-pool -L 120M -c 64k -n pool \(vg) && \(Self.lvm) lvcreate -q -y -V 300M -T \(vg)/pool -n thin1")
        cleanup.append("\(Self.lvm) lvremove -q -f \(vg)/thin1")
        let mnt = try Live.temporary("/tmp/dmstack-thin-XXXXXX", cleanup: &cleanup)
        try GroundTruth.xfs("/dev/\(vg)/thin1", on: mnt, cleanup: &cleanup)
        try GroundTruth.writeFiles("\(mnt)/data", count: 4, size: 2 << 20)
        let pool = "\(vg)-pool-tpool"
        #expect(try Live.sh("dmsetup table \(pool)").contains(" thin-pool "))
        try body(loop, pool, mnt, "/dev/\(vg)/thin1")
    }

    @Test func aThinVolumesFileIsNamedFromThePoolsDataLeaf() throws {
        try withThinVolume { loop, pool, mnt, _ in
            let truth = try GroundTruth.scan(loop)
            try GroundTruth.verify(loop, truth, count: 20, expect: .named)
            #expect(try Self.heldRoot(pool) == "-", "the metadata snapshot was left held")

            // Someone else's snapshot (an admin's thin_dump): read, and left held for them.
            try Live.sh("dmsetup message \(pool) 0 reserve_metadata_snap")
            let theirs = try Self.heldRoot(pool)
            #expect(theirs != "-")
            try GroundTruth.verify(loop, truth, count: 3, expect: .named)
            #expect(try Self.heldRoot(pool) == theirs, "someone else's metadata snapshot was released")
            // Written after they took it: a block provisioned since is not in their snapshot,
            // so it is unknown (or, a block provisioned before, the file), never nothing.
            try GroundTruth.writeFiles("\(mnt)/late", count: 1, size: 512 << 10)
            let late = try GroundTruth.scan(loop).filter { $0.value.path.contains("/late/") }
            #expect(late.count > 100, "\(late.count) sectors of the late file on the leaf")
            for (sector, owner) in late.shuffled().prefix(4) {
                // Unknown is an incomplete answer, exit 2; named, 0.
                let impact = try Live.json("simulate --json \(loop) --range \(sector)+1", statuses: [0, 2])["impact"] as! [String: Any]
                let named = ((impact["filesystems"] as! [[String: Any]]).first?["files"] as? [[String: Any]] ?? []).flatMap { $0["paths"] as! [String] }
                let unknown = (impact["notices"] as! [[String: Any]]).contains { ($0["reason"] as? String ?? "").contains("held root \(theirs)") }
                #expect(named.contains(owner.path) || unknown, "\(sector) of \(owner): named \(named), \(impact["notices"] ?? [])")
            }
            #expect(try Self.heldRoot(pool) == theirs)
            try Live.sh("dmsetup message \(pool) 0 release_metadata_snap")
            // Released, the pool is read afresh: the late file is named.
            try GroundTruth.verify(loop, late, count: 3, expect: .named)

            // SIGTERM while dmstack holds the snapshot: the release comes first, then the signal
            // ends it. (The test runner blocks SIGTERM and children inherit the mask: unblocked.)
            let held = Process()
            held.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            held.arguments = ["DMSTACK_THIN_HOLD_SECONDS=20", "python3", "-c",
                              "import os, signal, sys; signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM]); os.execv(sys.argv[1], sys.argv[1:])",
                              Live.dmstack, "simulate", "--json", loop, "--range", "\(truth.keys.first!)+1"]
            held.standardOutput = FileHandle.nullDevice
            try held.run()
            var waited = 0
            while try Self.heldRoot(pool) == "-" && waited < 300 && held.isRunning { usleep(100_000); waited += 1 }
            #expect(try Self.heldRoot(pool) != "-", "dmstack never held the snapshot")
            held.terminate()
            held.waitUntilExit()
            #expect(held.terminationReason == .uncaughtSignal && held.terminationStatus == SIGTERM, "\(held.terminationReason) \(held.terminationStatus)")
            #expect(try Self.heldRoot(pool) == "-", "SIGTERM left the metadata snapshot held")

            // capture stores the mappings (and, with --reverse-maps all, the filesystem's
            // reverse map): --snapshot answers as live did, byte for byte.
            let sector = try #require(truth.keys.sorted().dropFirst(truth.count / 2).first)
            let commands = ["simulate --json \(loop) --range \(sector)+1", "simulate \(loop) --range \(sector)+8"]
            let file = try Live.sh("mktemp /tmp/dmstack-thinsnap-XXXXXX.json").trimmed
            defer { _ = try? Live.sh("rm -f \(file)") }
            let live = try commands.map { try Live.sh("\(Live.dmstack) \($0)") }
            try Live.sh("\(Live.dmstack) capture --reverse-maps all -o \(file)")
            #expect(try Self.heldRoot(pool) == "-", "capture left the metadata snapshot held")
            for (i, c) in commands.enumerated() {
                #expect(Live.asLive(try Live.sh("\(Live.dmstack) \(c) --snapshot \(file)")) == live[i], "\(c): live and --snapshot differ")
            }
            #expect(live[0].contains(truth[sector]!.path), "\(live[0])")
        }
    }

    /// A pool in read-only mode refuses messages (dm-thin.c pool_message): its committed
    /// mappings are read as they are, nothing writes them.
    @Test func aReadOnlyPoolIsReadWithoutASnapshot() throws {
        try withThinVolume { loop, pool, mnt, thin in
            try Live.sh("umount \(mnt)")
            let table = try Live.sh("dmsetup table \(pool)").trimmed
            // `... thin-pool META DATA BLOCK LOW N features`: add read_only.
            var w = table.split(separator: " ").map(String.init)
            let n = Int(w[7]) ?? 0
            w[7] = "\(n + 1)"
            w.append("read_only")
            try Live.sh("dmsetup suspend \(pool) && dmsetup reload \(pool) --table '\(w.joined(separator: " "))' && dmsetup resume \(pool)")
            defer { _ = try? Live.sh("dmsetup suspend \(pool) && dmsetup reload \(pool) --table '\(table)' && dmsetup resume \(pool)") }
            let status = try Live.sh("dmsetup status \(pool)")
            #expect(status.contains(" ro "), "\(status)")
            try Live.sh("mount -o ro,norecovery \(thin) \(mnt)")
            defer { _ = try? Live.sh("umount \(mnt)") }
            let truth = try GroundTruth.scan(loop)
            try GroundTruth.verify(loop, truth, count: 5, expect: .named)
        }
    }

    /// The monitor after the pool's data leaf went: the pool and its metadata (on another
    /// leaf, a loop device) are still there, so the pool's mappings are read live as in any
    /// query, and the remove event names every file of the thin volume.
    @Test(.enabled(if: VMLiveTests.hasTwoPmem, "needs fsdax pmem (the test VM)"))
    func theMonitorNamesAThinVolumesFilesWhenThePoolDataLeafGoes() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let pfn = URL(fileURLWithPath: "/sys/class/block/pmem0/device").resolvingSymlinksInPath().lastPathComponent
        #expect(pfn.hasPrefix("pfn"), "pmem0 is claimed by \(pfn)")
        cleanup.append("[ -e /sys/class/block/pmem0 ] || echo \(pfn) > /sys/bus/nd/drivers/nd_pmem/bind; wipefs -q -a /dev/pmem0 2>/dev/null || true")
        let loop = try Live.loop(size: "32M", cleanup: &cleanup)
        let vg = "dmsmon\(getpid() % 10000)"
        try Live.sh("wipefs -q -a /dev/pmem0 && \(Self.lvm) vgcreate -q \(vg) /dev/pmem0 \(loop)")
        // Taken down by dm name: once the pmem is gone lvm2 no longer sees the whole VG.
        cleanup.append("for d in \(vg)-thin1 \(vg)-pool \(vg)-pool-tpool \(vg)-pool_tdata \(vg)-pool_tmeta; do dmsetup remove $d 2>/dev/null; done; true")
        // Data on the pmem, metadata on the loop device.
        try Live.sh("\(Self.lvm) lvcreate -q -y -L 120M -n pool \(vg) /dev/pmem0 && \(Self.lvm) lvcreate -q -y -L 8M -n pmeta \(vg) \(loop)"
                    + " && \(Self.lvm) lvconvert -q -y --type thin-pool -c 64k --poolmetadata \(vg)/pmeta \(vg)/pool"
                    + " && \(Self.lvm) lvcreate -q -y -V 300M -T \(vg)/pool -n thin1")
        let mnt = try Live.temporary("/tmp/dmstack-thinmon-XXXXXX", cleanup: &cleanup)
        try GroundTruth.xfs("/dev/\(vg)/thin1", on: mnt, cleanup: &cleanup)
        let files = try GroundTruth.writeFiles("\(mnt)/data", count: 4, size: 1 << 20)
        let dir = try Live.temporary("/tmp/dmstack-thinev-XXXXXX", recursive: true, cleanup: &cleanup)
        try "sinks:\n  - {type: jsonl, path: \(dir)/events.jsonl}\n".write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        let options = "--config \(dir)/config.yaml --state-dir \(dir)/state"
        try Live.sh("\(Live.dmstack) holders register \(mnt) --state-dir \(dir)/state")
        try Live.sh("sync; echo \(pfn) > /sys/bus/nd/drivers/nd_pmem/unbind")
        let said = try Live.sh("\(Live.dmstack) monitor --once \(options) 2>&1; echo status $?")
        let events = ((try? String(contentsOfFile: "\(dir)/events.jsonl", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? Live.document(String($0)) }
        // Seen on 6.1: GETFSMAP of this XFS (the pool's data gone, the filesystem shutting
        // down) names no owner for some ranges (one of them the size of the log), so the
        // answer is incomplete: UNKNOWN lines and status 2, never exit 0. Why GETFSMAP
        // reports them so is not yet known (issue 18 note).
        #expect(said.hasSuffix("status 2\n") && said.contains("[owner-not-reported]"), "\(said)")
        let removal = events.first { $0["kind"] as? String == "remove" }
        #expect(removal?["leaf"] as? String == "pmem0", "\(events)")
        let named = Set(((removal?["filesystems"] as? [[String: Any]])?.first?["files"] as? [String]) ?? [])
        #expect(Set(files).isSubset(of: named), "named \(named.sorted()), event \(removal ?? [:])")
        #expect(try Self.heldRoot("\(vg)-pool-tpool") == "-")
    }
}
