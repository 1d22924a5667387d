/// dm-thin.c `pool_ctr`: `<metadata> <data> <block sectors> <low water> [<#features>
/// <features>]`. The pool device remaps every bio 1:1 to the data device (`pool_map`); which
/// thin device owns which data block is in its metadata.
public struct ThinPoolTarget: TargetType {
    public var metadata: String
    public var data: String
    public var blockSectors: UInt64
    public var lowWaterMark: UInt64
    /// Feature words (`skip_block_zeroing`, `error_if_no_space`, ...), nil without a count.
    public var features: [String]?

    public static let names = ["thin-pool"]
    public var typeName: String { "thin-pool" }
    public static var effect: LayerEffect { .dynamic }
    public static var dynamicMetadata: DynamicMetadataKind? { .thinDump }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> ThinPoolTarget {
        let m = try p.device("metadata device"); let d = try p.device("data device")
        let b = try p.number("data block size", positive: true); let low = try p.number("low water mark")
        var features: [String]?
        if p.remaining > 0 { let n = try p.count("feature count"); features = try p.words(n, "features") }
        try p.noMore()
        return ThinPoolTarget(metadata: m, data: d, blockSectors: b, lowWaterMark: low, features: features)
    }

    public var tableArguments: [String] {
        [metadata, data, "\(blockSectors)", "\(lowWaterMark)"] + (features.map { ["\($0.count)"] + $0 } ?? [])
    }
    public var members: [MemberDevice] { [MemberDevice(device: metadata, role: .metadata), MemberDevice(device: data)] }
    public func summary(segments: Int) -> String { "thin-pool \(SectorFormat.size(blockSectors)) blocks" }

    /// dm-thin.c pool_status: `Fail` when the pool failed, `ro` in read-only mode.
    public static func health(status: [String]) -> TargetHealth {
        TargetHealth(states: status.contains("Fail") ? ["failed"] : status.contains("ro") ? ["read-only"] : [])
    }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        ThinPoolMapper(frame: frame)
    }
}

/// dm-thin.c pool_map passes the pool's own sector through to the data device (slot 1).
struct ThinPoolMapper: TargetMapper {
    let frame: MapFrame
    var identitySlot: (slot: Int, offset: UInt64)? { (1, frame.start) }

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] { frame.single(r, slot: 1, memberStart: frame.start + rel) }
    /// Slot 0: the pool metadata; every thin volume's mapping depends on it.
    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        [frame.unknownExtent(frame.wholeTarget, "thin-pool \(frame.deviceName): metadata device hit; the pool's mappings depend on it")]
    }
    func footprint(slot: Int) -> UInt64? { slot == 1 ? frame.length : nil }
}

/// `{type: thin-pool, metadata: M, data: D, block_size: 64K, low_water_mark: 0, zero: true}`.
public struct ThinPoolSpec: SpecTarget {
    public var metadata: MemberSpec
    public var data: MemberSpec
    public var blockSize: UInt64
    public var lowWater: UInt64
    public var zeroNewBlocks: Bool
    public static let specNames = ["thin-pool"]
    public var references: [MemberSpec] { [metadata, data] }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> ThinPoolSpec {
        let m = try d.member("metadata"), data = try d.member("data")
        // dm-thin.c: block size a multiple of 64 KiB, from 64 KiB to 1 GiB.
        let block = try d.positive("block_size", default: 128)
        guard block % 128 == 0, block <= 2_097_152 else { throw d.map.fail("block_size", "must be a multiple of 64 KiB between 64 KiB and 1 GiB") }
        let low = try d.map.integer("low_water_mark") ?? 0
        let zero = try d.map.bool("zero") ?? true
        return ThinPoolSpec(metadata: m, data: data, blockSize: block, lowWater: low, zeroNewBlocks: zero)
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        let rm = try p.member(metadata), rd = try p.member(data)
        try p.use(rm, metadata, rm.available)
        let len = rd.available / blockSize * blockSize
        guard len > 0 else { throw p.fail(.size, data, "data device is smaller than one \(SpecSize.describe(blockSize)) block") }
        try p.use(rd, data, len)
        // dm-thin.c pool_status prints the features it was given, counted.
        let target = ThinPoolTarget(metadata: rm.word, data: rd.word, blockSectors: blockSize, lowWaterMark: lowWater,
                                    features: zeroNewBlocks ? [] : ["skip_block_zeroing"])
        p.steps.append(.prepareMetadata(volume: p.volume, device: rm.word, format: .thin))
        return [PlannedTarget(length: len, target: target)]
    }
}
