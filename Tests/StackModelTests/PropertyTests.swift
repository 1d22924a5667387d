import StackModel
import TestSupport
import Testing

/// Random stacks of random targets: every leaf piece a range goes down to must come back up
/// to that same range, and redundancy must match what the stack can survive.
@Suite("Properties on random stacks")
struct PropertyTests {
    /// A random middle layer over `members` (each at least `memberSize` sectors), with its
    /// length; chunk sizes include non-powers of two where the kernel allows them.
    static func randomLayer(_ name: String, members: [String], memberSize: UInt64, rng: inout SplitMix64) -> (String, UInt64) {
        let n = members.count
        func legs(_ ms: ArraySlice<String>) -> String { ms.map { "- /dev/\($0)" }.joined(separator: " ") }
        switch Int.random(in: 0..<7, using: &rng) {
        case 0: // linear segments over the members, in random order and offsets
            var lines: [String] = []
            var start: UInt64 = 0
            for m in members.shuffled(using: &rng) {
                let len = UInt64.random(in: 1...(memberSize / 2), using: &rng)
                let off = UInt64.random(in: 0...(memberSize - len), using: &rng)
                lines.append("\(name): \(start) \(len) linear /dev/\(m) \(off)")
                start += len
            }
            return (lines.joined(separator: "\n"), start)
        case 1: // striped, any chunk size
            let chunk = UInt64.random(in: 1...48, using: &rng)
            let rows = max(1, (memberSize - 64) / chunk)
            let len = rows * chunk * UInt64(n)
            let ms = members.map { "/dev/\($0) \(UInt64.random(in: 0...63, using: &rng))" }.joined(separator: " ")
            return ("\(name): 0 \(len) striped \(n) \(chunk) \(ms)", len)
        case 2 where n >= 2: // mirror
            let ms = members.map { "/dev/\($0) 0" }.joined(separator: " ")
            return ("\(name): 0 \(memberSize) mirror core 1 1024 \(n) \(ms)", memberSize)
        case 3 where n >= 3: // raid4/5
            let types = ["raid4", "raid5_n", "raid5_la", "raid5_ra", "raid5_ls", "raid5_rs"]
            let chunk: UInt64 = [8, 16, 32].randomElement(using: &rng)!
            let len = (memberSize / chunk) * chunk * UInt64(n - 1)
            return ("\(name): 0 \(len) raid \(types.randomElement(using: &rng)!) 1 \(chunk) \(n) \(legs(members[...]))", len)
        case 4 where n >= 4: // raid6
            let types = ["raid6_zr", "raid6_nr", "raid6_nc", "raid6_n_6", "raid6_la_6", "raid6_ra_6", "raid6_ls_6", "raid6_rs_6"]
            let chunk: UInt64 = [8, 16].randomElement(using: &rng)!
            let len = (memberSize / chunk) * chunk * UInt64(n - 2)
            return ("\(name): 0 \(len) raid \(types.randomElement(using: &rng)!) 1 \(chunk) \(n) \(legs(members[...]))", len)
        case 5 where n >= 2: // raid10
            let format = ["near", "far", "offset"].randomElement(using: &rng)!
            let copies = Int.random(in: 2...n, using: &rng)
            let chunk: UInt64 = [8, 16].randomElement(using: &rng)!
            let len = (memberSize / chunk / UInt64(copies)) * chunk * UInt64(n)
            return ("\(name): 0 \(len) raid raid10 5 \(chunk) raid10_copies \(copies) raid10_format \(format) \(n) \(legs(members[...]))", len)
        default: // a crypt or a raid1
            if n >= 2 {
                return ("\(name): 0 \(memberSize) raid raid1 1 0 \(n) \(legs(members[...]))", memberSize)
            }
            return ("\(name): 0 \(memberSize - 8) crypt aes-xts-plain64 :32:logon:k 0 /dev/\(members[0]) 8", memberSize - 8)
        }
    }

    /// leaves → layer a (over 2–5 leaves) and layer b (over other leaves) → top over a and b.
    static func randomStack(seed: UInt64) -> (String, leaves: [String]) {
        var rng = SplitMix64(seed: seed)
        let leaves = (0..<8).map { "leaf\($0)" }
        let split = Int.random(in: 2...5, using: &rng)
        let size: UInt64 = 4096
        let (a, aLen) = randomLayer("a", members: Array(leaves[0..<split]), memberSize: size, rng: &rng)
        let (b, bLen) = randomLayer("b", members: Array(leaves[split...]), memberSize: size, rng: &rng)
        let (top, _) = randomLayer("top", members: ["a", "b"], memberSize: min(aLen, bLen), rng: &rng)
        return ([a, b, top].joined(separator: "\n"), leaves)
    }

    @Test(arguments: 0..<300)
    func downThenUpReturnsTheRange(seed: UInt64) throws {
        let (text, _) = Self.randomStack(seed: seed)
        let t = try translator(text)
        var rng = SplitMix64(seed: seed ^ 0xdead_beef)
        let size = t.topology.nodes[try t.topology.resolve("top")].size!
        for _ in 0..<4 {
            let start = UInt64.random(in: 0..<size, using: &rng)
            let range = SectorRange(start: start, length: UInt64.random(in: 1...min(200, size - start), using: &rng))
            let pieces = try t.down(from: "top", range).flatMap(\.explicitPieces)
            var covered = SectorSet()
            for piece in pieces where piece.kind == .data {
                let topPiece = SectorRange(start: piece.path[0].start, length: piece.path[0].length)
                #expect(range.contains(topPiece), "seed \(seed): piece \(topPiece) outside \(range)")
                covered.insert(topPiece)
                let up = try t.up(from: piece.device, piece.range).flatMap(\.explicitPieces)
                let back = up.filter { $0.device == "top" && $0.kind == .data }
                var backSet = SectorSet()
                for b in back { backSet.insert(b.range) }
                #expect(backSet.intersection(with: topPiece) == [topPiece],
                        "seed \(seed): \(piece.device) \(piece.range) came back as \(back.map(\.range)) not covering \(topPiece)\n\(text)")
            }
            #expect(covered.ranges == [range], "seed \(seed): down covered \(covered.ranges) of \(range)\n\(text)")
        }
    }

    /// The allocation-free top-only walk finds exactly the top ranges `up` reports.
    @Test(arguments: 0..<100)
    func topsOnlyAgreesWithPaths(seed: UInt64) throws {
        let (text, leaves) = Self.randomStack(seed: seed)
        let t = try translator(text)
        var rng = SplitMix64(seed: seed)
        for leaf in leaves {
            let start = UInt64.random(in: 0..<4000, using: &rng)
            let range = SectorRange(start: start, length: UInt64.random(in: 1...96, using: &rng))
            var fast = SectorSet(), kinds = Set<PieceKind>()
            t.forEachTop(from: try t.topology.resolve(leaf), range) { top, r, kind in
                if t.topology.name(of: top) == "top" { fast.insert(r); kinds.insert(kind) }
            }
            let slow = SectorSet(try t.up(from: leaf, range).filter { $0.device == "top" }.flatMap { $0.run.pieces })
            #expect(fast == slow, "seed \(seed) \(leaf) \(range)")
        }
    }

    /// Losing one whole leaf: lost exactly where no layer on the way has redundancy.
    @Test(arguments: 0..<100)
    func oneLeafLossMatchesRedundancy(seed: UInt64) throws {
        let (text, leaves) = Self.randomStack(seed: seed)
        let t = try translator(text)
        let tables = try TableSet.parse(text)
        func redundant(_ device: String) -> Bool {
            guard let target = tables.tables[device]?.targets.first else { return false }
            if target.kind is MirrorTarget { return true }
            return (target.kind as? RaidTarget).map { $0.level != 0 } ?? false
        }
        for leaf in leaves {
            let rows = try t.up(from: leaf, SectorRange(start: 0, length: 4096))
            #expect(!rows.isEmpty, "seed \(seed) \(leaf): nothing above a member")
            let middle = tables.tables["a"]!.memberDevices.contains("/dev/\(leaf)") ? "a" : "b"
            for row in rows where row.kind == .data {
                let saved = redundant(middle) || (row.device == "top" && redundant("top"))
                #expect(row.outcome == (saved ? .degraded : .lost), "seed \(seed) \(leaf): \(row.outcome) at \(row.range)\n\(text)")
            }
        }
    }
}
