/// A target type dmstack does not know: its devices are still known (words that look like a
/// path or `major:minor`), its mapping is not.
public struct OpaqueTarget: TargetType {
    public var name: String
    public var words: [String]
    public var devices: [String]

    /// Known targets whose mapping moves blocks through metadata dmstack does not read
    /// (dm-era.c, dm-clone-target.c, dm-vdo): a range below them is lost only to them.
    static let dynamicNames: Set<String> = ["era", "clone", "vdo"]

    /// Never looked up by name: it is what every unregistered name becomes.
    public static var names: [String] { [] }
    public var typeName: String { name }

    static func effect(of name: String) -> LayerEffect { dynamicNames.contains(name) ? .dynamic : .passThrough }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> OpaqueTarget {
        let words = Array(p.words[p.position...])
        let devices = words.filter(looksLikeDevice)
        p.position = p.words.count
        p.warn("line \(p.line): unknown target type '\(p.typeName)': kept as opaque with devices \(devices.isEmpty ? "none" : devices.joined(separator: ", ")); its mapping is unknown")
        return OpaqueTarget(name: p.typeName, words: words, devices: devices)
    }

    /// A word an unknown target probably uses as a device: a path or `major:minor`.
    static func looksLikeDevice(_ w: String) -> Bool {
        if w.hasPrefix("/dev/") { return true }
        let parts = w.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 2 && isUnsigned(parts[0]) && isUnsigned(parts[1])
    }

    public var tableArguments: [String] { words }
    public var members: [MemberDevice] { devices.map { MemberDevice(device: $0) } }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        OpaqueMapper(frame: frame, name: name)
    }
}

struct OpaqueMapper: TargetMapper {
    let frame: MapFrame
    let name: String
    func down(_ r: SectorRange, rel: UInt64) -> [Extent] { [frame.unknownExtent(r, "unknown target type '\(name)'")] }
    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        [frame.unknownExtent(frame.wholeTarget, "unknown target type '\(name)' over \(frame.members[slot].device)")]
    }
    func footprint(slot: Int) -> UInt64? { nil }
}
