/// dm-stripe.c `stripe_ctr`: `<#stripes> <chunk sectors> (<dev> <offset>)+`; data is dealt
/// round-robin in chunks of `chunkSectors` over the stripes.
public struct StripedTarget: TargetType {
    public var chunkSectors: UInt64
    public var stripes: [MemberDevice]
    public init(chunkSectors: UInt64, stripes: [MemberDevice]) { self.chunkSectors = chunkSectors; self.stripes = stripes }

    public static let names = ["striped"]
    public var typeName: String { "striped" }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> StripedTarget {
        let n = try p.count("stripe count", max: 1 << 20)
        guard n >= 1 else { throw p.fail("stripe count", "must be at least 1") }
        let chunk = try p.number("chunk size", positive: true)
        // dm-stripe.c stripe_ctr: "Target length not divisible by number of stripes" and
        // "... by chunk size".
        guard p.length % UInt64(n) == 0 else { throw p.fail("stripe count", "target length \(p.length) is not divisible by \(n) stripes") }
        guard (p.length / UInt64(n)) % chunk == 0 else { throw p.fail("chunk size", "target length per stripe \(p.length / UInt64(n)) is not divisible by chunk size \(chunk)") }
        var stripes: [MemberDevice] = []
        for i in 0..<n {
            let d = try p.device("stripe \(i) device"); let o = try p.number("stripe \(i) offset")
            stripes.append(MemberDevice(device: d, offset: o))
        }
        try p.noMore()
        return StripedTarget(chunkSectors: chunk, stripes: stripes)
    }

    public var tableArguments: [String] { ["\(stripes.count)", "\(chunkSectors)"] + stripes.flatMap { [$0.device, "\($0.offset)"] } }
    public var members: [MemberDevice] { stripes }

    public func summary(segments: Int) -> String {
        "striped \(stripes.count)×\(SectorFormat.size(chunkSectors))" + (segments > 1 ? " \(segments) segs" : "")
    }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        StripedMapper(frame: frame, target: self)
    }
}

struct StripedMapper: TargetMapper {
    let frame: MapFrame
    let target: StripedTarget

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        frame.stripedDown(rel: rel, length: r.length, chunk: target.chunkSectors, count: target.stripes.count) { i in (i, target.stripes[i].offset) }
    }

    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        frame.stripedUp(stripe: slot, offset: target.stripes[slot].offset, range: range, chunk: target.chunkSectors,
                        count: target.stripes.count, down: { down($0) })
    }

    func footprint(slot: Int) -> UInt64? { frame.length / UInt64(target.stripes.count) }
    /// dm-stripe.c `stripe_map_sector`: chunk k of a stripe is chunk k × stripes + stripe of
    /// the device, so one chunk on a member is one row of chunks on the device.
    var period: (member: UInt64, device: UInt64)? { (target.chunkSectors, target.chunkSectors * UInt64(target.stripes.count)) }
    func periodOrigin(slot: Int) -> UInt64? { slot < target.stripes.count ? target.stripes[slot].offset : nil }
}

/// `{type: striped, members: [A, B], chunk: 64K, size: ...}`.
public struct StripedSpec: SpecTarget {
    public var members: [MemberSpec]
    public var chunk: UInt64
    public static let specNames = ["striped"]
    public var references: [MemberSpec] { members }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> StripedSpec {
        let m = try d.members(minimum: 1)
        // dm-stripe.c stripe_ctr: the chunk is at least one page's worth and a power of two.
        let chunk = try d.positive("chunk", default: 128)
        try d.powerOfTwo("chunk", chunk)
        guard chunk >= 8 else { throw d.map.fail("chunk", "must be at least 4 KiB") }
        try d.readSize()
        return StripedSpec(members: m, chunk: chunk)
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        var rs: [ResolvedMember] = []
        for m in members { rs.append(try p.member(m)) }
        let n = UInt64(members.count)
        var per = rs.map(\.available).min()! / chunk * chunk
        if let size = p.target.size {
            // dm-stripe.c stripe_ctr: the length divides into equal stripes of whole chunks.
            guard size % (n * chunk) == 0 else {
                throw p.failTarget(.size, key: ".size", "\(SpecSize.describe(size)) is not a multiple of \(n) stripes × \(SpecSize.describe(chunk)) chunk")
            }
            per = size / n
        }
        guard per > 0 else { throw p.failTarget(.size, "members are smaller than one \(SpecSize.describe(chunk)) chunk") }
        for (r, m) in zip(rs, members) { try p.use(r, m, per) }
        let stripes = zip(rs, members).map { MemberDevice(device: $0.word, offset: $1.offset) }
        return [PlannedTarget(length: per * n, target: StripedTarget(chunkSectors: chunk, stripes: stripes))]
    }
}
