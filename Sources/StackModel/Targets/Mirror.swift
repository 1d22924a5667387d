/// dm-raid1.c `mirror_ctr`: `<log type> <#log args> <log args> <#legs> (<dev> <offset>)+
/// [<#features> <features>]`; every leg holds every sector at its own offset.
public struct MirrorTarget: TargetType {
    public var logType: String
    public var logArguments: [String]
    public var legs: [MemberDevice]
    /// The feature words (`handle_errors`, `keep_log`), nil when the table has no count.
    public var features: [String]?

    /// A disk log's device: the first log argument (dm-log.c `disk_ctr`).
    public var logDevice: String? { logType.hasSuffix("disk") ? logArguments.first : nil }

    public static let names = ["mirror"]
    public var typeName: String { "mirror" }
    /// Legs are copies.
    public static var effect: LayerEffect { .keepsRedundancy }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> MirrorTarget {
        // dm-raid1.c mirror_ctr + dm-log.c: core takes <region> [sync|nosync];
        // disk takes <log dev> <region> [sync|nosync]; clustered-* likewise; userspace <uuid> ...
        let logType = try p.word("log type")
        let n = try p.count("log argument count")
        let logArguments = try p.words(n, "log arguments")
        if logType.hasSuffix("disk") {
            guard n >= 2 else { throw p.fail("log arguments", "a \(logType) log needs <log device> <region size>") }
        }
        let legCount = try p.count("mirror count")
        guard legCount >= 1 else { throw p.fail("mirror count", "must be at least 1") }
        var legs: [MemberDevice] = []
        for i in 0..<legCount {
            let d = try p.device("leg \(i) device"); let o = try p.number("leg \(i) offset")
            legs.append(MemberDevice(device: d, offset: o))
        }
        var features: [String]?
        if p.remaining > 0 { let f = try p.count("feature count"); features = try p.words(f, "features") }
        try p.noMore()
        return MirrorTarget(logType: logType, logArguments: logArguments, legs: legs, features: features)
    }

    public var tableArguments: [String] {
        [logType, "\(logArguments.count)"] + logArguments + ["\(legs.count)"] + legs.flatMap { [$0.device, "\($0.offset)"] }
            + (features.map { ["\($0.count)"] + $0 } ?? [])
    }
    public var members: [MemberDevice] { legs + (logDevice.map { [MemberDevice(device: $0, role: .log)] } ?? []) }
    public func summary(segments: Int) -> String { "mirror \(legs.count) legs" }

    /// dm-raid1.c mirror_status `<#legs> <devs...> <in-sync/total> <#health> <chars>`
    /// (device_status_char: A healthy, D/S/R/F/U failures).
    public static func health(status args: [String]) -> TargetHealth {
        guard let n = args.first.flatMap({ Int($0) }), n >= 0, n < args.count - 3 else { return TargetHealth() }
        let chars = args[n + 3], failed = chars.contains { $0 != "A" }
        return TargetHealth(legs: chars, failed: failed, states: failed ? ["degraded"] : [])
    }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        MirrorMapper(frame: frame, offsets: legs.map(\.offset))
    }
}

struct MirrorMapper: TargetMapper {
    let frame: MapFrame
    let offsets: [UInt64]

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        [Extent(start: r.start, length: r.length, kind: .data, redundancy: .copies,
                locations: offsets.indices.map { Location(slot: $0, start: offsets[$0] + rel, role: .data) })]
    }

    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        if slot >= offsets.count {
            return [frame.unknownExtent(frame.wholeTarget, "mirror \(frame.deviceName): log device \(frame.members[slot].device) hit; dm-raid1 stops recording region state")]
        }
        guard let d = frame.identityUp(offset: offsets[slot], range) else { return [] }
        return down(d)
    }

    func footprint(slot: Int) -> UInt64? { slot < offsets.count ? frame.length : nil }
    /// dm-raid1.c: every leg holds sector s at its offset + s.
    var period: (member: UInt64, device: UInt64)? { (1, 1) }
    func periodOrigin(slot: Int) -> UInt64? { slot < offsets.count ? offsets[slot] : nil }
}

/// `{type: mirror, members: [A, B], region_size: 512K, nosync: false}`: a core log, errors
/// handled (a failed leg is ejected instead of failing I/O).
public struct MirrorSpec: SpecTarget {
    public var members: [MemberSpec]
    public var regionSize: UInt64
    public var nosync: Bool
    public static let specNames = ["mirror"]
    public var references: [MemberSpec] { members }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> MirrorSpec {
        let m = try d.members(minimum: 2)
        // dm-raid1.c / dm-region-hash: the region size is a power of two.
        let region = try d.positive("region_size", default: 1024)
        try d.powerOfTwo("region_size", region)
        let nosync = try d.map.bool("nosync") ?? false
        try d.readSize()
        return MirrorSpec(members: m, regionSize: region, nosync: nosync)
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        var rs: [ResolvedMember] = []
        for m in members { rs.append(try p.member(m)) }
        var per = rs.map(\.available).min()!
        if let size = p.target.size { per = size }
        for (r, m) in zip(rs, members) { try p.use(r, m, per) }
        let legs = zip(rs, members).map { MemberDevice(device: $0.word, offset: $1.offset) }
        let log = nosync ? ["\(regionSize)", "nosync"] : ["\(regionSize)"]
        return [PlannedTarget(length: per, target: MirrorTarget(logType: "core", logArguments: log, legs: legs, features: ["handle_errors"]))]
    }
}
