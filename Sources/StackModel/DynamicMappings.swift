
/// Metadata for a dynamic mapping could not be read: names the source and what was wrong.
public struct MappingParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var source: String
    public var message: String
    public init(source: String, message: String) { self.source = source; self.message = message }
    public var description: String { "\(source): \(message)" }
}

/// One run of consecutive blocks, `length` blocks from `from` mapped to `to`.
public struct BlockRun: Hashable, Sendable, Codable {
    public var from: UInt64
    public var to: UInt64
    public var length: UInt64

    public init(from: UInt64, to: UInt64, length: UInt64) {
        self.from = from
        self.to = to
        self.length = length
    }
}

/// Finds the runs that overlap `[first, first + count)` in runs sorted by `key`.
func overlappingRuns(_ runs: [BlockRun], key: KeyPath<BlockRun, UInt64>, first: UInt64, count: UInt64) -> ArraySlice<BlockRun> {
    // Runs never overlap each other in `key` space for a single thin device or store.
    var lo = 0, hi = runs.count
    while lo < hi {
        let mid = (lo + hi) / 2
        if runs[mid][keyPath: key] + runs[mid].length <= first { lo = mid + 1 } else { hi = mid }
    }
    var end = lo
    while end < runs.count && runs[end][keyPath: key] < first + count { end += 1 }
    return runs[lo..<end]
}

/// How many blocks from `block` on no run of `runs` (sorted by `key`, not overlapping) covers:
/// up to the next run's start, `UInt64.max` when none follows. 0 when a run covers `block`.
func blocksBeforeNextRun(_ runs: [BlockRun], key: KeyPath<BlockRun, UInt64>, from block: UInt64) -> UInt64 {
    var lo = 0, hi = runs.count
    while lo < hi {
        let mid = (lo + hi) / 2
        if runs[mid][keyPath: key] + runs[mid].length <= block { lo = mid + 1 } else { hi = mid }
    }
    guard lo < runs.count else { return UInt64.max }
    let next = runs[lo][keyPath: key]
    return next > block ? next - block : 0
}

/// A thin pool's mappings as `thin_dump` prints them (thin-provisioning-tools xml format:
/// `superblock` with `data_block_size` in sectors, `device dev_id`, `range_mapping
/// origin_begin data_begin length`, `single_mapping origin_block data_block`; block units).
public struct ThinPoolMapping: Hashable, Sendable, Codable {
    public var dataBlockSectors: UInt64
    /// Per thin device id: runs from thin block (`from`) to pool data block (`to`), by `from`.
    public var devices: [UInt64: [BlockRun]]
    /// When what was read is a metadata snapshot someone else holds (its held root): it may
    /// be older than the pool, so a data block no device maps in it may have been provisioned
    /// since, and is `unknown`, not free.
    public var foreignSnapshotRoot: UInt64?

    public init(dataBlockSectors: UInt64, devices: [UInt64: [BlockRun]], foreignSnapshotRoot: UInt64? = nil) {
        self.dataBlockSectors = dataBlockSectors
        self.devices = devices
        self.foreignSnapshotRoot = foreignSnapshotRoot
    }

    /// What the stack says a pool's metadata must fit, from the tables: the pool's data block
    /// size and its number of data blocks, and the thin devices of the tables built on it.
    /// A dump (or metadata image) that does not fit them is of another pool, stale, or damaged,
    /// and translating through it would answer with blocks of no device.
    public struct Bounds: Hashable, Sendable {
        /// The pool table's `data block size`, in sectors (dm-thin.c `pool_ctr`).
        public var dataBlockSectors: UInt64
        /// The pool target's length in data blocks: dm-thin.c `maybe_resize_data_dev` sizes
        /// the data space from `ti->len` and refuses a table shorter than the metadata's, so
        /// no mapping may reach past it.
        public var dataBlocks: UInt64
        /// Thin device id → its device name, for each thin target of the tables on this pool.
        /// Every one is in a dump of the pool: creating a thin device inserts its (empty) tree
        /// into the mapping tree (dm-thin-metadata.c `__create_thin`), and thin_dump prints it.
        public var thinDevices: [UInt64: String]
        public var poolName: String

        public init(poolName: String, dataBlockSectors: UInt64, dataBlocks: UInt64, thinDevices: [UInt64: String]) {
            self.poolName = poolName
            self.dataBlockSectors = dataBlockSectors
            self.dataBlocks = dataBlocks
            self.thinDevices = thinDevices
        }
    }

    /// Checks mappings read by any reader (a dump or the btree of a metadata image) against
    /// `bounds`: the block size, every data block inside the pool, every thin device there.
    /// Names the first bad element by device and thin block.
    public func check(_ bounds: Bounds, source: String) throws(MappingParseError) {
        guard dataBlockSectors == bounds.dataBlockSectors else {
            throw MappingParseError(source: source, message: "data block size \(dataBlockSectors) sectors differs from pool \(bounds.poolName)'s \(bounds.dataBlockSectors) (metadata of another pool?)")
        }
        for id in devices.keys.sorted() {
            for run in devices[id]! where run.to + run.length > bounds.dataBlocks {
                throw MappingParseError(source: source, message: "device \(id) thin block \(run.from + (run.to >= bounds.dataBlocks ? 0 : bounds.dataBlocks - run.to)): \(Self.pastPool(run, bounds))")
            }
        }
        for (id, name) in bounds.thinDevices.sorted(by: { $0.key < $1.key }) where devices[id] == nil {
            throw MappingParseError(source: source, message: "no device \(id), which thin device \(name) of pool \(bounds.poolName) is (metadata of another pool, or older than the device?)")
        }
    }

    /// "data block N is past the pool's data device (M blocks)", N the first block past it.
    static func pastPool(_ run: BlockRun, _ bounds: Bounds) -> String {
        "data block \(max(run.to, bounds.dataBlocks)) is past the pool's data device (\(bounds.dataBlocks) blocks)"
    }

    /// Parses `thin_dump` XML output. With `bounds` (the stack the dump is given for) every
    /// element is checked as it is read, and the first bad one named by line, device and its
    /// mapping's place in the device (1 for the first): a data block past the pool, a thin
    /// block mapped twice (two mappings of one device overlap: the btree has one value per
    /// key), a data block mapped twice by one device (dm-thin gives a device's blocks their
    /// own data blocks; only other devices, snapshots, share one), a device listed twice, a
    /// block size other than the pool's, a thin device of the tables missing.
    public static func parseThinDump(_ xml: [UInt8], source: String = "thin_dump", bounds: Bounds? = nil) throws(MappingParseError) -> ThinPoolMapping {
        var blockSectors: UInt64?
        var devices: [UInt64: [BlockRun]] = [:]
        /// Per device, each mapping's (place, line), in the order of `devices[id]`.
        var places: [UInt64: [(Int, Int)]] = [:]
        var current: UInt64?
        var closed = false
        try readDump(xml, source: source, start: { name, a, line in
            func number(_ key: String) throws -> UInt64 { try dumpNumber(a, key, name, line) }
            switch name {
            case "superblock":
                let bs = try number("data_block_size")
                if let bounds, bs != bounds.dataBlockSectors {
                    throw DumpXML.Failure(line: line, message: "data_block_size \(bs) differs from pool \(bounds.poolName)'s block size \(bounds.dataBlockSectors) sectors (a dump of another pool?)")
                }
                blockSectors = bs
            case "device":
                let id = try number("dev_id")
                current = id
                guard devices[id] == nil else { throw DumpXML.Failure(line: line, message: "device \(id) is listed twice") }
                devices[id] = []
                places[id] = []
            case "range_mapping", "single_mapping":
                guard let dev = current else { throw DumpXML.Failure(line: line, message: "<\(name)> outside <device>") }
                let single = name == "single_mapping"
                let o = try number(single ? "origin_block" : "origin_begin")
                let d = try number(single ? "data_block" : "data_begin")
                let l = single ? 1 : try number("length")
                let limit = maxSectors / max(blockSectors ?? 1, 1)
                guard let bs = blockSectors, bs > 0, l > 0, o <= limit, d <= limit, l <= limit - o, l <= limit - d else {
                    throw DumpXML.Failure(line: line, message: "<\(name)> maps blocks beyond any device (or before <superblock>)")
                }
                let run = BlockRun(from: o, to: d, length: l)
                let place = devices[dev]!.count + 1
                if let bounds, d + l > bounds.dataBlocks {
                    throw DumpXML.Failure(line: line, message: "device \(dev) mapping \(place): \(pastPool(run, bounds))")
                }
                devices[dev]!.append(run)
                places[dev]!.append((place, line))
            case "def", "ref":
                throw DumpXML.Failure(line: line, message: "shared subtrees (<\(name)>) are not supported; run thin_dump without --format compact")
            default: break
            }
        }, end: { name in
            if name == "device" { current = nil }
            if name == "superblock" { closed = true }
        })
        guard let bs = blockSectors, bs > 0 else {
            throw MappingParseError(source: source, message: "no <superblock data_block_size=...> element")
        }
        guard closed else { throw MappingParseError(source: source, message: "the document ends before </superblock> (truncated dump?)") }
        var firstClash: (line: Int, message: String)?
        for id in devices.keys {
            let order = devices[id]!.indices.sorted { devices[id]![$0].from < devices[id]![$1].from }
            if bounds != nil {
                for (key, what) in [(\BlockRun.from, "thin"), (\BlockRun.to, "data")] {
                    let byKey = what == "thin" ? order : devices[id]!.indices.sorted { devices[id]![$0].to < devices[id]![$1].to }
                    if let clash = overlap(devices[id]!, byKey, key: key, places: places[id]!), clash.line < firstClash?.line ?? .max {
                        firstClash = (clash.line, "device \(id) mapping \(clash.later): \(what) block \(clash.block) is mapped by mapping \(clash.earlier) too")
                    }
                }
            }
            devices[id] = order.map { devices[id]![$0] }
        }
        if let firstClash { throw MappingParseError(source: source, message: "line \(firstClash.line): \(firstClash.message)") }
        let mapping = ThinPoolMapping(dataBlockSectors: bs, devices: devices)
        if let bounds { try mapping.check(bounds, source: source) }
        return mapping
    }

    /// The first overlap (by the later mapping's line) among `runs` taken in `order` (sorted
    /// by `key`): the later mapping's place and line, the earlier's place, the first shared block.
    static func overlap(_ runs: [BlockRun], _ order: [Int], key: KeyPath<BlockRun, UInt64>, places: [(Int, Int)])
        -> (later: Int, earlier: Int, line: Int, block: UInt64)? {
        var best: (later: Int, earlier: Int, line: Int, block: UInt64)?
        var reach: (end: UInt64, index: Int)?
        for i in order {
            let start = runs[i][keyPath: key]
            if let r = reach, start < r.end {
                let (a, b) = places[i].1 > places[r.index].1 ? (i, r.index) : (r.index, i)
                if places[a].1 < best?.line ?? .max { best = (places[a].0, places[b].0, places[a].1, start) }
            }
            let end = start + runs[i].length
            if end > reach?.end ?? 0 { reach = (end, i) }
        }
        return best
    }
}

/// A cache's mappings as `cache_dump` prints them (`superblock block_size` in sectors,
/// `mapping cache_block origin_block dirty`).
public struct CacheMapping: Hashable, Sendable, Codable {
    public struct Entry: Hashable, Sendable, Codable {
        public var cacheBlock: UInt64
        public var originBlock: UInt64
        public var dirty: Bool
        public init(cacheBlock: UInt64, originBlock: UInt64, dirty: Bool) {
            self.cacheBlock = cacheBlock
            self.originBlock = originBlock
            self.dirty = dirty
        }
    }
    public var blockSectors: UInt64
    /// By origin block.
    public var entries: [Entry]
    /// Why the entries' dirty flags cannot be trusted, when they cannot: the metadata was read
    /// from a live writeback cache with dirty blocks, whose dirty bitset dm-cache writes only
    /// on suspend (dm-cache-target.c `sync_metadata`). Every mapped block may then be dirty.
    public var dirtyUnknown: String?

    public init(blockSectors: UInt64, entries: [Entry], dirtyUnknown: String? = nil) {
        self.blockSectors = blockSectors
        self.entries = entries.sorted { $0.originBlock < $1.originBlock }
        self.dirtyUnknown = dirtyUnknown
    }

    public func entry(forOriginBlock b: UInt64) -> Entry? {
        let lo = firstEntry(atOrAfter: b)
        return lo < entries.count && entries[lo].originBlock == b ? entries[lo] : nil
    }

    /// Origin blocks from `b` on that no entry caches: up to the next cached one,
    /// `UInt64.max` when none follows (0 when `b` is cached).
    public func uncachedBlocks(from b: UInt64) -> UInt64 {
        let lo = firstEntry(atOrAfter: b)
        return lo < entries.count ? entries[lo].originBlock - b : UInt64.max
    }

    func firstEntry(atOrAfter b: UInt64) -> Int {
        var lo = 0, hi = entries.count
        while lo < hi { let m = (lo + hi) / 2; if entries[m].originBlock < b { lo = m + 1 } else { hi = m } }
        return lo
    }

    /// What the stack says a cache's metadata must fit: the cache table's block size, and the
    /// cache and origin devices' sizes in blocks where they are known (dm-cache-target.c
    /// `cache_create`: `cache_size` is the cache device's sectors / block size, `origin_blocks`
    /// the origin device's).
    public struct Bounds: Hashable, Sendable {
        public var cacheName: String
        public var blockSectors: UInt64
        public var cacheBlocks: UInt64?
        public var originBlocks: UInt64?
        public init(cacheName: String, blockSectors: UInt64, cacheBlocks: UInt64?, originBlocks: UInt64?) {
            self.cacheName = cacheName
            self.blockSectors = blockSectors
            self.cacheBlocks = cacheBlocks
            self.originBlocks = originBlocks
        }
    }

    /// Parses `cache_dump` XML output. With `bounds` each element is checked as it is read and
    /// the first bad one named by line and its place among the mappings (1 for the first): a
    /// block size other than the table's, a cache or origin block past its device, a cache
    /// block or an origin block mapped twice (dm-cache maps origin and cache blocks one to one:
    /// the mapping array has one entry per cache block, and a policy holds an origin block in
    /// at most one).
    public static func parseCacheDump(_ xml: [UInt8], source: String = "cache_dump", bounds: Bounds? = nil) throws(MappingParseError) -> CacheMapping {
        var blockSectors: UInt64?
        var entries: [Entry] = []
        var closed = false
        var byCache: [UInt64: Int] = [:], byOrigin: [UInt64: Int] = [:]
        try readDump(xml, source: source, start: { name, a, line in
            switch name {
            case "superblock":
                let bs = try dumpNumber(a, "block_size", name, line)
                if let bounds, bs != bounds.blockSectors {
                    throw DumpXML.Failure(line: line, message: "block_size \(bs) differs from cache \(bounds.cacheName)'s block size \(bounds.blockSectors) sectors (a dump of another cache?)")
                }
                blockSectors = bs
            case "mapping":
                let c = try dumpNumber(a, "cache_block", name, line), o = try dumpNumber(a, "origin_block", name, line)
                guard let bs = blockSectors, bs > 0, c < maxSectors / bs, o < maxSectors / bs else {
                    throw DumpXML.Failure(line: line, message: "<mapping> places a block beyond any device (or before <superblock>)")
                }
                let place = entries.count + 1
                if let bounds {
                    if let n = bounds.cacheBlocks, c >= n {
                        throw DumpXML.Failure(line: line, message: "mapping \(place): cache block \(c) is past the cache device (\(n) blocks)")
                    }
                    if let n = bounds.originBlocks, o >= n {
                        throw DumpXML.Failure(line: line, message: "mapping \(place): origin block \(o) is past the origin device (\(n) blocks)")
                    }
                    if let other = byCache.updateValue(place, forKey: c) {
                        throw DumpXML.Failure(line: line, message: "mapping \(place): cache block \(c) is mapped by mapping \(other) too")
                    }
                    if let other = byOrigin.updateValue(place, forKey: o) {
                        throw DumpXML.Failure(line: line, message: "mapping \(place): origin block \(o) is mapped by mapping \(other) too")
                    }
                }
                entries.append(Entry(cacheBlock: c, originBlock: o, dirty: a["dirty"] == "true"))
            default: break
            }
        }, end: { name in if name == "superblock" { closed = true } })
        guard let bs = blockSectors, bs > 0 else {
            throw MappingParseError(source: source, message: "no <superblock block_size=...> element")
        }
        guard closed else { throw MappingParseError(source: source, message: "the document ends before </superblock> (truncated dump?)") }
        return CacheMapping(blockSectors: bs, entries: entries)
    }
}

/// The exceptions of a persistent snapshot, read from its COW device
/// (drivers/md/dm-snap-persistent.c: header chunk 0 `SnAp`, then metadata areas of
/// `chunk_bytes / 16` little-endian `{old_chunk, new_chunk}` pairs, area N at chunk
/// `1 + (exceptions_per_area + 1) * N`, the list ending at the first `new_chunk == 0`).
public struct SnapshotExceptionStore: Hashable, Sendable, Codable {
    public var chunkSectors: UInt64
    public var valid: Bool
    /// Origin chunk (`from`) → COW chunk (`to`), length 1 each, sorted by `from`.
    public var exceptions: [BlockRun]
    /// COW chunks that hold the header and the metadata areas read.
    public var metadataChunks: [UInt64]

    public static let magic: UInt32 = 0x7041_6e53

    public func cowChunk(forOrigin chunk: UInt64) -> UInt64? {
        overlappingRuns(exceptions, key: \.from, first: chunk, count: 1).first?.to
    }

    /// Reads the store through `read(sector, count)`, which returns `count * 512` bytes of
    /// the COW device from `sector` (or fewer at its end).
    public static func read(source: String, _ read: (UInt64, UInt64) throws -> [UInt8]) throws -> SnapshotExceptionStore {
        let header = try read(0, 1)
        guard header.count >= 16 else { throw MappingParseError(source: source, message: "COW device is shorter than its header") }
        let magic = le32(header, 0)
        guard magic == Self.magic else {
            throw MappingParseError(source: source, message: magic == 0 ? "COW device holds no snapshot header (new, never used store)" : "bad snapshot magic \(hex32(magic)) (expected 0x70416e53 'SnAp')")
        }
        let valid = le32(header, 4) != 0
        let version = le32(header, 8)
        guard version == 1 else { throw MappingParseError(source: source, message: "unsupported snapshot store version \(version) (dmstack reads version 1)") }
        let chunk = UInt64(le32(header, 12))
        // dm-exception-store.c dm_exception_store_set_chunk_size: a power of two, and at most
        // INT_MAX >> SECTOR_SHIFT sectors, so 2^21 (1 GiB); the kernel refuses anything else.
        guard chunk > 0, chunk & (chunk - 1) == 0, chunk <= UInt64(Int32.max) >> 9 else {
            throw MappingParseError(source: source, message: "implausible chunk size \(chunk) sectors (the kernel takes a power of two up to 2^21)")
        }
        let perArea = chunk * 512 / 16
        var exceptions: [BlockRun] = []
        var metadata: [UInt64] = [0]
        var area: UInt64 = 0
        // An area is read a megabyte at a time up to its end of list, so a large chunk size
        // costs what the store holds, not a chunk's worth of memory per area.
        let batchSectors = min(chunk, 2048)
        reading: while true {
            let (areaChunk, o1) = (perArea + 1).multipliedReportingOverflow(by: area)
            let (areaSector, o2) = (areaChunk + 1).multipliedReportingOverflow(by: chunk)
            guard !o1, !o2, areaSector < maxSectors else {
                throw MappingParseError(source: source, message: "metadata area \(area) lies beyond any device")
            }
            metadata.append(areaChunk + 1)
            var i = 0
            var sector: UInt64 = 0
            while sector < chunk {
                let bytes = try read(areaSector + sector, batchSectors)
                guard bytes.count == Int(batchSectors * 512) else {
                    throw MappingParseError(source: source, message: "COW device ends inside metadata area \(area) (chunk \(areaChunk + 1))")
                }
                for at in stride(from: 0, to: bytes.count, by: 16) {
                    let old = le64(bytes, at), new = le64(bytes, at + 8)
                    if new == 0 { break reading }
                    guard old < maxSectors / chunk, new < maxSectors / chunk else {
                        throw MappingParseError(source: source, message: "exception \(i) of area \(area) maps chunk \(old) to \(new), beyond any device")
                    }
                    exceptions.append(BlockRun(from: old, to: new, length: 1))
                    i += 1
                }
                sector += batchSectors
            }
            area += 1
        }
        exceptions.sort { $0.from < $1.from }
        return SnapshotExceptionStore(chunkSectors: chunk, valid: valid, exceptions: exceptions, metadataChunks: metadata)
    }
}

/// A writecache's committed blocks, read from its cache device (drivers/md/dm-writecache.c:
/// `wc_memory_superblock` magic 0x23489321 at `start_sector`, 64 bytes, then one 16-byte
/// `wc_memory_entry {original_sector, seq_count}` per block; data blocks begin at
/// `roundup(64 + 16 * n_blocks, block_size)`; an entry is committed when its seq_count is
/// below the superblock's, and the highest seq_count wins for one original sector).
public struct WritecacheMapping: Hashable, Sendable, Codable {
    public var blockBytes: UInt64
    /// Sectors of metadata before the first data block (after `start_sector`).
    public var metadataSectors: UInt64
    /// Origin sector of a block (`from`, in blocks of blockBytes) → cache block index (`to`).
    public var blocks: [BlockRun]

    public static let magic: UInt32 = 0x2348_9321

    public var blockSectors: UInt64 { blockBytes / 512 }

    public func cacheBlock(forOriginBlock b: UInt64) -> UInt64? {
        overlappingRuns(blocks, key: \.from, first: b, count: 1).first?.to
    }

    /// Reads the metadata through `read(sector, count)` relative to `start_sector`.
    public static func read(source: String, _ read: (UInt64, UInt64) throws -> [UInt8]) throws -> WritecacheMapping {
        let sb = try read(0, 1)
        guard sb.count >= 32 else { throw MappingParseError(source: source, message: "cache device is shorter than the writecache superblock") }
        guard le32(sb, 0) == Self.magic else {
            throw MappingParseError(source: source, message: "bad writecache magic \(hex32(le32(sb, 0))) (expected 0x23489321)")
        }
        guard le32(sb, 4) == 1 else { throw MappingParseError(source: source, message: "unsupported writecache version \(le32(sb, 4))") }
        let blockBytes = UInt64(le32(sb, 8))
        guard blockBytes >= 512, blockBytes & (blockBytes - 1) == 0, blockBytes <= 1 << 20 else {
            throw MappingParseError(source: source, message: "implausible block size \(blockBytes)")
        }
        let nBlocks = le64(sb, 16), seq = le64(sb, 24)
        guard nBlocks < 1 << 40 else { throw MappingParseError(source: source, message: "implausible block count \(nBlocks)") }
        let metaBytes = 64 + 16 * nBlocks
        let offset = (metaBytes + blockBytes - 1) / blockBytes * blockBytes
        var best: [UInt64: (seq: UInt64, block: UInt64)] = [:]
        let bs = blockBytes / 512
        // Entries are read a megabyte at a time, so a corrupt n_blocks cannot make us allocate
        // more than the device holds: the device ends first.
        let batchSectors: UInt64 = 2048
        var batch: [UInt8] = []
        var batchStart: UInt64 = 0 // byte offset of `batch`
        for i in 0..<nBlocks {
            let at = 64 + i * 16
            if at + 16 > batchStart + UInt64(batch.count) {
                batchStart = at / 512 * 512
                batch = try read(batchStart / 512, batchSectors)
                guard at + 16 <= batchStart + UInt64(batch.count) else {
                    throw MappingParseError(source: source, message: "cache device ends inside the writecache entries (entry \(i) of \(nBlocks))")
                }
            }
            let o = Int(at - batchStart)
            let original = le64(batch, o), s = le64(batch, o + 8)
            guard s < seq else { continue } // free or uncommitted (dm-writecache.c writecache_entry_is_committed)
            guard original < maxSectors else {
                throw MappingParseError(source: source, message: "entry \(i) caches origin sector \(original), beyond any device")
            }
            let block = original / bs
            if let b = best[block], b.seq >= s { continue }
            best[block] = (s, i)
        }
        let runs = best.map { BlockRun(from: $0.key, to: $0.value.block, length: 1) }.sorted { $0.from < $1.from }
        return WritecacheMapping(blockBytes: blockBytes, metadataSectors: offset / 512, blocks: runs)
    }
}

@inline(__always) func le32(_ b: [UInt8], _ o: Int) -> UInt32 {
    UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
}
@inline(__always) func le64(_ b: [UInt8], _ o: Int) -> UInt64 {
    UInt64(le32(b, o)) | UInt64(le32(b, o + 4)) << 32
}

/// Every dynamic mapping known for one translation, by the dm device name that owns it:
/// thin pools by pool device, snapshots, caches and writecaches by their own device.
/// `capture` stores them in the snapshot (`metadata`), so `--snapshot` answers as live did.
public struct DynamicMappings: Sendable, Hashable, Codable {
    public var thinPools: [String: ThinPoolMapping] = [:]
    public var snapshots: [String: SnapshotExceptionStore] = [:]
    public var caches: [String: CacheMapping] = [:]
    public var writecaches: [String: WritecacheMapping] = [:]
    public var integrity: [String: IntegrityGeometry] = [:]
    /// Devices whose metadata was looked for and could not be read, with the reason (the
    /// live engine's read failed, or a snapshot was captured without it): their ranges are
    /// `unknown` with this reason rather than with what an admin could give.
    public var unavailable: [String: String] = [:]
    public init() {}

    /// Whether the mapping of `kind` for `name` is known.
    public func has(_ kind: DynamicMetadataKind, _ name: String) -> Bool {
        switch kind {
        case .thinDump: thinPools[name] != nil
        case .cacheDump: caches[name] != nil
        case .snapshotStore: snapshots[name] != nil
        case .writecacheMetadata: writecaches[name] != nil
        case .integritySuperblock: integrity[name] != nil
        }
    }

    /// These mappings with `other`'s added where these have none (given files win over
    /// what was read or stored); a reason stays only for a device still without a mapping.
    public func filling(from other: DynamicMappings) -> DynamicMappings {
        var m = self
        m.thinPools.merge(other.thinPools) { mine, _ in mine }
        m.snapshots.merge(other.snapshots) { mine, _ in mine }
        m.caches.merge(other.caches) { mine, _ in mine }
        m.writecaches.merge(other.writecaches) { mine, _ in mine }
        m.integrity.merge(other.integrity) { mine, _ in mine }
        m.unavailable.merge(other.unavailable) { mine, _ in mine }
        for name in m.unavailable.keys where [m.thinPools[name] != nil, m.snapshots[name] != nil, m.caches[name] != nil,
                                                m.writecaches[name] != nil, m.integrity[name] != nil].contains(true) {
            m.unavailable[name] = nil
        }
        return m
    }

    public var isEmpty: Bool { self == DynamicMappings() }

    /// Which device's mapping cannot be used as decoded (a snapshot's `metadata`, not checked
    /// by a reader of the on-disk format): a block size of 0, or runs past any device, would
    /// trap in the arithmetic. Nil when every one is sound.
    public var implausible: String? {
        func fits(_ runs: [BlockRun], block: UInt64) -> Bool {
            let limit = maxSectors / block
            return runs.allSatisfy { $0.from <= limit && $0.to <= limit && $0.length <= limit - max($0.from, $0.to) }
        }
        for (n, p) in thinPools where !(1...maxSectors ~= p.dataBlockSectors && p.devices.values.allSatisfy({ fits($0, block: p.dataBlockSectors) })) {
            return "thin pool \(n)"
        }
        for (n, c) in caches where !(1...maxSectors ~= c.blockSectors
                                       && c.entries.allSatisfy({ max($0.cacheBlock, $0.originBlock) <= maxSectors / c.blockSectors })) {
            return "cache \(n)"
        }
        for (n, w) in writecaches where !(w.blockBytes >= 512 && w.blockBytes % 512 == 0 && w.blockBytes / 512 <= maxSectors
                                            && w.metadataSectors <= maxSectors && fits(w.blocks, block: w.blockBytes / 512)) {
            return "writecache \(n)"
        }
        for (n, x) in snapshots where !(1...maxSectors ~= x.chunkSectors && fits(x.exceptions, block: x.chunkSectors)
                                          && x.metadataChunks.allSatisfy({ $0 <= maxSectors / x.chunkSectors })) {
            return "snapshot \(n)"
        }
        for (n, g) in integrity where !(3...31 ~= g.log2InterleaveSectors && g.log2SectorsPerBlock <= min(g.log2InterleaveSectors, 3)
                                          && g.tagSize > 0 && g.providedDataSectors <= maxSectors && g.journalSections < 1 << 24) {
            return "integrity \(n)"
        }
        return nil
    }
}

// MARK: - Dump plumbing

/// Runs the dump reader, turning its failures into a `MappingParseError` naming the source.
func readDump(_ bytes: [UInt8], source: String, start: (String, [String: String], Int) throws -> Void, end: (String) throws -> Void) throws(MappingParseError) {
    do {
        try DumpXML.read(bytes, start: start, end: end)
    } catch let f as DumpXML.Failure {
        throw MappingParseError(source: source, message: "line \(f.line): \(f.message)")
    } catch {
        throw MappingParseError(source: source, message: "\(error)")
    }
}

/// A numeric attribute, or a failure naming the element, the attribute and the line.
func dumpNumber(_ attributes: [String: String], _ key: String, _ element: String, _ line: Int) throws -> UInt64 {
    guard let s = attributes[key], let v = UInt64(s) else {
        throw DumpXML.Failure(line: line, message: "<\(element)> needs a numeric \(key)=, got \(attributes[key].map { "'\($0)'" } ?? "none")")
    }
    return v
}

/// `0x` and eight hex digits, for magic numbers in messages.
func hex32(_ v: UInt32) -> String {
    let digits = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

/// dm-integrity's on-disk layout, from its superblock (drivers/md/dm-integrity.c: `struct
/// superblock` at the table's start sector, "integrt" magic; `calculate_journal_section_size`,
/// `calculate_device_limits`, `get_area_and_offset`, `get_data_sector`): data is interleaved
/// with runs of tags, `interleave` data sectors per area, each area preceded by its tag run.
public struct IntegrityGeometry: Hashable, Sendable, Codable {
    public var log2InterleaveSectors: UInt8
    public var tagSize: UInt16
    public var journalSections: UInt32
    public var providedDataSectors: UInt64
    public var flags: UInt32
    public var log2SectorsPerBlock: UInt8

    public var interleaveSectors: UInt64 { 1 << UInt64(log2InterleaveSectors) }

    /// Sectors of tags before each area's data (`ic->metadata_run`): the area's tags rounded up
    /// to the padding, 4 KiB with SB_FLAG_FIXED_PADDING and 128 KiB without.
    public var metadataRun: UInt64 {
        let padding: UInt64 = flags & 0x8 != 0 ? 4096 : 131072
        let tagBytes = UInt64(tagSize) << UInt64(log2InterleaveSectors - log2SectorsPerBlock)
        return (tagBytes + padding - 1) / padding * padding / 512
    }

    /// Superblock and journal sectors before the first area (`ic->initial_sectors`).
    public var initialSectors: UInt64 {
        let sectorsPerBlock = UInt64(1) << UInt64(log2SectorsPerBlock)
        let entrySize = (8 + 8 * sectorsPerBlock + UInt64(tagSize) + 7) / 8 * 8
        let macBytes: UInt64 = flags & 0x1 != 0 ? 8 : 0
        let entriesPerSector = (504 - macBytes) / entrySize
        let sectionSectors = ((entriesPerSector * 8) << UInt64(log2SectorsPerBlock)) + 8
        return 8 + sectionSectors * UInt64(journalSections)
    }

    /// The sectors the layout of `sectors` logical sectors takes on the data device (the
    /// superblock and journal, every area's tags and data up to the last sector), computed
    /// with every step checked: nil past `maxSectors`, a superblock no device could hold.
    public func layoutEnd(_ sectors: UInt64) -> UInt64? {
        guard sectors > 0 else { return initialSectors }
        let last = sectors - 1
        let area = last >> UInt64(log2InterleaveSectors), offset = last & (interleaveSectors - 1)
        let (data, o1) = area.multipliedReportingOverflow(by: interleaveSectors)
        let (tags, o2) = (area + 1).multipliedReportingOverflow(by: metadataRun)
        let (a, o3) = initialSectors.addingReportingOverflow(data)
        let (b, o4) = a.addingReportingOverflow(tags)
        let (end, o5) = b.addingReportingOverflow(offset + 1)
        guard !(o1 || o2 || o3 || o4 || o5), end <= maxSectors else { return nil }
        return end
    }

    /// Where logical sector `s` lives, relative to the table's start sector (for `s` below
    /// `providedDataSectors`, whose layout `read` checked fits a device).
    public func dataSector(_ s: UInt64) -> UInt64 {
        let area = s >> UInt64(log2InterleaveSectors), offset = s & (interleaveSectors - 1)
        return initialSectors + area * interleaveSectors + (area + 1) * metadataRun + offset
    }

    /// Reads the superblock through `read(sector, count)` relative to the table's start.
    public static func read(source: String, _ read: (UInt64, UInt64) throws -> [UInt8]) throws -> IntegrityGeometry {
        let sb = try read(0, 1)
        guard sb.count >= 32, Array(sb[0..<8]) == Array("integrt\u{0}".utf8) else {
            throw MappingParseError(source: source, message: "no dm-integrity superblock (magic \"integrt\") at the table's start sector")
        }
        let g = IntegrityGeometry(log2InterleaveSectors: sb[9], tagSize: UInt16(sb[10]) | UInt16(sb[11]) << 8,
                                  journalSections: le32(sb, 12), providedDataSectors: le64(sb, 16), flags: le32(sb, 24),
                                  log2SectorsPerBlock: sb[28])
        guard g.log2InterleaveSectors >= 3, g.log2InterleaveSectors <= 31, g.log2SectorsPerBlock <= g.log2InterleaveSectors,
              g.log2SectorsPerBlock <= 3, g.tagSize > 0, g.providedDataSectors <= maxSectors, g.journalSections < 1 << 24 else {
            throw MappingParseError(source: source, message: "implausible dm-integrity superblock (interleave 2^\(sb[9]), tag size \(g.tagSize), block 2^\(sb[28]) sectors); a separate metadata device is not supported")
        }
        guard g.layoutEnd(g.providedDataSectors) != nil else {
            throw MappingParseError(source: source, message: "implausible dm-integrity superblock: \(g.providedDataSectors) data sectors with their tags and journal would pass \(maxSectors) sectors, beyond any device")
        }
        return g
    }
}

// MARK: - Snapshot form

/// A run is stored as `[from, to, length]`: a pool holds millions of them.
extension BlockRun {
    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        let from = try c.decode(UInt64.self), to = try c.decode(UInt64.self), length = try c.decode(UInt64.self)
        guard c.isAtEnd else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "a block run is [from, to, length]") }
        self.init(from: from, to: to, length: length)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(from)
        try c.encode(to)
        try c.encode(length)
    }
}

/// Thin devices as a list of `{id, runs}` by id, each device's runs sorted by thin block.
extension ThinPoolMapping {
    enum CodingKeys: String, CodingKey { case dataBlockSectors, devices, foreignSnapshotRoot }
    struct Device: Codable { var id: UInt64; var runs: [BlockRun] }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var devices: [UInt64: [BlockRun]] = [:]
        for d in try c.decode([Device].self, forKey: .devices) { devices[d.id, default: []] += d.runs }
        for id in devices.keys { devices[id]!.sort { $0.from < $1.from } }
        self.init(dataBlockSectors: try c.decode(UInt64.self, forKey: .dataBlockSectors), devices: devices,
                  foreignSnapshotRoot: try c.decodeIfPresent(UInt64.self, forKey: .foreignSnapshotRoot))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(dataBlockSectors, forKey: .dataBlockSectors)
        try c.encode(devices.keys.sorted().map { Device(id: $0, runs: devices[$0]!) }, forKey: .devices)
        try c.encodeIfPresent(foreignSnapshotRoot, forKey: .foreignSnapshotRoot)
    }

    /// Every data block any device maps, as merged runs by data block (`to`, `length`).
    public var mappedDataRuns: [BlockRun] {
        let all = devices.values.flatMap { $0 }.sorted { $0.to < $1.to }
        var out: [BlockRun] = []
        for r in all {
            if let last = out.last, r.to <= last.to + last.length {
                out[out.count - 1].length = max(last.length, r.to + r.length - last.to)
            } else {
                out.append(BlockRun(from: 0, to: r.to, length: r.length))
            }
        }
        return out
    }
}

/// Each kind as a list of `{device, mapping}` sorted by device (not an object keyed by device
/// name: the snapshot's snake_case key strategy would rewrite names like `vg-lv_tdata`).
extension DynamicMappings {
    enum CodingKeys: String, CodingKey { case thinPools, snapshots, caches, writecaches, integrity, unavailable }
    struct Named<T: Codable>: Codable { var device: String; var mapping: T }
    struct Reason: Codable { var device: String; var reason: String }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func read<T: Codable>(_ key: CodingKeys) throws -> [String: T] {
            var out: [String: T] = [:]
            for n in try c.decodeIfPresent([Named<T>].self, forKey: key) ?? [] { out[n.device] = n.mapping }
            return out
        }
        self.init()
        thinPools = try read(.thinPools)
        snapshots = try read(.snapshots)
        caches = try read(.caches)
        writecaches = try read(.writecaches)
        integrity = try read(.integrity)
        for r in try c.decodeIfPresent([Reason].self, forKey: .unavailable) ?? [] { unavailable[r.device] = r.reason }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func write<T: Codable>(_ d: [String: T], _ key: CodingKeys) throws {
            try c.encode(d.keys.sorted().map { Named(device: $0, mapping: d[$0]!) }, forKey: key)
        }
        try write(thinPools, .thinPools)
        try write(snapshots, .snapshots)
        try write(caches, .caches)
        try write(writecaches, .writecaches)
        try write(integrity, .integrity)
        try c.encode(unavailable.keys.sorted().map { Reason(device: $0, reason: unavailable[$0]!) }, forKey: .unavailable)
    }
}
