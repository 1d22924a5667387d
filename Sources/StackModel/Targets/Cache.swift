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

    /// Writeback unless `writethrough` or `passthrough` is given (dm-cache-target.c
    /// `parse_features`: writeback is the default mode).
    public var writeback: Bool { !features.contains { $0 == "writethrough" || $0 == "passthrough" } }

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
        CacheMapper(frame: frame, mapping: mappings.caches[frame.deviceName])
    }
}

struct CacheMapper: TargetMapper {
    let frame: MapFrame
    let mapping: CacheMapping?
    /// Cache blocks (`to`) → origin blocks (`from`), by cache block.
    let reverse: [BlockRun]

    init(frame: MapFrame, mapping: CacheMapping?) {
        self.frame = frame
        self.mapping = mapping
        reverse = (mapping?.entries ?? []).map { BlockRun(from: $0.originBlock, to: $0.cacheBlock, length: 1) }.sorted { $0.to < $1.to }
    }

    func footprint(slot: Int) -> UInt64? { nil }

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        guard let m = mapping else {
            return [frame.unknownExtent(r, "cache \(frame.deviceName): \(frame.missing("cache mapping not given (cache_dump of its metadata)"))")]
        }
        let bs = m.blockSectors
        return frame.blockwise(rel: rel, length: r.length, block: bs) { block in
            let origin = Location(slot: 2, start: block * bs, role: .data)
            guard let e = m.entry(forOriginBlock: block) else {
                return Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [origin])
            }
            let cached = Location(slot: 1, start: e.cacheBlock * bs, role: .data)
            // A dirty block's only current copy is on the cache device (dm-cache writeback).
            return e.dirty
                ? Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [cached], reason: "dirty in cache")
                : Extent(start: 0, length: 0, kind: .data, redundancy: .copies, locations: [origin, cached])
        }
    }

    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        if slot == 0 {
            return [frame.unknownExtent(frame.wholeTarget, "cache \(frame.deviceName): metadata device hit")]
        }
        guard let m = mapping else {
            if slot == 2, let d = frame.identityUp(offset: 0, range) {
                return [frame.unknownExtent(d, "cache \(frame.deviceName): origin range may be cached; \(frame.missing("cache mapping not given"))")]
            }
            return [frame.unknownExtent(frame.wholeTarget, "cache \(frame.deviceName): cache device hit; \(frame.missing("cache mapping not given"))")]
        }
        if slot == 2 {
            guard let d = frame.identityUp(offset: 0, range) else { return [] }
            return down(d).filter { $0.locations.contains { $0.slot == 2 } }
        }
        return frame.reverseRuns(reverse, block: m.blockSectors, runLength: { _ in 1 }, range: range, down: { down($0) })
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
