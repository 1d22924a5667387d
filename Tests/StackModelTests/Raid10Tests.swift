import Foundation
import StackModel
import Testing

/// md raid10 copy placement, checked against the layouts as md(4) describes them: near copies
/// fill consecutive slots of a row-major grid; far copies repeat the striped image in later
/// bands of each device, rotated by one device per band within a far set; offset copies
/// repeat each row rotated in the next rows.
@Suite("raid10")
struct Raid10Tests {
    func table(_ disks: Int, _ copies: Int, _ format: String, chunk: UInt64, length: UInt64, nearSets: Bool = false) -> String {
        let legs = (0..<disks).map { "- /dev/d\($0)" }.joined(separator: " ")
        let params = nearSets ? "6 \(chunk) raid10_copies \(copies) raid10_format \(format) raid10_use_near_sets" : "5 \(chunk) raid10_copies \(copies) raid10_format \(format)"
        return "0 \(length) raid raid10 \(params) \(disks) \(legs)"
    }

    func copies(_ t: Translator, _ sector: UInt64) throws -> Set<String> {
        Set(try t.down(from: "top", SectorRange(start: sector, length: 1)).map { "\($0.device):\($0.start)" })
    }

    @Test(arguments: [(2, 2), (3, 2), (4, 2), (5, 3), (4, 3), (6, 2)])
    func nearLayout(disks: Int, copies nc: Int) throws {
        let chunk: UInt64 = 8
        // A length whose per-device size is a whole number of rows.
        let rows = UInt64(6 * nc)
        let length = UInt64(disks) * rows * chunk / UInt64(nc)
        let t = try translator(table(disks, nc, "near", chunk: chunk, length: length))
        for a in stride(from: 0, to: length, by: 3) {
            let c = a / chunk, off = a % chunk
            var want = Set<String>()
            for k in 0..<UInt64(nc) {
                let slot = c * UInt64(nc) + k
                want.insert("d\(slot % UInt64(disks)):\((slot / UInt64(disks)) * chunk + off)")
            }
            #expect(try copies(t, a) == want, "near \(nc) on \(disks): sector \(a)")
        }
    }

    /// Far and offset with far sets of `copies` devices (dm-raid's default) or one set of all
    /// devices (raid10_use_near_sets); `disks` divisible by the set size here.
    @Test(arguments: [(4, 2, false), (6, 3, false), (6, 2, false), (3, 2, true), (5, 3, true), (4, 2, true)])
    func farAndOffsetLayouts(disks: Int, copies fc: Int, nearSets: Bool) throws {
        let chunk: UInt64 = 8
        let rows: UInt64 = 5
        let length = UInt64(disks) * rows * chunk
        let setSize = nearSets ? disks : fc
        let far = try translator(table(disks, fc, "far", chunk: chunk, length: length, nearSets: nearSets))
        let offset = try translator(table(disks, fc, "offset", chunk: chunk, length: length, nearSets: nearSets))
        let band = length / UInt64(disks) // one band: the striped image's rows
        for a in stride(from: 0, to: length, by: 5) {
            let c = a / chunk, off = a % chunk
            let d = Int(c % UInt64(disks)), row = c / UInt64(disks)
            let setStart = d / setSize * setSize
            var wantFar = Set<String>(), wantOffset = Set<String>()
            for k in 0..<fc {
                let disk = setStart + (d - setStart + k) % setSize
                wantFar.insert("d\(disk):\(UInt64(k) * band + row * chunk + off)")
                wantOffset.insert("d\(disk):\((row * UInt64(fc) + UInt64(k)) * chunk + off)")
            }
            #expect(try copies(far, a) == wantFar, "far \(fc) on \(disks) sets \(setSize): sector \(a)")
            #expect(try copies(offset, a) == wantOffset, "offset \(fc) on \(disks) sets \(setSize): sector \(a)")
        }
    }

    /// Every copy of every sector maps back up to that sector (raid10_find_virt), for uneven
    /// far sets too (the last set takes the remainder).
    @Test(arguments: ["near", "far", "offset"], [(5, 2), (7, 3), (4, 4), (7, 2)])
    func everyCopyMapsBack(format: String, shape: (Int, Int)) throws {
        let (disks, copies) = shape
        let chunk: UInt64 = 16
        let length = UInt64(disks) * 4 * chunk
        let t = try translator(table(disks, copies, format, chunk: chunk, length: length))
        for a in stride(from: 0, to: length, by: 7) {
            let rows = try t.down(from: "top", SectorRange(start: a, length: 1))
            #expect(rows.count == copies, "\(format) sector \(a): \(rows.count) copies")
            #expect(Set(rows.map(\.device)).count == copies, "\(format) sector \(a): copies share a device")
            for r in rows {
                let up = try t.up(from: r.device, r.range)
                #expect(up.map(\.start) == [a], "\(format) \(disks)x\(copies): \(r.device):\(r.start) → \(up.map(\.start)) not \(a)")
                #expect(up.allSatisfy { $0.outcome == .degraded })
            }
        }
    }

    /// near 2 on 4 devices puts chunk 0 on d0 and d1, chunk 1 on d2 and d3: with d0 and d1
    /// both partitions of one disk, losing that disk loses chunks 0, 2, 4, ... and degrades
    /// nothing else (the raid uses 32 sectors of each 1000-sector partition; the rest of
    /// each is lost with nothing above it).
    @Test func losingAllCopiesLoses() throws {
        let t = try translator("""
            top: 0 64 raid raid10 3 8 raid10_copies 2 4 - /dev/d0 - /dev/d1 - /dev/d2 - /dev/d3
            d0: 0 1000 partition /dev/x 0
            d1: 0 1000 partition /dev/x 1000
            """)
        let rows = try t.up(from: "x", SectorRange(start: 0, length: 2000))
        #expect(Set(summary(rows)) == ["top 0+8 lost", "top 16+8 lost", "top 32+8 lost", "top 48+8 lost", "d0 32+968 lost", "d1 32+968 lost"])
        let half = try t.up(from: "x", SectorRange(start: 0, length: 1000))
        #expect(Set(summary(half)) == ["top 0+8 degraded", "top 16+8 degraded", "top 32+8 degraded", "top 48+8 degraded", "d0 32+968 lost"])
    }
}
