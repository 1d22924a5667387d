/// The files a filesystem loses, in a compact store: one fixed-size entry a file, their lost
/// ranges in one flat array and their names in one byte arena, instead of a `FileHit` (three
/// arrays and several strings, each its own allocation) a file; sorted by path. A list too
/// large for memory (a whole-device impact on millions of files) is spilled instead: its
/// pieces and names in sorted runs of a temporary file, joined by inode as it is read
/// (`SpilledFiles`), so it comes in inode order. Either way it is a sequence whose elements are
/// made as they are read: the streaming JSON writer and `remove` take one at a time, and
/// nothing holds them all as `FileHit`s. Encodes as the array of `FileHit`s.
public struct FileList: Sequence, Encodable, Sendable, ExpressibleByArrayLiteral {
    /// 32 bytes a file.
    struct Entry: Sendable {
        var inode: UInt64
        var firstExtent: UInt32
        var extentCount: UInt32
        var firstName: UInt32
        var nameCount: UInt32
        /// 1: shared, 2: unwritten.
        var flags: UInt8
        var shared: Bool { flags & 1 != 0 }
        var unwritten: Bool { flags & 2 != 0 }
    }
    var entries: [Entry] = []
    /// Position → entry: the path order (empty: the entries are in order).
    var order: [UInt32] = []
    /// Lost ranges, each file's merged and contiguous here.
    var extents: [ByteRange] = []
    /// Name k is `arena[names[k].start..<names[k].end]` (UTF-8); an entry's names are
    /// contiguous in `names`, sorted.
    var arena: [UInt8] = []
    /// Byte offsets as `Int`: the arena passes 4 GiB at about 40 million files.
    var names: [(start: Int, end: Int)] = []
    /// Set for a spilled list: the entries above are then empty.
    var spilled: SpilledFiles?

    public init() {}
    public init(arrayLiteral elements: FileHit...) { self.init(elements) }
    /// From `FileHit`s already in order.
    public init(_ hits: some Sequence<FileHit>) {
        for h in hits {
            entries.append(Entry(inode: h.inode, firstExtent: UInt32(extents.count), extentCount: UInt32(h.extents.count),
                                 firstName: UInt32(names.count), nameCount: UInt32(h.paths.count), flags: (h.shared ? 1 : 0) | (h.unwritten ? 2 : 0)))
            extents += h.extents
            for n in h.paths { appendName(n) }
        }
    }

    mutating func appendName(_ n: some Collection<UInt8>) {
        let start = arena.count
        arena += n
        names.append((start, arena.count))
    }
    mutating func appendName(_ n: String) { appendName(n.utf8) }

    public var count: Int { spilled?.count ?? entries.count }
    public var isEmpty: Bool { count == 0 }
    /// A held list's count; 0 for a spilled one, whose read back may end early (a
    /// `Sequence` that yields fewer than this traps in `Array(_:)`).
    public var underestimatedCount: Int { spilled == nil ? entries.count : 0 }
    /// Whether the list was spilled (inode order) rather than held (path order).
    public var isSpilled: Bool { spilled != nil }

    /// The entry at position `i` of a held list.
    func entry(_ i: Int) -> Entry { entries[order.isEmpty ? i : Int(order[i])] }

    func hit(_ e: Entry) -> FileHit {
        let all = (0..<Int(e.nameCount)).map { name(Int(e.firstName) + $0) }
        return FileHit(path: all.first ?? "<inode \(e.inode)>", paths: all, inode: e.inode,
                       extents: Array(extents(of: e)), shared: e.shared, unwritten: e.unwritten)
    }

    static func hit(_ f: JoinedFile) -> FileHit {
        let all = f.names.map { String(decoding: f.arena[$0], as: UTF8.self) }
        return FileHit(path: all.first ?? "<inode \(f.inode)>", paths: all, inode: f.inode, extents: f.extents,
                       shared: f.flags & 1 != 0, unwritten: f.flags & 2 != 0)
    }

    func name(_ k: Int) -> String { String(decoding: nameBytes(k), as: UTF8.self) }
    func nameBytes(_ k: Int) -> ArraySlice<UInt8> { arena[Int(names[k].start)..<Int(names[k].end)] }
    func extents(of e: Entry) -> ArraySlice<ByteRange> { extents[Int(e.firstExtent)..<Int(e.firstExtent + e.extentCount)] }

    /// Every lost byte of every file, without making the `FileHit`s.
    public var totalLostBytes: UInt64 { spilled?.totalLostBytes ?? entries.reduce(0) { $0 + extents(of: $1).reduce(0) { $0 + $1.length } } }

    /// The first file in the list's order.
    public var first: FileHit? {
        var it = makeIterator()
        return it.next()
    }

    /// Why a non-throwing iteration of this spilled list ended early (its temporary file could
    /// not be read back; it never should): a consumer that iterates says so after its loop.
    /// `forEachHit`, `forEachFile` and encoding throw instead.
    public var readFailure: String? { spilled?.readFailure }

    /// The files in order, one at a time. A spilled list whose temporary file cannot be read
    /// back (it never should) ends early and sets `readFailure`: `forEachHit` throws instead.
    public struct Iterator: IteratorProtocol {
        let list: FileList
        var position = 0
        var cursor: SpilledFiles.Cursor?
        var file = JoinedFile()
        var failed = false

        public mutating func next() -> FileHit? {
            guard let spilled = list.spilled else {
                guard position < list.entries.count else { return nil }
                position += 1
                return list.hit(list.entry(position - 1))
            }
            guard !failed else { return nil }
            do {
                if cursor == nil { cursor = try SpilledFiles.Cursor(spilled, names: true) }
                guard try cursor!.next(&file) else { return nil }
                return FileList.hit(file)
            } catch {
                failed = true
                spilled.noteReadFailure(error)
                return nil
            }
        }
    }

    public func makeIterator() -> Iterator { Iterator(list: self) }

    /// One file as the writers read it, borrowed from the list or the join: nothing is copied.
    struct FileView {
        var inode: UInt64
        /// 1: shared, 2: unwritten.
        var flags: UInt8
        var extents: UnsafeBufferPointer<ByteRange>
        /// The names' bytes and where each is (UTF-8, sorted).
        var arena: UnsafeBufferPointer<UInt8>
        var nameCount: Int
        var nameAt: (Int) -> Range<Int>
    }

    /// Each file as a `FileView`, no `FileHit` made. Throws what reading a spilled list back
    /// throws.
    func forEachFile(_ body: (FileView) throws -> Void) throws {
        if let spilled {
            var cursor = try SpilledFiles.Cursor(spilled, names: true)
            var file = JoinedFile()
            while try cursor.next(&file) {
                try file.extents.withUnsafeBufferPointer { e in
                    try file.arena.withUnsafeBufferPointer { a in
                        try body(FileView(inode: file.inode, flags: file.flags, extents: e, arena: a, nameCount: file.names.count, nameAt: { file.names[$0] }))
                    }
                }
            }
            return
        }
        try extents.withUnsafeBufferPointer { all in
            try arena.withUnsafeBufferPointer { a in
                for i in entries.indices {
                    let e = entry(i)
                    let first = Int(e.firstName)
                    try body(FileView(inode: e.inode, flags: e.flags,
                                      extents: UnsafeBufferPointer(rebasing: all[Int(e.firstExtent)..<Int(e.firstExtent + e.extentCount)]),
                                      arena: a, nameCount: Int(e.nameCount), nameAt: { names[first + $0].start..<names[first + $0].end }))
                }
            }
        }
    }

    /// The lost ranges of the files among `inodes` (a few: the ones processes use), by one
    /// pass over the list.
    public func extents(ofInodes inodes: Set<UInt64>) throws -> [UInt64: [ByteRange]] {
        guard !inodes.isEmpty else { return [:] }
        var out: [UInt64: [ByteRange]] = [:]
        if let spilled {
            var cursor = try SpilledFiles.Cursor(spilled, names: false)
            var file = JoinedFile()
            while try cursor.next(&file) { if inodes.contains(file.inode) { out[file.inode] = file.extents } }
            return out
        }
        for e in entries where inodes.contains(e.inode) { out[e.inode] = Array(extents(of: e)) }
        return out
    }

    /// Which inodes to ask about for this list: the set of a held list, every inode for a
    /// spilled one (the set would be as large as the list).
    public var selection: InodeSelection { spilled != nil ? .all : .some(Set(entries.lazy.map(\.inode))) }

    /// Each file as a `FileHit`, in order; a spilled list that cannot be read back to its end
    /// throws rather than ending early.
    public func forEachHit(_ body: (FileHit) throws -> Void) throws {
        guard let spilled else {
            for i in entries.indices { try body(hit(entry(i))) }
            return
        }
        var cursor = try SpilledFiles.Cursor(spilled, names: true)
        var file = JoinedFile()
        while try cursor.next(&file) { try body(FileList.hit(file)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try forEachHit { try c.encode($0) }
    }
}

/// Which inodes a question is about: a set, or every inode of the filesystem (a whole-device
/// impact, where the set would be as large as the filesystem).
public enum InodeSelection: Sendable, Equatable {
    case some(Set<UInt64>)
    case all

    public func contains(_ inode: UInt64) -> Bool {
        switch self {
        case .some(let s): s.contains(inode)
        case .all: true
        }
    }

    public var isEmpty: Bool { if case .some(let s) = self { s.isEmpty } else { false } }
}

/// A filesystem's file owners folded as reverse-map records arrive: their lost pieces appended
/// flat (a file's records come in device order, scattered among the others'), sorted by inode
/// and merged per file only once the map is read; then the names, as the walk finds them,
/// straight into the list's arena. Memory is a few words a piece and the bytes of the names,
/// never a `FileHit` or a `String` a file. Past `policy.pieces` pieces the fold spills: each
/// full buffer is sorted and written as a run to the policy's store, the names likewise, and
/// the list joins the runs as it is read (`SpilledFiles`): memory no longer grows with the
/// files.
struct FileFold {
    let policy: SpillPolicy
    let fs: MountedFilesystem
    private var pieces: [FilePiece] = []
    private var store: (any SpillStore)?
    /// The policy's store said no (nil) or failed: nothing more is spilled.
    private var noStore = false
    private var pieceRuns: [SpillRun] = []
    /// Why spilling stopped (the store failed): the rest is held in memory.
    private(set) var notes: [String] = []

    init(policy: SpillPolicy = SpillPolicy(), fs: MountedFilesystem) {
        self.policy = policy
        self.fs = fs
    }

    var isEmpty: Bool { pieces.isEmpty && pieceRuns.isEmpty }

    mutating func add(inode: UInt64, offset: UInt64, length: UInt64, shared: Bool, unwritten: Bool) {
        pieces.append(FilePiece(inode: inode, offset: offset, length: length, flags: (shared ? 1 : 0) | (unwritten ? 2 : 0)))
        if pieces.count >= policy.pieces { spillPieces() }
    }

    /// The store, made at the first spill; nil when there is none (kept in memory).
    private mutating func spillStore() -> (any SpillStore)? {
        if let store { return store }
        guard let make = policy.store, !noStore else { return nil }
        do { store = try make([fs.mount.majorMinor] + policy.avoid.filter { $0 != fs.mount.majorMinor }) } catch {
            notes.append("the file list of \(fs.mountpoint) could not be spilled to a temporary file (\(error)): it is held in memory")
        }
        if store == nil { noStore = true }
        return store
    }

    private mutating func spillPieces() {
        // Once the store failed nothing more is tried: the rest is held (one note).
        guard !noStore, let store = spillStore() else { return }
        pieces.sort(by: FilePiece.before)
        var w = RunWriter(store)
        do {
            for p in pieces {
                w.piece(p)
                try w.flushIfFull()
            }
            pieceRuns.append(try w.finish())
            pieces.removeAll(keepingCapacity: true)
        } catch {
            // What was written of this run is lost to the list: it is still in `pieces`.
            notes.append("writing the file list of \(fs.mountpoint) to \(store.place) failed (\(error)): the rest is held in memory")
            noStore = true
        }
    }

    /// The files with their names. Held (nothing spilled): sorted by (first path, inode) as
    /// `FileHit`s always were, each file's names sorted, `names` asked for the set of inodes.
    /// Spilled: in inode order, `names` asked for every inode (`.all`) and its answers
    /// spilled as well. `names` is called once, with a body that takes each (inode, name) as
    /// it is found.
    /// `size` gives a named file's size where the records did not: its lost ranges are
    /// clipped there, and a file that loses nothing before its end is left out (a spilled
    /// list by one more pass over its runs, `clipped`).
    consuming func finish(names forEachName: (InodeSelection, (UInt64, String) -> Void) -> [String],
                          size: ((UInt64, String) -> UInt64?)? = nil) -> (files: FileList, notes: [String]) {
        if !pieceRuns.isEmpty, let store, !noStore {
            if !pieces.isEmpty { spillPieces() }
            if pieces.isEmpty, let list = finishSpilled(store, forEachName, size: size) { return (list, notes) }
        }
        let list = finishHeld(forEachName, size: size)
        return (list, notes)
    }

    /// `spilled` with each named file's lost ranges cut at its size (asked by its first name),
    /// a file left with none dropped, as `FileList.clip` does a held list: one pass over the
    /// join, the pieces written again as one run (already in inode order), the names kept.
    /// A size a file: the same stat a held list costs, with memory still bounded.
    static func clipped(_ spilled: SpilledFiles, store: any SpillStore, size: (UInt64, String) -> UInt64?) throws -> SpilledFiles {
        var cursor = try SpilledFiles.Cursor(spilled, names: true)
        var file = JoinedFile()
        var w = RunWriter(store)
        while try cursor.next(&file) {
            let end = file.names.first.flatMap { size(file.inode, String(decoding: file.arena[$0], as: UTF8.self)) }
            for e in file.extents {
                var length = e.length
                if let end {
                    guard e.offset < end else { break }
                    length = Swift.min(length, end - e.offset)
                }
                w.piece(FilePiece(inode: file.inode, offset: e.offset, length: length, flags: file.flags))
                try w.flushIfFull()
            }
        }
        return try SpilledFiles(pieceRuns: [try w.finish()], nameRuns: spilled.nameRuns, place: spilled.place)
    }

    private mutating func finishSpilled(_ store: any SpillStore, _ forEachName: (InodeSelection, (UInt64, String) -> Void) -> [String],
                                        size: ((UInt64, String) -> UInt64?)?) -> FileList? {
        // Names as (inode, bytes) runs, each sorted by inode then bytes.
        var arena: [UInt8] = []
        var held: [(inode: UInt64, start: Int, end: Int)] = []
        var nameRuns: [SpillRun] = []
        var failure: (any Error)?
        func spillNames() {
            guard failure == nil, !held.isEmpty else { return }
            held.sort { a, b in
                a.inode != b.inode ? a.inode < b.inode : arena[a.start..<a.end].lexicographicallyPrecedes(arena[b.start..<b.end])
            }
            var w = RunWriter(store)
            do {
                for n in held {
                    w.u64(n.inode); w.u32(UInt32(n.end - n.start)); w.bytes(arena[n.start..<n.end])
                    try w.flushIfFull()
                }
                nameRuns.append(try w.finish())
            } catch { failure = error }
            held.removeAll(keepingCapacity: true)
            arena.removeAll(keepingCapacity: true)
        }
        notes += forEachName(.all) { inode, name in
            guard failure == nil else { return }
            let s = arena.count
            arena += name.utf8
            held.append((inode, s, arena.count))
            if arena.count + held.count * 24 >= policy.nameBytes { spillNames() }
        }
        spillNames()
        do {
            if let failure { throw failure }
            var spilled = try SpilledFiles(pieceRuns: pieceRuns, nameRuns: nameRuns, place: store.place)
            if let size { spilled = try Self.clipped(spilled, store: store, size: size) }
            var list = FileList()
            list.spilled = spilled
            return list
        } catch {
            notes.append("the spilled file list of \(fs.mountpoint) in \(store.place) could not be written or read back (\(error))")
            return nil
        }
    }

    private mutating func finishHeld(_ forEachName: (InodeSelection, (UInt64, String) -> Void) -> [String],
                                     size: ((UInt64, String) -> UInt64?)? = nil) -> FileList {
        // Pieces spilled before a store failed come back into memory.
        if !pieceRuns.isEmpty {
            do {
                var merge = try RunMerge<FilePiece>(pieceRuns)
                while let p = try merge.pop() { pieces.append(p) }
            } catch {
                notes.append("pieces of the file list of \(fs.mountpoint) could not be read back (\(error)): files may be missing from the list")
            }
            pieceRuns = []
        }
        pieces.sort(by: FilePiece.before)
        var list = FileList()
        var inodes: [UInt64] = []
        var at = 0
        while at < pieces.count {
            let inode = pieces[at].inode
            let first = list.extents.count
            var flags: UInt8 = 0
            while at < pieces.count && pieces[at].inode == inode {
                let p = pieces[at]
                at += 1
                flags |= p.flags
                guard p.length > 0 else { continue }
                if list.extents.count > first, let last = list.extents.last, p.offset <= last.end {
                    list.extents[list.extents.count - 1].length = max(last.end, p.offset + p.length) - last.offset
                } else {
                    list.extents.append(ByteRange(offset: p.offset, length: p.length))
                }
            }
            guard list.extents.count > first else { continue }
            inodes.append(inode)
            list.entries.append(FileList.Entry(inode: inode, firstExtent: UInt32(first), extentCount: UInt32(list.extents.count - first),
                                               firstName: 0, nameCount: 0, flags: flags))
        }
        pieces = []
        // Names as they come: (slot, name id), then grouped by slot (a counting sort). The
        // entries are in inode order: a name's slot is found by binary search.
        var named: [(slot: UInt32, id: UInt32)] = []
        var found = FileList()
        if !inodes.isEmpty {
            notes += forEachName(.some(Set(inodes))) { inode, name in
                var lo = 0, hi = inodes.count
                while lo < hi { let mid = (lo + hi) / 2; if inodes[mid] < inode { lo = mid + 1 } else { hi = mid } }
                guard lo < inodes.count, inodes[lo] == inode else { return }
                named.append((UInt32(lo), UInt32(found.names.count)))
                found.appendName(name)
            }
        }
        var begin = [UInt32](repeating: 0, count: inodes.count + 1)
        for n in named { begin[Int(n.slot) + 1] += 1 }
        for i in 0..<inodes.count { begin[i + 1] += begin[i] }
        var grouped = [UInt32](repeating: 0, count: named.count)
        var next = begin
        for n in named { grouped[Int(next[Int(n.slot)])] = n.id; next[Int(n.slot)] += 1 }
        named = []
        list.arena = found.arena
        found.arena = []
        list.names.reserveCapacity(grouped.count)
        for s in 0..<inodes.count {
            let ids = grouped[Int(begin[s])..<Int(begin[s + 1])]
            list.entries[s].firstName = UInt32(list.names.count)
            list.entries[s].nameCount = UInt32(ids.count)
            if ids.count == 1 {
                list.names.append(found.names[Int(ids.first!)])
            } else if ids.count > 1 {
                let sorted = ids.map { found.names[Int($0)] }.sorted { list.string($0) < list.string($1) }
                list.names += sorted
            }
        }
        if let size { list.clip(size) }
        list.order = list.pathOrder().map { UInt32($0) }
        return list
    }
}

extension FileList {
    /// Each named entry's lost ranges cut at its file's size (asked by its first name), an
    /// entry left with none dropped. Before `order` is made.
    mutating func clip(_ size: (UInt64, String) -> UInt64?) {
        var kept: [Entry] = []
        kept.reserveCapacity(entries.count)
        for var e in entries {
            if e.nameCount > 0, let end = size(e.inode, name(Int(e.firstName))) {
                var n: UInt32 = 0
                for k in Int(e.firstExtent)..<Int(e.firstExtent + e.extentCount) where extents[k].offset < end {
                    extents[k].length = Swift.min(extents[k].length, end - extents[k].offset)
                    n += 1
                }
                // Sorted: the ones kept are the first n.
                e.extentCount = n
                if n == 0 { continue }
            }
            kept.append(e)
        }
        entries = kept
    }
}

extension FileList {
    func string(_ n: (start: Int, end: Int)) -> String { String(decoding: arena[Int(n.start)..<Int(n.end)], as: UTF8.self) }

    /// The entries' indices in (path, inode) order, as `String` compares paths: by bytes
    /// where that is the same (ASCII around the first difference), as strings where a name is
    /// not ASCII there (a combining mark after a letter composes into a larger scalar, NFC).
    func pathOrder() -> [Int] {
        // Where each entry's sort key is (its first name; -1: none, `<inode N>`), and how
        // many leading bytes every name shares (the mountpoint): compared from there.
        let keys: [(Int, Int)] = entries.map { e in
            guard e.nameCount > 0 else { return (-1, -1) }
            let n = names[Int(e.firstName)]
            return (Int(n.start), Int(n.end))
        }
        var common = Int.max
        arena.withUnsafeBufferPointer { a in
            guard let first = keys.first(where: { $0.0 >= 0 }) else { return }
            for (s, e) in keys where s >= 0 {
                var j = 0
                let n = Swift.min(common, e - s, first.1 - first.0)
                while j < n && a[s + j] == a[first.0 + j] { j += 1 }
                common = j
            }
        }
        // The shared bytes are ASCII or the comparison starts before them.
        if common == Int.max { common = 0 }
        arena.withUnsafeBufferPointer { a in
            var j = 0
            if let first = keys.first(where: { $0.0 >= 0 }) { while j < common && a[first.0 + j] < 0x80 { j += 1 } }
            common = j
        }
        let skip = common
        // The 8 bytes after the shared prefix as one big-endian number (zero past the end:
        // no name holds a NUL), where they and the byte after are ASCII: two such numbers
        // that differ order their names as bytes, and as `String`s.
        var prefix = [UInt64](repeating: 0, count: keys.count)
        var asciiPrefix = [Bool](repeating: false, count: keys.count)
        arena.withUnsafeBufferPointer { a in
            for (i, (s, e)) in keys.enumerated() where s >= 0 {
                var v: UInt64 = 0, ascii = true
                for j in 0..<9 {
                    let b: UInt8 = s + skip + j < e ? a[s + skip + j] : 0
                    if b >= 0x80 { ascii = false }
                    if j < 8 { v = v << 8 | UInt64(b) }
                }
                prefix[i] = v
                asciiPrefix[i] = ascii
            }
        }
        return arena.withUnsafeBufferPointer { a in
            func key(_ i: Int) -> (Int, Int) { keys[i] }
            func string(_ i: Int) -> String {
                let (s, e) = key(i)
                return s < 0 ? "<inode \(entries[i].inode)>" : String(decoding: UnsafeBufferPointer(rebasing: a[s..<e]), as: UTF8.self)
            }
            func bytewise(_ x: Int, _ y: Int) -> Int? {
                let (xs, xe) = key(x), (ys, ye) = key(y)
                guard xs >= 0, ys >= 0 else { return nil }
                let n = Swift.min(xe - xs, ye - ys)
                var j = skip
                while j < n && a[xs + j] == a[ys + j] { j += 1 }
                let xb: UInt8? = xs + j < xe ? a[xs + j] : nil, yb: UInt8? = ys + j < ye ? a[ys + j] : nil
                let xn: UInt8 = xs + j + 1 < xe ? a[xs + j + 1] : 0, yn: UInt8 = ys + j + 1 < ye ? a[ys + j + 1] : 0
                if (xb ?? 0) >= 0x80 || (yb ?? 0) >= 0x80 || xn >= 0x80 || yn >= 0x80 { return nil }
                switch (xb, yb) {
                case (nil, nil): return 0
                case (nil, _): return -1
                case (_, nil): return 1
                case let (p?, q?): return p < q ? -1 : 1
                }
            }
            return entries.indices.sorted { x, y in
                if asciiPrefix[x] && asciiPrefix[y] && prefix[x] != prefix[y] { return prefix[x] < prefix[y] }
                let order: Int
                if let o = bytewise(x, y) { order = o } else {
                    let sx = string(x), sy = string(y)
                    order = sx == sy ? 0 : (sx < sy ? -1 : 1)
                }
                return order != 0 ? order < 0 : entries[x].inode < entries[y].inode
            }
        }
    }
}
