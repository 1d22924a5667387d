/// dm-writecache.c `writecache_ctr`: `<p|s> <origin> <cache> <block bytes> <#opt> <opts>`.
/// Written blocks live on the cache device until written back to the origin.
public struct WritecacheTarget: TargetType {
    public var persistentMemory: Bool
    public var origin: String
    public var cache: String
    public var blockBytes: UInt64
    /// The optional argument words as written, nil without a count.
    public var options: [String]?

    /// dm-writecache.c optional arguments that take a value.
    static let valued: Set<String> = ["start_sector", "high_watermark", "low_watermark", "writeback_jobs",
                                      "autocommit_blocks", "autocommit_time", "max_age", "pause_writeback"]

    /// `start_sector`: where the writecache superblock begins on the cache device.
    public var startSector: UInt64 {
        guard let o = options, let i = o.lastIndex(of: "start_sector"), i + 1 < o.count else { return 0 }
        return UInt64(o[i + 1]) ?? 0
    }

    public static let names = ["writecache"]
    public var typeName: String { "writecache" }
    public static var effect: LayerEffect { .dynamic }
    public static var dynamicMetadata: DynamicMetadataKind? { .writecacheMetadata }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> WritecacheTarget {
        let t = try p.word("type")
        guard t == "p" || t == "s" else { throw p.fail("type", "expected p or s, got '\(t)'") }
        let o = try p.device("origin device"); let c = try p.device("cache device")
        let b = try p.number("block size", positive: true)
        guard b >= 512, b & (b - 1) == 0 else { throw p.fail("block size", "\(b) is not a power of two of at least 512 bytes") }
        var options: [String]?
        if p.remaining > 0 {
            let n = try p.count("optional argument count")
            var words: [String] = []
            while words.count < n {
                let key = try p.word("optional argument")
                words.append(key)
                if valued.contains(key) {
                    guard words.count < n else { throw p.fail(key, "missing value") }
                    _ = try p.number(key)
                    words.append(p.words[p.position - 1])
                }
            }
            options = words
        }
        try p.noMore()
        return WritecacheTarget(persistentMemory: t == "p", origin: o, cache: c, blockBytes: b, options: options)
    }

    public var tableArguments: [String] {
        [persistentMemory ? "p" : "s", origin, cache, "\(blockBytes)"] + (options.map { ["\($0.count)"] + $0 } ?? [])
    }
    public var members: [MemberDevice] { [MemberDevice(device: origin, role: .origin), MemberDevice(device: cache, role: .cache)] }
    public func summary(segments: Int) -> String { "writecache \(persistentMemory ? "pmem" : "ssd")" }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        WritecacheMapper(frame: frame, startSector: startSector, mapping: mappings.writecaches[frame.deviceName])
    }
}

struct WritecacheMapper: TargetMapper {
    let frame: MapFrame
    let startSector: UInt64
    let mapping: WritecacheMapping?
    let reverse: [BlockRun]

    init(frame: MapFrame, startSector: UInt64, mapping: WritecacheMapping?) {
        self.frame = frame
        self.startSector = startSector
        self.mapping = mapping
        reverse = (mapping?.blocks ?? []).sorted { $0.to < $1.to }
    }

    func footprint(slot: Int) -> UInt64? { nil }

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        guard let m = mapping else {
            return [frame.unknownExtent(r, "writecache \(frame.deviceName): \(frame.missing("metadata not given (read it from the cache device)"))")]
        }
        let bs = m.blockSectors
        let dataStart = startSector + m.metadataSectors
        return frame.blockwise(rel: rel, length: r.length, block: bs) { block in
            if let cb = m.cacheBlock(forOriginBlock: block) {
                // Committed writecache blocks are not yet written back: the cache holds the only
                // current copy (dm-writecache.c frees an entry when its writeback completes).
                return (Extent(start: 0, length: 0, kind: .data, redundancy: .single,
                               locations: [Location(slot: 1, start: dataStart + cb * bs, role: .data)], reason: "dirty in writecache"), 1)
            }
            return (Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [Location(slot: 0, start: block * bs, role: .data)]),
                    blocksBeforeNextRun(m.blocks, key: \.from, from: block))
        }
    }

    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        guard let m = mapping else {
            if slot == 0, let d = frame.identityUp(offset: 0, range) {
                return [frame.unknownExtent(d, "writecache \(frame.deviceName): origin range may be superseded by cached blocks; \(frame.missing("metadata not given"))")]
            }
            return [frame.unknownExtent(frame.wholeTarget, "writecache \(frame.deviceName): cache device hit; \(frame.missing("metadata not given"))")]
        }
        if slot == 0 {
            guard let d = frame.identityUp(offset: 0, range) else { return [] }
            return down(d).filter { $0.locations.first?.slot == 0 }
        }
        let dataStart = startSector + m.metadataSectors
        var out: [Extent] = []
        if range.start < dataStart && range.end > startSector {
            out.append(frame.unknownExtent(frame.wholeTarget, "writecache \(frame.deviceName): metadata on the cache device hit"))
        }
        out += frame.reverseRuns(reverse, block: m.blockSectors, base: dataStart, runLength: { _ in 1 }, range: range, down: { down($0) })
        return out
    }
}

/// `{type: writecache, origin: A, cache: PMEM, mode: pmem|ssd, block_size: 4K}`.
public struct WritecacheSpec: SpecTarget {
    public var origin: MemberSpec
    public var cache: MemberSpec
    public var pmem: Bool
    public var blockBytes: UInt64
    public static let specNames = ["writecache"]
    public var references: [MemberSpec] { [origin, cache] }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> WritecacheSpec {
        let o = try d.member("origin"), c = try d.member("cache")
        let mode = try d.map.string("mode") ?? "pmem"
        guard mode == "pmem" || mode == "ssd" else { throw d.map.fail("mode", "is pmem or ssd, not '\(mode)'") }
        // dm-writecache.c: block size a power of two from 512 bytes to the page size.
        let block = try d.map.size("block_size") ?? 8
        guard block == 1 || block == 2 || block == 4 || block == 8 else { throw d.map.fail("block_size", "must be 512B, 1K, 2K or 4K") }
        return WritecacheSpec(origin: o, cache: c, pmem: mode == "pmem", blockBytes: block * 512)
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        let ro = try p.member(origin), rc = try p.member(cache)
        try p.use(ro, origin, ro.available)
        try p.use(rc, cache, rc.available)
        p.steps.append(.prepareMetadata(volume: p.volume, device: rc.word, format: .writecache))
        return [PlannedTarget(length: ro.available, target: WritecacheTarget(persistentMemory: pmem, origin: ro.word, cache: rc.word,
                                                                             blockBytes: blockBytes, options: []))]
    }
}
