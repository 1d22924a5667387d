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
}
