/// dm-mpath.c `multipath_ctr`: `<#features> <features> <#hw args> <hw args> <#groups> <initial
/// group> (<selector> <#sel args> <sel args> <#paths> <#path args> (<path> <args>)+)+`; every
/// path reaches the same sectors.
public struct MultipathTarget: TargetType {
    /// A priority group: its path selector and paths.
    public struct Group: Hashable, Sendable {
        public var selector: String
        public var selectorArguments: [String]
        public var pathArgumentCount: Int
        /// The path devices and, beside each, its `pathArgumentCount` arguments.
        public var devices: [String]
        public var arguments: [[String]]
    }
    public var features: [String]
    public var hardwareHandler: [String]
    public var initialGroup: UInt64
    public var groups: [Group]

    /// Every path, in table order.
    public var paths: [String] { groups.flatMap(\.devices) }

    public static let names = ["multipath"]
    public var typeName: String { "multipath" }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> MultipathTarget {
        let nf = try p.count("feature count"); let features = try p.words(nf, "features")
        let nh = try p.count("hardware handler argument count"); let hw = try p.words(nh, "hardware handler arguments")
        let groupCount = try p.count("priority group count")
        let initial = try p.number("initial priority group")
        var groups: [Group] = []
        for g in 0..<groupCount {
            let selector = try p.word("group \(g + 1) path selector")
            let ns = try p.count("group \(g + 1) selector argument count"); let sel = try p.words(ns, "selector arguments")
            let np = try p.count("group \(g + 1) path count")
            let na = try p.count("group \(g + 1) path argument count")
            var group = Group(selector: selector, selectorArguments: sel, pathArgumentCount: na, devices: [], arguments: [])
            for i in 0..<np {
                group.devices.append(try p.device("group \(g + 1) path \(i) device"))
                group.arguments.append(try p.words(na, "path arguments"))
            }
            groups.append(group)
        }
        try p.noMore()
        return MultipathTarget(features: features, hardwareHandler: hw, initialGroup: initial, groups: groups)
    }

    public var tableArguments: [String] {
        var out = ["\(features.count)"] + features + ["\(hardwareHandler.count)"] + hardwareHandler
        out += ["\(groups.count)", "\(initialGroup)"]
        for g in groups {
            out += [g.selector, "\(g.selectorArguments.count)"] + g.selectorArguments
            out += ["\(g.devices.count)", "\(g.pathArgumentCount)"]
            for (d, a) in zip(g.devices, g.arguments) { out += [d] + a }
        }
        return out
    }
    public var members: [MemberDevice] { paths.map { MemberDevice(device: $0, role: .path) } }
    public func summary(segments: Int) -> String { "multipath \(paths.count) paths" }

    /// dm-mpath.c multipath_status: a failed path is `F` in its path group's list.
    public static func health(status: [String]) -> TargetHealth {
        TargetHealth(states: status.contains("F") ? ["degraded"] : [])
    }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        MultipathMapper(frame: frame, pathCount: paths.count)
    }
}

/// Every path holds every sector at the same place: copies.
struct MultipathMapper: TargetMapper {
    let frame: MapFrame
    let pathCount: Int

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        [Extent(start: r.start, length: r.length, kind: .data, redundancy: .copies,
                locations: (0..<pathCount).map { Location(slot: $0, start: rel, role: .data) })]
    }

    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        guard let d = frame.identityUp(offset: 0, range) else { return [] }
        return down(d)
    }

    func footprint(slot: Int) -> UInt64? { frame.length }
    /// Every path holds sector s at s.
    var period: (member: UInt64, device: UInt64)? { (1, 1) }
    func periodOrigin(slot: Int) -> UInt64? { slot < pathCount ? 0 : nil }
}
