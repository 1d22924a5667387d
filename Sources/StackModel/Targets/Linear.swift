/// dm-linear.c: `<dev> <offset>`, a window of one device at an offset.
public struct LinearTarget: TargetType {
    public var device: String
    public var offset: UInt64
    public init(device: String, offset: UInt64) { self.device = device; self.offset = offset }

    public static let names = ["linear"]
    public var typeName: String { "linear" }
    /// Growing the last linear target appends sectors; the others keep their place.
    public static var growsInPlace: Bool { true }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> LinearTarget {
        let d = try p.device("device"); let o = try p.number("offset"); try p.noMore()
        return LinearTarget(device: d, offset: o)
    }

    public var tableArguments: [String] { [device, "\(offset)"] }
    public var members: [MemberDevice] { [MemberDevice(device: device, offset: offset)] }

    /// dm-linear.c `linear_map_sector`: sector + offset on the one device.
    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        IdentityMapper(frame: frame, slot: 0, offset: offset)
    }
}

/// `{type: linear, members: [A, {device: B, offset: 1M, size: 10M}]}`: the members
/// concatenated, each from its offset for its size (default: the rest of it).
public struct LinearSpec: SpecTarget {
    public var members: [MemberSpec]
    public static let specNames = ["linear"]
    public var references: [MemberSpec] { members }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> LinearSpec {
        LinearSpec(members: try d.members(minimum: 1, allowSize: true))
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        var out: [PlannedTarget] = []
        for m in members {
            let r = try p.member(m)
            let len = m.size ?? r.available
            try p.use(r, m, len)
            out.append(PlannedTarget(length: len, target: LinearTarget(device: r.word, offset: m.offset)))
        }
        return out
    }
}
