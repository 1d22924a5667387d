/// The files a filesystem loses, sorted by path, in a compact store: one fixed-size entry a
/// file, their lost ranges in one flat array and their names in one byte arena, instead of a
/// `FileHit` (three arrays and several strings, each its own allocation) a file. A whole-device
/// impact lists every file of the filesystem (millions), so the list is a collection whose
/// elements are made as they are read: the streaming JSON writer and `remove` take one at a
/// time, and nothing holds them all as `FileHit`s. Encodes as the array of `FileHit`s.
public struct FileList: RandomAccessCollection, Encodable, Sendable, ExpressibleByArrayLiteral {
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

    mutating func appendName(_ n: String) {
        let start = arena.count
        arena += n.utf8
        names.append((start, arena.count))
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { entries.count }

    /// The entry at position `i`.
    func entry(_ i: Int) -> Entry { entries[order.isEmpty ? i : Int(order[i])] }

    public subscript(i: Int) -> FileHit {
        let e = entry(i)
        let all = (0..<Int(e.nameCount)).map { name(Int(e.firstName) + $0) }
        return FileHit(path: all.first ?? "<inode \(e.inode)>", paths: all, inode: e.inode,
                       extents: Array(extents(of: e)), shared: e.shared, unwritten: e.unwritten)
    }

    func name(_ k: Int) -> String { String(decoding: nameBytes(k), as: UTF8.self) }
    func nameBytes(_ k: Int) -> ArraySlice<UInt8> { arena[Int(names[k].start)..<Int(names[k].end)] }
    func extents(of e: Entry) -> ArraySlice<ByteRange> { extents[Int(e.firstExtent)..<Int(e.firstExtent + e.extentCount)] }

    /// Every lost byte of every file, without making the `FileHit`s.
    public var totalLostBytes: UInt64 { extents.reduce(0) { $0 + $1.length } }

    /// The inodes in order, without making the `FileHit`s.
    public var inodes: some Sequence<UInt64> { indices.lazy.map { entry($0).inode } }

    /// The lost ranges of the file at `i`, without making its `FileHit`.
    public func extents(at i: Int) -> ArraySlice<ByteRange> { extents(of: entry(i)) }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        for f in self { try c.encode(f) }
    }
}

/// A filesystem's file owners folded as reverse-map records arrive: a slot an inode, its lost
/// pieces appended flat (a file's records come in device order, scattered among the others'),
/// sorted and merged per file only once the map is read; then the names, as the walk finds
/// them, straight into the list's arena. Memory is a few words a piece and a slot, and the
/// bytes of the names, never a `FileHit` or a `String` a file.
struct FileFold {
    private var slot: [UInt64: UInt32] = [:]
    private var inodes: [UInt64] = []
    private var flags: [UInt8] = []
    /// (slot, file offset, length) of every lost piece, in arrival order.
    private var pieces: [(slot: UInt32, offset: UInt64, length: UInt64)] = []

    var count: Int { inodes.count }
    var isEmpty: Bool { inodes.isEmpty }

    mutating func add(inode: UInt64, offset: UInt64, length: UInt64, shared: Bool, unwritten: Bool) {
        let s: UInt32
        if let known = slot[inode] { s = known } else {
            s = UInt32(inodes.count)
            slot[inode] = s
            inodes.append(inode)
            flags.append(0)
        }
        flags[Int(s)] |= (shared ? 1 : 0) | (unwritten ? 2 : 0)
        pieces.append((s, offset, length))
    }

    /// The files, sorted by (first path, inode) as `FileHit`s always were, each file's names
    /// sorted and its pieces merged. `names` is called once, with the inodes and a body that
    /// takes each (inode, name) as it is found.
    consuming func finish(names forEachName: (Set<UInt64>, (UInt64, String) -> Void) -> Void) -> FileList {
        pieces.sort { ($0.slot, $0.offset, $0.length) < ($1.slot, $1.offset, $1.length) }
        var list = FileList()
        list.entries.reserveCapacity(inodes.count)
        var at = 0
        for s in 0..<inodes.count {
            let first = list.extents.count
            while at < pieces.count && Int(pieces[at].slot) == s {
                let p = pieces[at]
                at += 1
                guard p.length > 0 else { continue }
                if list.extents.count > first, let last = list.extents.last, p.offset <= last.end {
                    list.extents[list.extents.count - 1].length = max(last.end, p.offset + p.length) - last.offset
                } else {
                    list.extents.append(ByteRange(offset: p.offset, length: p.length))
                }
            }
            list.entries.append(FileList.Entry(inode: inodes[s], firstExtent: UInt32(first), extentCount: UInt32(list.extents.count - first),
                                               firstName: 0, nameCount: 0, flags: flags[s]))
        }
        pieces = []
        flags = []
        // Names as they come: (slot, name id), then grouped by slot (a counting sort).
        var named: [(slot: UInt32, id: UInt32)] = []
        var found = FileList()
        if !inodes.isEmpty {
            forEachName(Set(inodes)) { inode, name in
                guard let s = slot[inode] else { return }
                named.append((s, UInt32(found.names.count)))
                found.appendName(name)
            }
        }
        slot = [:]
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
        inodes = []
        list.order = list.pathOrder().map { UInt32($0) }
        return list
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
