/// dm-zero.c: reads return zeros, writes are dropped; no member device.
public struct ZeroTarget: TargetType {
    public init() {}
    public static let names = ["zero"]
    public var typeName: String { "zero" }
    /// Its mapping does not depend on its length.
    public static var growsInPlace: Bool { true }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> ZeroTarget {
        try p.noMore()
        return ZeroTarget()
    }

    public var tableArguments: [String] { [] }
    public var members: [MemberDevice] { [] }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        NoDeviceMapper(frame: frame, reason: "zero target: reads zeros from no device")
    }
}

/// A target with no member device: every piece is data on no device, so nothing below can
/// lose it (dm-zero.c, dm-target.c's error target).
struct NoDeviceMapper: TargetMapper {
    let frame: MapFrame
    let reason: String
    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        [Extent(start: r.start, length: r.length, kind: .data, redundancy: .single, locations: [], reason: reason)]
    }
    func up(slot: Int, _ range: SectorRange) -> [Extent] { [] }
    func footprint(slot: Int) -> UInt64? { nil }
}

/// `{type: zero, size: 1G}`.
public struct ZeroSpec: SpecTarget {
    public static let specNames = ["zero"]
    public var references: [MemberSpec] { [] }
    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> ZeroSpec {
        try d.readSize(required: true)
        return ZeroSpec()
    }
    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        [PlannedTarget(length: p.target.size!, target: ZeroTarget())]
    }
}
