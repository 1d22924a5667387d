/// A partition: `<parent> <start>`, a fixed window on its parent disk. Not a dm target;
/// dmstack writes partitions in this form so a whole stack is one table set.
public struct PartitionLayer: TargetType {
    public var parent: String
    public var start: UInt64
    public init(parent: String, start: UInt64) { self.parent = parent; self.start = start }

    public static let names = ["partition"]
    public var typeName: String { "partition" }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> PartitionLayer {
        let d = try p.device("parent"); let o = try p.number("start"); try p.noMore()
        return PartitionLayer(parent: d, start: o)
    }

    public var tableArguments: [String] { [parent, "\(start)"] }
    public var members: [MemberDevice] { [MemberDevice(device: parent, offset: start)] }

    /// block/partitions: a partition's sector s is its disk's start + s.
    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        IdentityMapper(frame: frame, slot: 0, offset: start)
    }
}
