import StackModel
import Testing

/// Striped and raid4/5/6 translation checked sector by sector against independent
/// implementations: dealing chunks out round-robin, and the layouts as md documents them
/// (which disk holds parity, and in what order data follows), not raid5.c's arithmetic.
@Suite("Striped and parity raid")
struct StripedRaidTests {
    /// Deals chunks round-robin, keeping a write cursor per stripe.
    func referenceStriped(length: UInt64, chunk: UInt64, stripes: Int, offsets: [UInt64]) -> [UInt64: String] {
        var cursor = offsets
        var out: [UInt64: String] = [:]
        var array: UInt64 = 0
        var disk = 0
        while array < length {
            for o in 0..<chunk { out[array + o] = "s\(disk):\(cursor[disk] + o)" }
            cursor[disk] += chunk
            array += chunk
            disk = (disk + 1) % stripes
        }
        return out
    }

    @Test(arguments: [(2, 8), (3, 7), (4, 128), (5, 3), (1, 5), (7, 24)])
    func stripedMatchesRoundRobin(stripes: Int, chunk: UInt64) throws {
        let length = UInt64(stripes) * chunk * 11
        let offsets = (0..<stripes).map { UInt64($0 * 1000 + 17) }
        let members = (0..<stripes).map { "/dev/s\($0) \(offsets[$0])" }.joined(separator: " ")
        let t = try translator("0 \(length) striped \(stripes) \(chunk) \(members)")
        let mapped = try leafSectors(t, "top", SectorRange(start: 0, length: length))
        let expected = referenceStriped(length: length, chunk: chunk, stripes: stripes, offsets: offsets)
        #expect(mapped.count == expected.count)
        for (sector, want) in expected { #expect(mapped[sector] == [want], "sector \(sector)") }
    }

    /// dm-stripe.rst's example `0 1028160 striped 2 256 /dev/hda 0 /dev/hdb 0` is refused by
    /// the kernel itself (stripe_ctr: 514080 sectors per stripe is not a multiple of 256), so
    /// dmstack refuses it too; one chunk row less is accepted.
    @Test func documentationExample() throws {
        #expect(throws: TableParseError.self) { try TableSet.parse("0 1028160 striped 2 256 /dev/hda 0 /dev/hdb 0") }
        let t = try translator("0 1027584 striped 2 256 /dev/hda 0 /dev/hdb 0")
        #expect(summary(try t.down(from: "top", SectorRange(start: 256, length: 10))).count == 1)
        let rows = try t.down(from: "top", SectorRange(start: 256, length: 10))
        #expect(rows[0].device == "hdb" && rows[0].start == 0)
        let rows2 = try t.down(from: "top", SectorRange(start: 512, length: 1))
        #expect(rows2[0].device == "hda" && rows2[0].start == 256)
    }

    /// A parity row as md documents the layouts: the parity disk(s) and the data disks in
    /// the order the stripe's chunks fill them.
    struct Row { var data: [Int]; var p: Int; var q: Int? }

    static func cyclic(from start: Int, count: Int, modulo n: Int) -> [Int] { (0..<count).map { (start + $0) % n } }

    static func raid5Row(_ layout: String, n: Int, stripe s: Int) -> Row {
        let ascending = { (skip: Set<Int>) in (0..<n).filter { !skip.contains($0) } }
        switch layout {
        case "la": let p = n - 1 - s % n; return Row(data: ascending([p]), p: p)
        case "ra": let p = s % n; return Row(data: ascending([p]), p: p)
        case "ls": let p = n - 1 - s % n; return Row(data: cyclic(from: p + 1, count: n - 1, modulo: n), p: p)
        case "rs": let p = s % n; return Row(data: cyclic(from: p + 1, count: n - 1, modulo: n), p: p)
        case "0": return Row(data: Array(1..<n), p: 0)
        case "n": return Row(data: Array(0..<(n - 1)), p: n - 1)
        default: fatalError("layout \(layout)")
        }
    }

    static func raid6Row(_ layout: String, n: Int, stripe s: Int) -> Row {
        let ascending = { (skip: Set<Int>) in (0..<n).filter { !skip.contains($0) } }
        switch layout {
        case "la": let p = n - 1 - s % n, q = (p + 1) % n; return Row(data: ascending([p, q]), p: p, q: q)
        case "ra", "zr": let p = s % n, q = (p + 1) % n; return Row(data: ascending([p, q]), p: p, q: q)
        case "nr": let p = n - 1 - (s + 1) % n, q = (p + 1) % n; return Row(data: ascending([p, q]), p: p, q: q)
        case "ls": let p = n - 1 - s % n; return Row(data: cyclic(from: p + 2, count: n - 2, modulo: n), p: p, q: (p + 1) % n)
        case "rs": let p = s % n; return Row(data: cyclic(from: p + 2, count: n - 2, modulo: n), p: p, q: (p + 1) % n)
        case "nc": let p = n - 1 - s % n; return Row(data: cyclic(from: p + 1, count: n - 2, modulo: n), p: p, q: (p + n - 1) % n)
        case "n": return Row(data: Array(0..<(n - 2)), p: n - 2, q: n - 1)
        default:
            // The _6 layouts: Q on the last disk, P and data as raid5 over the others.
            let r = raid5Row(String(layout.dropLast(2)), n: n - 1, stripe: s)
            return Row(data: r.data, p: r.p, q: n - 1)
        }
    }

    static let raid5Types = [("raid4", "0"), ("raid5_n", "n"), ("raid5_la", "la"), ("raid5_ra", "ra"), ("raid5_ls", "ls"), ("raid5_rs", "rs")]
    static let raid6Types = [("raid6_zr", "zr"), ("raid6_nr", "nr"), ("raid6_nc", "nc"), ("raid6_n_6", "n"),
                             ("raid6_la_6", "la_6"), ("raid6_ra_6", "ra_6"), ("raid6_ls_6", "ls_6"), ("raid6_rs_6", "rs_6")]

    func checkParityLayout(type: String, layout: String, level: Int, disks: Int, chunk: UInt64, dataOffset: UInt64) throws {
        let dataDisks = disks - (level == 6 ? 2 : 1)
        let rowsCount = 2 * disks + 1
        let length = UInt64(dataDisks * rowsCount) * chunk
        let legs = (0..<disks).map { "- /dev/d\($0)" }.joined(separator: " ")
        let params = dataOffset > 0 ? "3 \(chunk) data_offset \(dataOffset)" : "1 \(chunk)"
        let t = try translator("0 \(length) raid \(type) \(params) \(disks) \(legs)")
        let rows = try t.down(from: "top", SectorRange(start: 0, length: length)).flatMap(\.explicitPieces)
        var data: [UInt64: String] = [:], parity: [UInt64: Set<String>] = [:]
        for r in rows {
            for i in 0..<r.length {
                let a = r.path[0].start + i
                if r.kind == .data { data[a] = "\(r.device):\(r.start + i)" } else { parity[a, default: []].insert("\(r.device):\(r.start + i)") }
            }
        }
        for a in 0..<length {
            let chunkNumber = a / chunk, offset = a % chunk
            let stripe = Int(chunkNumber / UInt64(dataDisks))
            let row = level == 6 ? Self.raid6Row(layout, n: disks, stripe: stripe) : Self.raid5Row(layout, n: disks, stripe: stripe)
            let disk = row.data[Int(chunkNumber % UInt64(dataDisks))]
            let deviceSector = dataOffset + UInt64(stripe) * chunk + offset
            #expect(data[a] == "d\(disk):\(deviceSector)", "\(type) \(disks) disks: array sector \(a)")
            var wantParity: Set<String> = ["d\(row.p):\(deviceSector)"]
            if let q = row.q { wantParity.insert("d\(q):\(deviceSector)") }
            #expect(parity[a] == wantParity, "\(type) \(disks) disks: parity of array sector \(a)")
        }
        // And back: every data sector of every disk maps up to the array sector it holds.
        for disk in 0..<disks {
            let up = try t.up(from: "/dev/d\(disk)", SectorRange(start: dataOffset, length: UInt64(rowsCount) * chunk))
            for r in up.flatMap(\.explicitPieces) where r.kind == .data {
                for i in 0..<r.length {
                    #expect(data[r.start + i] == "d\(disk):\(r.path[0].start + i)", "\(type): up from d\(disk)")
                }
                let holders = Set((0..<r.length).map { data[r.start + $0]! })
                #expect(holders.allSatisfy { $0.hasPrefix("d\(disk):") }, "\(type): up from d\(disk) reached \(holders)")
            }
            let dataCount = up.filter { $0.kind == .data }.reduce(0) { $0 + $1.run.totalLength }
            #expect(dataCount == UInt64(rowsCount) * chunk - UInt64(parityRows(type: type, layout: layout, level: level, disks: disks, rows: rowsCount, disk: disk)) * chunk)
        }
    }

    func parityRows(type: String, layout: String, level: Int, disks: Int, rows: Int, disk: Int) -> Int {
        (0..<rows).filter { s in
            let r = level == 6 ? Self.raid6Row(layout, n: disks, stripe: s) : Self.raid5Row(layout, n: disks, stripe: s)
            return r.p == disk || r.q == disk
        }.count
    }

    @Test(arguments: raid5Types, [2, 3, 4, 5, 6])
    func raid5Layouts(type: (String, String), disks: Int) throws {
        try checkParityLayout(type: type.0, layout: type.1, level: 5, disks: disks, chunk: 8, dataOffset: 0)
    }

    @Test(arguments: raid6Types, [4, 5, 6, 7])
    func raid6Layouts(type: (String, String), disks: Int) throws {
        try checkParityLayout(type: type.0, layout: type.1, level: 6, disks: disks, chunk: 16, dataOffset: 0)
    }

    @Test func dataOffsetShiftsEveryLeg() throws {
        try checkParityLayout(type: "raid5_ls", layout: "ls", level: 5, disks: 4, chunk: 8, dataOffset: 2048)
    }

    /// One leg lost: degraded; a second leg at the same device sectors: lost for raid5,
    /// still degraded for raid6; a third: lost for raid6.
    @Test func parityToleratesMaxDegraded() throws {
        let t = try translator("""
            r5: 0 768 raid raid5_ls 1 128 3 - /dev/p0 - /dev/p1 - /dev/p2
            r6: 0 768 raid raid6_zr 1 128 5 - /dev/p3 - /dev/p4 - /dev/p5 - /dev/p6 - /dev/p7
            /dev/p0: 0 1024 partition /dev/disk 0
            /dev/p1: 0 1024 partition /dev/disk 1024
            /dev/p3: 0 1024 partition /dev/disk 2048
            /dev/p4: 0 1024 partition /dev/disk 3072
            /dev/p5: 0 1024 partition /dev/other 0
            /dev/p6: 0 1024 partition /dev/other 1024
            """)
        let oneLeg = try t.up(from: "/dev/disk", SectorRange(start: 0, length: 256))
        #expect(!oneLeg.isEmpty && oneLeg.allSatisfy { $0.outcome == .degraded })
        // p0 and p1 both gone: every row of r5 loses the data held on them.
        let twoLegs = try t.up(from: "/dev/disk", SectorRange(start: 0, length: 2048)).filter { $0.device == "r5" }
        #expect(twoLegs.filter { $0.kind == .data }.allSatisfy { $0.outcome == .lost })
        #expect(twoLegs.filter { $0.kind == .data }.reduce(0) { $0 + $1.length } == 512)
        // r6 with p3, p4 gone: degraded; with p5 too (other disk) gone as well: lost.
        let r6two = try t.up(from: "/dev/disk", SectorRange(start: 2048, length: 2048)).filter { $0.device == "r6" }
        #expect(!r6two.isEmpty && r6two.allSatisfy { $0.outcome == .degraded })
        var damage = Damage()
        damage.lost.insert(SectorRange(start: 2048, length: 2048))
        var other = Damage()
        other.lost.insert(SectorRange(start: 0, length: 1024))
        let topo = t.topology
        let result = t.propagate([try topo.resolve("disk"): damage, try topo.resolve("other"): other])
        // p3, p4 and p5 all gone: every data chunk held on one of them is lost (3 > 2 tolerated),
        // the chunks on p6 and p7 are only degraded.
        let r6 = result[try topo.resolve("r6")]!
        var expectedLost = SectorSet()
        for row in try t.down(from: "r6", SectorRange(start: 0, length: 768)) where row.kind == .data && ["disk", "other"].contains(row.device) {
            let onLostLeg = row.device == "disk" || row.start < 1024
            if onLostLeg { expectedLost.insert(SectorRange(start: row.path[0].start, length: row.path[0].length)) }
        }
        #expect(!expectedLost.isEmpty && r6.lost == expectedLost)
    }
}
