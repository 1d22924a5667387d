import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Metadata for a dynamic mapping could not be read: names the source and what was wrong.
public struct MappingParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var source: String
    public var message: String
    public init(source: String, message: String) { self.source = source; self.message = message }
    public var description: String { "\(source): \(message)" }
}

/// One run of consecutive blocks, `length` blocks from `from` mapped to `to`.
public struct BlockRun: Hashable, Sendable {
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

/// A thin pool's mappings as `thin_dump` prints them (thin-provisioning-tools xml format:
/// `superblock` with `data_block_size` in sectors, `device dev_id`, `range_mapping
/// origin_begin data_begin length`, `single_mapping origin_block data_block`; block units).
public struct ThinPoolMapping: Hashable, Sendable {
    public var dataBlockSectors: UInt64
    /// Per thin device id: runs from thin block (`from`) to pool data block (`to`), by `from`.
    public var devices: [UInt64: [BlockRun]]
    /// Every run of every device by data block, for the reverse direction: (run, device id).
    public var byDataBlock: [(run: BlockRun, device: UInt64)] { 
        devices.flatMap { id, runs in runs.map { (run: $0, device: id) } }.sorted { $0.run.to < $1.run.to }
    }

    public static func == (a: ThinPoolMapping, b: ThinPoolMapping) -> Bool {
        a.dataBlockSectors == b.dataBlockSectors && a.devices == b.devices
    }
    public func hash(into h: inout Hasher) { h.combine(dataBlockSectors); h.combine(devices) }

    public init(dataBlockSectors: UInt64, devices: [UInt64: [BlockRun]]) {
        self.dataBlockSectors = dataBlockSectors
        self.devices = devices
    }

    /// Parses `thin_dump` XML output.
    public static func parseThinDump(_ xml: Data, source: String = "thin_dump") throws(MappingParseError) -> ThinPoolMapping {
        let handler = ThinDumpHandler()
        try runXML(xml, handler: handler, source: source)
        if let e = handler.error { throw MappingParseError(source: source, message: e) }
        guard let bs = handler.blockSectors, bs > 0 else {
            throw MappingParseError(source: source, message: "no <superblock data_block_size=...> element")
        }
        var devices = handler.devices
        for id in devices.keys { devices[id]!.sort { $0.from < $1.from } }
        return ThinPoolMapping(dataBlockSectors: bs, devices: devices)
    }
}

/// A cache's mappings as `cache_dump` prints them (`superblock block_size` in sectors,
/// `mapping cache_block origin_block dirty`).
public struct CacheMapping: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var cacheBlock: UInt64
        public var originBlock: UInt64
        public var dirty: Bool
    }
    public var blockSectors: UInt64
    /// By origin block.
    public var entries: [Entry]

    public init(blockSectors: UInt64, entries: [Entry]) {
        self.blockSectors = blockSectors
        self.entries = entries.sorted { $0.originBlock < $1.originBlock }
    }

    public func entry(forOriginBlock b: UInt64) -> Entry? {
        var lo = 0, hi = entries.count
        while lo < hi { let m = (lo + hi) / 2; if entries[m].originBlock < b { lo = m + 1 } else { hi = m } }
        return lo < entries.count && entries[lo].originBlock == b ? entries[lo] : nil
    }

    public static func parseCacheDump(_ xml: Data, source: String = "cache_dump") throws(MappingParseError) -> CacheMapping {
        let handler = CacheDumpHandler()
        try runXML(xml, handler: handler, source: source)
        if let e = handler.error { throw MappingParseError(source: source, message: e) }
        guard let bs = handler.blockSectors, bs > 0 else {
            throw MappingParseError(source: source, message: "no <superblock block_size=...> element")
        }
        return CacheMapping(blockSectors: bs, entries: handler.entries)
    }
}

/// The exceptions of a persistent snapshot, read from its COW device
/// (drivers/md/dm-snap-persistent.c: header chunk 0 `SnAp`, then metadata areas of
/// `chunk_bytes / 16` little-endian `{old_chunk, new_chunk}` pairs, area N at chunk
/// `1 + (exceptions_per_area + 1) * N`, the list ending at the first `new_chunk == 0`).
public struct SnapshotExceptionStore: Hashable, Sendable {
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
            throw MappingParseError(source: source, message: magic == 0 ? "COW device holds no snapshot header (new, never used store)" : String(format: "bad snapshot magic 0x%08x (expected 0x70416e53 'SnAp')", magic))
        }
        let valid = le32(header, 4) != 0
        let version = le32(header, 8)
        guard version == 1 else { throw MappingParseError(source: source, message: "unsupported snapshot store version \(version) (dmstack reads version 1)") }
        let chunk = UInt64(le32(header, 12))
        guard chunk > 0, chunk <= 1 << 24 else { throw MappingParseError(source: source, message: "implausible chunk size \(chunk) sectors") }
        let perArea = chunk * 512 / 16
        var exceptions: [BlockRun] = []
        var metadata: [UInt64] = [0]
        var area: UInt64 = 0
        reading: while true {
            let areaChunk = 1 + (perArea + 1) * area
            metadata.append(areaChunk)
            let bytes = try read(areaChunk * chunk, chunk)
            guard bytes.count == Int(chunk * 512) else {
                throw MappingParseError(source: source, message: "COW device ends inside metadata area \(area) (chunk \(areaChunk))")
            }
            for i in 0..<Int(perArea) {
                let old = le64(bytes, i * 16), new = le64(bytes, i * 16 + 8)
                if new == 0 { break reading }
                guard old < maxSectors / chunk, new < maxSectors / chunk else {
                    throw MappingParseError(source: source, message: "exception \(i) of area \(area) maps chunk \(old) to \(new), beyond any device")
                }
                exceptions.append(BlockRun(from: old, to: new, length: 1))
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
public struct WritecacheMapping: Hashable, Sendable {
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
            throw MappingParseError(source: source, message: String(format: "bad writecache magic 0x%08x (expected 0x23489321)", le32(sb, 0)))
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
public struct DynamicMappings: Sendable {
    public var thinPools: [String: ThinPoolMapping] = [:]
    public var snapshots: [String: SnapshotExceptionStore] = [:]
    public var caches: [String: CacheMapping] = [:]
    public var writecaches: [String: WritecacheMapping] = [:]
    public init() {}
}

// MARK: - XML plumbing (FoundationXML's streaming parser: bounded memory on large dumps)

func runXML(_ data: Data, handler: XMLHandlerBase, source: String) throws(MappingParseError) {
    // FoundationXML traps on element names that are not UTF-8 (seen with fuzzed input), and
    // the dumps of thin-provisioning-tools are plain text: refuse anything else up front.
    guard String(validating: data, as: UTF8.self) != nil, !data.contains(0) else {
        throw MappingParseError(source: source, message: "not an XML dump: the file is not UTF-8 text")
    }
    let parser = XMLParser(data: data)
    parser.delegate = handler
    if !parser.parse(), handler.error == nil {
        let e = parser.parserError.map { "\($0)" } ?? "unknown error"
        throw MappingParseError(source: source, message: "not valid XML at line \(parser.lineNumber): \(e)")
    }
    // A truncated dump must not pass for a pool with fewer mappings.
    if handler.error == nil && !handler.closedRoot {
        throw MappingParseError(source: source, message: "not valid XML: the document ends before </superblock> (truncated dump?)")
    }
}

/// The delegate methods live here and dispatch to `start`/`end`: a subclass's own delegate
/// methods would not be seen through the base class's conformance.
class XMLHandlerBase: NSObject, XMLParserDelegate, @unchecked Sendable {
    var error: String?

    func start(_ name: String, _ attributes: [String: String], _ parser: XMLParser) {}
    func end(_ name: String) {}
    var closedRoot = false

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        guard error == nil else { return }
        start(name, attributes, parser)
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "superblock" { closedRoot = true }
        end(name)
    }

    func number(_ attrs: [String: String], _ key: String, _ element: String, _ parser: XMLParser) -> UInt64? {
        guard let s = attrs[key], let v = UInt64(s) else {
            error = "line \(parser.lineNumber): <\(element)> needs a numeric \(key)=, got \(attrs[key].map { "'\($0)'" } ?? "none")"
            parser.abortParsing()
            return nil
        }
        return v
    }
}

final class ThinDumpHandler: XMLHandlerBase, @unchecked Sendable {
    var blockSectors: UInt64?
    var devices: [UInt64: [BlockRun]] = [:]
    var current: UInt64?

    override func start(_ name: String, _ a: [String: String], _ parser: XMLParser) {
        switch name {
        case "superblock": blockSectors = number(a, "data_block_size", name, parser)
        case "device":
            current = number(a, "dev_id", name, parser)
            if let c = current, devices[c] == nil { devices[c] = [] }
        case "range_mapping", "single_mapping":
            guard let dev = current else { error = "line \(parser.lineNumber): <\(name)> outside <device>"; parser.abortParsing(); return }
            let single = name == "single_mapping"
            guard let o = number(a, single ? "origin_block" : "origin_begin", name, parser),
                  let d = number(a, single ? "data_block" : "data_begin", name, parser),
                  let l = single ? 1 : number(a, "length", name, parser) else { return }
            guard let bs = blockSectors, l > 0, o + l <= maxSectors / bs, d + l <= maxSectors / bs else {
                error = "line \(parser.lineNumber): <\(name)> maps blocks beyond any device (or before <superblock>)"
                parser.abortParsing()
                return
            }
            devices[dev]!.append(BlockRun(from: o, to: d, length: l))
        case "def", "ref":
            error = "line \(parser.lineNumber): shared subtrees (<\(name)>) are not supported; run thin_dump without --format compact"
            parser.abortParsing()
        default: break
        }
    }

    override func end(_ name: String) {
        if name == "device" { current = nil }
    }
}

final class CacheDumpHandler: XMLHandlerBase, @unchecked Sendable {
    var blockSectors: UInt64?
    var entries: [CacheMapping.Entry] = []

    override func start(_ name: String, _ a: [String: String], _ parser: XMLParser) {
        switch name {
        case "superblock": blockSectors = number(a, "block_size", name, parser)
        case "mapping":
            guard let c = number(a, "cache_block", name, parser), let o = number(a, "origin_block", name, parser) else { return }
            guard let bs = blockSectors, c < maxSectors / bs, o < maxSectors / bs else {
                error = "line \(parser.lineNumber): <mapping> places a block beyond any device (or before <superblock>)"
                parser.abortParsing()
                return
            }
            entries.append(.init(cacheBlock: c, originBlock: o, dirty: a["dirty"] == "true"))
        default: break
        }
    }
}
