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
