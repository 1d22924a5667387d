import Testing
@testable import StackModel

extension Translation {
    /// The row as plain rows, one a piece of its run; every hop of its path split into as
    /// many equal parts, in order (a hop whose count divides the row's has each piece split
    /// further: a contiguous leaf range under a run of chunks). Nil when a hop does not split
    /// that way (a path left broader than its row where the layers' runs do not nest).
    var exactPieces: [Translation]? {
        let shapes = [run] + path.map(\.run)
        let n = shapes.map(\.count).max()!
        guard shapes.allSatisfy({ n % $0.count == 0 && $0.length % (n / $0.count) == 0 }) else { return nil }
        func part(_ r: StridedRange, _ j: UInt64) -> SectorRange {
            let sub = n / r.count, len = r.length / sub
            return SectorRange(start: r.start + (j / sub) * r.stride + (j % sub) * len, length: len)
        }
        return (0..<n).map { j in
            var t = self
            let p = part(run, j)
            t.start = p.start; t.length = p.length; t.stride = nil; t.count = nil
            t.path = path.map { hop in
                var h = hop
                let q = part(hop.run, j)
                h.start = q.start; h.length = q.length; h.stride = nil; h.count = nil
                return h
            }
            return t
        }
    }

    /// `exactPieces`, or for a row whose path does not split evenly, its own pieces with the
    /// path as it is.
    var explicitPieces: [Translation] {
        exactPieces ?? run.pieces.map { p in var t = self; t.start = p.start; t.length = p.length; t.stride = nil; t.count = nil; return t }
    }
}

/// Sectors (device sector, kind, and outcome when asked) of rows, expanded.
func sectorSet(_ rows: [Translation], outcomes: Bool = false) -> Set<String> {
    var out = Set<String>()
    for p in rows.flatMap(\.explicitPieces) {
        for i in 0..<p.length { out.insert("\(p.device):\(p.start + i) \(p.kind.rawValue)\(outcomes ? " \(p.outcome.rawValue)" : "")") }
    }
    return out
}

/// For rows whose path splits exactly: each device sector → the start device's sectors.
func sectorMap(_ rows: [Translation]) -> [String: Set<String>] {
    var out: [String: Set<String>] = [:]
    for row in rows {
        guard let pieces = row.exactPieces else { continue }
        for p in pieces where p.kind != .unknown {
            let origin = p.path[0]
            #expect(origin.length == p.length, "a piece and its origin have one length: \(p)")
            for i in 0..<min(p.length, origin.length) { out["\(p.device):\(p.start + i)", default: []].insert("\(origin.device):\(origin.start + i)") }
        }
    }
    return out
}

/// The sectors and kinds of `whole` and `pieces` are the same, and so is where each sector
/// comes from wherever `whole`'s paths are exact.
func expectSame(_ whole: [Translation], _ pieces: [Translation], outcomes: Bool, _ what: String, sourceLocation: SourceLocation) {
    #expect(sectorSet(whole, outcomes: outcomes) == sectorSet(pieces, outcomes: outcomes), "\(what)", sourceLocation: sourceLocation)
    let w = sectorMap(whole), p = sectorMap(pieces)
    for (k, v) in w where p[k] != v {
        Issue.record("\(what): \(k) comes from \(v), per chunk from \(p[k] ?? [])", sourceLocation: sourceLocation)
        break
    }
}

/// A small deterministic generator, so a failing case can be repeated.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("strided translation") struct StridedTranslationTests {
    /// `up` of `range` of `leaf` against the union of `up` of each `step`-sized piece alone:
    /// the same sectors map to the same places (and, when `sameOutcome`, the same outcome).
    func checkUp(_ t: Translator, _ leaf: String, _ range: SectorRange, step: UInt64, sameOutcome: Bool = true,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> [Translation] {
        try checkPieces("up \(leaf) \(range)", range, step: step, sameOutcome: sameOutcome, sourceLocation: sourceLocation) { try t.up(from: leaf, $0) }
    }

    /// The same for `down` of `range` of `top`.
    func checkDown(_ t: Translator, _ top: String, _ range: SectorRange, step: UInt64, sameOutcome: Bool = true,
                   sourceLocation: SourceLocation = #_sourceLocation) throws -> [Translation] {
        try checkPieces("down \(top) \(range)", range, step: step, sameOutcome: sameOutcome, sourceLocation: sourceLocation) { try t.down(from: top, $0) }
    }

    /// `translate` of the whole range against the union of `translate` of its pieces.
    func checkPieces(_ what: String, _ range: SectorRange, step: UInt64, sameOutcome: Bool, sourceLocation: SourceLocation,
                     _ translate: (SectorRange) throws -> [Translation]) throws -> [Translation] {
        let whole = try translate(range)
        var pieces: [Translation] = []
        var s = range.start
        while s < range.end {
            let len = min(step, range.end - s)
            pieces += try translate(SectorRange(start: s, length: len))
            s += len
        }
        expectSame(whole, pieces, outcomes: sameOutcome, what, sourceLocation: sourceLocation)
        return whole
    }

    @Test func stripedLegsEqualThePerChunkTranslation() throws {
        var rng = SplitMix(state: 17)
        for _ in 0..<40 {
            let n = Int.random(in: 2...4, using: &rng)
            let chunk = [8, 16, 24].randomElement(using: &rng)! as UInt64
            let rows = UInt64.random(in: 2...12, using: &rng)
            let offsets = (0..<n).map { _ in UInt64.random(in: 0...40, using: &rng) }
            let legs = (0..<n).map { "/dev/d\($0) \(offsets[$0])" }.joined(separator: " ")
            let length = UInt64(n) * rows * chunk
            let t = try translator("top: 0 \(length) striped \(n) \(chunk) \(legs)")
            for leg in 0..<n {
                // The whole leg, and a window that clips a first and a last chunk.
                let whole = try checkUp(t, "/dev/d\(leg)", SectorRange(start: offsets[leg], length: rows * chunk), step: chunk)
                #expect(whole.count == 1 && whole[0].count == rows && whole[0].outcome == .lost)
                _ = try checkUp(t, "/dev/d\(leg)", SectorRange(start: offsets[leg] + 3, length: rows * chunk - 5), step: chunk)
            }
            let down = try checkDown(t, "top", SectorRange(start: 0, length: length), step: chunk)
            #expect(down.count == n && down.allSatisfy { $0.count == nil && $0.outcome == .lost && $0.path[0].count == rows })
            _ = try checkDown(t, "top", SectorRange(start: 5, length: length - 9), step: chunk)
        }
    }

    @Test func stripedOverStripedAndLinearSegmentsCuttingARun() throws {
        // inner: 2 legs of 8-sector chunks; outer: 3 legs (one is inner) of 24-sector chunks
        // (a stride of 16 against a period of 24: regrouped to their lcm); top: linear
        // segments of odd sizes over outer, cutting its runs.
        let t = try translator("""
            inner: 0 384 striped 2 8 /dev/a 0 /dev/b 0
            outer: 0 1152 striped 3 24 /dev/mapper/inner 0 /dev/c 0 /dev/d 0
            top: 0 100 linear /dev/mapper/outer 7
            top: 100 1001 linear /dev/mapper/outer 107
            """)
        _ = try checkUp(t, "/dev/a", SectorRange(start: 0, length: 192), step: 8)
        _ = try checkUp(t, "/dev/b", SectorRange(start: 1, length: 190), step: 8)
        _ = try checkUp(t, "/dev/c", SectorRange(start: 0, length: 384), step: 24)
        _ = try checkDown(t, "top", SectorRange(start: 0, length: 1101), step: 8)
        _ = try checkDown(t, "outer", SectorRange(start: 0, length: 1152), step: 8)
    }

    @Test func raid5AndRaid6LegsEqualThePerChunkTranslation() throws {
        for (type, disks) in [("raid5_ls", 4), ("raid5_ra", 3), ("raid4", 4), ("raid6_zr", 5), ("raid6_ls_6", 5)] {
            let chunk: UInt64 = 8
            let dataDisks = UInt64(disks - (type.hasPrefix("raid6") ? 2 : 1))
            let rowsCount = UInt64(3 * disks + 2)
            let length = dataDisks * rowsCount * chunk
            let legs = (0..<disks).map { "- /dev/d\($0)" }.joined(separator: " ")
            let t = try translator("top: 0 \(length) raid \(type) 1 \(chunk) \(disks) \(legs)")
            for leg in 0..<disks {
                let up = try checkUp(t, "/dev/d\(leg)", SectorRange(start: 0, length: rowsCount * chunk), step: chunk)
                #expect(up.allSatisfy { $0.outcome == .degraded }, "\(type): one leg is degraded")
                #expect(up.count <= 6 * disks * disks, "\(type): a leg is a few runs, not a row a chunk (\(up.count))")
            }
            _ = try checkDown(t, "top", SectorRange(start: 0, length: length), step: chunk)
        }
    }

    @Test func raid10AndMdArraysEqualThePerChunkTranslation() throws {
        // dm-raid raid10 has no period here: its legs are followed piece by piece.
        let r10 = try translator("top: 0 256 raid raid10 3 8 raid10_copies 2 4 - /dev/d0 - /dev/d1 - /dev/d2 - /dev/d3")
        for leg in 0..<4 { _ = try checkUp(r10, "/dev/d\(leg)", SectorRange(start: 0, length: 128), step: 8) }
        _ = try checkDown(r10, "top", SectorRange(start: 0, length: 256), step: 8)
        // Near copies over an odd number of legs (a period of 3 array chunks), and far copies
        // (no period: piece by piece).
        for params in ["3 8 raid10_copies 2 3", "5 8 raid10_copies 2 raid10_format far 3"] {
            let t = try translator("top: 0 240 raid raid10 \(params) - /dev/d0 - /dev/d1 - /dev/d2")
            for leg in 0..<3 {
                let up = try checkUp(t, "/dev/d\(leg)", SectorRange(start: 0, length: 160), step: 8)
                #expect(up.allSatisfy { $0.outcome == .degraded }, "\(params)")
            }
            _ = try checkDown(t, "top", SectorRange(start: 0, length: 240), step: 8)
        }
        let s: UInt64 = 96
        let md5 = try translator("md: 0 \(2 * s) md-raid5 2 8 \(s) 3 none 3 0 /dev/m0 0 \(s) in_sync 1 /dev/m1 0 \(s) in_sync 2 /dev/m2 0 \(s) in_sync")
        for leg in 0..<3 {
            let up = try checkUp(md5, "/dev/m\(leg)", SectorRange(start: 0, length: s), step: 8)
            #expect(up.allSatisfy { $0.outcome == .degraded })
        }
        _ = try checkDown(md5, "md", SectorRange(start: 0, length: 2 * s), step: 8)
        let md10 = try translator("md: 0 \(2 * s) md-raid10 258 8 \(s) 4 none 4 0 /dev/m0 0 \(s) in_sync 1 /dev/m1 0 \(s) in_sync 2 /dev/m2 0 \(s) in_sync 3 /dev/m3 0 \(s) in_sync")
        for leg in 0..<4 {
            let up = try checkUp(md10, "/dev/m\(leg)", SectorRange(start: 0, length: s), step: 8)
            #expect(up.allSatisfy { $0.outcome == .degraded })
        }
        _ = try checkDown(md10, "md", SectorRange(start: 0, length: 2 * s), step: 8)
        // md raid0 with one zone (a period), with two zones (none), and md linear.
        for text in ["md: 0 \(3 * s) md-raid0 0 8 0 3 none 3 0 /dev/m0 16 \(s) in_sync 1 /dev/m1 0 \(s) in_sync 2 /dev/m2 8 \(s) in_sync",
                     "md: 0 240 md-raid0 2 8 0 3 none 3 0 /dev/m0 0 48 in_sync 1 /dev/m1 0 96 in_sync 2 /dev/m2 0 96 in_sync",
                     "md: 0 240 md-linear 0 0 0 3 none 3 0 /dev/m0 0 48 in_sync 1 /dev/m1 0 96 in_sync 2 /dev/m2 0 96 in_sync"] {
            let t = try translator(text)
            for leg in 0..<3 {
                let up = try checkUp(t, "/dev/m\(leg)", SectorRange(start: 0, length: s + 16), step: 8)
                #expect(!up.isEmpty && up.allSatisfy { $0.outcome == .lost }, "\(text)")
            }
            _ = try checkDown(t, "md", SectorRange(start: 0, length: t.topology.nodes[try t.topology.resolve("md")].size!), step: 8)
        }
        let oneZone = try translator("md: 0 \(3 * s) md-raid0 0 8 0 3 none 3 0 /dev/m0 0 \(s) in_sync 1 /dev/m1 0 \(s) in_sync 2 /dev/m2 0 \(s) in_sync")
        #expect(try oneZone.up(from: "/dev/m1", SectorRange(start: 0, length: s)).map { "\($0.run)" } == ["8+8/24×12"])
    }

    @Test func raid1OverStripedOneLegIsDegradedTwoLegsOnALeafAreLost() throws {
        let t = try translator("""
            s1: 0 256 striped 2 8 /dev/a 0 /dev/b 0
            s2: 0 256 striped 2 8 /dev/c 0 /dev/a 1000
            top: 0 256 raid raid1 1 8 2 - /dev/mapper/s1 - /dev/mapper/s2
            """)
        // One leg of s1 on /dev/b: degraded, as runs.
        let one = try checkUp(t, "/dev/b", SectorRange(start: 0, length: 128), step: 8)
        #expect(one.allSatisfy { $0.outcome == .degraded } && one.count == 1 && one[0].count == 16)
        // /dev/a holds a leg of s1 and a leg of s2: where both legs' chunks hold the same
        // sectors of top, they are lost; elsewhere degraded.
        let both = try t.up(from: "/dev/a", SectorRange(start: 0, length: 2000))
        var lost = Set<UInt64>(), degraded = Set<UInt64>()
        for p in both.flatMap(\.explicitPieces) where p.device == "top" {
            for i in 0..<p.length { if p.outcome == .lost { lost.insert(p.start + i) } else if p.outcome == .degraded { degraded.insert(p.start + i) } }
        }
        // s1 leg 0 is chunks 0, 2, 4...; s2 leg 1 (on /dev/a) is chunks 1, 3, 5...: no
        // sector of top is on both, so none is lost; now put both on the same chunks.
        #expect(lost.isEmpty && degraded.count == 256)
        let same = try translator("""
            s1: 0 256 striped 2 8 /dev/a 0 /dev/b 0
            s2: 0 256 striped 2 8 /dev/a 1000 /dev/c 0
            top: 0 256 raid raid1 1 8 2 - /dev/mapper/s1 - /dev/mapper/s2
            """)
        let rows = try checkUp(same, "/dev/a", SectorRange(start: 0, length: 2000), step: 8, sameOutcome: false)
        let tops = rows.flatMap(\.explicitPieces).filter { $0.device == "top" }
        #expect(!tops.isEmpty && tops.allSatisfy { $0.outcome == .lost }, "two legs on one leaf lose their common sectors")
        #expect(tops.reduce(0) { $0 + $1.length } == 256)
        // Down: each leaf leg alone is degraded.
        let down = try checkDown(t, "top", SectorRange(start: 0, length: 256), step: 8)
        #expect(down.allSatisfy { $0.outcome == .degraded })
    }

    @Test func thinOverStripedFollowsPieceByPieceWithinABound() throws {
        var m = DynamicMappings()
        m.thinPools["pool"] = try ThinPoolMapping.parseThinDump(Array(TargetTranslationTests.thinDump.utf8))
        let tables = """
            data: 0 12800 striped 2 8 /dev/a 0 /dev/b 0
            pool: 0 12800 thin-pool /dev/meta /dev/mapper/data 128 0
            thin1: 0 2048 thin /dev/mapper/pool 1
            thin2: 0 2048 thin /dev/mapper/pool 2
            """
        let t = try translator(tables, mappings: m)
        let whole = try checkUp(t, "/dev/a", SectorRange(start: 0, length: 6400), step: 8)
        #expect(whole.contains { $0.device == "thin1" } && whole.allSatisfy { $0.outcome == .lost })
        // With a bound of 100 pieces the 800 chunks of the leg are not all followed: the rest
        // is unknown and says why, nothing is dropped silently.
        var small = t
        small.pieceLimit = 100
        let bounded = try small.up(from: "/dev/a", SectorRange(start: 0, length: 6400))
        let unknown = bounded.filter { $0.outcome == .unknown }
        #expect(!unknown.isEmpty && unknown.allSatisfy { $0.reason?.contains("more than 100 pieces") == true })
    }

    @Test func aWholeLegOfAPebibyteVolumeIsFourNumbers() throws {
        // issue 17: this aborted allocating 2 GB.
        let t = try translator("a: 0 2199023255552 striped 2 8 /dev/sda 0 /dev/sdb 0")
        let down = try t.down(from: "a", SectorRange(start: 0, length: 2_199_023_255_552))
        #expect(down.map { "\($0.device) \($0.run) \($0.path[0].run) \($0.outcome)" }
            == ["sda 0+1099511627776 0+8/16×137438953472 lost", "sdb 0+1099511627776 8+8/16×137438953472 lost"])
        let up = try t.up(from: "/dev/sdb", SectorRange(start: 0, length: 1_099_511_627_776))
        #expect(up.map { "\($0.device) \($0.run) \($0.outcome)" } == ["a 8+8/16×137438953472 lost"])
        // raid1 over two striped volumes of 100 TiB, one leaf gone: degraded, compactly.
        let legs = UInt64(100) << 31 // 100 TiB in sectors per volume
        let r = try translator("""
            s1: 0 \(legs) striped 2 128 /dev/a 0 /dev/b 0
            s2: 0 \(legs) striped 2 128 /dev/c 0 /dev/d 0
            top: 0 \(legs) raid raid1 1 128 2 - /dev/mapper/s1 - /dev/mapper/s2
            """)
        let gone = try r.up(from: "/dev/b", SectorRange(start: 0, length: legs / 2))
        #expect(gone.map { "\($0.device) \($0.run) \($0.outcome)" } == ["top 128+128/256×838860800 degraded"])
        let r5 = try translator("r: 0 \(legs * 3) raid raid5_ls 1 128 4 - /dev/a - /dev/b - /dev/c - /dev/d")
        let leg = try r5.up(from: "/dev/c", SectorRange(start: 0, length: legs))
        #expect(leg.count <= 16 && leg.allSatisfy { $0.outcome == .degraded })
        let r10 = try translator("r: 0 \(legs * 2) raid raid10 3 128 raid10_copies 2 4 - /dev/a - /dev/b - /dev/c - /dev/d")
        let near = try r10.up(from: "/dev/b", SectorRange(start: 0, length: legs))
        #expect(near.count <= 4 && near.allSatisfy { $0.outcome == .degraded }, "\(near.map(\.run))")
    }
}

/// Judging outcomes path by path (no sets, so runs stay runs) gives what propagating damage
/// over every path gives, on random two-level stacks, up and down.
@Suite("outcomes path by path") struct PathwiseOutcomeTests {
    static func layer(_ name: String, _ members: [String], memberSize: UInt64, _ rng: inout SplitMix) -> String {
        let devs = members.map { $0.hasPrefix("/dev/") ? $0 : "/dev/mapper/\($0)" }
        let chunk = [8, 16] .randomElement(using: &rng)! as UInt64
        let per = memberSize / chunk * chunk
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: return "\(name): 0 \(per * UInt64(devs.count)) striped \(devs.count) \(chunk) " + devs.map { "\($0) 0" }.joined(separator: " ")
        case 1: return "\(name): 0 \(per) raid raid1 1 \(chunk) \(devs.count) " + devs.map { "- \($0)" }.joined(separator: " ")
        case 2 where devs.count >= 3:
            return "\(name): 0 \(per * UInt64(devs.count - 1)) raid raid5_ls 1 \(chunk) \(devs.count) " + devs.map { "- \($0)" }.joined(separator: " ")
        case 3: return "\(name): 0 \(per) mirror core 1 1024 \(devs.count) " + devs.map { "\($0) 0" }.joined(separator: " ") + " 0"
        default: return "\(name): 0 \(per) linear \(devs[0]) 0"
        }
    }

    @Test(arguments: 0..<60)
    func pathwiseEqualsPropagation(seed: UInt64) throws {
        var rng = SplitMix(state: seed)
        let size: UInt64 = 384
        // Sometimes a leaf under both a and b (then propagation must decide).
        let shared = Bool.random(using: &rng)
        let a = Self.layer("a", ["/dev/l0", "/dev/l1", "/dev/l2"], memberSize: size, &rng)
        let b = Self.layer("b", ["/dev/l3", shared ? "/dev/l0" : "/dev/l4", "/dev/l5"], memberSize: size, &rng)
        var text = a + "\n" + b
        let t0 = try translator(text)
        let aSize = t0.topology.nodes[try t0.topology.resolve("a")].size!, bSize = t0.topology.nodes[try t0.topology.resolve("b")].size!
        text += "\n" + Self.layer("top", ["a", "b"], memberSize: min(aSize, bSize), &rng)
        var fast = try translator(text)
        var slow = fast
        slow.pathwise = false
        fast.pathwise = true
        for leaf in ["/dev/l0", "/dev/l1", "/dev/l3", "/dev/l5"] where (try? fast.topology.resolve(leaf)) != nil {
            let range = SectorRange(start: 0, length: size)
            #expect(sectorSet(try fast.up(from: leaf, range), outcomes: true) == sectorSet(try slow.up(from: leaf, range), outcomes: true), "seed \(seed) up \(leaf)\n\(text)")
        }
        let topSize = fast.topology.nodes[try fast.topology.resolve("top")].size!
        let down = SectorRange(start: 0, length: topSize)
        #expect(sectorSet(try fast.down(from: "top", down), outcomes: true) == sectorSet(try slow.down(from: "top", down), outcomes: true), "seed \(seed) down\n\(text)")
    }
}
