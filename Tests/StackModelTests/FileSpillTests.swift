import Foundation
@testable import StackModel
import TestSupport
import Testing

/// A file list that spills (sorted runs of pieces and names in a store, joined by inode as it
/// is read) holds the same files as one held in memory: same extents, names, flags, counts and
/// bytes, in inode order; through the planner the same processes and actions; a store that
/// fails part way loses nothing.
@Suite("File lists that spill")
struct FileSpillTests {
    static let fs = MountedFilesystem(mount: Mount(mountId: 1, major: 253, minor: 2, root: "/", mountpoint: "/mnt/x", fsType: "xfs",
                                                   source: "/dev/top", options: [], superOptions: []), devices: [.data: "top"])

    /// Random pieces (several a file, scattered, overlapping, some of length 0) and names
    /// (hard links, names of inodes not hit, non-ASCII).
    static func input(_ rng: inout SplitMix64) -> (pieces: [FilePiece], names: [(UInt64, String)]) {
        var pieces: [FilePiece] = []
        let inodes = 1 + rng.next() % 300
        for _ in 0..<(rng.next() % 2000) {
            let inode = 100 + rng.next() % inodes
            pieces.append(FilePiece(inode: inode, offset: (rng.next() % 64) * 512, length: (rng.next() % 4) * 512, flags: UInt8(rng.next() % 4)))
        }
        var names: [(UInt64, String)] = []
        for inode in 90..<(110 + inodes) where rng.next() % 5 != 0 {
            for k in 0..<(1 + rng.next() % 3) { names.append((inode, "/mnt/x/\(rng.next() % 2 == 0 ? "é" : "d")\(inode)-\(k)")) }
        }
        return (pieces, names)
    }

    static func fold(_ pieces: [FilePiece], _ names: [(UInt64, String)], policy: SpillPolicy,
                     size: ((UInt64, String) -> UInt64?)? = nil) -> (files: FileList, notes: [String], asked: [InodeSelection]) {
        var fold = FileFold(policy: policy, fs: fs)
        for p in pieces { fold.add(inode: p.inode, offset: p.offset, length: p.length, shared: p.flags & 1 != 0, unwritten: p.flags & 2 != 0) }
        var asked: [InodeSelection] = []
        let (files, notes) = fold.finish(names: { selection, body in
            asked.append(selection)
            for (i, n) in names where selection.contains(i) { body(i, n) }
            return []
        }, size: size)
        return (files, notes, asked)
    }

    /// One file's content, its names as a set (their order is the list's business).
    struct Content: Hashable { var extents: [ByteRange]; var names: Set<String>; var shared: Bool; var unwritten: Bool }
    static func content(_ list: FileList) -> [UInt64: Content] {
        Dictionary(uniqueKeysWithValues: list.map { ($0.inode, Content(extents: $0.extents, names: Set($0.paths), shared: $0.shared, unwritten: $0.unwritten)) })
    }

    @Test func aSpilledListHoldsWhatAHeldOneHolds() throws {
        var rng = SplitMix64(seed: 71)
        for round in 0..<60 {
            let (pieces, names) = Self.input(&rng)
            let held = Self.fold(pieces, names, policy: SpillPolicy())
            let limit = 1 + Int(rng.next() % 50)
            let spilled = Self.fold(pieces, names, policy: SpillPolicy(pieces: limit, nameBytes: 1 + Int(rng.next() % 400), store: { _ in MemorySpillStore() }))
            #expect(!held.files.isSpilled && held.notes.isEmpty && spilled.notes.isEmpty)
            #expect(spilled.files.isSpilled == (pieces.count >= limit), "round \(round)")
            #expect(Self.content(spilled.files) == Self.content(held.files), "round \(round)")
            #expect(spilled.files.count == held.files.count && spilled.files.totalLostBytes == held.files.totalLostBytes)
            if spilled.files.isSpilled {
                // Inode order; names asked for every inode, as the list would be too large a set.
                let inodes = spilled.files.map(\.inode)
                #expect(inodes == inodes.sorted() && spilled.asked == [.all])
                #expect(spilled.files.first?.inode == inodes.first)
                // A name the walk gives twice is listed once.
                let twice = Self.fold(pieces, names + names, policy: SpillPolicy(pieces: limit, store: { _ in MemorySpillStore() }))
                #expect(Self.content(twice.files) == Self.content(held.files))
            }
            // The processes' question: the extents of a few inodes, in one pass.
            let some = Set(held.files.map(\.inode).filter { $0 % 3 == 0 })
            #expect(try spilled.files.extents(ofInodes: some) == held.files.extents(ofInodes: some))
        }
    }

    /// Clipped at each file's end (issue 18 point 5) alike held or spilled: a range cut at the
    /// size, a file wholly past its end dropped, counts and bytes after the cut, a file whose
    /// size is not known left whole; the size asked by the file's first name.
    @Test func aSpilledListIsClippedAtTheEndOfEachFileAsAHeldOne() throws {
        var rng = SplitMix64(seed: 23)
        for round in 0..<40 {
            let (pieces, names) = Self.input(&rng)
            let sizes = Dictionary(uniqueKeysWithValues: Set(names.map(\.0)).map { ($0, rng.next() % 5 == 0 ? nil : (rng.next() % 40) * 512 + rng.next() % 512) })
            let size: (UInt64, String) -> UInt64? = { inode, path in
                #expect(path == names.filter { $0.0 == inode }.map(\.1).min { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } || !path.hasPrefix("/mnt/x/"))
                return sizes[inode] ?? nil
            }
            let held = Self.fold(pieces, names, policy: SpillPolicy(), size: size)
            let spilled = Self.fold(pieces, names, policy: SpillPolicy(pieces: 1 + Int(rng.next() % 30), store: { _ in MemorySpillStore() }), size: size)
            #expect(Self.content(spilled.files) == Self.content(held.files), "round \(round)")
            #expect(spilled.files.count == held.files.count && spilled.files.totalLostBytes == held.files.totalLostBytes, "round \(round)")
            for f in spilled.files {
                if let end = sizes[f.inode] ?? nil { #expect(f.extents.allSatisfy { $0.end <= end } && !f.extents.isEmpty, "round \(round)") }
            }
            let unclipped = Self.fold(pieces, names, policy: SpillPolicy(pieces: 7, store: { _ in MemorySpillStore() }))
            if round == 0 { #expect(unclipped.files.totalLostBytes > spilled.files.totalLostBytes, "the cut changed something") }
        }
    }

    /// A spilled list whose store cannot be read back part way: a plain iteration ends early
    /// and says why (`readFailure`, which the text output and the ledger report), encoding and
    /// `forEachHit` throw: never a shorter list that looks whole.
    @Test func aListThatCannotBeReadBackSaysSoOrThrows() throws {
        final class FailingReads: SpillStore, @unchecked Sendable {
            let inner = MemorySpillStore()
            var reads = 0
            var failAfter = Int.max
            var place: String { "a failing disk" }
            func append(_ bytes: UnsafeRawBufferPointer) throws -> UInt64 { try inner.append(bytes) }
            func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
                struct EIO: Error, CustomStringConvertible { var description: String { "EIO" } }
                reads += 1
                if reads > failAfter { throw EIO() }
                return try inner.read(at: offset, into: buffer)
            }
        }
        var rng = SplitMix64(seed: 3)
        var (pieces, names) = Self.input(&rng)
        while pieces.count < 1500 { (pieces, names) = Self.input(&rng) }
        let store = FailingReads()
        let list = Self.fold(pieces, names, policy: SpillPolicy(pieces: 50, nameBytes: 256, store: { _ in store })).files
        #expect(list.isSpilled && list.readFailure == nil)
        let whole = Array(list).count
        #expect(whole == list.count && list.readFailure == nil)
        store.reads = 0
        store.failAfter = 40
        let short = Array(list).count
        #expect(short < whole)
        #expect(list.readFailure?.contains("a failing disk") == true && list.readFailure?.contains("EIO") == true, "\(list.readFailure ?? "nil")")
        store.reads = 0
        #expect(throws: (any Error).self) { try JSONEncoder().encode(list) }
        store.reads = 0
        #expect(throws: (any Error).self) { try list.forEachHit { _ in } }
    }

    /// The streamed JSON of a spilled list is the encoder's array of its files.
    @Test func aSpilledListWritesAsTheEncoderWould() throws {
        var rng = SplitMix64(seed: 5)
        let (pieces, names) = Self.input(&rng)
        let spilled = Self.fold(pieces, names + [(100, "/mnt/x/a \"quoted\" ✓\n")], policy: SpillPolicy(pieces: 3, store: { _ in MemorySpillStore() })).files
        #expect(spilled.isSpilled && spilled.count > 10)
        var bytes: [UInt8] = []
        let out = ByteStream(blockSize: 5) { bytes += $0 }
        try ImpactJSON(out).files(spilled, depth: 0)
        out.drain()
        let expected = String(decoding: try JSONOutputEncoder.make().encode(Array(spilled)), as: UTF8.self)
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
    }

    /// A store that fails after some runs: what it holds is read back, the rest is held in
    /// memory, and the list is whole, with a note. A store that cannot be made: held, noted.
    @Test func aFailingStoreLosesNothing() throws {
        final class Failing: SpillStore, @unchecked Sendable {
            let inner = MemorySpillStore()
            var left: Int
            init(_ writes: Int) { left = writes }
            var place: String { "a failing store" }
            func append(_ bytes: UnsafeRawBufferPointer) throws -> UInt64 {
                struct Full: Error, CustomStringConvertible { var description: String { "ENOSPC" } }
                guard left > 0 else { throw Full() }
                left -= 1
                return try inner.append(bytes)
            }
            func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try inner.read(at: offset, into: buffer) }
        }
        var rng = SplitMix64(seed: 9)
        var (pieces, names) = Self.input(&rng)
        while pieces.count < 500 { (pieces, names) = Self.input(&rng) }
        let held = Self.fold(pieces, names, policy: SpillPolicy())
        for writes in [0, 1, 3, 10, 1000] {
            let got = Self.fold(pieces, names, policy: SpillPolicy(pieces: 40, nameBytes: 64, store: { _ in Failing(writes) }))
            #expect(Self.content(got.files) == Self.content(held.files), "\(writes) writes")
            #expect(got.files.totalLostBytes == held.files.totalLostBytes)
            #expect(got.notes.contains { $0.contains("ENOSPC") } == (writes < 1000), "\(writes): \(got.notes)")
            // A store that failed is not tried again for every piece after: one note.
            #expect(got.notes.filter { $0.contains("ENOSPC") }.count <= 1, "\(writes): \(got.notes.count) notes")
        }
        struct NoTemp: Error, CustomStringConvertible { var description: String { "no temporary directory" } }
        let none = Self.fold(pieces, names, policy: SpillPolicy(pieces: 40, store: { _ in throw NoTemp() }))
        #expect(!none.files.isSpilled && Self.content(none.files) == Self.content(held.files))
        #expect(none.notes.count == 1 && none.notes[0].contains("no temporary directory") && none.notes[0].contains("held in memory"))
        // An engine that does not spill (nil): held, no note.
        let quiet = Self.fold(pieces, names, policy: SpillPolicy(pieces: 40, store: { _ in nil }))
        #expect(!quiet.files.isSpilled && quiet.notes.isEmpty && Self.content(quiet.files) == Self.content(held.files))
    }

    /// Through the planner: a whole-device removal whose list spills gives the same files,
    /// processes, actions and summary as one held; the uses are asked for every inode.
    @Test func thePlannerGivesTheSameImpactSpilled() throws {
        var rng = SplitMix64(seed: 13)
        var records: [ReverseMapRecord] = []
        var at: UInt64 = 0
        while at < 2 << 20 {
            let len = (1 + rng.next() % 8) * 512
            records.append(ReverseMapRecord(physical: at, length: len, inode: 200 + rng.next() % 500, offset: (rng.next() % 100) * 512))
            at += len
        }
        let uses = [FileUse(pid: 7, command: "db", device: "253:2", inode: 201, how: "fd 3", path: "/mnt/x/201"),
                    FileUse(pid: 8, command: "other", device: "253:2", inode: 99_999, how: "fd 4", path: "/mnt/x/elsewhere")]
        final class Asked: @unchecked Sendable { var users: [InodeSelection] = [] }
        func plan(_ policy: SpillPolicy) throws -> (Impact, Asked) {
            let asked = Asked()
            var planner = ImpactPlanner(inventory: HolderRecordTests.machine(), records: { _, _, ranges, body in
                for r in records where ranges.contains(where: { $0.offset < r.end && r.physical < $0.end }) { try body(r) }
                return []
            }, names: { _, selection, body in
                for i in UInt64(200)..<700 where selection.contains(i) && i % 7 != 0 { body(i, "/mnt/x/\(i)") }
                return []
            }, users: { _, selection in
                asked.users.append(selection)
                return uses.filter { selection.contains($0.inode) }
            })
            planner.spill = policy
            return (try planner.plan(leaf: "pmem0", range: nil, event: .remove), asked)
        }
        let (held, heldAsked) = try plan(SpillPolicy())
        let (spilled, spilledAsked) = try plan(SpillPolicy(pieces: 16, nameBytes: 256, store: { _ in MemorySpillStore() }))
        let h = try #require(held.filesystems.first), s = try #require(spilled.filesystems.first)
        #expect(s.files.isSpilled && !h.files.isSpilled && h.files.count > 100)
        #expect(Self.content(s.files) == Self.content(h.files))
        #expect(s.processes == h.processes && s.processes.map(\.pid) == [7])
        #expect(s.actions == h.actions && spilled.summary == held.summary)
        #expect(spilledAsked.users == [.all] && heldAsked.users.count == 1 && heldAsked.users != [.all])
        // The removal plan reads the list as it goes.
        let planS = RemovalPlan.Invalidations([(s.mountpoint, s.files)]), planH = RemovalPlan.Invalidations([(h.mountpoint, h.files)])
        #expect(planS.count == h.files.count && Set(planS.map(\.path)) == Set(planH.map(\.path)))
    }

    /// What no gathered range covers, spilled or not, is what subtracting them all gives.
    @Test func extentSpillFindsWhatNothingCovers() throws {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<200 {
            var spill = ExtentSpill(limit: 1 + Int(rng.next() % 20)) { MemorySpillStore() }
            var files: [ByteRange] = []
            for _ in 0..<(rng.next() % 80) {
                let r = ByteRange(offset: rng.next() % 1000, length: rng.next() % 40)
                files.append(r)
                spill.add(r)
            }
            let ranges = ByteRange.merged((0..<(rng.next() % 6)).map { _ in ByteRange(offset: rng.next() % 1100, length: 1 + rng.next() % 300) })
            var got: [ByteRange] = []
            try spill.forEachUncovered(in: ranges) { got.append($0) }
            let merged = ByteRange.merged(files.filter { $0.length > 0 })
            let want = ranges.flatMap { ByteRange.subtracting(merged, from: $0) }
            #expect(got == want, "\(files) \(ranges)")
        }
    }
}
