import Foundation
import StackModel
import StackSystem
import Testing

/// Discovery replayed on a made-up sysfs, /proc and udev tree under a prefix (util-linux
/// lsblk's `--sysroot` tests): no root, no devices, every branch of the readers exercised.
@Suite("Discovery on a replayed sysfs")
struct ReplayTests {
    final class Tree {
        let root: String
        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-replay-\(UUID().uuidString)").path
        }
        deinit { try? FileManager.default.removeItem(atPath: root) }
        func file(_ path: String, _ text: String) throws {
            let url = URL(fileURLWithPath: root + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        func dir(_ path: String) throws { try FileManager.default.createDirectory(atPath: root + path, withIntermediateDirectories: true) }
        func link(_ path: String, to target: String) throws {
            try FileManager.default.createDirectory(atPath: (root + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: root + path, withDestinationPath: target)
        }
    }

    /// A pmem0 (fsdax, via pfn0.1) with a partition-less XFS recorded by udev, a loop with a
    /// partition, one mount.
    func makeTree() throws -> Tree {
        let t = try Tree()
        let pmemDev = "/sys/devices/platform/ACPI0012:00/ndbus0/region0/pfn0.1/block/pmem0"
        try t.link("/sys/class/block/pmem0", to: "../../devices/platform/ACPI0012:00/ndbus0/region0/pfn0.1/block/pmem0")
        try t.file("\(pmemDev)/dev", "259:0\n")
        try t.file("\(pmemDev)/size", "1028096\n")
        try t.file("\(pmemDev)/ro", "0\n")
        try t.file("\(pmemDev)/removable", "0\n")
        try t.file("\(pmemDev)/badblocks", "2048 8\n4096 16\n")
        try t.file("\(pmemDev)/queue/logical_block_size", "512\n")
        try t.dir("\(pmemDev)/holders")
        try t.dir("\(pmemDev)/slaves")
        try t.link("\(pmemDev)/device", to: "../../../pfn0.1")
        try t.link("/sys/bus/nd/devices/pfn0.1", to: "../../../devices/platform/ACPI0012:00/ndbus0/region0/pfn0.1")
        try t.file("/sys/devices/platform/ACPI0012:00/ndbus0/region0/pfn0.1/namespace", "namespace0.0\n")
        try t.link("/sys/bus/nd/devices/namespace0.0", to: "../../../devices/platform/ACPI0012:00/ndbus0/region0/namespace0.0")
        let ns = "/sys/devices/platform/ACPI0012:00/ndbus0/region0/namespace0.0"
        try t.file("\(ns)/size", "536870912\n")
        try t.file("\(ns)/mode", "memory\n")
        try t.file("\(ns)/holder", "pfn0.1\n")
        try t.file("\(ns)/uuid", "5a1d1c0a-0000-4000-8000-000000000001\n")
        try t.link("/sys/bus/nd/devices/region0", to: "../../../devices/platform/ACPI0012:00/ndbus0/region0")
        try t.file("/sys/devices/platform/ACPI0012:00/ndbus0/region0/size", "536870912\n")
        try t.file("/sys/devices/platform/ACPI0012:00/ndbus0/region0/badblocks", "")
        try t.dir("/sys/devices/platform/ACPI0012:00/ndbus0/region0/pfn0.1/block/pmem0")
        try t.file("/run/udev/data/b259:0", "S:disk/by-uuid/x\nE:ID_FS_TYPE=xfs\nE:ID_FS_UUID=1111-2222\nE:ID_FS_LABEL=fast\n")

        let loop = "/sys/devices/virtual/block/loop3"
        try t.link("/sys/class/block/loop3", to: "../../devices/virtual/block/loop3")
        try t.link("/sys/class/block/loop3p1", to: "../../devices/virtual/block/loop3/loop3p1")
        try t.link("/sys/block/loop3", to: "../devices/virtual/block/loop3")
        try t.file("\(loop)/dev", "7:3\n"); try t.file("\(loop)/size", "409600\n"); try t.file("\(loop)/ro", "0\n")
        try t.file("\(loop)/loop/backing_file", "/var/tmp/disk image.img\n")
        try t.dir("\(loop)/holders"); try t.dir("\(loop)/slaves")
        try t.file("\(loop)/loop3p1/dev", "259:3\n"); try t.file("\(loop)/loop3p1/size", "204800\n")
        try t.file("\(loop)/loop3p1/partition", "1\n"); try t.file("\(loop)/loop3p1/start", "2048\n"); try t.file("\(loop)/loop3p1/ro", "0\n")
        try t.dir("\(loop)/loop3p1/holders")
        try t.file("/run/udev/data/b7:3", "E:ID_PART_TABLE_TYPE=gpt\n")
        try t.file("/run/udev/data/b259:3", "E:ID_FS_TYPE=ext4\nE:ID_PART_ENTRY_UUID=abcd-01\n")
        try t.file("/proc/self/mountinfo", "22 1 259:0 / /mnt/fast\\040one rw,relatime - xfs /dev/pmem0 rw,attr2,dax=always,logdev=/dev/pmem1\n")
        return t
    }

    @Test func everyReaderOnAReplayedTree() throws {
        let t = try makeTree()
        var discovery = LiveDiscovery(sysfs: SysfsRoot(prefix: t.root))
        discovery.probeFilesystems = false
        let snapshot = try discovery.snapshot(dmstackVersion: "test", capturedAt: "now")
        let inventory = Inventory(snapshot)
        #expect(snapshot.devices.map(\.kernelName) == ["loop3", "pmem0", "loop3p1"])
        let pmem = try inventory.device("pmem0")
        #expect(pmem.size == 1028096 && pmem.majorMinor == "259:0" && pmem.pmemNamespace == "namespace0.0")
        #expect(pmem.badblocks == [SectorRange(start: 2048, length: 8), SectorRange(start: 4096, length: 16)])
        #expect(pmem.filesystem == FilesystemInfo(type: "xfs", uuid: "1111-2222", label: "fast"))
        let ns = try #require(inventory.namespace(of: pmem))
        #expect(ns.mode == "fsdax" && ns.claimedBy == "pfn0.1" && ns.region == "region0" && ns.blockDevice == "pmem0" && ns.size == 536870912)
        let mount = try #require(inventory.mounts(of: pmem).first)
        #expect(mount.mountpoint == "/mnt/fast one" && mount.dax && mount.logDevice == "/dev/pmem1")
        let part = try inventory.device("loop3p1")
        #expect(part.partition == PartitionInfo(number: 1, start: 2048, parent: "loop3"))
        #expect(part.filesystem?.type == "ext4" && part.filesystem?.partUuid == "abcd-01")
        let loop = try inventory.device("/dev/loop3")
        #expect(loop.loopBackingFile == "/var/tmp/disk image.img" && loop.filesystem?.partitionTableType == "gpt")
        #expect(inventory.above(loop).map(\.kernelName) == ["loop3p1"] && inventory.below(part).map(\.kernelName) == ["loop3"])
        #expect(snapshot.pmem.regions.map(\.name) == ["region0"])
        // And the snapshot survives its own file format.
        let back = try SnapshotCodec.decode(try SnapshotCodec.encode(snapshot), file: "x")
        #expect(back == snapshot)
    }
}
