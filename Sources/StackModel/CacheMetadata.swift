/// A dm-cache metadata device read while the cache is live, without `cache_dump` (which
/// refuses metadata in use): the committed superblock and the mapping array it roots, every
/// block checked as the kernel checks it (persistent-data checksums and block numbers).
///
/// Layout (drivers/md/dm-cache-metadata.c `struct cache_disk_superblock` at block 0 of 4 KiB
/// blocks, magic 06142003 (octal), versions 1 and 2, checksum `crc32c(~0, block[4...]) ^ 9031977`;
/// `mapping_root` is a dm-array of 64-bit values indexed by cache block, `oblock << 16 |
/// flags`, M_VALID = 1): drivers/md/persistent-data/dm-array.c (`struct array_block`, 24-byte
/// header, checksum xor 595846735) under a btree of array block numbers
/// (persistent-data/dm-btree-internal.h `struct node_header`, 32 bytes, INTERNAL_NODE = 1,
/// LEAF_NODE = 2, keys then values, checksum xor 121107; dm-block-manager.c
/// `dm_bm_checksum`).
///
/// The dirty flags on disk are not read: dm-cache-target.c writes its dirty bitset only in
/// `sync_metadata` (on suspend), and clears CLEAN_SHUTDOWN while active, so on a live cache
/// they are those of the last suspend. Which blocks are dirty is the caller's to decide
/// (`CacheTarget.liveDirtiness`).
public enum CacheMetadata {
    public static let blockBytes = 4096
    public static let magic: UInt64 = 0o6142003 // an octal literal in dm-cache-metadata.c
    static let superblockXor: UInt32 = 9_031_977
    static let btreeXor: UInt32 = 121_107
    static let arrayXor: UInt32 = 595_846_735

    /// The committed superblock's fields a walk needs.
    public struct Superblock: Hashable, Sendable {
        public var version: UInt32
        public var mappingRoot: UInt64
        public var dataBlockSectors: UInt64
        public var cacheBlocks: UInt64
    }

    /// Checks block 0 and reads its fields.
    public static func superblock(_ block: [UInt8], source: String) throws(MappingParseError) -> Superblock {
        guard block.count >= blockBytes else { throw MappingParseError(source: source, message: "cache metadata device is shorter than its superblock") }
        guard le64(block, 32) == magic else {
            throw MappingParseError(source: source, message: le64(block, 32) == 0 ? "no cache superblock (never formatted?)" : "bad cache superblock magic \(le64(block, 32)) (expected 06142003, octal)")
        }
        guard le64(block, 8) == 0, checksum(block, xor: superblockXor) == le32(block, 0) else {
            throw MappingParseError(source: source, message: "cache superblock checksum or block number does not match (being written?)")
        }
        let version = le32(block, 40)
        guard version == 1 || version == 2 else { throw MappingParseError(source: source, message: "unsupported cache metadata version \(version) (dmstack reads 1 and 2)") }
        let sb = Superblock(version: version, mappingRoot: le64(block, 192), dataBlockSectors: UInt64(le32(block, 232)), cacheBlocks: UInt64(le32(block, 240)))
        guard sb.dataBlockSectors > 0 else { throw MappingParseError(source: source, message: "cache superblock has data block size 0") }
        return sb
    }

    /// The valid mappings of the array rooted at the superblock's `mapping_root`, read block
    /// by block through `block(n)` (4 KiB each), every block's checksum and number checked.
    /// Dirty flags are left false (see the type's comment).
    public static func mappings(_ sb: Superblock, source: String, block: (UInt64) throws -> [UInt8]) throws -> CacheMapping {
        var entries: [CacheMapping.Entry] = []
        var visited = Set<UInt64>(), indexes = Set<UInt64>()
        // A btree of array blocks: keys are array block indexes, values their block numbers.
        // Every block (node or array) is read once and every index taken once: a damaged
        // tree that points back at a block cannot loop or multiply the entries.
        func node(_ n: UInt64, depth: Int) throws {
            guard depth < 16, visited.insert(n).inserted, visited.count < 1 << 22 else { throw MappingParseError(source: source, message: "cache mapping btree too deep or too large (a cycle?)") }
            let b = try checked(n, xor: btreeXor, blocknrAt: 8, source: source, block: block)
            let flags = le32(b, 4), count = Int(le32(b, 16)), max = Int(le32(b, 20)), valueSize = Int(le32(b, 24))
            guard max > 0, count <= max, valueSize == 8, 32 + max * 16 <= blockBytes else {
                throw MappingParseError(source: source, message: "cache btree node \(n) has implausible sizes (\(count) of \(max) entries, values of \(valueSize) bytes)")
            }
            for i in 0..<count {
                let key = le64(b, 32 + i * 8), value = le64(b, 32 + max * 8 + i * 8)
                if flags & 1 != 0 {
                    try node(value, depth: depth + 1)
                } else if flags & 2 != 0 {
                    guard visited.insert(value).inserted, indexes.insert(key).inserted else {
                        throw MappingParseError(source: source, message: "cache btree node \(n) points at array block \(value) (index \(key)) a second time")
                    }
                    try arrayBlock(value, index: key)
                } else {
                    throw MappingParseError(source: source, message: "cache btree node \(n) is neither internal nor leaf (flags \(flags))")
                }
            }
        }
        func arrayBlock(_ n: UInt64, index: UInt64) throws {
            let b = try checked(n, xor: arrayXor, blocknrAt: 16, source: source, block: block)
            let max = UInt64(le32(b, 4)), count = Int(le32(b, 8)), valueSize = le32(b, 12)
            guard valueSize == 8, max > 0, count <= Int(max), 24 + count * 8 <= blockBytes else {
                throw MappingParseError(source: source, message: "cache array block \(n) has implausible sizes (\(count) of \(max), values of \(valueSize) bytes)")
            }
            for i in 0..<count {
                let value = le64(b, 24 + i * 8)
                guard value & 1 != 0 else { continue } // M_VALID
                let (product, overflow) = index.multipliedReportingOverflow(by: max)
                let cacheBlock = overflow ? UInt64.max : product &+ UInt64(i), origin = value >> 16
                guard !overflow, cacheBlock >= product, cacheBlock < sb.cacheBlocks, origin < maxSectors / sb.dataBlockSectors else {
                    throw MappingParseError(source: source, message: "cache array block \(n) maps cache block \(cacheBlock) to origin block \(origin), beyond the devices")
                }
                entries.append(CacheMapping.Entry(cacheBlock: cacheBlock, originBlock: origin, dirty: false))
            }
        }
        if sb.cacheBlocks > 0 { try node(sb.mappingRoot, depth: 0) }
        return CacheMapping(blockSectors: sb.dataBlockSectors, entries: entries)
    }

    /// Block `n`, its checksum (over everything after the first 4 bytes) and its own block
    /// number checked: a mismatch is a block rewritten since the superblock was read.
    static func checked(_ n: UInt64, xor: UInt32, blocknrAt: Int, source: String, block: (UInt64) throws -> [UInt8]) throws -> [UInt8] {
        let b = try block(n)
        guard b.count >= blockBytes else { throw MappingParseError(source: source, message: "cache metadata device ends before block \(n)") }
        guard le64(b, blocknrAt) == n, checksum(b, xor: xor) == le32(b, 0) else {
            throw MappingParseError(source: source, message: "cache metadata block \(n): checksum or block number does not match (rewritten since the superblock was read?)")
        }
        return b
    }

    /// dm-block-manager.c `dm_bm_checksum` of a block: crc32c seeded with ~0 over bytes
    /// 4..<4096, not inverted at the end, xor the validator's constant.
    static func checksum(_ b: [UInt8], xor: UInt32) -> UInt32 {
        CRC32C.update(~0, b[4..<blockBytes]) ^ xor
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the raw update the kernel's
/// `crc32c(seed, data, len)` computes (no final inversion).
public enum CRC32C {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    public static func update<C: Collection>(_ seed: UInt32, _ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c = seed
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        return c
    }
}

/// A read of metadata that the kernel may be writing while it is read: `stamp` (the part the
/// kernel rewrites on every commit: a superblock, a sequence count) before and after `body`;
/// equal stamps mean no commit happened in between, so every block `body` read belongs to
/// one committed state. Retried up to `attempts` times; a body that fails while the stamp
/// moved is retried too (it read a block reused by the later commit).
public enum ConsistentRead {
    public static func run<T>(attempts: Int = 3, source: String, stamp: () throws -> [UInt8], _ body: () throws -> T) throws -> T {
        for _ in 0..<max(1, attempts) {
            let before = try stamp()
            let result = Result { try body() }
            let after = try stamp()
            if before == after { return try result.get() }
        }
        throw MappingParseError(source: source, message: "metadata changed during each of \(max(1, attempts)) reads (the kernel committed while dmstack read); try again when it is quieter")
    }

    /// For stores with no commit stamp (a snapshot's COW areas, which only grow): read until
    /// two reads in a row agree.
    public static func stable<T: Equatable>(attempts: Int = 3, source: String, _ body: () throws -> T) throws -> T {
        var previous = try body()
        for _ in 0..<max(1, attempts) {
            let next = try body()
            if next == previous { return next }
            previous = next
        }
        throw MappingParseError(source: source, message: "metadata changed between each of \(max(1, attempts) + 1) reads (the kernel is writing it); try again when it is quieter")
    }
}
