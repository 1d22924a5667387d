/// dm-delay.c `delay_ctr`: `<dev> <offset> <delay> [<write dev> <offset> <delay> [<flush dev>
/// <offset> <delay>]]`: reads, writes and flushes may go to different devices.
public struct DelayTarget: TargetType {
    /// One class of I/O: its device, offset and delay in milliseconds.
    public struct Path: Hashable, Sendable {
        public var device: String
        public var offset: UInt64
        public var milliseconds: UInt64
    }
    public var paths: [Path]

    public static let names = ["delay"]
    public var typeName: String { "delay" }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> DelayTarget {
        var paths: [Path] = []
        for role in ["read", "write", "flush"] where p.remaining > 0 || paths.isEmpty {
            let d = try p.device("\(role) device"); let o = try p.number("\(role) offset"); let ms = try p.number("\(role) delay")
            paths.append(Path(device: d, offset: o, milliseconds: ms))
        }
        try p.noMore()
        return DelayTarget(paths: paths)
    }

    public var tableArguments: [String] { paths.flatMap { [$0.device, "\($0.offset)", "\($0.milliseconds)"] } }
    public var members: [MemberDevice] { paths.map { MemberDevice(device: $0.device, offset: $0.offset) } }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        DelayMapper(frame: frame, offsets: paths.map(\.offset))
    }
}

/// The data must be reachable on every path, so each is a location whose loss loses it.
struct DelayMapper: TargetMapper {
    let frame: MapFrame
    let offsets: [UInt64]

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        offsets.indices.map { i in
            Extent(start: r.start, length: r.length, kind: .data, redundancy: .single,
                   locations: [Location(slot: i, start: offsets[i] + rel, role: .data)])
        }
    }

    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        guard let d = frame.identityUp(offset: offsets[slot], range) else { return [] }
        return down(d).filter { $0.locations.first?.slot == slot }
    }

    func footprint(slot: Int) -> UInt64? { frame.length }
    /// dm-delay.c `delay_map`: each path holds sector s at its offset + s.
    var period: (member: UInt64, device: UInt64)? { (1, 1) }
    func periodOrigin(slot: Int) -> UInt64? { slot < offsets.count ? offsets[slot] : nil }
}

/// `{type: delay, device: A, delay: 100}` (milliseconds, every class of I/O on A).
public struct DelaySpec: SpecTarget {
    public var device: MemberSpec
    public var milliseconds: UInt64
    public static let specNames = ["delay"]
    public var references: [MemberSpec] { [device] }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> DelaySpec {
        let dev = try d.member("device")
        guard let ms = try d.map.integer("delay", max: 1_000_000) else { throw d.missing("delay", "missing (required): milliseconds") }
        try d.readSize()
        return DelaySpec(device: dev, milliseconds: ms)
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        let r = try p.member(device)
        let len = p.target.size ?? r.available
        try p.use(r, device, len)
        return [PlannedTarget(length: len, target: DelayTarget(paths: [.init(device: r.word, offset: device.offset, milliseconds: milliseconds)]))]
    }
}
