/// dm-target.c's `error` target: every I/O fails; no member device.
public struct ErrorTarget: TargetType {
    public init() {}
    public static let names = ["error"]
    public var typeName: String { "error" }
    /// Its mapping does not depend on its length.
    public static var growsInPlace: Bool { true }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> ErrorTarget {
        try p.noMore()
        return ErrorTarget()
    }

    public var tableArguments: [String] { [] }
    public var members: [MemberDevice] { [] }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        NoDeviceMapper(frame: frame, reason: "error target: every I/O fails, no device")
    }
}
