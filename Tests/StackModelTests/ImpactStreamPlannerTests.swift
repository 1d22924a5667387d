@testable import StackModel
import TestSupport
import Testing

/// The planner over a reverse map read as a stream, on the machine of HolderRecordTests (an
/// XFS on `top`, 2 MiB, over two volumes on pmem0): records folded as they come, clipped
/// against strided runs without expanding them, a map cut short never called harmless.
@Suite("Impact over streamed reverse maps")
struct ImpactStreamPlannerTests {
    final class Counter: @unchecked Sendable { var records = 0, named = 0, asked = 0 }

    static func planner(topTable: [String]? = nil, counter: Counter = Counter(),
                        records: @escaping ([ByteRange], (ReverseMapRecord) throws -> Void) throws -> [String]) -> ImpactPlanner {
        ImpactPlanner(inventory: HolderRecordTests.machine(topTable: topTable), records: { fs, role, ranges, body in
            #expect(fs.mountpoint == "/mnt/x" && role == .data)
            return try records(ranges) { counter.records += 1; try body($0) }
        }, names: { _, inodes, body in
            guard case .some(let set) = inodes else { Issue.record("a held list asks for its inodes"); return [] }
            counter.asked += set.count
            for i in set where i % 2 == 0 { body(i, "/mnt/x/f\(i)"); counter.named += 1 }
            return []
        }, users: { _, _ in [] })
    }

    /// 2^20 records of 2^20 files over the whole device: every file listed, named once, with
    /// its one lost range; the list holds compact entries, not a `FileHit` a file.
    @Test func aMillionRecordsAreFoldedAsTheyCome() throws {
        let counter = Counter()
        let n: UInt64 = 1 << 20
        let impact = try Self.planner(counter: counter) { ranges, body in
            #expect(ranges == [ByteRange(offset: 0, length: 2 << 20)])
            for i in 0..<n { try body(ReverseMapRecord(physical: i * 2, length: 2, inode: 1000 + i, offset: 4096)) }
            return ["streamed"]
        }.plan(leaf: "pmem0", range: nil, event: .remove)
        let fs = try #require(impact.filesystems.first)
        #expect(counter.records == Int(n) && counter.asked == Int(n) && counter.named == Int(n / 2))
        #expect(fs.files.count == Int(n) && fs.files.totalLostBytes == 2 * n && fs.notes.first == "streamed")
        // Named files first (sorted by path), then the unnamed ("<inode N>", sorted as text).
        #expect(fs.files.first?.path == "/mnt/x/f1000" && fs.files.first?.extents == [ByteRange(offset: 4096, length: 2)])
        let last = fs.files.reversed().first
        #expect(last?.path == "<inode 9999>" && last?.paths == [])
        #expect(fs.files.entries.count == Int(n) && fs.files.extents.count == Int(n) && fs.files.names.count == Int(n / 2))
        #expect(MemoryLayout<FileList.Entry>.stride == 32)
        #expect(impact.summary.contains("\(n) files") && fs.actions.map(\.action) == [.freeze, .invalidate, .shutdown, .thaw])
    }

    /// A striped `top` (chunks of 4 KiB over `a` and `b`): pmem0's first half is `a`, every
    /// other chunk of `top`, one run. A file whose extents cover the device loses exactly the
    /// chunks of `a`, computed piece by piece here; the map is asked for the run's hull.
    @Test func aStridedRunIsClippedAsItsPieces() throws {
        let striped = ["0 4096 striped 2 8 253:0 0 253:1 0"]
        var rng = SplitMix64(seed: 17)
        for _ in 0..<40 {
            let start = rng.next() % 2048, length = 1 + rng.next() % (2048 - start)
            // Files of random extents tiling the device.
            var records: [ReverseMapRecord] = []
            var at: UInt64 = 0, inode: UInt64 = 1
            while at < 2 << 20 {
                let len = min((1 + rng.next() % 64) * 512, (2 << 20) - at)
                records.append(ReverseMapRecord(physical: at, length: len, inode: inode, offset: at))
                at += len
                if rng.next() % 3 == 0 { inode += 1 }
            }
            var asked: [ByteRange] = []
            let impact = try Self.planner(topTable: striped) { ranges, body in
                asked = ranges
                for r in records where ranges.contains(where: { $0.offset < r.end && r.physical < $0.end }) { try body(r) }
                return []
            }.plan(leaf: "pmem0", range: SectorRange(start: start, length: length), event: .failure)
            // Piece by piece: sector s of a is chunk s/8 of a, chunk 2(s/8) of top.
            var expected: [UInt64: [ByteRange]] = [:]
            var lost: [ByteRange] = []
            for s in start..<start + length { lost.append(ByteRange(offset: ((s / 8) * 16 + s % 8) * 512, length: 512)) }
            lost = ByteRange.merged(lost)
            for r in records {
                for l in ByteRange.overlapping(lost, r.physical, r.end) {
                    let s = max(l.offset, r.physical), e = min(l.end, r.end)
                    if s < e { expected[r.inode!, default: []].append(ByteRange(offset: r.offset + s - r.physical, length: e - s)) }
                }
            }
            let fs = try #require(impact.filesystems.first)
            #expect(Dictionary(uniqueKeysWithValues: fs.files.map { ($0.inode, $0.extents) }) == expected.mapValues(ByteRange.merged))
            // Asked: what is lost, within its hull (the translator's rows: chunks, or runs).
            #expect(lost.allSatisfy { l in asked.contains { $0.offset <= l.offset && l.end <= $0.end } })
            #expect(asked.first?.offset == lost.first!.offset && asked.last?.end == lost.last!.end)
        }
    }

    /// Records clipped against strided runs (a leg of millions of chunks is one run) give
    /// exactly the pieces of the runs expanded; the map is asked for the runs' hulls.
    @Test func recordsAreClippedAgainstRunsAsAgainstTheirPieces() {
        var rng = SplitMix64(seed: 29)
        for _ in 0..<300 {
            var runs: [StridedRange] = []
            for _ in 0..<(1 + rng.next() % 3) {
                let length = 1 + rng.next() % 16, stride = length + rng.next() % 16
                runs.append(StridedRange(start: rng.next() % 200, length: length, stride: stride, count: 1 + rng.next() % 20))
            }
            let index = RunIndex(runs)
            let start = rng.next() % 300, end = start + rng.next() % 200
            var got: [ByteRange] = []
            index.forEachPiece(overlapping: start, end) { got.append(ByteRange(offset: $0, length: $1 - $0)) }
            var want: [ByteRange] = []
            for run in runs {
                for p in run.pieces {
                    let s = max(p.start, start), e = min(p.start + p.length, end)
                    if s < e { want.append(ByteRange(offset: s, length: e - s)) }
                }
            }
            #expect(ByteRange.merged(got) == ByteRange.merged(want), "\(runs) \(start)..<\(end)")
            #expect(index.overlaps(start, end) == !want.isEmpty)
            #expect(index.hulls == ByteRange.merged(runs.map { ByteRange(offset: $0.start, length: $0.end - $0.start) }))
        }
    }

    /// The list's path order (bytes where they decide, strings elsewhere) is `String`'s, with
    /// non-ASCII names, combining marks and names that are prefixes of others.
    @Test func pathOrderIsStringOrder() {
        var rng = SplitMix64(seed: 41)
        let alphabet = ["a", "b", "e", "/", "é", "e\u{301}", "\u{301}", "z", "ß", "✓", "A"]
        for _ in 0..<50 {
            var hits: [FileHit] = []
            for i in 0..<60 {
                let name = (0..<(rng.next() % 5)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
                let named = rng.next() % 8 != 0
                let inode = UInt64(i) * 7 % 61
                hits.append(FileHit(path: named ? "/m/" + name : "<inode \(inode)>", paths: named ? ["/m/" + name] : [], inode: inode,
                                    extents: [], shared: false, unwritten: false))
            }
            let list = FileList(hits)
            let want = hits.indices.sorted { (hits[$0].path, hits[$0].inode) < (hits[$1].path, hits[$1].inode) }
            #expect(list.pathOrder().map { hits[$0].path } == want.map { hits[$0].path })
        }
    }

    /// A map that fails after some records: the owners read are listed, the note says it
    /// stopped, and the filesystem is never said to lose nothing.
    @Test func aMapCutShortIsANoteNotNothingLost() throws {
        struct Broke: Error, CustomStringConvertible { var description: String { "EIO" } }
        for event in [FailureEvent.remove, .failure] {
            let impact = try Self.planner { _, body in
                try body(ReverseMapRecord(physical: 0, length: 4096, metadata: "free space"))
                throw Broke()
            }.plan(leaf: "pmem0", range: event == .remove ? nil : SectorRange(start: 0, length: 16), event: event)
            let fs = try #require(impact.filesystems.first)
            #expect(fs.files.isEmpty && fs.metadata.isEmpty)
            #expect(fs.notes.contains { $0.contains("stopped after 1 record: EIO") && $0.contains("more may be lost") })
            #expect(!fs.notes.contains { $0.contains("nothing is lost") || $0.contains("no owner found") })
            #expect(fs.unknown.map(\.reason) == [.cutShort] && !impact.isComplete)
            if event == .remove { #expect(fs.actions.map(\.action) == [.freeze, .unknown, .shutdown, .thaw]) }
        }
    }
}
