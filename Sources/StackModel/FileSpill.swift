import Foundation

/// Where a fold puts sorted runs once they outgrow memory: bytes appended once, read back in
/// order. StackSystem's store is an unlinked temporary file (O_TMPFILE) on a filesystem the
/// event does not touch; `MemorySpillStore` keeps the runs in memory (tests, or when no such
/// file can be made). A whole-device impact on a filesystem of millions of files folds through
/// one, so its memory does not grow with the number of files (issue 17).
public protocol SpillStore: AnyObject, Sendable {
    /// Appends `bytes` at the end; returns the offset they start at.
    func append(_ bytes: UnsafeRawBufferPointer) throws -> UInt64
    /// Reads up to `buffer.count` bytes at `offset`; returns how many (0 at the end).
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Where the runs are, for a note ("a temporary file in /var/tmp").
    var place: String { get }
}

/// Runs kept in memory: the same code path as a file, without the bound.
public final class MemorySpillStore: SpillStore, @unchecked Sendable {
    private var bytes: [UInt8] = []
    public init() {}
    public var place: String { "memory" }
    public func append(_ data: UnsafeRawBufferPointer) throws -> UInt64 {
        let at = UInt64(bytes.count)
        bytes.append(contentsOf: data)
        return at
    }
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < UInt64(bytes.count) else { return 0 }
        let n = min(buffer.count, bytes.count - Int(offset))
        bytes.withUnsafeBytes { src in buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[Int(offset)..<Int(offset) + n])) }
        return n
    }
}

/// How a file fold spills: how much it holds before it writes a sorted run, and where.
public struct SpillPolicy: Sendable {
    /// Pieces (32 bytes each in memory) held before a run is written.
    public var pieces: Int
    /// Name bytes held before a run is written.
    public var nameBytes: Int
    /// A store for one filesystem's runs (asked at the first spill); nil (the pure
    /// planner's default): keep everything in memory, unbounded. The engines give one.
    /// A store that returns nil: this engine does not spill (it could not name every inode).
    /// It is given the filesystems it must not write to (major:minor): the one judged first,
    /// then every other one the event hits (`avoid`).
    public var store: (@Sendable ([String]) throws -> (any SpillStore)?)?
    /// Every filesystem the event hits (major:minor), set by the planner: `remove` freezes
    /// them and a failure may be failing their writes.
    public var avoid: [String] = []

    public init(pieces: Int = 131_072, nameBytes: Int = 8 << 20, store: (@Sendable ([String]) throws -> (any SpillStore)?)? = nil) {
        self.pieces = max(1, pieces)
        self.nameBytes = max(1, nameBytes)
        self.store = store
    }
}

/// One lost piece of a file as the fold holds it.
struct FilePiece {
    var inode: UInt64
    var offset: UInt64
    var length: UInt64
    /// 1: shared, 2: unwritten.
    var flags: UInt8

    static let size = 25
    static func before(_ a: FilePiece, _ b: FilePiece) -> Bool { (a.inode, a.offset, a.length) < (b.inode, b.offset, b.length) }
}

/// A sorted run in a store.
struct SpillRun: Sendable {
    let store: any SpillStore
    let offset: UInt64
    let length: UInt64
}

/// A run's bytes or a stored file's that do not decode: only a store that changed under the
/// reader (or a bug) gives one. The impact reports it instead of a short list.
public struct SpillReadError: Error, CustomStringConvertible {
    public var description: String
}

/// Appends encoded records to a store in large writes.
struct RunWriter {
    let store: any SpillStore
    var buffer: [UInt8] = []
    var start: UInt64?
    var written: UInt64 = 0

    init(_ store: any SpillStore) {
        self.store = store
        buffer.reserveCapacity(1 << 20)
    }

    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { buffer.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { buffer.append(contentsOf: $0) } }
    mutating func bytes(_ b: some Collection<UInt8>) { buffer.append(contentsOf: b) }
    mutating func byte(_ b: UInt8) { buffer.append(b) }
    /// A piece as `RunReader.piece` reads it back (FilePiece.size bytes).
    mutating func piece(_ p: FilePiece) { u64(p.inode); u64(p.offset); u64(p.length); byte(p.flags) }

    mutating func flushIfFull() throws { if buffer.count >= 1 << 20 { try flush() } }

    mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        let at = try buffer.withUnsafeBytes { try store.append($0) }
        if start == nil { start = at }
        written += UInt64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    /// The run written (flushed first).
    mutating func finish() throws -> SpillRun {
        try flush()
        return SpillRun(store: store, offset: start ?? 0, length: written)
    }
}

/// Reads a run front to back through a buffer.
struct RunReader {
    let run: SpillRun
    private var buffer: [UInt8] = []
    private var at = 0, filled = 0
    private var next: UInt64 = 0

    init(_ run: SpillRun) { self.run = run }

    var atEnd: Bool { at == filled && next == run.length }

    /// Makes `n` bytes readable from `position`; false at the run's end, a throw if the run
    /// ends inside a record.
    private mutating func ensure(_ n: Int) throws -> Bool {
        if filled - at >= n { return true }
        if at == filled && next == run.length { return false }
        if at > 0 {
            buffer.removeSubrange(0..<at)
            filled -= at
            at = 0
        }
        let want = max(n, 64 << 10)
        if buffer.count < want { buffer += [UInt8](repeating: 0, count: want - buffer.count) }
        while filled < n && next < run.length {
            let room = min(buffer.count - filled, Int(min(UInt64(Int.max), run.length - next)))
            let got = try buffer.withUnsafeMutableBytes { b in
                try run.store.read(at: run.offset + next, into: UnsafeMutableRawBufferPointer(rebasing: b[filled..<filled + room]))
            }
            guard got > 0 else { throw SpillReadError(description: "the spill run in \(run.store.place) ended \(run.length - next) bytes early") }
            filled += got
            next += UInt64(got)
        }
        guard filled - at >= n else { throw SpillReadError(description: "a record runs past the end of its spill run in \(run.store.place)") }
        return true
    }

    private mutating func u64() -> UInt64 {
        let v = buffer.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        at += 8
        return v
    }

    mutating func piece() throws -> FilePiece? {
        guard try ensure(FilePiece.size) else { return nil }
        let inode = u64(), offset = u64(), length = u64()
        let flags = buffer[at]
        at += 1
        return FilePiece(inode: inode, offset: offset, length: length, flags: flags)
    }

    /// The next (inode, name) record; the name's bytes replace `name`'s.
    mutating func name(into name: inout [UInt8]) throws -> UInt64? {
        guard try ensure(12) else { return nil }
        let inode = u64()
        let n = Int(buffer.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) })
        at += 4
        // No name a walk hands on is near this; a larger length is a run that changed.
        guard n <= 1 << 20 else { throw SpillReadError(description: "a name of \(n) bytes in a spill run in \(run.store.place)") }
        guard try ensure(n) else { throw SpillReadError(description: "a name runs past the end of its spill run in \(run.store.place)") }
        name.removeAll(keepingCapacity: true)
        name.append(contentsOf: buffer[at..<at + n])
        at += n
        return inode
    }
}

/// A record of a sorted run: how it is read and how runs are ordered.
protocol RunRecord {
    static func read(_ reader: inout RunReader) throws -> Self?
    static func before(_ a: Self, _ b: Self) -> Bool
}

extension FilePiece: RunRecord {
    static func read(_ reader: inout RunReader) throws -> FilePiece? { try reader.piece() }
}

/// One (inode, name) of a names run; runs are sorted by inode, then by the name's bytes.
struct NameRecord: RunRecord {
    var inode: UInt64
    var bytes: [UInt8]
    static func read(_ reader: inout RunReader) throws -> NameRecord? {
        var bytes: [UInt8] = []
        guard let inode = try reader.name(into: &bytes) else { return nil }
        return NameRecord(inode: inode, bytes: bytes)
    }
    static func before(_ a: NameRecord, _ b: NameRecord) -> Bool { a.inode != b.inode ? a.inode < b.inode : a.bytes.lexicographicallyPrecedes(b.bytes) }
}

/// The k-way merge of sorted runs, smallest head first: a binary heap of the runs by their
/// current record (generic over the record, so the comparisons are inlined, not closures).
struct RunMerge<Head: RunRecord> {
    private var readers: [RunReader]
    private var heads: [Head?]
    private var heap: [Int] = []

    init(_ runs: [SpillRun]) throws {
        readers = runs.map(RunReader.init)
        heads = Array(repeating: nil, count: runs.count)
        for i in readers.indices {
            heads[i] = try Head.read(&readers[i])
            if heads[i] != nil { push(i) }
        }
    }

    var peek: Head? { heap.first.flatMap { heads[$0] } }

    mutating func pop() throws -> Head? {
        guard let top = heap.first, let head = heads[top] else { return nil }
        heads[top] = try Head.read(&readers[top])
        if heads[top] == nil {
            let last = heap.removeLast()
            if !heap.isEmpty { heap[0] = last; down(0) }
        } else {
            down(0)
        }
        return head
    }

    private func less(_ a: Int, _ b: Int) -> Bool { Head.before(heads[a]!, heads[b]!) }

    private mutating func push(_ i: Int) {
        heap.append(i)
        var c = heap.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard less(heap[c], heap[p]) else { break }
            heap.swapAt(c, p)
            c = p
        }
    }

    private mutating func down(_ from: Int) {
        var p = from
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < heap.count && less(heap[l], heap[m]) { m = l }
            if r < heap.count && less(heap[r], heap[m]) { m = r }
            guard m != p else { return }
            heap.swapAt(p, m)
            p = m
        }
    }
}

/// One file as the join of the spilled runs makes it: its lost ranges merged, its names sorted
/// as bytes.
struct JoinedFile {
    var inode: UInt64 = 0
    var flags: UInt8 = 0
    var extents: [ByteRange] = []
    var arena: [UInt8] = []
    var names: [Range<Int>] = []
}

/// A file list too large for memory: its pieces and its names in sorted runs of a store,
/// joined by inode each time the list is read. Files come in inode order. What the whole list
/// sums to is counted once, when it is made.
final class SpilledFiles: @unchecked Sendable {
    let pieceRuns: [SpillRun]
    let nameRuns: [SpillRun]
    private(set) var count = 0
    private(set) var totalLostBytes: UInt64 = 0
    let place: String
    private let lock = NSLock()
    private var failure: String?

    /// Why reading the list back stopped early in a non-throwing iteration (`FileList.Iterator`),
    /// nil while it never did: the consumers that cannot throw check it after their loop.
    var readFailure: String? { lock.withLock { failure } }

    func noteReadFailure(_ error: any Error) {
        lock.withLock { if failure == nil { failure = "the spilled file list in \(place) could not be read back (\(error))" } }
    }

    init(pieceRuns: [SpillRun], nameRuns: [SpillRun], place: String) throws {
        self.pieceRuns = pieceRuns
        self.nameRuns = nameRuns
        self.place = place
        var cursor = try Cursor(self, names: false)
        var file = JoinedFile()
        while try cursor.next(&file) {
            count += 1
            totalLostBytes += file.extents.reduce(0) { $0 + $1.length }
        }
    }

    /// Reads the join one file at a time.
    struct Cursor {
        var pieces: RunMerge<FilePiece>
        var names: RunMerge<NameRecord>?
        var pending: FilePiece?

        init(_ list: SpilledFiles, names withNames: Bool) throws {
            pieces = try RunMerge(list.pieceRuns)
            names = withNames ? try RunMerge(list.nameRuns) : nil
            pending = try pieces.pop()
        }

        /// The next file with a lost piece of positive length, into `file`; false at the end.
        mutating func next(_ file: inout JoinedFile) throws -> Bool {
            while let first = pending {
                file.inode = first.inode
                file.flags = 0
                file.extents.removeAll(keepingCapacity: true)
                var p: FilePiece? = first
                while let q = p, q.inode == first.inode {
                    file.flags |= q.flags
                    if q.length > 0 {
                        if let last = file.extents.last, q.offset <= last.end {
                            file.extents[file.extents.count - 1].length = max(last.end, q.offset + q.length) - last.offset
                        } else {
                            file.extents.append(ByteRange(offset: q.offset, length: q.length))
                        }
                    }
                    p = try pieces.pop()
                }
                pending = p
                // A file whose pieces are all empty is not listed (as in memory).
                guard !file.extents.isEmpty else { continue }
                file.arena.removeAll(keepingCapacity: true)
                file.names.removeAll(keepingCapacity: true)
                if names != nil {
                    while let head = names!.peek, head.inode <= first.inode {
                        _ = try names!.pop()
                        guard head.inode == first.inode else { continue }
                        // The walk may meet a name twice (a bind of the tree into itself is
                        // not crossed, but be safe): once each.
                        if let last = file.names.last, file.arena[last].elementsEqual(head.bytes) { continue }
                        let s = file.arena.count
                        file.arena += head.bytes
                        file.names.append(s..<file.arena.count)
                    }
                }
                return true
            }
            return false
        }
    }
}

/// Byte ranges gathered in any order (a FIEMAP walk's file extents, in walk order) and asked
/// afterwards which parts of some ranges none of them covers: past `limit` ranges they go to
/// the store in sorted runs, so memory does not grow with the files (an ext4 of millions of
/// files, whose GETFSMAP calls all file data unknown, is explained this way).
public struct ExtentSpill {
    let limit: Int
    let makeStore: () throws -> (any SpillStore)?
    private var held: [FilePiece] = []
    private var store: (any SpillStore)?
    private var runs: [SpillRun] = []
    private var noStore = false

    public init(limit: Int = 262_144, store: @escaping () throws -> (any SpillStore)?) {
        self.limit = max(1, limit)
        self.makeStore = store
    }

    public mutating func add(_ r: ByteRange) {
        guard r.length > 0 else { return }
        held.append(FilePiece(inode: 0, offset: r.offset, length: r.length, flags: 0))
        guard held.count >= limit, !noStore else { return }
        if store == nil { store = try? makeStore() }
        guard let store else { noStore = true; return }
        held.sort(by: FilePiece.before)
        var w = RunWriter(store)
        do {
            for p in held { w.piece(p); try w.flushIfFull() }
            runs.append(try w.finish())
            held.removeAll(keepingCapacity: true)
        } catch {
            noStore = true
        }
    }

    /// The parts of `ranges` (sorted, disjoint) that no range added covers, in order.
    public func forEachUncovered(in ranges: [ByteRange], _ body: (ByteRange) throws -> Void) throws {
        var all = runs
        if !held.isEmpty {
            let memory = MemorySpillStore()
            var w = RunWriter(memory)
            for p in held.sorted(by: FilePiece.before) { w.piece(p) }
            all.append(try w.finish())
        }
        var covered = try RunMerge<FilePiece>(all)
        var next = try covered.pop()
        for r in ranges {
            var at = r.offset
            // Covering ranges that end before `at` are behind: skipped.
            while let c = next, c.offset + c.length <= at { next = try covered.pop() }
            while at < r.end {
                guard let c = next, c.offset < r.end else { break }
                if c.offset > at { try body(ByteRange(offset: at, length: c.offset - at)) }
                at = max(at, c.offset + c.length)
                if c.offset + c.length <= r.end { next = try covered.pop() } else { break }
            }
            if at < r.end { try body(ByteRange(offset: at, length: r.end - at)) }
        }
    }
}
