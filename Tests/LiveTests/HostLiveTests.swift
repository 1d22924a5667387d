import Foundation
import Testing

/// Live discovery on real devices: loop devices with XFS and ext4 mounted, a partitioned
/// loop; tree and show checked against sysfs, blkid and `lsblk -J`. Needs root and loop
/// devices; runs on the host and again in the test VM.
@Suite("Live: loop devices, partitions, XFS, ext4", .serialized, .enabled(if: Live.hasLoop, "needs root and /dev/loop-control"))
struct HostLiveTests {
    func trimmed(_ s: String) -> String { s.trimmed }

    func tempDir(_ cleanup: inout [String]) throws -> String {
        try Live.temporary("/tmp/dmstack-mnt-XXXXXX", cleanup: &cleanup)
    }

    /// show and tree of a device checked against sysfs, blkid and lsblk.
    func checkAgainstSystem(_ dev: String, fsType: String, label: String, mountpoint: String) throws {
        let name = String(dev.dropFirst(5))
        let show = try Live.json("show --json \(dev)")["device"] as! [String: Any]
        #expect(show["kernel_name"] as? String == name)
        #expect(show["major_minor"] as? String == trimmed(try Live.sh("cat /sys/class/block/\(name)/dev")))
        #expect(show["sectors"] as? UInt64 == UInt64(trimmed(try Live.sh("cat /sys/class/block/\(name)/size"))))
        let fs = show["filesystem"] as? [String: Any] ?? [:]
        #expect(fs["type"] as? String == fsType && fs["label"] as? String == label)
        #expect(fs["uuid"] as? String == trimmed(try Live.sh("blkid -p -o value -s UUID \(dev)")))
        #expect((show["mounts"] as! [[String: Any]]).map { $0["mountpoint"] as! String } == [mountpoint])

        let lsblk = try JSONSerialization.jsonObject(with: Data(try Live.sh("lsblk -J -b -o NAME,MAJ:MIN,SIZE,TYPE,FSTYPE,MOUNTPOINTS \(dev)").utf8)) as! [String: Any]
        let theirs = (lsblk["blockdevices"] as! [[String: Any]])[0]
        let ours = (try Live.json("tree --json \(dev)")["tree"] as! [[String: Any]])[0]
        #expect(ours["name"] as? String == theirs["name"] as? String)
        #expect(ours["major_minor"] as? String == theirs["maj:min"] as? String)
        #expect(ours["size"] as? UInt64 == theirs["size"] as? UInt64)
        // lsblk reads filesystem types from the udev database; without udev it has none.
        if let fstype = theirs["fstype"] as? String { #expect(ours["fs_type"] as? String == fstype) }
        #expect(ours["mountpoints"] as? [String] == (theirs["mountpoints"] as! [Any]).compactMap { $0 as? String })
    }

    @Test func loopDevicesWithXFSAndExt4() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let x = try Live.loop(size: "400M", cleanup: &cleanup)
        let e = try Live.loop(size: "64M", cleanup: &cleanup)
        try Live.sh("mkfs.xfs -q -f -m rmapbt=1,reflink=1 -L dmstest-x \(x)")
        try Live.sh("mkfs.ext4 -q -F -L dmstest-e \(e)")
        let mx = try tempDir(&cleanup), me = try tempDir(&cleanup)
        try Live.sh("mount \(x) \(mx)"); cleanup.append("umount \(mx)")
        try Live.sh("mount \(e) \(me)"); cleanup.append("umount \(me)")
        try checkAgainstSystem(x, fsType: "xfs", label: "dmstest-x", mountpoint: mx)
        try checkAgainstSystem(e, fsType: "ext4", label: "dmstest-e", mountpoint: me)
        let show = try Live.json("show --json \(x)")["device"] as! [String: Any]
        #expect(show["type"] as? String == "loop")
        #expect((show["loop_backing_file"] as? String)?.hasPrefix("/tmp/dmstack-test-") == true)
    }

    @Test(.enabled(if: Live.loopPartitionsWork, "this kernel does not scan loop partitions (the CI host's does not); the VM run covers it"))
    func partitionedLoop() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let disk = try Live.loop(size: "800M", partitioned: true, cleanup: &cleanup)
        try Live.sh("printf 'label: gpt\\n,400M\\n,\\n' | sfdisk -q \(disk) && udevadm settle 2>/dev/null; sleep 0.3")
        let p1 = "\(disk)p1", p2 = "\(disk)p2"
        try Live.sh("mkfs.xfs -q -f -m rmapbt=1,reflink=1 -L dmstest-x \(p1)")
        try Live.sh("mkfs.ext4 -q -F -L dmstest-e \(p2)")
        let mx = try tempDir(&cleanup), me = try tempDir(&cleanup)
        try Live.sh("mount \(p1) \(mx)"); cleanup.append("umount \(mx)")
        try Live.sh("mount \(p2) \(me)"); cleanup.append("umount \(me)")
        try checkAgainstSystem(p1, fsType: "xfs", label: "dmstest-x", mountpoint: mx)
        try checkAgainstSystem(p2, fsType: "ext4", label: "dmstest-e", mountpoint: me)
        let name = String(disk.dropFirst(5))
        let show = try Live.json("show --json \(p1)")["device"] as! [String: Any]
        let partition = show["partition"] as! [String: Any]
        #expect(partition["parent"] as? String == name && partition["number"] as? Int == 1)
        #expect(partition["start"] as? UInt64 == UInt64(trimmed(try Live.sh("cat /sys/class/block/\(name)p1/start"))))
        #expect(show["below"] as? [String] == [name])
        // --inverse from the disk lists both partitions, as lsblk does.
        let tree = try Live.json("tree --json --inverse \(disk)")["tree"] as! [[String: Any]]
        let lsblk = try JSONSerialization.jsonObject(with: Data(try Live.sh("lsblk -J -b -o NAME,SIZE \(disk)").utf8)) as! [String: Any]
        let theirs = ((lsblk["blockdevices"] as! [[String: Any]])[0]["children"] as! [[String: Any]]).map { "\($0["name"]!) \($0["size"]!)" }
        #expect((tree[0]["children"] as! [[String: Any]]).map { "\($0["name"]!) \($0["size"]!)" } == theirs)
        // A partition is a layer: translate through it.
        let rows = try Live.json("translate --json \(disk) \(UInt64(partition["start"] as! UInt64) + 8)+8")["translations"] as! [[String: Any]]
        #expect(rows.map { "\($0["device"]!) \($0["start"]!)" } == ["\(name)p1 8"])
    }

    /// capture, then --snapshot: byte-identical output for every read command.
    @Test func snapshotGivesTheSameAnswers() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let disk = try Live.loop(size: "400M", cleanup: &cleanup)
        try Live.sh("mkfs.xfs -q -f \(disk)")
        try Live.expectSnapshotIdentical(["tree --json", "tree --json --inverse", "tree", "show --json \(disk)", "show \(disk)", "translate --json \(disk) 0+8"])
    }
}

extension Live {
    /// Whether a partition table on a loop device shows up as partitions (loop max_part /
    /// partscan); found once by trying.
    static let loopPartitionsWork: Bool = {
        guard hasLoop else { return false }
        var cleanup: [String] = []
        defer { clean(cleanup) }
        guard let disk = try? loop(size: "8M", partitioned: true, cleanup: &cleanup) else { return false }
        _ = try? sh("printf 'label: gpt\\n,\\n' | sfdisk -q \(disk); udevadm settle 2>/dev/null; sleep 0.3")
        return FileManager.default.fileExists(atPath: "/sys/class/block/\(disk.dropFirst(5))p1")
    }()
}
