import StackModel
import Testing

/// Paths through stacks of any depth, partitions included, every path kept.
@Suite("Composition across layers")
struct CompositionTests {
    static let deep = """
        sda1: 0 409600 partition /dev/sda 2048
        sdb1: 0 409600 partition /dev/sdb 2048
        legA: 0 204800 linear /dev/sda1 1000
        legB: 0 204800 linear /dev/sdb1 0
        mirror: 0 204800 raid raid1 1 0 2 - /dev/mapper/legA - /dev/mapper/legB
        secret: 0 204792 crypt aes-xts-plain64 :64:logon:k 0 /dev/mapper/mirror 8
        fs: 0 100000 linear /dev/mapper/secret 100000
        other: 0 2048 linear /dev/sda 0
        """

    @Test func fiveLayersFromDiskToTop() throws {
        let t = try translator(Self.deep)
        // sda 2048+1000+100008+5 → sda1 101008 → legA 100008 → mirror 100008 → secret 100000 → fs 0
        let rows = try t.up(from: "/dev/sda", SectorRange(start: 2048 + 1000 + 100_008, length: 5))
        #expect(rows.count == 1)
        let r = rows[0]
        #expect(r.device == "fs" && r.start == 0 && r.length == 5 && r.outcome == .degraded)
        #expect(r.path.map(\.device) == ["sda", "sda1", "legA", "mirror", "secret", "fs"])
        #expect(r.path.map(\.start) == [103_056, 101_008, 100_008, 100_008, 100_000, 0])
        #expect(r.path.compactMap(\.target) == ["partition", "linear", "raid", "crypt", "linear"])
        // And down again: both legs, each on its own disk.
        let down = try t.down(from: "fs", SectorRange(start: 0, length: 5))
        #expect(down.map { "\($0.device):\($0.start)" } == ["sda:103056", "sdb:102056"])
        #expect(down.allSatisfy { $0.outcome == .degraded && $0.path.count == 6 })
    }

    @Test func severalVolumesOnOneLeafAllAppear() throws {
        let t = try translator(Self.deep)
        // Pieces that no device above uses end at the last device that has them.
        let rows = try t.up(from: "sda", SectorRange(start: 0, length: 3048))
        #expect(summary(rows) == ["other 0+2048 lost", "sda1 0+1000 lost"])
        let both = try t.up(from: "sda", SectorRange(start: 2040, length: 1200))
        // sda 3048+192 → sda1 1000+192 → legA 0+192 → mirror 0+192 → secret 0+184, which fs
        // does not use (it starts at 100000): secret is the top of that piece.
        #expect(summary(both) == ["mirror 0+8 degraded", "other 2040+8 lost", "sda1 0+1000 lost", "secret 0+184 degraded"])
    }

    @Test func bothLegsLostThroughDifferentDepths() throws {
        let t = try translator(Self.deep)
        var a = Damage(), b = Damage()
        a.lost.insert(SectorRange(start: 0, length: 1 << 20))
        b.lost.insert(SectorRange(start: 2048 + 50_000, length: 10))
        let damage = t.propagate([try t.topology.resolve("sda"): a, try t.topology.resolve("sdb"): b])
        let fs = damage[try t.topology.resolve("fs")]!
        // mirror 50000+10 → secret 49992+10: below fs's window (secret 100000+), so fs is only degraded.
        #expect(fs.lost.isEmpty && fs.degraded.ranges == [SectorRange(start: 0, length: 100_000)])
        let secret = damage[try t.topology.resolve("secret")]!
        #expect(secret.lost.ranges == [SectorRange(start: 49_992, length: 10)])
    }
}

/// Paths through a raid leg's metadata device: losing any of it fails the whole leg (dm-raid),
/// so the rows above run the whole array while the hops below stay inside the metadata device.
@Suite("Paths through raid metadata")
struct RaidMetadataPathTests {
    // As lvm lays out a raid1 leg: an 8192-sector rmeta, then the rimage, on one PV.
    static let lvmRaid1 = """
        vg-lv_rmeta_0: 0 8192 linear /dev/loop8 2048
        vg-lv_rimage_0: 0 65536 linear /dev/loop8 10240
        vg-lv_rmeta_1: 0 8192 linear /dev/loop9 2048
        vg-lv_rimage_1: 0 65536 linear /dev/loop9 10240
        vg-lv: 0 65536 raid raid1 3 0 region_size 1024 2 253:0 253:1 253:2 253:3
        top: 0 30000 linear /dev/mapper/vg-lv 1000
        """

    /// Seen in the VM: `loop9 75776+64760 → rw11-lv_rmeta_1 0+64760` for an 8192-sector rmeta,
    /// when a linear above the raid narrowed every hop of the path by the same shift.
    @Test func hopsBelowAMetadataDeviceStayInsideIt() throws {
        let t = Translator(try Topology(tables: try TableSet.parse(Self.lvmRaid1),
                                        aliases: ["253:0": "vg-lv_rmeta_0", "253:1": "vg-lv_rimage_0", "253:2": "vg-lv_rmeta_1", "253:3": "vg-lv_rimage_1"]))
        // From inside rmeta_1 to well into rimage_1.
        let rows = try t.up(from: "loop9", SectorRange(start: 6000, length: 40000))
        let sizes = ["loop9": UInt64(1 << 20), "vg-lv_rmeta_1": 8192, "vg-lv_rimage_1": 65536, "vg-lv": 65536, "top": 30000]
        for row in rows {
            for hop in row.path {
                #expect(hop.start + hop.length <= sizes[hop.device]!, "\(hop.device) \(hop.start)+\(hop.length) in \(summary([row]))")
            }
        }
        let viaMeta = rows.filter { $0.path.contains { $0.device == "vg-lv_rmeta_1" } }
        #expect(!viaMeta.isEmpty)
        for row in viaMeta {
            #expect(row.path[0].device == "loop9" && row.path[0].start == 6000 && row.path[0].length == 2048 + 8192 - 6000)
            #expect(row.path[1].start == 6000 - 2048 && row.path[1].length == 2048 + 8192 - 6000)
        }
        #expect(summary(rows).allSatisfy { $0.hasSuffix("degraded") })
        #expect(viaMeta.contains { $0.device == "top" && $0.path.map(\.device) == ["loop9", "vg-lv_rmeta_1", "vg-lv", "top"] && $0.path[2].start == 1000 })
    }
}
