/// dm-snap.c `origin_ctr`: `<origin>`; the origin of snapshots, mapped 1:1 (writes first copy
/// the old chunk to each snapshot's COW device).
public struct SnapshotOriginTarget: TargetType {
    public var origin: String

    public static let names = ["snapshot-origin"]
    public var typeName: String { "snapshot-origin" }
    /// Its snapshots' contents depend on exceptions the origin's writes create.
    public static var effect: LayerEffect { .dynamic }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> SnapshotOriginTarget {
        let o = try p.device("origin"); try p.noMore()
        return SnapshotOriginTarget(origin: o)
    }

    public var tableArguments: [String] { [origin] }
    public var members: [MemberDevice] { [MemberDevice(device: origin, role: .origin)] }

    /// dm-snap.c origin_map passes the device's own sector through.
    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        IdentityMapper(frame: frame, slot: 0, offset: frame.start)
    }
}

/// `{type: snapshot-origin, device: A}`: shares A's sectors with its snapshots by design.
public struct SnapshotOriginSpec: SpecTarget {
    public var device: MemberSpec
    public static let specNames = ["snapshot-origin"]
    public var references: [MemberSpec] { [device] }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> SnapshotOriginSpec {
        SnapshotOriginSpec(device: try d.member("device"))
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        let r = try p.member(device)
        try p.use(r, device, r.available, shared: true)
        return [PlannedTarget(length: r.available, target: SnapshotOriginTarget(origin: r.word))]
    }
}
