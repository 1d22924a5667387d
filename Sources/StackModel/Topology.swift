/// A stack could not be built or a query could not be answered; each case names the thing.
public enum TopologyError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownDevice(String, known: [String])
    case cycle([String])
    case rangeOutsideDevice(device: String, range: SectorRange, size: UInt64)

    public var description: String {
        switch self {
        case .unknownDevice(let d, let known):
            "device '\(d)' is not in the stack (known: \(known.prefix(12).joined(separator: ", "))\(known.count > 12 ? ", ..." : ""))"
        case .cycle(let names): "devices \(names.joined(separator: " → ")) form a cycle"
        case .rangeOutsideDevice(let d, let r, let size): "range \(r.start)+\(r.length) ends past the end of \(d) (\(size) sectors)"
        }
    }
}

/// Every device of a stack with its table, and an index from each lower device to the targets
/// above that use it, so translation up is a binary search per layer.
public struct Topology: Sendable {
    public struct Node: Sendable {
        public var name: String
        public var maps: [TargetMap]
        /// Size in sectors when known (tables know their own; leaves only from the system).
        public var size: UInt64?
        public var isLeaf: Bool { maps.isEmpty }
    }

    /// One window of a lower device used by one target slot of an upper device. A 1:1 slot
    /// (linear, crypt, ...) carries its mapping here, so the hot path needs nothing else.
    struct UpEntry: Sendable {
        var start: UInt64
        var end: UInt64
        /// The largest `end` of this and every earlier entry (for interval search).
        var maxEnd: UInt64 = 0
        var target: Int32
        var slot: Int32
        /// For a 1:1 slot: member offset, target start and length; `identityOffset` is
        /// `UInt64.max` otherwise.
        var identityOffset: UInt64
        var targetStart: UInt64
        var targetLength: UInt64
    }

    /// For one (lower, upper) pair: `upper` and the slice `first..<end` of `entries` holding
    /// the windows of every target of `upper` that uses `lower`, sorted by start.
    struct UpGroup: Sendable { var upper: Int32; var first: Int32; var end: Int32 }

    public private(set) var nodes: [Node] = []
    var index: [String: Int] = [:]
    var aliases: [String: String]
    /// The up index in three flat arrays (node → its groups, group → its entries), so the
    /// walks read it through buffer pointers without reference counting.
    var nodeGroups: [(first: Int32, end: Int32)] = []
    var groups: [UpGroup] = []
    var entries: [UpEntry] = []
    /// Node ids, lower devices before the devices that use them.
    public private(set) var bottomUp: [Int] = []
    /// For each node, the nodes it uses directly, distinct, in table order.
    public private(set) var lowers: [[Int]] = []
    /// For each node, target and slot: the node of that member, resolved once.
    public private(set) var memberNodes: [[[Int]]] = []

    /// Builds the stack from tables; `aliases` maps other spellings (e.g. `253:0`) to names.
    public init(tables: TableSet, mappings: DynamicMappings = DynamicMappings(),
                sizes: [String: UInt64] = [:], aliases: [String: String] = [:]) throws(TopologyError) {
        self.aliases = aliases
        for name in tables.names { _ = node(for: name) }
        for name in tables.names {
            let id = index[canonical(name)]!
            let table = tables.tables[name]!
            var maps: [TargetMap] = []
            for t in table.targets {
                var pool: String?
                if let th = t.kind as? ThinTarget { pool = canonical(th.pool) }
                maps.append(TargetMap(target: t, deviceName: nodes[id].name, mappings: mappings, poolName: pool))
            }
            nodes[id].maps = maps
            nodes[id].size = table.size
        }
        for (name, size) in sizes { let id = node(for: name); if nodes[id].size == nil { nodes[id].size = size } }
        // Up index, built after every member has a node: per lower node, its groups by upper.
        var building: [[(upper: Int, entries: [UpEntry])]] = []
        for upper in nodes.indices {
            var targets: [[Int]] = []
            for (ti, map) in nodes[upper].maps.enumerated() {
                var slots: [Int] = []
                for (slot, member) in map.members.enumerated() {
                    let lower = node(for: member.device)
                    slots.append(lower)
                    let identity = map.identitySlot.flatMap { $0.slot == slot ? $0.offset : nil }
                    let start = identity ?? (member.role == .data || map.footprint(slot: slot) != nil ? member.offset : 0)
                    let length = map.footprint(slot: slot) ?? (UInt64.max - start)
                    let entry = UpEntry(start: start, end: start &+ length, target: Int32(ti), slot: Int32(slot),
                                        identityOffset: identity ?? UInt64.max, targetStart: map.target.start, targetLength: map.target.length)
                    while building.count < nodes.count { building.append([]) }
                    if let g = building[lower].firstIndex(where: { $0.upper == upper }) {
                        building[lower][g].entries.append(entry)
                    } else {
                        building[lower].append((upper, [entry]))
                    }
                }
                targets.append(slots)
            }
            memberNodes.append(targets)
        }
        while building.count < nodes.count { building.append([]) }
        while memberNodes.count < nodes.count { memberNodes.append([]) }
        for lower in nodes.indices {
            let first = Int32(groups.count)
            for g in building[lower] {
                let e = Int32(entries.count)
                var m: UInt64 = 0
                for var entry in g.entries.sorted(by: { $0.start < $1.start }) {
                    m = max(m, entry.end)
                    entry.maxEnd = m
                    entries.append(entry)
                }
                groups.append(UpGroup(upper: Int32(g.upper), first: e, end: Int32(entries.count)))
            }
            nodeGroups.append((first, Int32(groups.count)))
        }
        lowers = memberNodes.map { targets in
            var seen = Set<Int>(), out: [Int] = []
            for slots in targets { for l in slots where seen.insert(l).inserted { out.append(l) } }
            return out
        }
        bottomUp = try order()
    }

    /// The name under which a device is known: aliases first, then `/dev/mapper/NAME` and
    /// `/dev/NAME` are the same device as `NAME`.
    public func canonical(_ name: String) -> String {
        aliases[name] ?? Self.plainName(name)
    }

    /// `NAME` for `/dev/mapper/NAME` and `/dev/NAME`; anything else unchanged. A path's
    /// repeated slashes are one, as the kernel's path walk reads them (`/dev//dev/a` is
    /// `/dev/dev/a`, so `dev/a`), which makes this idempotent: a canonical name stays itself,
    /// so a node found by its own name is the same node.
    public static func plainName(_ name: String) -> String {
        var path = name
        if path.hasPrefix("/"), path.contains("//") {
            var out = "", lastSlash = false
            for c in path {
                if c == "/" && lastSlash { continue }
                lastSlash = c == "/"
                out.append(c)
            }
            path = out
        }
        if path.hasPrefix("/dev/mapper/") { return String(path.dropFirst(12)) }
        if path.hasPrefix("/dev/") { return String(path.dropFirst(5)) }
        return path
    }

    mutating func node(for name: String) -> Int {
        let c = canonical(name)
        if let id = index[c] { return id }
        let id = nodes.count
        nodes.append(Node(name: c, maps: [], size: nil))
        index[c] = id
        return id
    }

    /// The node of a device written any way the tables or the user may write it.
    public func resolve(_ name: String) throws(TopologyError) -> Int {
        if let id = index[canonical(name)] { return id }
        throw .unknownDevice(name, known: nodes.map(\.name))
    }

    public func name(of id: Int) -> String { nodes[id].name }

    /// Devices that use `id` directly.
    public func upperDevices(of id: Int) -> [Int] { upperGroups(of: id).map { Int(groups[$0].upper) } }

    /// The groups of devices built on `id` (indices for `upper(ofGroup:)`, `forEachOverlap`).
    func upperGroups(of id: Int) -> Range<Int> { Int(nodeGroups[id].first)..<Int(nodeGroups[id].end) }
    func upper(ofGroup g: Int) -> Int { Int(groups[g].upper) }
    /// The group holding the windows `upper` uses on `lower`.
    func group(from lower: Int, to upper: Int) -> Int? { upperGroups(of: lower).first { groups[$0].upper == upper } }

    /// Devices `id` uses directly, in table order.
    public func lowerDevices(of id: Int) -> [Int] { lowers[id] }

    /// Kahn's algorithm over the member relation; a cycle is an error naming its devices.
    func order() throws(TopologyError) -> [Int] {
        var lowerCount = nodes.indices.map { lowerDevices(of: $0).count }
        var ready = nodes.indices.filter { lowerCount[$0] == 0 }
        var out: [Int] = []
        while let n = ready.popLast() {
            out.append(n)
            for u in upperDevices(of: n) { lowerCount[u] -= 1; if lowerCount[u] == 0 { ready.append(u) } }
        }
        if out.count < nodes.count {
            throw .cycle(nodes.indices.filter { lowerCount[$0] > 0 }.map { nodes[$0].name })
        }
        return out
    }
}

extension Topology {
    /// Calls `body` for every window of group `g` overlapping `range`.
    @inline(__always)
    func forEachOverlap(group g: Int, _ range: SectorRange, _ body: (UpEntry) throws -> Void) rethrows {
        let group = groups[g]
        try entries.withUnsafeBufferPointer { try Self.forEachOverlap($0, Int(group.first), Int(group.end), range, body) }
    }

    /// The interval search over one group's entries: binary search for the last window
    /// starting before the range ends, then walk back while windows can still reach it.
    @inline(__always)
    static func forEachOverlap(_ e: UnsafeBufferPointer<UpEntry>, _ first: Int, _ end: Int, _ range: SectorRange,
                               _ body: (UpEntry) throws -> Void) rethrows {
        var lo = first, hi = end
        while lo < hi { let mid = (lo + hi) &>> 1; if e[mid].start < range.end { lo = mid + 1 } else { hi = mid } }
        var i = lo - 1
        while i >= first && e[i].maxEnd > range.start {
            if e[i].end > range.start { try body(e[i]) }
            i -= 1
        }
    }
}
