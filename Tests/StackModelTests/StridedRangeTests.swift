import Testing
@testable import StackModel

@Suite struct StridedRangeTests {
    @Test func normalisesAGaplessRunToOneRange() {
        let r = StridedRange(start: 10, length: 8, stride: 8, count: 4)
        #expect(r.isPlain && r.start == 10 && r.length == 32 && r.count == 1)
        #expect(StridedRange(SectorRange(start: 3, length: 5)).description == "3+5")
    }

    @Test func intersectionEqualsThePieceByPieceOne() {
        // Every window over a small run, against the explicit pieces.
        let runs = [StridedRange(start: 5, length: 3, stride: 7, count: 6), StridedRange(start: 0, length: 1, stride: 2, count: 9),
                    StridedRange(start: 4, length: 10, stride: 10, count: 1)]
        for run in runs {
            let explicit = Array(run.pieces)
            for s in 0..<UInt64(50) {
                for l in 1..<UInt64(50) {
                    let w = SectorRange(start: s, length: l)
                    let want = SectorSet(explicit.compactMap { $0.intersection(w) })
                    let got = run.intersection(w)
                    #expect(got.count <= 3)
                    #expect(SectorSet(got.flatMap { Array($0.pieces) }) == want, "\(run) ∩ \(w)")
                    #expect(got.reduce(0) { $0 + $1.totalLength } == want.totalLength)
                }
            }
        }
    }

    @Test func aHugeRunIsConstantTime() {
        let leg = StridedRange(start: 0, length: 128, stride: 256, count: 838_860_800)
        #expect(leg.end == 838_860_799 * 256 + 128)
        let parts = leg.intersection(SectorRange(start: 64, length: 1 << 40))
        // A clipped first piece, then every other piece whole (the window runs past the end).
        let n: UInt64 = 838_860_799
        #expect(parts == [StridedRange(start: 64, length: 64, stride: 64, count: 1), StridedRange(start: 256, length: 128, stride: 256, count: n)])
        #expect(parts.reduce(0) { $0 + $1.totalLength } == leg.totalLength - 64)
    }
}
