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

    /// For one (lower, upper) pair: the windows of every target of `upper` that uses `lower`,
    /// sorted by start.
    struct UpGroup: Sendable {
        var upper: Int
        var entries: [UpEntry] = []
    }

    public private(set) var nodes: [Node] = []
    var index: [String: Int] = [:]
    var aliases: [String: String]
    var uppers: [[UpGroup]] = []
    /// Node ids, lower devices before the devices that use them.
    public private(set) var bottomUp: [Int] = []
    /// For each node, the nodes it uses directly, distinct, in table order.
    public private(set) var lowers: [[Int]] = []
    /// The up index flattened into three arrays, for the allocation- and retain-free walk of
    /// `Translator.forEachTop`: node → its groups, group → its entries.
    struct FlatGroup: Sendable { var upper: Int32; var first: Int32; var end: Int32 }
    var flatNodeGroups: [(first: Int32, end: Int32)] = []
    var flatGroups: [FlatGroup] = []
    var flatEntries: [UpEntry] = []

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
                    let identity = map.identitySlot.flatMap { $0.slot == slot ? $0.offset : nil }
                    let start = identity ?? (member.role == .data || map.footprint(slot: slot) != nil ? member.offset : 0)
                    let length = map.footprint(slot: slot) ?? (UInt64.max - start)
                    var entry = UpEntry(start: start, end: start &+ length, target: Int32(ti), slot: Int32(slot),
                                        identityOffset: UInt64.max, targetStart: map.target.start, targetLength: map.target.length)
                    if let (s, o) = map.identitySlot, s == slot { entry.identityOffset = o }
                    addUpEntry(lower: lower, upper: upper, entry)
                }
            }
        }
        for lower in uppers.indices {
            for g in uppers[lower].indices { uppers[lower][g].finish() }
        }
        for lower in nodes.indices {
            let first = Int32(flatGroups.count)
            for g in uppers[lower] {
                let e = Int32(flatEntries.count)
                flatEntries.append(contentsOf: g.entries)
                flatGroups.append(FlatGroup(upper: Int32(g.upper), first: e, end: Int32(flatEntries.count)))
            }
            flatNodeGroups.append((first, Int32(flatGroups.count)))
        }
        lowers = nodes.indices.map { id in
            var seen = Set<Int>(), out: [Int] = []
            for m in nodes[id].maps { for member in m.members { let l = index[canonical(member.device)]!; if seen.insert(l).inserted { out.append(l) } } }
            return out
        }
        bottomUp = try order()
    }

    mutating func addUpEntry(lower: Int, upper: Int, _ entry: UpEntry) {
        while uppers.count < nodes.count { uppers.append([]) }
        if let g = uppers[lower].firstIndex(where: { $0.upper == upper }) {
            uppers[lower][g].entries.append(entry)
        } else {
            uppers[lower].append(UpGroup(upper: upper, entries: [entry]))
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

extension Topology.UpGroup {
    mutating func finish() {
        entries.sort { $0.start < $1.start }
        var m: UInt64 = 0
        for i in entries.indices { m = max(m, entries[i].end); entries[i].maxEnd = m }
    }

    /// Calls `body` for every window overlapping `range`: binary search for the last window
    /// starting before the range ends, then walk back while windows can still reach it.
    @inline(__always)
    func forEachOverlap(_ range: SectorRange, _ body: (Topology.UpEntry) throws -> Void) rethrows {
        try entries.withUnsafeBufferPointer { e in
            var lo = 0, hi = e.count
            let end = range.end
            while lo < hi { let mid = (lo + hi) &>> 1; if e[mid].start < end { lo = mid + 1 } else { hi = mid } }
            var i = lo - 1
            while i >= 0 && e[i].maxEnd > range.start {
                if e[i].end > range.start { try body(e[i]) }
                i -= 1
            }
        }
    }
}
