/// dm-flakey.c `flakey_ctr`: `<dev> <offset> <up> <down> [<#features> <features>...]`; a 1:1
/// window that fails or drops I/O in its down intervals.
public struct FlakeyTarget: TargetType {
    public var device: String
    public var offset: UInt64
    public var upInterval: UInt64
    public var downInterval: UInt64
    /// The feature words as printed, nil when the table has no feature count.
    public var features: [String]?

    public static let names = ["flakey"]
    public var typeName: String { "flakey" }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> FlakeyTarget {
        let d = try p.device("device"); let o = try p.number("offset")
        let up = try p.number("up interval"); let down = try p.number("down interval")
        var features: [String]?
        if p.remaining > 0 { let n = try p.count("feature count"); features = try p.words(n, "features") }
        try p.noMore()
        return FlakeyTarget(device: d, offset: o, upInterval: up, downInterval: down, features: features)
    }

    public var tableArguments: [String] {
        [device, "\(offset)", "\(upInterval)", "\(downInterval)"] + (features.map { ["\($0.count)"] + $0 } ?? [])
    }
    public var members: [MemberDevice] { [MemberDevice(device: device, offset: offset)] }

    /// dm-flakey.c `flakey_map_sector`: start + offset in the target.
    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        IdentityMapper(frame: frame, slot: 0, offset: offset)
    }
}

/// `{type: flakey, device: A, up: 5, down: 1, features: [drop_writes]}` (seconds).
public struct FlakeySpec: SpecTarget {
    public var device: MemberSpec
    public var up: UInt64
    public var down: UInt64
    public var features: [String]
    public static let specNames = ["flakey"]
    public var references: [MemberSpec] { [device] }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> FlakeySpec {
        let dev = try d.member("device")
        let up = try d.map.integer("up", max: 1 << 30) ?? 0, down = try d.map.integer("down", max: 1 << 30) ?? 0
        guard up + down > 0 else { throw d.map.fail("up", "up and down (seconds) cannot both be zero") }
        let features = try d.map.words("features") ?? []
        let known = ["drop_writes", "error_writes", "error_reads"]
        if let bad = features.first(where: { !known.contains($0) }) { throw d.map.fail("features", "'\(bad)' is not one of \(known.joined(separator: ", "))") }
        try d.readSize()
        return FlakeySpec(device: dev, up: up, down: down, features: features)
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        let r = try p.member(device)
        let len = p.target.size ?? r.available
        try p.use(r, device, len)
        // dm-flakey.c flakey_status prints the feature count, 0 included.
        return [PlannedTarget(length: len, target: FlakeyTarget(device: r.word, offset: device.offset, upInterval: up, downInterval: down, features: features))]
    }
}
