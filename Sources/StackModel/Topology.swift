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

    /// For one (lower, upper) pair: the member windows of every target of `upper` that uses
    /// `lower`, sorted by start, with the running maximum of their ends for interval search.
    struct UpGroup: Sendable {
        var upper: Int
        var starts: [UInt64] = []
        var ends: [UInt64] = []
        var maxEnd: [UInt64] = []
        var targets: [Int32] = []
        var slots: [Int32] = []
    }

    public private(set) var nodes: [Node] = []
    var index: [String: Int] = [:]
    var aliases: [String: String]
    var uppers: [[UpGroup]] = []
    /// Node ids, lower devices before the devices that use them.
    public private(set) var bottomUp: [Int] = []

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
                if case .thin(let th) = t.kind { pool = canonical(th.pool) }
                maps.append(TargetMap(target: t, deviceName: nodes[id].name, mappings: mappings, poolName: pool))
            }
            nodes[id].maps = maps
            nodes[id].size = table.size
        }
        for (name, size) in sizes { let id = node(for: name); if nodes[id].size == nil { nodes[id].size = size } }
        // Up index, built after every member has a node.
        for upper in nodes.indices {
            for (ti, map) in nodes[upper].maps.enumerated() {
                for (slot, member) in map.members.enumerated() {
                    let lower = node(for: member.device)
                    let start = member.role == .data || map.footprint(slot: slot) != nil ? member.offset : 0
                    let length = map.footprint(slot: slot) ?? (UInt64.max - start)
                    addUpEntry(lower: lower, upper: upper, start: start, end: start &+ length, target: ti, slot: slot)
                }
            }
        }
        for lower in uppers.indices {
            for g in uppers[lower].indices { uppers[lower][g].finish() }
        }
        bottomUp = try order()
    }

    mutating func addUpEntry(lower: Int, upper: Int, start: UInt64, end: UInt64, target: Int, slot: Int) {
        while uppers.count < nodes.count { uppers.append([]) }
        if let g = uppers[lower].firstIndex(where: { $0.upper == upper }) {
            uppers[lower][g].add(start: start, end: end, target: target, slot: slot)
        } else {
            var group = UpGroup(upper: upper)
            group.add(start: start, end: end, target: target, slot: slot)
            uppers[lower].append(group)
        }
    }

    /// The name under which a device is known: aliases first, then `/dev/mapper/NAME` and
    /// `/dev/NAME` are the same device as `NAME`.
    public func canonical(_ name: String) -> String {
        if let a = aliases[name] { return a }
        if name.hasPrefix("/dev/mapper/") { return String(name.dropFirst(12)) }
        if name.hasPrefix("/dev/") { return String(name.dropFirst(5)) }
        return name
    }

    mutating func node(for name: String) -> Int {
        let c = canonical(name)
        if let id = index[c] { return id }
        let id = nodes.count
        nodes.append(Node(name: c, maps: [], size: nil))
        uppers.append([])
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
    public func upperDevices(of id: Int) -> [Int] { uppers[id].map(\.upper) }

    /// Devices `id` uses directly, in table order.
    public func lowerDevices(of id: Int) -> [Int] {
        var seen = Set<Int>(), out: [Int] = []
        for m in nodes[id].maps { for member in m.members { let l = index[canonical(member.device)]!; if seen.insert(l).inserted { out.append(l) } } }
        return out
    }

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

extension Topology.UpGroup {
    mutating func add(start: UInt64, end: UInt64, target: Int, slot: Int) {
        starts.append(start); ends.append(end); targets.append(Int32(target)); slots.append(Int32(slot))
    }

    mutating func finish() {
        let order = starts.indices.sorted { starts[$0] < starts[$1] }
        starts = order.map { starts[$0] }; ends = order.map { ends[$0] }
        targets = order.map { targets[$0] }; slots = order.map { slots[$0] }
        maxEnd = []
        var m: UInt64 = 0
        for e in ends { m = max(m, e); maxEnd.append(m) }
    }

    /// Calls `body(target, slot)` for every window overlapping `range`: binary search for the
    /// last window starting before the range ends, then walk back while windows can reach it.
    @inline(__always)
    func forEachOverlap(_ range: SectorRange, _ body: (Int, Int) throws -> Void) rethrows {
        var lo = 0, hi = starts.count
        let end = range.end
        while lo < hi { let mid = (lo + hi) &>> 1; if starts[mid] < end { lo = mid + 1 } else { hi = mid } }
        var i = lo - 1
        while i >= 0 && maxEnd[i] > range.start {
            if ends[i] > range.start { try body(Int(targets[i]), Int(slots[i])) }
            i -= 1
        }
    }
}
