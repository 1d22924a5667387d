import StackModel
import Testing

/// md arrays as layers (`md-<level>` table lines, MdArray.swift): the words print back as
/// read, and the geometry of each personality matches examples worked out by hand from the
/// kernel's own descriptions (md.rst, mdadm(8)'s layout pictures, raid10.c's comments), with
/// per-member data offsets; failed members turn degraded into lost; a reshape is unknown.
@Suite("md arrays")
struct MdArrayTests {
    /// An md table line: `members` as (slot, device, offset, sectors, state).
    func line(_ level: String, layout: Int = 0, chunk: UInt64 = 8, component: UInt64 = 64, disks: Int, length: UInt64,
              reshape: String = "none", _ members: [(String, String, UInt64, UInt64, String)]) -> String {
        "0 \(length) md-\(level) \(layout) \(chunk) \(component) \(disks) \(reshape) \(members.count) "
            + members.map { "\($0.0) \($0.1) \($0.2) \($0.3) \($0.4)" }.joined(separator: " ")
    }

    func healthy(_ n: Int, offsets: [UInt64]? = nil, sectors: UInt64 = 64) -> [(String, String, UInt64, UInt64, String)] {
        (0..<n).map { ("\($0)", "/dev/m\($0)", offsets?[$0] ?? 2048, sectors, "in_sync") }
    }

    @Test(arguments: [
        "0 128 md-raid5 2 8 64 3 none 4 0 7:0 2048 64 in_sync 1 7:1 2048 64 in_sync 2 7:2 4096 64 in_sync,write_mostly none 7:3 2048 64 spare",
        "0 128 md-raid1 0 0 128 2 none 2 0 7:0 2048 128 in_sync none 7:1 2048 128 faulty",
        "0 96 md-raid0 2 8 0 3 none 3 0 7:0 2048 24 in_sync 1 7:1 2048 64 in_sync 2 7:2 2048 64 in_sync",
        "0 64 md-raid0 -1 8 32 2 none 2 0 7:0 2048 32 in_sync 1 7:1 2048 32 in_sync",
        "0 128 md-raid10 258 8 64 4 1024 4 0 7:0 0 64 in_sync 1 7:1 0 64 in_sync 2 7:2 0 64 - 3 7:3 0 64 in_sync",
        "0 64 md-raid6 2 8 32 4 none 5 0 7:0 8 32 in_sync 1 7:1 8 32 in_sync 2 7:2 8 32 in_sync 3 7:3 8 32 in_sync journal 7:4 8 32 journal",
    ])
    func tableWordsPrintBackAsRead(_ text: String) throws {
        let target = try TableSet.parse(text).tables[TableSet.unnamedDevice]!.targets[0]
        #expect(target.line == text)
    }

    @Test func refusesWhatSysfsCannotSay() {
        #expect(throws: TableParseError.self) { try TableSet.parse("0 64 md-raid1 0 0 64 2 none 1 2 7:0 0 64 in_sync") }
        #expect(throws: TableParseError.self) { try TableSet.parse("0 64 md-raid1 0 0 64 2 none 2 0 7:0 0 64 in_sync 0 7:1 0 64 in_sync") }
        #expect(throws: TableParseError.self) { try TableSet.parse("0 64 md-raid1 0 0 64 2 sideways 1 0 7:0 0 64 in_sync") }
    }

    /// raid1.c: every in-sync leg holds the array sector at its own data offset.
    @Test func raid1LegsAtTheirOwnOffsets() throws {
        let t = try translator(line("raid1", chunk: 0, component: 64, disks: 2, length: 64, healthy(2, offsets: [2048, 4096])))
        let m = try leafSectors(t, "top", SectorRange(start: 10, length: 1))
        #expect(m[10]?.sorted() == ["m0:2058", "m1:4106"])
        #expect(summary(try t.up(from: "/dev/m1", SectorRange(start: 4106, length: 1))) == ["top 10+1 degraded"])
    }

    /// mdadm(8) left-symmetric on 3 disks: `D0 D1 P / D3 P D2 / P D4 D5`.
    @Test func raid5LeftSymmetric() throws {
        let t = try translator(line("raid5", layout: 2, disks: 3, length: 128, healthy(3)))
        let m = try leafSectors(t, "top", SectorRange(start: 0, length: 48))
        let want = [0: "m0:2048", 8: "m1:2048", 16: "m2:2056", 24: "m0:2056", 32: "m1:2064", 40: "m2:2064"]
        for (s, w) in want { #expect(m[UInt64(s)] == [w], "array sector \(s)") }
    }

    /// md's own raid4 (level 4) keeps parity on the last disk (raid5.c: `case 4: pd_idx = data_disks`).
    @Test func raid4ParityOnTheLastDisk() throws {
        let t = try translator(line("raid4", layout: 0, disks: 3, length: 128, healthy(3)))
        let m = try leafSectors(t, "top", SectorRange(start: 0, length: 32))
        #expect(m[0] == ["m0:2048"] && m[8] == ["m1:2048"] && m[16] == ["m0:2056"] && m[24] == ["m1:2056"])
        let rows = try t.down(from: "top", SectorRange(start: 0, length: 1))
        #expect(rows.contains { $0.device == "m2" && $0.start == 2048 && $0.kind == .parity })
    }

    /// raid6 left-symmetric on 4 disks (raid5.c: P rotates backwards from the last disk, Q follows it).
    @Test func raid6LeftSymmetric() throws {
        let t = try translator(line("raid6", layout: 2, disks: 4, length: 64, healthy(4)))
        let m = try leafSectors(t, "top", SectorRange(start: 0, length: 32))
        // stripe 0: P on disk 3, Q on 0, data on 1, 2; stripe 1: P on 2, Q on 3, data on 0, 1.
        #expect(m[0] == ["m1:2048"] && m[8] == ["m2:2048"] && m[16] == ["m0:2056"] && m[24] == ["m1:2056"])
    }

    /// raid10.c near=2 on 4 disks: chunk 0 on disks 0 and 1, chunk 1 on 2 and 3, chunk 2 on 0 and 1 one chunk down.
    @Test func raid10Near() throws {
        let t = try translator(line("raid10", layout: 0x102, disks: 4, length: 128, healthy(4, offsets: [0, 0, 0, 0])))
        let m = try leafSectors(t, "top", SectorRange(start: 0, length: 24))
        #expect(m[0]?.sorted() == ["m0:0", "m1:0"] && m[8]?.sorted() == ["m2:0", "m3:0"]
                && m[16]?.sorted() == ["m0:8", "m1:8"])
    }

    /// raid10.c far=2 on 2 disks of 64 sectors: the far copy half a device down (stride 32),
    /// on the next disk; offset=2: the copy in the next chunk row.
    @Test func raid10FarAndOffset() throws {
        let far = try translator(line("raid10", layout: 0x201, disks: 2, length: 64, healthy(2, offsets: [0, 0])))
        let f = try leafSectors(far, "top", SectorRange(start: 0, length: 16))
        #expect(f[0]?.sorted() == ["m0:0", "m1:32"] && f[8]?.sorted() == ["m0:32", "m1:0"])
        let offset = try translator(line("raid10", layout: 0x10201, disks: 2, length: 64, healthy(2, offsets: [0, 0])))
        let o = try leafSectors(offset, "top", SectorRange(start: 0, length: 24))
        #expect(o[0]?.sorted() == ["m0:0", "m1:8"] && o[8]?.sorted() == ["m0:8", "m1:0"]
                && o[16]?.sorted() == ["m0:16", "m1:24"])
        #expect(summary(try far.up(from: "/dev/m1", SectorRange(start: 32, length: 8))) == ["top 0+8 degraded"])
    }

    /// raid0 with equal members stripes chunks round-robin from each data offset.
    @Test func raid0OneZone() throws {
        let t = try translator(line("raid0", disks: 2, length: 128, healthy(2)))
        let m = try leafSectors(t, "top", SectorRange(start: 0, length: 24))
        #expect(m[0] == ["m0:2048"] && m[8] == ["m1:2048"] && m[16] == ["m0:2056"])
        #expect(summary(try t.up(from: "/dev/m1", SectorRange(start: 2048, length: 1))) == ["top 8+1 lost"])
    }

    /// raid0.c zones: members of 24, 64 and 64 sectors give zone 0 (3 devices, array 0..<72)
    /// and zone 1 (devices 1 and 2 from their sector 24, array 72..<152). Zone 1 starts at
    /// chunk 9: the original layout picks the device from the array chunk (9 % 2 → slot 2),
    /// the alternate one from the chunk inside the zone (0 → slot 1).
    @Test(arguments: [(1, "m2:2072", "m1:2072", "m1:2111"), (2, "m1:2072", "m2:2072", "m2:2111")])
    func raid0Zones(layout: Int, first: String, second: String, last: String) throws {
        let members = [("0", "/dev/m0", UInt64(2048), UInt64(24), "in_sync"), ("1", "/dev/m1", 2048, 64, "in_sync"), ("2", "/dev/m2", 2048, 64, "in_sync")]
        let t = try translator(line("raid0", layout: layout, disks: 3, length: 152, members))
        let m = try leafSectors(t, "top", SectorRange(start: 0, length: 152))
        #expect(m[64] == ["m2:2064"] && m[72] == [first] && m[80] == [second] && m[151] == [last])
        #expect(m.count == 152)
        // Up is the inverse, sector for sector.
        for (sector, places) in m {
            let p = places[0].split(separator: ":")
            let rows = try t.up(from: String(p[0]), SectorRange(start: UInt64(p[1])!, length: 1))
            #expect(rows.map(\.start) == [sector], "\(places[0])")
        }
        let unset = try translator(line("raid0", layout: 0, disks: 3, length: 152, members))
        #expect(try unset.down(from: "top", SectorRange(start: 0, length: 1)).allSatisfy { $0.outcome == .unknown })
    }

    /// md-linear.c: the members one after the other, each from its data offset.
    @Test func linearConcatenates() throws {
        let members = [("0", "/dev/m0", UInt64(100), UInt64(40), "in_sync"), ("1", "/dev/m1", 200, 64, "in_sync")]
        let t = try translator(line("linear", chunk: 0, component: 0, disks: 2, length: 104, members))
        let m = try leafSectors(t, "top", SectorRange(start: 0, length: 104))
        #expect(m[0] == ["m0:100"] && m[39] == ["m0:139"] && m[40] == ["m1:200"] && m[103] == ["m1:263"])
        #expect(summary(try t.up(from: "/dev/m1", SectorRange(start: 210, length: 2))) == ["top 50+2 lost"])
    }

    /// A leg sector is degraded while another in-sync leg remains, lost once the array has
    /// already lost that leg (faulty, removed, or still being rebuilt); a spare backs nothing.
    @Test func failedMembersTurnDegradedIntoLost() throws {
        let whole = try translator(line("raid5", layout: 2, disks: 3, length: 128, healthy(3)))
        #expect(summary(try whole.up(from: "/dev/m0", SectorRange(start: 2048, length: 8))) == ["top 0+8 degraded"])
        for other in ["none /dev/m2 2048 64 faulty", "2 /dev/m2 2048 64 -", "none /dev/m3 2048 64 spare"] {
            let text = "0 128 md-raid5 2 8 64 3 none 3 0 /dev/m0 2048 64 in_sync 1 /dev/m1 2048 64 in_sync \(other)"
            let t = try translator(text)
            #expect(summary(try t.up(from: "/dev/m0", SectorRange(start: 2048, length: 8))) == ["top 0+8 lost"], "\(other)")
        }
        let mirror = try translator("0 64 md-raid1 0 0 64 2 none 2 0 /dev/m0 2048 64 in_sync none /dev/m1 2048 64 faulty")
        #expect(summary(try mirror.up(from: "/dev/m0", SectorRange(start: 2050, length: 1))) == ["top 2+1 lost"])
        #expect(try mirror.up(from: "/dev/m1", SectorRange(start: 2050, length: 1)).isEmpty)
    }

    /// A degraded raid5 loses the missing disk's chunk when its row's parity goes.
    @Test func degradedRaid5LosesTheMissingChunkWithItsParity() throws {
        // Left-symmetric, 3 disks: row 0 is D0 (m0) D1 (m1) P (m2); m0 is missing.
        let t = try translator("0 128 md-raid5 2 8 64 3 none 2 1 /dev/m1 2048 64 in_sync 2 /dev/m2 2048 64 in_sync")
        let rows = try t.up(from: "/dev/m2", SectorRange(start: 2048, length: 1))
        #expect(rows.contains { $0.start == 0 && $0.outcome == .lost }, "\(summary(rows)) \(rows.map { $0.reason ?? "" })")
        #expect(!rows.contains { $0.start == 8 && $0.outcome == .lost }, "\(summary(rows))")
    }

    /// raid0 and linear have no copies to lose: an array missing a slot is unknown, not "nothing lost".
    @Test func aStripedArrayMissingASlotIsUnknown() throws {
        for level in ["raid0", "linear"] {
            let t = try translator("0 128 md-\(level) 0 8 64 2 none 1 0 /dev/m0 2048 64 in_sync")
            let rows = try t.up(from: "/dev/m0", SectorRange(start: 2048, length: 8))
            #expect(!rows.isEmpty && rows.allSatisfy { $0.outcome == .unknown && ($0.reason ?? "").contains("slot 1") }, "\(level): \(summary(rows))")
        }
    }

    @Test func reshapeIsUnknownWithTheReason() throws {
        let t = try translator(line("raid5", layout: 2, disks: 3, length: 128, reshape: "64", healthy(3)))
        let rows = try t.up(from: "/dev/m0", SectorRange(start: 2048, length: 8))
        #expect(!rows.isEmpty && rows.allSatisfy { $0.outcome == .unknown && ($0.reason ?? "").contains("reshap") })
        #expect(try t.down(from: "top", SectorRange(start: 0, length: 8)).allSatisfy { $0.outcome == .unknown })
        let odd = try translator(line("raid5", layout: 9, disks: 3, length: 128, healthy(3)))
        #expect(try odd.down(from: "top", SectorRange(start: 0, length: 8)).allSatisfy { $0.outcome == .unknown && ($0.reason ?? "").contains("layout 9") })
    }

    /// The status line: array state, sync action, slot health, members' bad blocks.
    @Test func healthFromTheStatusLine() throws {
        let array = MdArray(level: "raid1", layout: 0, chunkSectors: 0, componentSectors: 64, raidDisks: 2, devices: [
            .init(slot: .index(0), device: "7:0", dataOffset: 2048, sectors: 64, state: ["in_sync"]),
            .init(slot: .none, device: "7:1", dataOffset: 2048, sectors: 64, state: ["faulty"]),
        ])
        let words = array.statusArguments(arrayState: "clean", syncAction: "idle", badBlocks: [MemberRange(device: "7:0", range: SectorRange(start: 2100, length: 8))])
        #expect(words == ["clean", "idle", "AD", "1", "7:0", "2100", "8"])
        let h = MdRaidTarget.health(status: words)
        #expect(h.legs == "AD" && h.failed && h.states == ["degraded"])
        #expect(h.badRanges == [MemberRange(device: "7:0", range: SectorRange(start: 2100, length: 8))])
        #expect(MdRaidTarget.health(status: ["active", "resync", "AA", "0"]).states == ["resync"])
        #expect(MdRaidTarget.health(status: ["clean", "recover", "Aa", "0"]).states == ["recovering"])
        #expect(MdStripeTarget.health(status: ["broken", "-", "AA", "0"]).states == ["failed"])
    }

    /// Monitor: a member's md bad block is a bad range of that member; a failed slot is a
    /// degraded finding, the same one whether md still lists the failed device or removed it.
    @Test func monitorFindsMemberBadBlocksAndDegradedArrays() throws {
        func inventory(_ second: String, legs: String, bad: String) -> Inventory {
            var m0 = BlockDevice(kernelName: "loop0", major: 7, minor: 0, size: 8192)
            var m1 = BlockDevice(kernelName: "loop1", major: 7, minor: 1, size: 8192)
            m0.holders = ["md0"]; m1.holders = ["md0"]
            var md = BlockDevice(kernelName: "md0", major: 9, minor: 0, size: 4096, slaves: ["loop0", "loop1"])
            md.layer = LayerInfo(kind: "md/raid1", table: ["0 4096 md-raid1 0 0 4096 2 none 2 0 7:0 2048 4096 in_sync \(second)"],
                                 status: ["0 4096 md-raid1 clean idle \(legs) \(bad)"])
            return Inventory(SystemSnapshot(host: HostInfo(hostname: "h", kernel: "k", capturedAt: "t", dmstackVersion: "0"),
                                            devices: [m0, m1, md], mounts: [], pmem: PmemInventory()))
        }
        let sick = inventory("1 7:1 2048 4096 in_sync", legs: "AA", bad: "1 7:0 2100 8")
        let loop0 = try sick.device("loop0")
        #expect(sick.monitorFindings(records: [], byId: [:]) == [.badRange(device: "loop0", identity: sick.identity(of: loop0, byId: []), range: SectorRange(start: 2100, length: 8))])
        let md0 = try sick.device("md0")
        #expect(sick.deviceType(md0) == "md/raid1" && sick.tableSummary(md0) == "raid1 2 disks")
        #expect(sick.state(of: md0).isEmpty)
        let failed = inventory("none 7:1 2048 4096 faulty", legs: "AD", bad: "0")
        let findings = failed.monitorFindings(records: [], byId: [:])
        #expect(findings.count == 1)
        if case .degraded(let device, _, let health, let members) = findings.first {
            #expect(device == "md0" && health == "AD" && members == ["loop0", "loop1"])
        } else { Issue.record("expected a degraded finding, got \(findings)") }
        let failedMd = try failed.device("md0")
        #expect(failed.state(of: failedMd) == ["degraded"])
    }
}
