/// A thin pool's metadata read from the metadata device itself (drivers/md/dm-thin-metadata.c,
/// drivers/md/persistent-data/dm-btree-internal.h): 4 KiB blocks; the superblock in block 0
/// (`struct thin_disk_superblock`: magic 27022010, `held_root`, `data_mapping_root`,
/// `data_block_size`); the data mappings a two-level btree, dev id → the root of that device's
/// tree, thin block → `data block << 24 | time` (`pack_block_time`). Every block read is checked
/// as the kernel's validators check it (`sb_check`, `node_check`: its own block number and its
/// crc32c), so a damaged block, or one not yet written where a pointer leads, is refused. A
/// block freed and rewritten in place passes those checks: only a held metadata snapshot
/// (whose blocks the pool does not reuse) or a root that is re-checked after the walk keeps a
/// live read consistent (ThinPoolReader).
public enum ThinMetadata {
    /// THIN_METADATA_BLOCK_SIZE: every metadata block, the superblock included.
    public static let blockSize = 4096
    /// THIN_SUPERBLOCK_MAGIC.
    public static let magic: UInt64 = 27_022_010
    /// SUPERBLOCK_CSUM_XOR (dm-thin-metadata.c) and BTREE_CSUM_XOR (dm-btree-internal.h).
    static let superblockXor: UInt32 = 160_774, nodeXor: UInt32 = 121_107
    /// INTERNAL_NODE and LEAF_NODE (dm-btree-internal.h `enum node_flags`).
    static let internalNode: UInt32 = 1, leafNode: UInt32 = 2

    /// The fields of `struct thin_disk_superblock` dmstack uses.
    public struct Superblock: Hashable, Sendable {
        public var location: UInt64
        public var version: UInt32
        public var transactionID: UInt64
        /// The block of the metadata snapshot's superblock copy, 0 when none is held.
        public var heldRoot: UInt64
        public var dataMappingRoot: UInt64
        public var dataBlockSectors: UInt64
        public var metadataBlocks: UInt64
    }

    /// Which mappings to read: the committed ones (a pool nothing writes: an image, a pool in
    /// `Fail` or read-only mode), or those of the metadata snapshot held in `held_root` (a live
    /// pool: thin-provisioning.rst, "Metadata snapshot"), found in superblock block 0 or given
    /// by the pool's status (the held root printed by `pool_status`).
    public enum Root: Hashable, Sendable {
        case current, held, heldAt(UInt64)
    }

    /// Whether `block` (the first bytes of a file or device) starts with a thin superblock.
    public static func isMetadata(_ block: [UInt8]) -> Bool {
        block.count >= 40 && le64(block, 32) == magic
    }

    /// Parses and checks the superblock (or the snapshot's copy of it) read from `location`.
    public static func superblock(_ b: [UInt8], at location: UInt64, source: String) throws(MappingParseError) -> Superblock {
        guard b.count == blockSize else { throw MappingParseError(source: source, message: "metadata ends before the superblock at block \(location)") }
        guard le64(b, 32) == magic else {
            throw MappingParseError(source: source, message: "no thin superblock at block \(location) (magic \(le64(b, 32)), expected \(magic))")
        }
        guard le64(b, 8) == location else {
            throw MappingParseError(source: source, message: "the superblock at block \(location) says it is block \(le64(b, 8))")
        }
        guard checksum(b, xor: superblockXor) == le32(b, 0) else {
            throw MappingParseError(source: source, message: "bad superblock checksum at block \(location)")
        }
        let s = Superblock(location: location, version: le32(b, 40), transactionID: le64(b, 48), heldRoot: le64(b, 56),
                           dataMappingRoot: le64(b, 320), dataBlockSectors: UInt64(le32(b, 336)), metadataBlocks: le64(b, 344))
        guard s.dataBlockSectors >= 128, s.dataBlockSectors <= 2_097_152, s.dataBlockSectors % 128 == 0 else {
            throw MappingParseError(source: source, message: "implausible data block size \(s.dataBlockSectors) sectors")
        }
        return s
    }

    /// Reads the mappings of `devices` (every device when nil) from the root `root` through
    /// `block(n)`, which returns the 4 KiB metadata block n (fewer bytes past the end).
    public static func read(source: String, root: Root, devices: Set<UInt64>?, block: (UInt64) throws -> [UInt8]) throws(MappingParseError) -> ThinPoolMapping {
        func fetch(_ n: UInt64) throws(MappingParseError) -> [UInt8] {
            do { return try block(n) } catch let e as MappingParseError { throw e } catch {
                throw MappingParseError(source: source, message: "cannot read metadata block \(n): \(error)")
            }
        }
        let top = try superblock(try fetch(0), at: 0, source: source)
        var sb = top
        switch root {
        case .current: break
        case .held, .heldAt:
            var at = top.heldRoot
            if case .heldAt(let n) = root { at = n }
            guard at != 0 else { throw MappingParseError(source: source, message: "no metadata snapshot is held (held_root 0)") }
            guard at < top.metadataBlocks else { throw MappingParseError(source: source, message: "held root \(at) is beyond the metadata's \(top.metadataBlocks) blocks") }
            sb = try superblock(try fetch(at), at: at, source: source)
        }
        var walker = Walker(source: source, limit: top.metadataBlocks)
        var thin: [UInt64: UInt64] = [:]
        try walker.walk(sb.dataMappingRoot, fetch: fetch) { key, value in
            if devices?.contains(key) ?? true { thin[key] = value }
        }
        let bs = sb.dataBlockSectors
        let limit = maxSectors / bs
        var out: [UInt64: [BlockRun]] = [:]
        for (id, subtree) in thin {
            var runs: [BlockRun] = []
            walker.seen = []
            try walker.walk(subtree, fetch: fetch) { key, value throws(MappingParseError) in
                let data = value >> 24
                guard key < limit, data < limit else {
                    throw MappingParseError(source: source, message: "device \(id) maps thin block \(key) to data block \(data), beyond any device")
                }
                if let last = runs.last, last.from + last.length == key, last.to + last.length == data {
                    runs[runs.count - 1].length += 1
                } else {
                    runs.append(BlockRun(from: key, to: data, length: 1))
                }
            }
            out[id] = runs
        }
        return ThinPoolMapping(dataBlockSectors: bs, devices: out)
    }

    /// A depth-first walk of one btree (dm-btree.c `walk_node`), values of 8 bytes, keys in
    /// ascending order; refuses nodes that fail `node_check`, more levels than any tree of
    /// this size has, and any node met twice in one tree (a cycle: without it a damaged node
    /// pointing at itself would be walked up to 126^16 times).
    struct Walker {
        let source: String
        let limit: UInt64
        var seen = Set<UInt64>()

        mutating func walk(_ root: UInt64, depth: Int = 0, fetch: (UInt64) throws(MappingParseError) -> [UInt8],
                           _ visit: (UInt64, UInt64) throws(MappingParseError) -> Void) throws(MappingParseError) {
            guard depth < 16, seen.insert(root).inserted else { throw fail("the btree at block \(root) loops or is deeper than any pool's") }
            guard root > 0, root < limit else { throw fail("btree node \(root) is outside the metadata's \(limit) blocks") }
            let b = try fetch(root)
            guard b.count == ThinMetadata.blockSize else { throw fail("metadata ends before btree node \(root)") }
            guard le64(b, 8) == root, checksum(b, xor: nodeXor) == le32(b, 0) else {
                throw fail("btree node \(root) fails its check (block number \(le64(b, 8)), checksum); the metadata changed under the reader or is damaged")
            }
            let flags = le32(b, 4), count = Int(le32(b, 16)), capacity = Int(le32(b, 20)), valueSize = le32(b, 24)
            guard valueSize == 8, count <= capacity, 32 + capacity * 16 <= b.count, flags & (internalNode | leafNode) != 0 else {
                throw fail("btree node \(root) has an impossible header (flags \(flags), \(count)/\(capacity) entries of \(valueSize) bytes)")
            }
            let values = 32 + capacity * 8
            var previous: UInt64?
            for i in 0..<count {
                let key = le64(b, 32 + i * 8), value = le64(b, values + i * 8)
                if let previous, key <= previous { throw fail("btree node \(root): keys out of order") }
                previous = key
                if flags & internalNode != 0 {
                    try walk(value, depth: depth + 1, fetch: fetch, visit)
                } else {
                    try visit(key, value)
                }
            }
        }

        func fail(_ message: String) -> MappingParseError { MappingParseError(source: source, message: message) }
    }

    /// dm_bm_checksum (persistent-data/dm-block-manager.c): crc32c seeded with ~0 over the
    /// block after its checksum field, not inverted at the end, xor the block type's constant.
    static func checksum(_ b: [UInt8], xor: UInt32) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        b.withUnsafeBufferPointer { p in
            for i in 4..<p.count { crc = crc32cTable[Int((crc ^ UInt32(p[i])) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ xor
    }

    /// crc32c (Castagnoli, reflected polynomial 0x82F63B78), one byte at a time.
    static let crc32cTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }
}

/// What a thin pool's status line says (dm-thin.c `pool_status`): `<transaction id>
/// <used>/<total metadata blocks> <used>/<total data blocks> <held metadata root or ->
/// ro|rw|out_of_data_space ...`, or `Fail` alone when the pool failed.
public struct ThinPoolStatus: Hashable, Sendable {
    public enum Mode: String, Sendable { case writable, outOfDataSpace, readOnly, failed }
    public var mode: Mode
    /// The metadata block of the held metadata snapshot, nil when none is held (`-`).
    public var heldRoot: UInt64?

    /// Parses the words after `thin-pool` on the status line; nil if they are not a pool's.
    public init?(words: [String]) {
        if words.first == "Fail" { mode = .failed; heldRoot = nil; return }
        guard words.count >= 5, UInt64(words[0]) != nil else { return nil }
        switch words[4] {
        case "rw": mode = .writable
        case "out_of_data_space": mode = .outOfDataSpace
        case "ro": mode = .readOnly
        default: return nil
        }
        if words[3] == "-" { heldRoot = nil } else if let n = UInt64(words[3]) { heldRoot = n } else { return nil }
    }

    /// The words of the first thin-pool target of `status` lines (`start length thin-pool ...`).
    public init?(statusLines: [String]) {
        for line in statusLines {
            let w = line.split(separator: " ").map(String.init)
            if w.count >= 3, w[2] == "thin-pool" { self.init(words: Array(w.dropFirst(3))); return }
        }
        return nil
    }
}
