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

/// `{type: error, size: 1G}`.
public struct ErrorSpec: SpecTarget {
    public static let specNames = ["error"]
    public var references: [MemberSpec] { [] }
    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> ErrorSpec {
        try d.readSize(required: true)
        return ErrorSpec()
    }
    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        [PlannedTarget(length: p.target.size!, target: ErrorTarget())]
    }
}
