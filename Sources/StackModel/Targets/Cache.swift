/// dm-cache-target.c `cache_ctr`: `<metadata> <cache> <origin> <block sectors> <#features>
/// <features> <policy> <#policy args> <policy args>`. Blocks of the origin may have a copy on
/// the cache device, the only current one when dirty (writeback).
public struct CacheTarget: TargetType {
    public var metadata: String
    public var cache: String
    public var origin: String
    public var blockSectors: UInt64
    public var features: [String]
    public var policy: String
    public var policyArguments: [String]

    /// The I/O mode of a dm-cache target (Documentation/admin-guide/device-mapper/cache.rst,
    /// "Write-through/write-back/passthrough modes"; dm-cache-target.c `parse_features`:
    /// writeback is the default).
    public enum Mode: String, Sendable, Hashable {
        /// "a write to a block that is cached will go only to the cache and the block will be
        /// marked dirty": a dirty block's only current copy is on the cache device.
        case writeback
        /// "a write to a cached block will not complete until it has hit both the origin and
        /// cache devices. Clean blocks should remain clean": the origin holds every block.
        case writethrough
        /// "all reads are served from the origin device (all reads miss the cache) and all
        /// writes are forwarded to the origin device"; the cache must be clean to enter it.
        case passthrough
    }

    public var mode: Mode {
        features.contains("passthrough") ? .passthrough : features.contains("writethrough") ? .writethrough : .writeback
    }

    /// Writeback unless `writethrough` or `passthrough` is given.
    public var writeback: Bool { mode == .writeback }

    /// Why the dirty flags of metadata read from this live cache cannot be trusted, nil when
    /// no mapped block can be dirty: writethrough and passthrough never dirty a block
    /// (cache.rst), and a writeback cache whose status says `<#dirty>` is 0 has none
    /// (cache.rst "Status": the 11th word). Otherwise dm-cache keeps the dirty bitset in
    /// memory and writes it only on suspend (dm-cache-target.c `sync_metadata`), so which of
    /// the mapped blocks are dirty is not on the metadata device.
    public func liveDirtiness(status: [String]) -> String? {
        // The status's dirty count decides in every mode: a writethrough cache can still hold
        // dirty blocks (switched from writeback, or reloaded after an unclean shutdown, when
        // dm-cache-target.c takes every mapped block as dirty until written back).
        if status.count > 10, let dirty = UInt64(status[10]) {
            if dirty == 0 { return nil }
            return "\(mode.rawValue) cache with \(dirty) dirty block\(dirty == 1 ? "" : "s"); which ones is kept in kernel memory only (dm-cache-target.c writes its dirty bitset on suspend), so any cached block may be the only current copy"
        }
        guard mode == .writeback else { return nil }
        return "writeback cache whose status gives no dirty count (\(status.first ?? "no status")); any cached block may be the only current copy"
    }

    public static let names = ["cache"]
    public var typeName: String { "cache" }
    public static var effect: LayerEffect { .dynamic }
    public static var dynamicMetadata: DynamicMetadataKind? { .cacheDump }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> CacheTarget {
        let m = try p.device("metadata device"); let c = try p.device("cache device"); let o = try p.device("origin device")
        let b = try p.number("block size", positive: true)
        let nf = try p.count("feature count")
        var features: [String] = []
        for _ in 0..<nf { features.append(try p.word("feature")) }
        let policy = try p.word("policy")
        let np = try p.count("policy argument count"); let arguments = try p.words(np, "policy arguments")
        try p.noMore()
        return CacheTarget(metadata: m, cache: c, origin: o, blockSectors: b, features: features, policy: policy, policyArguments: arguments)
    }

    public var tableArguments: [String] {
        [metadata, cache, origin, "\(blockSectors)", "\(features.count)"] + features + [policy, "\(policyArguments.count)"] + policyArguments
    }
    public var members: [MemberDevice] {
        [MemberDevice(device: metadata, role: .metadata), MemberDevice(device: cache, role: .cache), MemberDevice(device: origin, role: .origin)]
    }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        CacheMapper(frame: frame, mode: mode, mapping: mappings.caches[frame.deviceName])
    }
}

/// dm-cache-target.c `map_bio`: a block the policy has cached is read from the cache device,
/// any other from the origin at the same sector; slots are metadata 0, cache 1, origin 2.
struct CacheMapper: TargetMapper {
    let frame: MapFrame
    let mode: CacheTarget.Mode
    let mapping: CacheMapping?
    /// Cache blocks (`to`) → origin blocks (`from`), by cache block.
    let reverse: [BlockRun]

    init(frame: MapFrame, mode: CacheTarget.Mode, mapping: CacheMapping?) {
        self.frame = frame
        self.mode = mode
        self.mapping = mapping
        reverse = (mapping?.entries ?? []).map { BlockRun(from: $0.originBlock, to: $0.cacheBlock, length: 1) }.sorted { $0.to < $1.to }
    }

    func footprint(slot: Int) -> UInt64? { nil }

    /// The reason of a block that may or may not be dirty (its extent lists the cached copy
    /// first); `up` makes losing its cached copy `unknown` with it.
    var maybeDirty: String? { mapping?.dirtyUnknown.map { "dirty or clean, not known: \($0)" } }

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        let origin = { (s: UInt64) in Location(slot: 2, start: s, role: .data) }
        if mode == .passthrough {
            // Passthrough reads every block from the origin, whatever is cached (cache.rst).
            return frame.single(r, slot: 2, memberStart: rel)
        }
        guard let m = mapping else {
            if mode == .writethrough {
                // The origin holds every block; a clean copy may also be cached.
                return [Extent(start: r.start, length: r.length, kind: .data, redundancy: .single, locations: [origin(rel)],
                               reason: "writethrough: the origin holds every block; a clean copy may also be cached (\(frame.missing("cache mapping not read")))")]
            }
            return [frame.unknownExtent(r, "cache \(frame.deviceName) (writeback): \(frame.missing("cache mapping not given (cache_dump of its metadata)"))")]
        }
        let bs = m.blockSectors
        return frame.blockwise(rel: rel, length: r.length, block: bs) { block in
            let o = origin(block * bs)
            guard let e = m.entry(forOriginBlock: block) else {
                return (Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [o]), m.uncachedBlocks(from: block))
            }
            let cached = Location(slot: 1, start: e.cacheBlock * bs, role: .data)
            if let maybe = maybeDirty {
                return (Extent(start: 0, length: 0, kind: .data, redundancy: .copies, locations: [cached, o], reason: maybe), 1)
            }
            // A dirty block's only current copy is on the cache device (dm-cache writeback).
            return (e.dirty
                ? Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [cached], reason: "dirty in cache")
                : Extent(start: 0, length: 0, kind: .data, redundancy: .copies, locations: [o, cached]), 1)
        }
    }

    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        if slot == 0 {
            return [frame.unknownExtent(frame.wholeTarget, "cache \(frame.deviceName): metadata device hit (dm-cache fails its metadata and stops caching; dirty blocks can no longer be found)")]
        }
        if mode == .passthrough {
            // Reads never touch the cache device; the origin is the only copy of every block.
            guard slot == 2, let d = frame.identityUp(offset: 0, range) else { return [] }
            return down(d)
        }
        guard let m = mapping else {
            if slot == 2, let d = frame.identityUp(offset: 0, range) {
                if mode == .writethrough { return down(d) }
                return [frame.unknownExtent(d, "cache \(frame.deviceName) (writeback): origin range may be superseded by dirty cached blocks; \(frame.missing("cache mapping not given"))")]
            }
            if mode == .writethrough {
                // Every cached block is clean (cache.rst): what is lost is a copy of some origin
                // block, which one the mapping would say.
                return [Extent(start: frame.start, length: frame.length, kind: .data, redundancy: .copies,
                               locations: [Location(slot: 2, start: 0, role: .data), Location(slot: 1, start: range.start, role: .data, span: range.length)],
                               reason: "writethrough: only clean copies are cached, the origin holds every block; which block's copy is not known (\(frame.missing("cache mapping not read")))")]
            }
            return [frame.unknownExtent(frame.wholeTarget, "cache \(frame.deviceName) (writeback): cache device hit, its dirty blocks may be the only copy; \(frame.missing("cache mapping not given"))")]
        }
        if slot == 2 {
            guard let d = frame.identityUp(offset: 0, range) else { return [] }
            return down(d).filter { $0.locations.contains { $0.slot == 2 } }
        }
        let maybe = maybeDirty
        return frame.reverseRuns(reverse, block: m.blockSectors, runLength: { _ in 1 }, range: range, down: { r in
            down(r).map { e in
                maybe != nil && e.reason == maybe ? frame.unknownExtent(e.range, "cache \(frame.deviceName): cached block \(maybe!)") : e
            }
        })
    }
}

/// `{type: cache, metadata: M, cache: C, origin: A, block_size: 64K, mode: writethrough, policy: smq}`.
public struct CacheSpec: SpecTarget {
    public var metadata: MemberSpec
    public var cache: MemberSpec
    public var origin: MemberSpec
    public var blockSize: UInt64
    public var mode: String
    public var policy: String
    public static let specNames = ["cache"]
    public var references: [MemberSpec] { [metadata, cache, origin] }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> CacheSpec {
        let m = try d.member("metadata"), c = try d.member("cache"), o = try d.member("origin")
        // dm-cache-target.c: block size a multiple of 32 KiB, from 32 KiB to 1 GiB.
        let block = try d.positive("block_size", default: 128)
        guard block % 64 == 0, block <= 2_097_152 else { throw d.map.fail("block_size", "must be a multiple of 32 KiB between 32 KiB and 1 GiB") }
        let mode = try d.map.string("mode") ?? "writethrough"
        guard ["writethrough", "writeback", "passthrough"].contains(mode) else { throw d.map.fail("mode", "is writethrough, writeback or passthrough, not '\(mode)'") }
        let policy = try d.map.string("policy") ?? "smq"
        guard policy.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else { throw d.map.fail("policy", "must be one word") }
        return CacheSpec(metadata: m, cache: c, origin: o, blockSize: block, mode: mode, policy: policy)
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        let rm = try p.member(metadata), rc = try p.member(cache), ro = try p.member(origin)
        try p.use(rm, metadata, rm.available)
        try p.use(rc, cache, rc.available)
        try p.use(ro, origin, ro.available)
        p.steps.append(.prepareMetadata(volume: p.volume, device: rm.word, format: .cache))
        return [PlannedTarget(length: ro.available, target: CacheTarget(metadata: rm.word, cache: rc.word, origin: ro.word, blockSectors: blockSize,
                                                                        features: [mode], policy: policy, policyArguments: []))]
    }
}
