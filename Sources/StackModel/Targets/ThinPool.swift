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
