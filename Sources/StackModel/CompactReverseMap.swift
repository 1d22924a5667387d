/// A reverse map held as columns (one array per field) instead of one object per record: a
/// captured map of millions of records costs tens of bytes a record in memory, and the
/// records overlapping a range are found by binary search over the records sorted by their
/// start, not by a scan of all of them.
struct ReverseMapColumns: Sendable, Hashable {
    /// `HolderRole.allCases` index of each record.
    private(set) var role: [UInt8] = []
    private(set) var physical: [UInt64] = []
    private(set) var length: [UInt64] = []
    /// The owning inode (0 where `code` says there is none).
    private(set) var inode: [UInt64] = []
    private(set) var offset: [UInt64] = []
    /// Flags, whether there is an inode and the metadata kind, as `RecordCode` packs them.
    private(set) var code: [UInt32] = []
    /// The metadata kinds, each once; a code's kind slot k names `kinds[k - 1]`.
    private(set) var kinds: [String] = []
    private var kindSlot: [String: UInt32] = [:]

    var count: Int { code.count }

    mutating func append(_ r: ReverseMapRecord) {
        var slot: UInt32 = 0
        if let kind = r.metadata {
            if let known = kindSlot[kind] { slot = known } else {
                kinds.append(kind)
                slot = UInt32(kinds.count)
                kindSlot[kind] = slot
            }
        }
        role.append(UInt8(HolderRole.allCases.firstIndex(of: r.role) ?? 0))
        physical.append(r.physical)
        length.append(r.length)
        inode.append(r.inode ?? 0)
        offset.append(r.offset)
        code.append(RecordCode.pack(r, kindSlot: slot))
    }

    func record(_ i: Int) -> ReverseMapRecord {
        let c = code[i]
        let slot = Int(c >> RecordCode.kindShift)
        return ReverseMapRecord(role: HolderRole.allCases[Int(role[i])], physical: physical[i], length: length[i],
                                inode: c & RecordCode.noInode == 0 ? inode[i] : nil,
                                metadata: slot == 0 ? nil : kinds[slot - 1], offset: offset[i],
                                attributeFork: c & RecordCode.attributeFork != 0, extentMap: c & RecordCode.extentMap != 0,
                                unwritten: c & RecordCode.unwritten != 0, shared: c & RecordCode.shared != 0)
    }

    func end(_ i: Int) -> UInt64 { physical[i] + length[i] }
}

/// How one record's owner and flags pack into one small integer, so the commonest record,
/// file data of an inode with no flag, is 0: bits 0-3 the GETFSMAP flags (attribute fork,
/// extent map, unwritten, shared; include/uapi/linux/fsmap.h FMR_OF_*), bit 4 set when the
/// owner is no inode, bits 5 and up the metadata kind slot (0: none).
enum RecordCode {
    static let attributeFork: UInt32 = 1, extentMap: UInt32 = 2, unwritten: UInt32 = 4, shared: UInt32 = 8
    static let noInode: UInt32 = 16
    static let kindShift: UInt32 = 5

    static func pack(_ r: ReverseMapRecord, kindSlot: UInt32) -> UInt32 {
        (r.attributeFork ? attributeFork : 0) | (r.extentMap ? extentMap : 0) | (r.unwritten ? unwritten : 0)
            | (r.shared ? shared : 0) | (r.inode == nil ? noInode : 0) | kindSlot << kindShift
    }
}

/// The records of one role sorted by start, with the running maximum of their ends: the
/// records overlapping [start, end) are the ones from the first whose running maximum end
/// passes `start` up to the first that starts at or after `end` (both binary searches).
struct RoleIndex: Sendable, Hashable {
    /// Record numbers, sorted by start (then by capture order).
    var order: [UInt32] = []
    /// maxEnd[k]: the largest end of the records order[0...k].
    var maxEnd: [UInt64] = []

    init(_ columns: ReverseMapColumns, role: UInt8) {
        var picked: [UInt32] = []
        for i in 0..<columns.count where columns.role[i] == role { picked.append(UInt32(i)) }
        // Captured maps come sorted from GETFSMAP; a FIEMAP walk's come file by file.
        var sorted = true
        for k in picked.indices.dropFirst() where columns.physical[Int(picked[k - 1])] > columns.physical[Int(picked[k])] {
            sorted = false
            break
        }
        if !sorted { picked.sort { (columns.physical[Int($0)], $0) < (columns.physical[Int($1)], $1) } }
        order = picked
        maxEnd.reserveCapacity(picked.count)
        var running: UInt64 = 0
        for i in picked {
            running = max(running, columns.end(Int(i)))
            maxEnd.append(running)
        }
    }

    /// The record numbers overlapping any of `merged` (sorted, disjoint, non-empty), in
    /// capture order, each once.
    func overlapping(_ merged: [ByteRange], in columns: ReverseMapColumns) -> [Int] {
        var hits: [Int] = []
        for range in merged {
            var low = 0, high = order.count
            while low < high {
                let mid = (low + high) / 2
                if maxEnd[mid] <= range.offset { low = mid + 1 } else { high = mid }
            }
            var k = low
            while k < order.count {
                let i = Int(order[k])
                if columns.physical[i] >= range.end { break }
                // The same test as ByteRange.overlapping: [physical, end) meets the range.
                if columns.end(i) > range.offset { hits.append(i) }
                k += 1
            }
        }
        if merged.count > 1 {
            hits.sort()
            var unique: [Int] = []
            unique.reserveCapacity(hits.count)
            for h in hits where unique.last != h { unique.append(h) }
            return unique
        }
        return hits.sorted()
    }
}

/// One block of a captured reverse map as the snapshot file (version 4) stores it: up to
/// `ReverseMapBlock.capacity` records of one role as parallel arrays of small integers, so a
/// record costs a dozen bytes or so of JSON rather than a 200-byte object, and a capture can
/// write its map block by block as the records arrive.
struct ReverseMapBlock: Codable, Sendable, Hashable {
    /// Records a block holds at most: a capture buffers one block.
    static let capacity = 65_536

    var role: HolderRole
    /// The metadata kinds the block's codes name, slot 1 first.
    var kinds: [String]
    /// Each record's `RecordCode`.
    var code: [UInt32]
    /// Each record's start minus the previous record's end (the first one's: minus 0), as a
    /// 64-bit two's-complement difference: 0 for the contiguous records GETFSMAP reports.
    var gap: [Int64]
    var length: [UInt64]
    /// For each record with an inode owner, in order: its inode minus the previous such
    /// record's inode (the first: minus 0), two's complement.
    var inode: [Int64]
    /// Each record's offset in its file.
    var offset: [UInt64]

    /// Appends the block's records to `columns`, after checking that its arrays agree.
    func decode(into columns: inout ReverseMapColumns) throws(ReverseMapBlockError) {
        let n = code.count
        guard gap.count == n, length.count == n, offset.count == n else {
            throw ReverseMapBlockError("its code, gap, length and offset arrays have different lengths (\(n), \(gap.count), \(length.count), \(offset.count))")
        }
        let owned = code.reduce(0) { $0 + ($1 & RecordCode.noInode == 0 ? 1 : 0) }
        guard inode.count == owned else { throw ReverseMapBlockError("it has \(inode.count) inode entries for \(owned) records with an inode owner") }
        var end: UInt64 = 0, lastInode: UInt64 = 0, k = 0
        for i in 0..<n {
            let c = code[i]
            let slot = Int(c >> RecordCode.kindShift)
            guard slot <= kinds.count else { throw ReverseMapBlockError("record \(i) names metadata kind \(slot) of \(kinds.count)") }
            let start = end &+ UInt64(bitPattern: gap[i])
            let (stop, overflow) = start.addingReportingOverflow(length[i])
            guard !overflow else { throw ReverseMapBlockError("record \(i) runs past the largest byte offset") }
            guard !offset[i].addingReportingOverflow(length[i]).overflow else { throw ReverseMapBlockError("record \(i)'s file range runs past the largest byte offset") }
            var inodeNumber: UInt64?
            if c & RecordCode.noInode == 0 {
                lastInode = lastInode &+ UInt64(bitPattern: inode[k])
                k += 1
                inodeNumber = lastInode
            }
            columns.append(ReverseMapRecord(role: role, physical: start, length: length[i], inode: inodeNumber,
                                            metadata: slot == 0 ? nil : kinds[slot - 1], offset: offset[i],
                                            attributeFork: c & RecordCode.attributeFork != 0, extentMap: c & RecordCode.extentMap != 0,
                                            unwritten: c & RecordCode.unwritten != 0, shared: c & RecordCode.shared != 0))
            end = stop
        }
    }
}

/// A block of a compact reverse map whose arrays do not fit together.
struct ReverseMapBlockError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Builds `ReverseMapBlock`s from records as they arrive: one block in memory at a time.
public struct ReverseMapBlockBuilder: Sendable {
    var block: ReverseMapBlock?
    var kindSlot: [String: UInt32] = [:]
    var end: UInt64 = 0, lastInode: UInt64 = 0

    public init() {}

    /// Adds `r`; returns the block it completed, if any (a full one, or one of another role).
    mutating func add(_ r: ReverseMapRecord) -> ReverseMapBlock? {
        var done: ReverseMapBlock?
        if let b = block, b.role != r.role || b.code.count >= ReverseMapBlock.capacity { done = flush() }
        if block == nil {
            block = ReverseMapBlock(role: r.role, kinds: [], code: [], gap: [], length: [], inode: [], offset: [])
            kindSlot = [:]
            end = 0
            lastInode = 0
        }
        var slot: UInt32 = 0
        if let kind = r.metadata {
            if let known = kindSlot[kind] { slot = known } else {
                block!.kinds.append(kind)
                slot = UInt32(block!.kinds.count)
                kindSlot[kind] = slot
            }
        }
        block!.code.append(RecordCode.pack(r, kindSlot: slot))
        block!.gap.append(Int64(bitPattern: r.physical &- end))
        block!.length.append(r.length)
        block!.offset.append(r.offset)
        if let inode = r.inode {
            block!.inode.append(Int64(bitPattern: inode &- lastInode))
            lastInode = inode
        }
        end = r.physical &+ r.length
        return done
    }

    /// The block being filled, if it has records; the builder starts a new one after.
    mutating func flush() -> ReverseMapBlock? {
        defer { block = nil }
        return block
    }
}

/// The names of a map's inodes as the snapshot file (version 4) stores them: (inode, path)
/// pairs, grouped by inode in the order its names were found, the groups sorted by their
/// first path, each path stored as how many Unicode scalars it shares with the path before
/// it plus the rest (front coding: the names in one directory differ in their last few
/// characters), inodes as differences from the one before. Blocks decode on their own.
struct PathBlock: Codable, Sendable, Hashable {
    static let capacity = 65_536

    /// Each pair's inode minus the previous pair's (the first: minus 0), two's complement.
    var inode: [Int64]
    /// Unicode scalars each path shares with the previous pair's path (the first: 0).
    var shared: [Int]
    var suffix: [String]

    /// Appends the block's names to `table`. Works on UTF-8 bytes (a scalar starts at every
    /// byte that is not a continuation byte, 0b10xxxxxx), not on arrays of scalars.
    func decode(into table: inout [UInt64: [String]]) throws(ReverseMapBlockError) {
        guard shared.count == inode.count, suffix.count == inode.count else {
            throw ReverseMapBlockError("its inode, shared and suffix arrays have different lengths (\(inode.count), \(shared.count), \(suffix.count))")
        }
        // A block as capture writes it: at most `capacity` names, none longer than PATH_MAX
        // (include/uapi/linux/limits.h). Without these a small hostile block (each name the
        // previous one plus a letter) would decode into gigabytes.
        guard inode.count <= Self.capacity else {
            throw ReverseMapBlockError("it has \(inode.count) paths, more than the \(Self.capacity) a block holds")
        }
        var last: UInt64 = 0
        var previous: [UInt8] = [], previousScalars = 0
        for i in inode.indices {
            let keep = shared[i]
            guard keep >= 0, keep <= previousScalars else {
                throw ReverseMapBlockError("path \(i) shares \(keep) characters with a path of \(previousScalars)")
            }
            last = last &+ UInt64(bitPattern: inode[i])
            var bytes = 0, scalars = 0
            while bytes < previous.count {
                if previous[bytes] & 0xC0 != 0x80 {
                    if scalars == keep { break }
                    scalars += 1
                }
                bytes += 1
            }
            previous.removeLast(previous.count - bytes)
            previous.append(contentsOf: suffix[i].utf8)
            previousScalars = keep + suffix[i].unicodeScalars.count
            guard previous.count <= 4096 else { throw ReverseMapBlockError("path \(i) is longer than PATH_MAX (4096 bytes)") }
            table[last, default: []].append(String(decoding: previous, as: UTF8.self))
        }
    }

    /// `table`'s names in blocks.
    static func encode(_ table: [UInt64: [String]]) -> [PathBlock] {
        let groups = table.filter { !$0.value.isEmpty }.sorted { ($0.value[0], $0.key) < ($1.value[0], $1.key) }
        var blocks: [PathBlock] = []
        var builder = PathBlockBuilder()
        for (inode, names) in groups {
            for name in names { if let full = builder.add(inode, name) { blocks.append(full) } }
        }
        if let last = builder.flush() { blocks.append(last) }
        return blocks
    }
}

/// Builds `PathBlock`s pair by pair.
struct PathBlockBuilder {
    var block = PathBlock(inode: [], shared: [], suffix: [])
    var last: UInt64 = 0
    var previous: [Unicode.Scalar] = []

    /// Adds a name; returns the block it completed, if any.
    mutating func add(_ inode: UInt64, _ path: String) -> PathBlock? {
        // A name past PATH_MAX is not stored (the reader refuses one): the file stays listed
        // by inode, as one the walk did not name.
        guard path.utf8.count <= 4096 else { return nil }
        var done: PathBlock?
        if block.inode.count >= PathBlock.capacity { done = flush() }
        let scalars = Array(path.unicodeScalars)
        var common = 0
        while common < scalars.count, common < previous.count, scalars[common] == previous[common] { common += 1 }
        block.inode.append(Int64(bitPattern: inode &- last))
        block.shared.append(common)
        var rest = ""
        rest.unicodeScalars.append(contentsOf: scalars[common...])
        block.suffix.append(rest)
        last = inode
        previous = scalars
        return done
    }

    mutating func flush() -> PathBlock? {
        defer { block = PathBlock(inode: [], shared: [], suffix: []); last = 0; previous = [] }
        return block.inode.isEmpty ? nil : block
    }
}
