import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Stacks built by lvm2 itself (pvcreate, vgcreate, lvcreate) on loop devices and on fsdax
/// pmem in the test VM, each with XFS, checked against ground truth read from the leaves
/// (`GroundTruth`): every leaf is scanned with O_DIRECT for the self-naming sectors of the files
/// written through the top device, and random sectors of every leaf are asked of
/// `simulate --json LEAF --range S+1` with no flag added. Where lvm keeps a copy or parity
/// (raid1, raid5) the answer must lose nothing and say degraded.
///
/// The names are lvm's (`vg/lv`, internal parts `vg/lv:rimage_1`), the VG and LV names carry
/// hyphens so the dm name's `--` escaping is exercised. Everything created is removed again
/// (vgremove, pvremove, wipefs), pmem1 included: other VM suites use it.
@Suite("VM: lvm-built stacks, byte-verified from the leaves", .serialized,
       .enabled(if: Live.hasDeviceMapper && Live.inVM, "needs root, device-mapper and lvm2 (the test VM)"))
struct VMLvmTests {
    /// lvm looks only at loop and pmem devices and ignores any devices file, so a host's own
    /// volumes never enter the test.
    static let config = #"devices{use_devicesfile=0 filter=["a|^/dev/loop|","a|^/dev/pmem|","r|.*|"]}"#

    /// `lvm SUBCOMMAND ARGS` with the test's device filter; stdout.
    @discardableResult
    static func lvm(_ subcommand: String, _ arguments: String) throws -> String {
        try Live.sh("LVM_SUPPRESS_FD_WARNINGS=1 lvm \(subcommand) --config '\(config)' \(arguments)")
    }

    /// A volume group `vg` on `pvs`, removed (with every LV in it) and its PVs wiped by cleanup.
    static func group(_ vg: String, on pvs: [String], cleanup: inout [String]) throws {
        cleanup.append("wipefs -a \(pvs.joined(separator: " "))")
        cleanup.append("LVM_SUPPRESS_FD_WARNINGS=1 lvm pvremove -y -ff --config '\(config)' \(pvs.joined(separator: " "))")
        try lvm("pvcreate", "-y \(pvs.joined(separator: " "))")
        cleanup.append("LVM_SUPPRESS_FD_WARNINGS=1 lvm vgremove -y -ff --config '\(config)' \(vg)")
        try lvm("vgcreate", "\(vg) \(pvs.joined(separator: " "))")
    }

    /// `count` loop devices of `size`.
    static func loops(_ count: Int, size: String = "48M", cleanup: inout [String]) throws -> [String] {
        try (0..<count).map { _ in try Live.loop(size: size, cleanup: &cleanup) }
    }

    /// XFS on `device` mounted on `mnt`, ground-truth files in `dirs` directories (XFS puts
    /// each new directory in another allocation group, so the files spread over the whole
    /// device and every leaf holds some), and the filesystem unmounted and `mnt` removed by cleanup.
    static func filesystem(_ device: String, _ mnt: String, options: String = "", dirs: Int = 4, files: Int = 3, cleanup: inout [String]) throws {
        cleanup.append("rmdir \(mnt)")
        try GroundTruth.xfs(device, on: mnt, options: options, cleanup: &cleanup)
        for d in 0..<dirs { try GroundTruth.writeFiles("\(mnt)/d\(d)", count: files, size: 2 << 20) }
    }

    /// Every leaf scanned, then `count` of its sectors verified.
    static func verifyLeaves(_ leaves: [String], expect: GroundTruth.Expectation, count: Int = 15,
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
        for leaf in leaves {
            let truth = try GroundTruth.scan(leaf)
            try GroundTruth.verify(leaf, truth, count: count, expect: expect, sourceLocation: sourceLocation)
        }
    }

    /// The names of every node of a `tree --json` forest, depth-first.
    static func nodes(_ forest: [[String: Any]]) -> [[String: Any]] {
        forest.flatMap { [$0] + nodes($0["children"] as? [[String: Any]] ?? []) }
    }

    @Test func linearOverTwoPhysicalVolumes() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let pvs = try Self.loops(2, cleanup: &cleanup)
        try Self.group("gt-lin", on: pvs, cleanup: &cleanup)
        try Self.lvm("lvcreate", "-y -l 100%FREE -n data-lv gt-lin")
        // One linear target per PV: the LV spans both.
        #expect(try Live.sh("dmsetup table gt--lin-data--lv").split(separator: "\n").count == 2)
        try Self.filesystem("/dev/gt-lin/data-lv", "/tmp/dmstack-lvm-lin", cleanup: &cleanup)
        try Self.verifyLeaves(pvs, expect: .named)
    }

    @Test func striped() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let pvs = try Self.loops(2, cleanup: &cleanup)
        try Self.group("gt-st", on: pvs, cleanup: &cleanup)
        try Self.lvm("lvcreate", "-y -i2 -I64k -L 80M -n st gt-st")
        try Self.filesystem("/dev/gt-st/st", "/tmp/dmstack-lvm-st", dirs: 2, cleanup: &cleanup)
        try Self.verifyLeaves(pvs, expect: .named)
    }

    /// raid1 (without the initial sync: both legs get every write anyway): every leg sector
    /// is in the other leg too. A range over a leg's metadata device fails that whole leg, and
    /// its rows stay inside the 4 MiB rmeta (issue 16 item 7).
    @Test func raid1() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let pvs = try Self.loops(2, cleanup: &cleanup)
        try Self.group("gt-r1", on: pvs, cleanup: &cleanup)
        try Self.lvm("lvcreate", "-y --type raid1 -m1 --nosync -L 40M -n lv gt-r1")
        try Self.filesystem("/dev/gt-r1/lv", "/tmp/dmstack-lvm-r1", dirs: 3, files: 2, cleanup: &cleanup)
        try Self.verifyLeaves(pvs, expect: .survives)

        // rmeta_1: `0 8192 linear MAJ:MIN START`; ask for it and as much again of the image after it.
        let words = try Live.sh("dmsetup table gt--r1-lv_rmeta_1").trimmed.split(separator: " ")
        let size = try #require(UInt64(words[1])), start = try #require(UInt64(words[4]))
        let impact = try Live.json("simulate --json \(pvs[1]) --range \(start)+\(2 * size)")["impact"] as! [String: Any]
        let layers = impact["layers"] as! [[String: Any]]
        let meta = try #require(layers.first { $0["device"] as? String == "gt-r1/lv:rmeta_1" }, "\(layers.map { $0["device"]! })")
        for r in meta["ranges"] as! [[String: Any]] {
            #expect((r["start"] as! UInt64) + (r["length"] as! UInt64) <= size, "rmeta_1 range \(r)")
        }
        #expect((impact["filesystems"] as! [[String: Any]]).isEmpty)
        #expect(layers.contains { $0["device"] as? String == "gt-r1/lv" })
    }

    /// raid5 over three PVs, synced before the files go in: data chunks on every leg, and each
    /// one's loss is covered by the parity.
    @Test func raid5() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let pvs = try Self.loops(3, cleanup: &cleanup)
        try Self.group("gt-r5", on: pvs, cleanup: &cleanup)
        try Self.lvm("lvcreate", "-y --type raid5 -i2 -L 64M -n lv gt-r5")
        var waited = 0
        while try Self.lvm("lvs", "--noheadings -o sync_percent gt-r5/lv").trimmed != "100.00" && waited < 120 { sleep(1); waited += 1 }
        try Self.filesystem("/dev/gt-r5/lv", "/tmp/dmstack-lvm-r5", dirs: 3, files: 2, cleanup: &cleanup)
        try Self.verifyLeaves(pvs, expect: .survives)
    }

    /// A snapshot's origin: once `lvcreate -s` exists, the LV users mount is a snapshot-origin
    /// over the `-real` layer, which holds the data; the files, written before the snapshot
    /// (so its COW store holds none of them), are named from the leaf through it.
    @Test func snapshotOrigin() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let pvs = try Self.loops(1, size: "96M", cleanup: &cleanup)
        try Self.group("gt-snap", on: pvs, cleanup: &cleanup)
        try Self.lvm("lvcreate", "-y -L 48M -n orig gt-snap")
        try Self.filesystem("/dev/gt-snap/orig", "/tmp/dmstack-lvm-snap", dirs: 3, files: 2, cleanup: &cleanup)
        try Self.lvm("lvcreate", "-y -s -L 16M -n snap gt-snap/orig")
        #expect(try Live.sh("dmsetup table gt--snap-orig").contains(" snapshot-origin "))
        try Self.verifyLeaves(pvs, expect: .named)
        let forest = try Live.json("tree --json gt-snap/orig")["tree"] as! [[String: Any]]
        #expect(forest.first.map { ($0["children"] as! [[String: Any]]).map { $0["name"] as! String } } == ["gt-snap/orig:real"])
    }

    /// LUKS2 over an LV. The leaf of a real cipher holds ciphertext, which no scan can read, so
    /// the byte-verified probes use a LUKS2 volume with `cipher_null-ecb`: a real LUKS2 header
    /// and a real dm-crypt layer (its data offset past the header) whose sectors are plaintext.
    /// A second LV carries LUKS2 with the default cipher (aes-xts-plain64): its ground truth is
    /// scanned through the crypt device (plaintext), and each sector taken to the leaf by the
    /// kernel's own tables (`dmsetup table`: the LV's linear start plus the crypt offset), never
    /// by dmstack's arithmetic.
    @Test func luks2OverAnLV() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let pvs = try Self.loops(1, size: "112M", cleanup: &cleanup)
        try Self.group("gt-luks", on: pvs, cleanup: &cleanup)
        try Self.lvm("lvcreate", "-y -L 48M -n sec-ret gt-luks")
        let key = try Live.temporary("/tmp/dmstack-lvm-key-XXXXXX", directory: false, cleanup: &cleanup)
        try Live.sh("printf k > \(key) && cryptsetup luksFormat -q --type luks2 --cipher cipher_null-ecb --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "
            + "--sector-size 512 --key-file \(key) /dev/gt-luks/sec-ret")
        try Live.sh("cryptsetup open --key-file \(key) /dev/gt-luks/sec-ret gt-luks-open")
        cleanup.append("cryptsetup close gt-luks-open")
        #expect(try Live.sh("dmsetup table gt-luks-open").contains(" crypt cipher_null-ecb "))
        try Self.filesystem("/dev/mapper/gt-luks-open", "/tmp/dmstack-lvm-luks", dirs: 3, files: 2, cleanup: &cleanup)
        try Self.verifyLeaves(pvs, expect: .named)
        // The layers between: the crypt device over the LV users know.
        let truth = try GroundTruth.scan(pvs[0])
        let sector = try #require(truth.keys.min())
        let layers = (try Live.json("simulate --json \(pvs[0]) --range \(sector)+1")["impact"] as! [String: Any])["layers"] as! [[String: Any]]
        #expect(layers.map { $0["device"] as! String } == [String(pvs[0].dropFirst(5)), "gt-luks/sec-ret", "gt-luks-open"])

        try Self.lvm("lvcreate", "-y -L 48M -n real gt-luks")
        try Live.sh("cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --sector-size 512 --key-file \(key) /dev/gt-luks/real")
        try Live.sh("cryptsetup open --key-file \(key) /dev/gt-luks/real gt-luks-real")
        cleanup.append("cryptsetup close gt-luks-real")
        try Self.filesystem("/dev/mapper/gt-luks-real", "/tmp/dmstack-lvm-luks-real", dirs: 2, files: 2, cleanup: &cleanup)
        // `0 LEN linear MAJ:MIN START` and `0 LEN crypt CIPHER KEY IV_OFFSET DEV OFFSET ...`.
        let linear = try Live.sh("dmsetup table gt--luks-real").trimmed.split(separator: " ")
        let crypt = try Live.sh("dmsetup table gt-luks-real").trimmed.split(separator: " ")
        #expect(linear.count == 5 && linear[2] == "linear" && crypt[2] == "crypt" && crypt[3] != "cipher_null-ecb")
        let base = try #require(UInt64(linear[4])) + (try #require(UInt64(crypt[7])))
        var throughTop: [UInt64: GroundTruth.Owner] = [:]
        for (sector, owner) in try GroundTruth.scan("/dev/mapper/gt-luks-real") { throughTop[base + sector] = owner }
        #expect(throughTop.keys.allSatisfy { $0 < 112 << 11 })
        // The ciphertext at those leaf sectors holds no header: the leaf scan finds none of them.
        let leafNow = try GroundTruth.scan(pvs[0])
        #expect(!throughTop.isEmpty && throughTop.keys.allSatisfy { leafNow[$0] == nil })
        try GroundTruth.verify(pvs[0], throughTop, count: 15, expect: .named)
    }

    /// An LV on fsdax pmem, XFS mounted with `-o dax` (dm-linear passes DAX through): the
    /// leaf is the pmem block device.
    @Test(.enabled(if: VMLiveTests.hasTwoPmem, "needs fsdax pmem")) func lvOnFsdaxPmem() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let pv = "/dev/pmem1"
        try Live.sh("wipefs -a \(pv)")
        try Self.group("gt-pm", on: [pv], cleanup: &cleanup)
        try Self.lvm("lvcreate", "-y -L 96M -n d-ax gt-pm")
        let mnt = "/tmp/dmstack-lvm-dax"
        try Self.filesystem("/dev/gt-pm/d-ax", mnt, options: "-o dax", dirs: 4, files: 2, cleanup: &cleanup)
        #expect(try Live.sh("grep ' \(mnt) ' /proc/mounts").contains("dax"), "not mounted with DAX")
        try Self.verifyLeaves([pv], expect: .named, count: 20)
    }

    /// `tree` names lvm's volumes `vg/lv`, with their internal parts under them; every device
    /// argument takes `vg/lv` and /dev/vg/lv; `remove` refuses a PV whose LV would lose data,
    /// naming what lvm would do instead, and lets a raid leg's PV go with lvm's repair named.
    @Test func treeNamesAndRemoveRefusal() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let pvs = try Self.loops(3, size: "32M", cleanup: &cleanup)
        try Self.group("gt-tree", on: pvs, cleanup: &cleanup)
        try Self.lvm("lvcreate", "-y --type raid1 -m1 --nosync -L 8M -n r-1 gt-tree \(pvs[0]) \(pvs[1])")
        try Self.lvm("lvcreate", "-y -L 8M -n lin gt-tree \(pvs[2])")
        try Self.lvm("lvcreate", "-y --type thin-pool -L 8M -n po-ol gt-tree \(pvs[2])")
        try Self.lvm("lvcreate", "-y -V 16M -n th gt-tree/po-ol")

        let forest = try Live.json("tree --json")["tree"] as! [[String: Any]]
        let raid = try #require(forest.first { $0["name"] as? String == "gt-tree/r-1" }, "\(forest.map { $0["name"]! })")
        let volume = try #require(raid["lvm"] as? [String: Any])
        #expect(volume["vg"] as? String == "gt-tree" && volume["lv"] as? String == "r-1" && volume["internal"] as? Bool == false
                && volume["component"] == nil)
        let parts = raid["children"] as! [[String: Any]]
        #expect(Set(parts.map { $0["name"] as! String }) == ["gt-tree/r-1:rimage_0", "gt-tree/r-1:rmeta_0", "gt-tree/r-1:rimage_1", "gt-tree/r-1:rmeta_1"])
        for p in parts {
            let lvm = p["lvm"] as! [String: Any]
            #expect(lvm["internal"] as? Bool == true && lvm["lv"] as? String == "r-1" && (lvm["component"] as! String).hasPrefix("r"))
        }
        // A thin volume: its pool's -tpool layer under it, the pool's data and metadata under that.
        let thin = try #require(forest.first { $0["name"] as? String == "gt-tree/th" }, "\(forest.map { $0["name"] as? String ?? "?" })")
        let tpool = try #require((thin["children"] as! [[String: Any]]).first)
        #expect(tpool["name"] as? String == "gt-tree/po-ol:tpool")
        #expect(Set((tpool["children"] as! [[String: Any]]).map { $0["name"] as! String }) == ["gt-tree/po-ol:tdata", "gt-tree/po-ol:tmeta"])
        #expect(forest.contains { $0["name"] as? String == "gt-tree/po-ol" })
        // Internal parts are never roots.
        #expect(!forest.contains { ($0["lvm"] as? [String: Any])?["internal"] as? Bool == true })
        #expect(Self.nodes(forest).filter { ($0["name"] as! String).hasPrefix("gt-tree/") }.count >= 6)
        let text = try Live.sh("\(Live.dmstack) tree gt-tree/r-1")
        #expect(text.contains("gt-tree/r-1:rmeta_1") && text.contains(String(pvs[1].dropFirst(5))), "\(text)")
        let byPath = try Live.json("tree --json /dev/gt-tree/lin")["tree"] as! [[String: Any]]
        #expect(byPath.map { $0["name"] as! String } == ["gt-tree/lin"])
        let onLV = try Live.json("simulate --json gt-tree/lin --range 0+8")["impact"] as! [String: Any]
        #expect(onLV["leaf"] as? String == "gt-tree/lin")

        let refused = try TestProcess.shell("\(Live.dmstack) remove --dry-run \(pvs[2])")
        #expect(refused.status != 0)
        for words in ["gt-tree/lin", "pvmove \(pvs[2])", "vgreduce gt-tree \(pvs[2])", "lvchange -an gt-tree/lin", "vgchange -an gt-tree"] {
            #expect(refused.stderr.contains(words), "\(words): \(refused.stderr)")
        }
        let leg = try TestProcess.shell("\(Live.dmstack) remove --dry-run \(pvs[1])")
        #expect(leg.status == 0, "\(leg.stderr)")
        #expect(leg.stdout.contains("lvconvert --repair gt-tree/r-1"), "\(leg.stdout)")
    }
}
