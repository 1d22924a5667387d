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
