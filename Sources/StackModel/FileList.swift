/// The files a filesystem loses, sorted by path, in a compact store: one fixed-size entry a
/// file, their lost ranges in one flat array and their names in one byte arena, instead of a
/// `FileHit` (three arrays and several strings, each its own allocation) a file. A whole-device
/// impact lists every file of the filesystem (millions), so the list is a collection whose
/// elements are made as they are read: the streaming JSON writer and `remove` take one at a
/// time, and nothing holds them all as `FileHit`s. Encodes as the array of `FileHit`s.
public struct FileList: RandomAccessCollection, Encodable, Sendable, ExpressibleByArrayLiteral {
    struct Entry: Sendable {
        var inode: UInt64
        var firstExtent: Int
        var extentCount: Int32
        var nameCount: Int32
        var firstName: Int
        var shared: Bool
        var unwritten: Bool
    }
    var entries: [Entry] = []
    /// Lost ranges, each file's merged and contiguous here (offset, length pairs).
    var extents: [ByteRange] = []
    /// Name k is `arena[bounds[k]..<bounds[k + 1]]` (UTF-8).
    var arena: [UInt8] = []
    var bounds: [Int] = [0]

    public init() {}
    public init(arrayLiteral elements: FileHit...) { self.init(elements) }
    /// From `FileHit`s already in order.
    public init(_ hits: some Sequence<FileHit>) {
        for h in hits { append(inode: h.inode, extents: h.extents, names: h.paths, shared: h.shared, unwritten: h.unwritten) }
    }

    mutating func append(inode: UInt64, extents lost: some Collection<ByteRange>, names: [String], shared: Bool, unwritten: Bool) {
        entries.append(Entry(inode: inode, firstExtent: extents.count, extentCount: Int32(lost.count), nameCount: Int32(names.count),
                             firstName: bounds.count - 1, shared: shared, unwritten: unwritten))
        extents.append(contentsOf: lost)
        for n in names {
            arena.append(contentsOf: n.utf8)
            bounds.append(arena.count)
        }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { entries.count }

    public subscript(i: Int) -> FileHit {
        let e = entries[i]
        let names = (0..<Int(e.nameCount)).map { name(e.firstName + $0) }
        return FileHit(path: names.first ?? "<inode \(e.inode)>", paths: names, inode: e.inode,
                       extents: Array(extents[e.firstExtent..<e.firstExtent + Int(e.extentCount)]), shared: e.shared, unwritten: e.unwritten)
    }

    func name(_ k: Int) -> String { String(decoding: arena[bounds[k]..<bounds[k + 1]], as: UTF8.self) }

    /// Every lost byte of every file, without making the `FileHit`s.
    public var totalLostBytes: UInt64 { extents.reduce(0) { $0 + $1.length } }

    /// The inodes, without making the `FileHit`s.
    public var inodes: some Sequence<UInt64> { entries.lazy.map(\.inode) }

    /// The lost ranges of the file at `i`, without making its `FileHit`.
    public func extents(at i: Int) -> ArraySlice<ByteRange> {
        let e = entries[i]
        return extents[e.firstExtent..<e.firstExtent + Int(e.extentCount)]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        for f in self { try c.encode(f) }
    }
}

/// A filesystem's file owners folded as reverse-map records arrive: a slot an inode, its lost
/// pieces appended flat (a file's records come in device order, scattered among the others'),
/// sorted and merged per file only once the map is read. Memory is a few words a piece and a
/// slot, never a `FileHit` a file.
struct FileFold {
    private var slot: [UInt64: Int32] = [:]
    private var inodes: [UInt64] = []
    private var flags: [UInt8] = []
    /// (slot, file offset, length) of every lost piece, in arrival order.
    private var pieces: [(slot: Int32, offset: UInt64, length: UInt64)] = []

    var count: Int { inodes.count }
    var isEmpty: Bool { inodes.isEmpty }
    var allInodes: Set<UInt64> { Set(inodes) }

    mutating func add(inode: UInt64, offset: UInt64, length: UInt64, shared: Bool, unwritten: Bool) {
        let s: Int32
        if let known = slot[inode] { s = known } else {
            s = Int32(inodes.count)
            slot[inode] = s
            inodes.append(inode)
            flags.append(0)
        }
        flags[Int(s)] |= (shared ? 1 : 0) | (unwritten ? 2 : 0)
        pieces.append((s, offset, length))
    }

    /// The files, sorted by (first path, inode) as `FileHit`s always were, each file's names
    /// sorted and its pieces merged; `names` gives the names of the inodes asked. The sort
    /// compares names in the arena (bytes, as `String` orders ASCII; as `String`s where a name
    /// is not ASCII), never making a string a file.
    consuming func finish(names: [UInt64: [String]]) -> FileList {
        pieces.sort { ($0.slot, $0.offset, $0.length) < ($1.slot, $1.offset, $1.length) }
        slot = [:]
        // In slot order first, then permuted into path order.
        var bySlot = FileList()
        bySlot.entries.reserveCapacity(inodes.count)
        var merged: [ByteRange] = []
        var at = 0
        for s in 0..<inodes.count {
            merged.removeAll(keepingCapacity: true)
            while at < pieces.count && Int(pieces[at].slot) == s {
                let p = pieces[at]
                at += 1
                guard p.length > 0 else { continue }
                if let last = merged.last, p.offset <= last.end {
                    merged[merged.count - 1].length = max(last.end, p.offset + p.length) - last.offset
                } else {
                    merged.append(ByteRange(offset: p.offset, length: p.length))
                }
            }
            let n = names[inodes[s]] ?? []
            bySlot.append(inode: inodes[s], extents: merged, names: n.count > 1 ? n.sorted() : n, shared: flags[s] & 1 != 0, unwritten: flags[s] & 2 != 0)
        }
        pieces = []
        let order = bySlot.pathOrder()
        var list = FileList()
        list.entries.reserveCapacity(bySlot.entries.count)
        list.extents.reserveCapacity(bySlot.extents.count)
        list.arena.reserveCapacity(bySlot.arena.count)
        list.bounds.reserveCapacity(bySlot.bounds.count)
        for i in order {
            let e = bySlot.entries[i]
            list.entries.append(FileList.Entry(inode: e.inode, firstExtent: list.extents.count, extentCount: e.extentCount, nameCount: e.nameCount,
                                      firstName: list.bounds.count - 1, shared: e.shared, unwritten: e.unwritten))
            list.extents.append(contentsOf: bySlot.extents[e.firstExtent..<e.firstExtent + Int(e.extentCount)])
            for k in e.firstName..<e.firstName + Int(e.nameCount) {
                list.arena.append(contentsOf: bySlot.arena[bySlot.bounds[k]..<bySlot.bounds[k + 1]])
                list.bounds.append(list.arena.count)
            }
        }
        return list
    }
}

extension FileList {
    /// The indices in (path, inode) order, as `String` compares paths: by bytes where that is
    /// the same (ASCII around the first difference), as strings where a name is not ASCII
    /// there (a combining mark after a letter composes into a larger scalar, NFC).
    func pathOrder() -> [Int] {
        let keys = entries.map { e in e.nameCount > 0 ? (bounds[e.firstName], bounds[e.firstName + 1]) : (-1, -1) }
        return arena.withUnsafeBufferPointer { a in
            func string(_ i: Int) -> String {
                keys[i].0 < 0 ? "<inode \(entries[i].inode)>" : String(decoding: UnsafeBufferPointer(rebasing: a[keys[i].0..<keys[i].1]), as: UTF8.self)
            }
            func bytewise(_ x: Int, _ y: Int) -> Int? {
                let (xs, xe) = keys[x], (ys, ye) = keys[y]
                guard xs >= 0, ys >= 0 else { return nil }
                let n = Swift.min(xe - xs, ye - ys)
                var j = 0
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
