/// What the loss of a range means for the data above it: gone, still readable from a copy or
/// parity, not touched, or not known (a dynamic mapping without its metadata).
public enum Outcome: String, Sendable, Codable, Hashable, Comparable {
    /// No copy or parity is left: the data is gone.
    case lost
    /// Another copy or parity still holds it; redundancy is reduced.
    case degraded
    /// dmstack cannot know (a dynamic mapping without its metadata, an unknown target).
    case unknown
    case unaffected

    var severity: Int { switch self { case .lost: 3; case .unknown: 2; case .degraded: 1; case .unaffected: 0 } }
    public static func < (a: Outcome, b: Outcome) -> Bool { a.severity < b.severity }
}

/// One layer a translated range passes through: the device, its range there, and the target
/// type of that device which maps the range (nil for the device the query started on).
public struct Hop: Sendable, Codable, Hashable {
    public var device: String
    public var start: UInt64
    public var length: UInt64
    public var target: String?
    public var role: String?
    /// Set when the hop is a run of equal ranges (`StridedRange`): `count` ranges of `length`,
    /// the i-th at `start + i * stride`; nil for one plain range.
    public var stride: UInt64? = nil
    public var count: UInt64? = nil

    /// The hop's sectors as a run (one plain range when `stride` is nil).
    public var run: StridedRange { StridedRange(start: start, length: length, stride: stride ?? length, count: count ?? 1) }
}

/// One translated range with its redundancy outcome and the path it took, start device first.
public struct Translation: Sendable, Codable, Hashable {
    public var device: String
    public var start: UInt64
    public var length: UInt64
    public var outcome: Outcome
    public var kind: PieceKind
    public var reason: String?
    public var path: [Hop]
    /// Set when the row is a run of equal ranges (`StridedRange`, the compact form of one leg
    /// of a striped, raid or raid10 layout): `count` ranges of `length`, the i-th at
    /// `start + i * stride`; nil for one plain range. JSON: `stride` and `count`, left out
    /// for a plain range (docs/json/translate.schema.json).
    public var stride: UInt64? = nil
    public var count: UInt64? = nil

    /// The first (for a plain row, the only) range of the row.
    public var range: SectorRange { SectorRange(start: start, length: length) }
    /// The row's sectors as a run (one plain range when `stride` is nil).
    public var run: StridedRange { StridedRange(start: start, length: length, stride: stride ?? length, count: count ?? 1) }

    /// Reports list rows by device and start, then by where they came from, so output is
    /// stable whatever order the paths were walked in.
    public static func reportOrder(_ a: Translation, _ b: Translation) -> Bool {
        if a.device != b.device { return a.device < b.device }
        if a.start != b.start { return a.start < b.start }
        if a.length != b.length { return a.length < b.length }
        for (x, y) in zip(a.path, b.path) where x != y {
            return (x.device, x.start, x.length) < (y.device, y.start, y.length)
        }
        return a.path.count < b.path.count
    }
}

/// Sectors of one device that an event reaches, by severity; a sector is in at most one set
/// once `normalize()` ran (lost wins over unknown, unknown over degraded).
public struct Damage: Sendable, Hashable {
    public var lost = SectorSet()
    public var unknown = SectorSet()
    public var degraded = SectorSet()
    public init() {}

    var maybeLost: SectorSet { var s = lost; s.formUnion(unknown); return s }
    var any: SectorSet { var s = maybeLost; s.formUnion(degraded); return s }
    var isEmpty: Bool { lost.isEmpty && unknown.isEmpty && degraded.isEmpty }

    mutating func normalize() {
        unknown = SectorSet(unknown.ranges.flatMap { lost.subtracting(from: $0) })
        let worse = maybeLost
        degraded = SectorSet(degraded.ranges.flatMap { worse.subtracting(from: $0) })
    }

    /// Splits `range` by outcome, in order; sectors in no set are `unaffected`.
    public func classify(_ range: SectorRange) -> [(SectorRange, Outcome)] {
        var marks: [(SectorRange, Outcome)] = []
        for r in lost.intersection(with: range) { marks.append((r, .lost)) }
        for r in unknown.intersection(with: range) { marks.append((r, .unknown)) }
        for r in degraded.intersection(with: range) { marks.append((r, .degraded)) }
        marks.sort { $0.0.start < $1.0.start }
        var out: [(SectorRange, Outcome)] = []
        var cursor = range.start
        for (r, o) in marks {
            if r.start > cursor { out.append((SectorRange(start: cursor, end: r.start), .unaffected)) }
            out.append((r, o))
            cursor = r.end
        }
        if cursor < range.end { out.append((SectorRange(start: cursor, end: range.end), .unaffected)) }
        return out
    }
}

/// Translates ranges through a topology, following each target's kernel mapping, and judges
/// what redundancy saves when ranges are gone.
public struct Translator: Sendable {
    public let topology: Topology

    public init(_ topology: Topology) { self.topology = topology }

    // MARK: Up

    /// Every range above `range` of `device`, composed to the top devices, each with the
    /// outcome of losing `range` judged over all paths at once.
    public func up(from device: String, _ range: SectorRange) throws(TopologyError) -> [Translation] {
        let start = try topology.resolve(device)
        try check(start, range)
        var rows: [Translation] = []
        var path = [Hop(device: topology.name(of: start), start: range.start, length: range.length, target: nil, role: nil)]
        var simple = true
        walkUp(start, range, kind: .data, reason: nil, path: &path, rows: &rows, simple: &simple)
        if simple {
            // Only 1:1 layers: nothing redundant on any path, every piece is lost.
            for i in rows.indices where rows[i].kind == .data { rows[i].outcome = .lost }
        } else {
            var initial = Damage()
            initial.lost.insert(range)
            let damage = propagate([start: initial])
            rows = rows.flatMap { row -> [Translation] in
                if row.kind == .unknown { var r = row; r.outcome = .unknown; return [r] }
                let top = topology.resolveUnchecked(row.device)
                let d = damage[top] ?? Damage()
                return d.classify(row.range).map { piece, outcome in
                    var r = row
                    r.start = piece.start; r.length = piece.length
                    r.outcome = outcome // a parity piece too: lost only when its stripe is (a degraded raid5)
                    Self.narrow(&r.path, to: piece)
                    return r
                }
            }
        }
        return rows.sorted(by: Translation.reportOrder)
    }

    /// The top-device ranges above `range` of device `id`, without paths or outcomes, for
    /// callers that translate many ranges (monitoring, benchmarks): no allocation and no
    /// reference counting on 1:1 layers. `body` gets the top device, its range and the kind.
    public func forEachTop(from id: Int, _ range: SectorRange, _ body: (Int, SectorRange, PieceKind) -> Void) {
        topology.nodeGroups.withUnsafeBufferPointer { nodeGroups in
            topology.groups.withUnsafeBufferPointer { groups in
                topology.entries.withUnsafeBufferPointer { entries in
                    walkTops(id, range, .data, nodeGroups, groups, entries, body)
                }
            }
        }
    }

    private func walkTops(_ id: Int, _ range: SectorRange, _ kind: PieceKind,
                          _ nodeGroups: UnsafeBufferPointer<(first: Int32, end: Int32)>,
                          _ groups: UnsafeBufferPointer<Topology.UpGroup>,
                          _ entries: UnsafeBufferPointer<Topology.UpEntry>,
                          _ body: (Int, SectorRange, PieceKind) -> Void) {
        let span = nodeGroups[id]
        if span.first == span.end { body(id, range, kind); return }
        var coveredEnd = range.start // covered prefix, the common case of one window
        var covered: SectorSet?
        for gi in Int(span.first)..<Int(span.end) {
            let g = groups[gi]
            let upper = Int(g.upper)
            Topology.forEachOverlap(entries, Int(g.first), Int(g.end), range) { entry in
                let wlo = max(entry.start, range.start), whi = min(entry.end, range.end)
                if covered == nil && wlo <= coveredEnd { coveredEnd = max(coveredEnd, whi) } else {
                    if covered == nil { covered = SectorSet([SectorRange(start: range.start, end: max(range.start, coveredEnd))].filter { $0.length > 0 }) }
                    covered!.insert(SectorRange(start: wlo, end: whi))
                }
                if entry.identityOffset != UInt64.max {
                    // dm-linear.c linear_map_sector and the other 1:1 targets, inlined.
                    let o = entry.identityOffset
                    let a = max(range.start, o), b = min(range.end, o &+ entry.targetLength)
                    if a < b { walkTops(upper, SectorRange(start: entry.targetStart + (a - o), length: b - a), kind, nodeGroups, groups, entries, body) }
                    return
                }
                let map = topology.nodes[upper].maps[Int(entry.target)]
                for e in map.up(slot: Int(entry.slot), range) {
                    walkTops(upper, e.range, kind == .data ? e.kind : kind, nodeGroups, groups, entries, body)
                }
            }
        }
        // Parts no device above uses end here: this device is their top.
        if let covered {
            for piece in covered.subtracting(from: range) { body(id, piece, kind) }
        } else if coveredEnd < range.end {
            body(id, SectorRange(start: coveredEnd, end: range.end), kind)
        }
    }

    func check(_ id: Int, _ range: SectorRange) throws(TopologyError) {
        if let size = topology.nodes[id].size, range.end > size {
            throw .rangeOutsideDevice(device: topology.name(of: id), range: range, size: size)
        }
    }

    func walkUp(_ id: Int, _ range: SectorRange, kind: PieceKind, reason: String?, path: inout [Hop], rows: inout [Translation], simple: inout Bool) {
        let groups = topology.upperGroups(of: id)
        if groups.isEmpty {
            if path.count > 1 {
                rows.append(Translation(device: topology.name(of: id), start: range.start, length: range.length,
                                        outcome: kind == .unknown ? .unknown : .degraded, kind: kind, reason: reason, path: path))
            }
            return
        }
        if groups.count > 1 { simple = false }
        var covered = SectorSet()
        for g in groups {
            let upper = topology.upper(ofGroup: g)
            topology.forEachOverlap(group: g, range) { entry in
                if let c = SectorRange(start: entry.start, end: max(entry.start, entry.end)).intersection(range) { covered.insert(c) }
                let map = topology.nodes[upper].maps[Int(entry.target)]
                let slot = Int(entry.slot)
                let role = map.members[slot].role
                if let (s, o) = map.identitySlot, s == slot {
                    guard let d = map.identityUp(offset: o, range) else { return }
                    let saved = path
                    defer { path = saved }
                    Self.narrow(&path, to: SectorRange(start: d.start - map.target.start + o, length: d.length))
                    path.append(Hop(device: topology.nodes[upper].name, start: d.start, length: d.length, target: map.target.typeName, role: role.rawValue))
                    walkUp(upper, d, kind: kind, reason: reason, path: &path, rows: &rows, simple: &simple)
                    path.removeLast()
                    return
                }
                simple = false
                let saved = path
                defer { path = saved }
                for e in map.up(slot: slot, range) {
                    let k: PieceKind = kind == .data ? e.kind : kind
                    // The hops below show the piece of their range that backs this extent.
                    path = saved
                    if let l = e.locations.first(where: { $0.slot == slot && $0.span == nil }),
                       let piece = SectorRange(start: l.start, length: e.length).intersection(range) {
                        Self.narrow(&path, to: piece)
                    }
                    path.append(Hop(device: topology.nodes[upper].name, start: e.start, length: e.length, target: map.target.typeName, role: role.rawValue))
                    walkUp(upper, e.range, kind: k, reason: reason ?? e.reason.flatMap { k == .unknown ? $0 : nil }, path: &path, rows: &rows, simple: &simple)
                    path.removeLast()
                }
            }
        }
        // Parts no device above uses end here: this device is their top.
        guard path.count > 1 else { return }
        for piece in covered.subtracting(from: range) {
            var p = path
            Self.narrow(&p, to: piece)
            rows.append(Translation(device: topology.name(of: id), start: piece.start, length: piece.length,
                                    outcome: kind == .unknown ? .unknown : .degraded, kind: kind, reason: reason, path: p))
        }
    }

    /// Narrows the last hop to `piece` (inside it) and every earlier hop by the same shift, as
    /// far down as each layer maps its piece linearly onto the next: a hop of the same length
    /// reached as data. Below a hop that depends on the whole of the hop under it (a raid leg's
    /// metadata device fails the whole leg, dm-raid.c; an integrity tag span) the lower hops
    /// keep their own range: shifting them would run past their device's end.
    static func narrow(_ path: inout [Hop], to piece: SectorRange) {
        var i = path.count - 1
        let last = path[i]
        guard piece.start != last.start || piece.length != last.length else { return }
        while true {
            let was = path[i]
            path[i].start = was.start + piece.start - last.start
            path[i].length = piece.length
            guard i > 0, path[i - 1].length == was.length, Self.mapsLinearly(role: was.role) else { return }
            i -= 1
        }
    }

    /// Whether a member in `role` maps onto its target sector for sector (data, an origin, a
    /// multipath path) rather than as metadata, log, COW, cache or pool the target uses as a whole.
    static func mapsLinearly(role: String?) -> Bool {
        guard let role, let r = MemberRole(rawValue: role) else { return role == nil || role == "parity" }
        switch r {
        case .data, .origin, .path: return true
        case .metadata, .log, .cow, .cache, .pool, .journal: return false
        }
    }

    // MARK: Damage propagation

    /// Carries damage from lower devices to every device above, judging redundancy per target
    /// with all damaged members at once (so two raid1 legs on one leaf lose data). Devices are
    /// judged in topological order, each only once every device below it is final.
    public func propagate(_ initial: [Int: Damage]) -> [Int: Damage] {
        var damage = initial
        for id in topology.bottomUp {
            var result = damage[id] ?? Damage()
            for lower in topology.lowers[id] {
                guard let d = damage[lower], !d.isEmpty, let g = topology.group(from: lower, to: id) else { continue }
                for r in d.any.ranges {
                    topology.forEachOverlap(group: g, r) { entry in
                        let target = Int(entry.target)
                        let map = topology.nodes[id].maps[target]
                        let members = topology.memberNodes[id][target]
                        for e in map.up(slot: Int(entry.slot), r) {
                            judge(e, map: map, members: members, damage: damage, into: &result)
                        }
                    }
                }
            }
            guard !result.isEmpty else { continue }
            result.normalize()
            damage[id] = result
        }
        return damage
    }

    /// The damage of one location over `[0, length)` relative to the extent; `members` are the
    /// target's member nodes by slot.
    func relative(_ l: Location, _ length: UInt64, map: TargetMap, members: [Int], damage: [Int: Damage]) -> Damage {
        var out = Damage()
        let window = SectorRange(start: l.start, length: length)
        guard l.slot >= 0 else {
            out.lost.insert(SectorRange(start: 0, length: length)) // an absent raid leg has failed already
            return out
        }
        if let span = l.span {
            // The whole extent depends on these sectors: any loss among them loses it all.
            let w = SectorRange(start: l.start, length: span), full = SectorRange(start: 0, length: length)
            if let d = damage[members[l.slot]] {
                if !d.lost.intersection(with: w).isEmpty { out.lost.insert(full) }
                else if !d.unknown.intersection(with: w).isEmpty { out.unknown.insert(full) }
                else if !d.degraded.intersection(with: w).isEmpty { out.degraded.insert(full) }
            }
            return out
        }
        if let d = damage[members[l.slot]] {
            for r in d.lost.intersection(with: window) { out.lost.insert(r.rebased(from: l.start, to: 0)) }
            for r in d.unknown.intersection(with: window) { out.unknown.insert(r.rebased(from: l.start, to: 0)) }
            for r in d.degraded.intersection(with: window) { out.degraded.insert(r.rebased(from: l.start, to: 0)) }
        }
        if let meta = map.failsWith(slot: l.slot) {
            // A raid leg whose metadata device lost anything is failed as a whole (dm-raid).
            if let md = damage[members[meta]] {
                if !md.lost.isEmpty { out.lost.insert(SectorRange(start: 0, length: length)) }
                else if !md.unknown.isEmpty { out.unknown.insert(SectorRange(start: 0, length: length)) }
            }
        }
        return out
    }

    func judge(_ e: Extent, map: TargetMap, members: [Int], damage: [Int: Damage], into result: inout Damage) {
        if e.kind == .unknown { result.unknown.insert(e.range); return }
        let n = e.length
        let rel = e.locations.map { relative($0, n, map: map, members: members, damage: damage) }
        var lost = SectorSet(), maybe = SectorSet(), touched = SectorSet()
        let full = SectorRange(start: 0, length: n)
        switch e.redundancy {
        case .single:
            for d in rel { lost.formUnion(d.lost); maybe.formUnion(d.maybeLost); touched.formUnion(d.any) }
        case .copies:
            let copies = rel.indices.filter { e.locations[$0].role == .data }
            var allLost = SectorSet([full]), allMaybe = SectorSet([full])
            for i in copies {
                allLost = allLost.intersection(rel[i].lost)
                allMaybe = allMaybe.intersection(rel[i].maybeLost)
                touched.formUnion(rel[i].any)
            }
            if copies.isEmpty { allLost = SectorSet(); allMaybe = SectorSet() }
            lost = allLost; maybe = allMaybe
        case .parity(let tolerated):
            let dataIndex = e.locations.firstIndex { $0.role == .data }
            let lostZone = Self.coveredMoreThan(tolerated, rel.map(\.lost))
            let maybeZone = Self.coveredMoreThan(tolerated, rel.map(\.maybeLost))
            if let di = dataIndex {
                lost = rel[di].lost.intersection(lostZone)
                maybe = rel[di].maybeLost.intersection(maybeZone)
            }
            for (i, l) in e.locations.enumerated() where l.role != .peer { touched.formUnion(rel[i].any) }
        }
        // A parity piece loses data only with more than `tolerated` of its stripe (a data
        // chunk whose own device is already missing): `lostZone` says so, as for data.
        for r in lost.ranges { result.lost.insert(r.rebased(from: 0, to: e.start)) }
        for r in maybe.ranges { result.unknown.insert(r.rebased(from: 0, to: e.start)) }
        for r in touched.ranges { result.degraded.insert(r.rebased(from: 0, to: e.start)) }
    }

    /// Sectors covered by more than `k` of the sets (md: more failures than `max_degraded`).
    static func coveredMoreThan(_ k: Int, _ sets: [SectorSet]) -> SectorSet {
        var events: [(UInt64, Int)] = []
        for s in sets { for r in s.ranges { events.append((r.start, 1)); events.append((r.end, -1)) } }
        events.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var out = SectorSet()
        var count = 0
        var openedAt: UInt64 = 0
        for (x, delta) in events {
            let before = count
            count += delta
            if before <= k && count > k { openedAt = x }
            if before > k && count <= k && x > openedAt { out.insert(SectorRange(start: openedAt, end: x)) }
        }
        return out
    }

    // MARK: Down

    /// Every leaf range holding `range` of `device`: all copies, the data chunk and the parity
    /// of its stripe; each with the outcome if that leaf range alone were gone.
    public func down(from device: String, _ range: SectorRange) throws(TopologyError) -> [Translation] {
        let start = try topology.resolve(device)
        try check(start, range)
        var rows: [Translation] = []
        var path = [Hop(device: topology.name(of: start), start: range.start, length: range.length, target: nil, role: nil)]
        walkDown(start, range, kind: .data, reason: nil, path: &path, rows: &rows)
        for i in rows.indices where rows[i].kind != .unknown && rows[i].outcome != .unaffected {
            let leaf = topology.resolveUnchecked(rows[i].device)
            var d = Damage()
            d.lost.insert(rows[i].range)
            let damage = propagate([leaf: d])
            let origin = rows[i].path[0]
            let outcomes = (damage[start] ?? Damage()).classify(SectorRange(start: origin.start, length: origin.length)).map(\.1).filter { $0 != .unaffected }
            let worst = outcomes.max() ?? .unaffected
            rows[i].outcome = worst
        }
        return rows.sorted(by: Translation.reportOrder)
    }

    func walkDown(_ id: Int, _ range: SectorRange, kind: PieceKind, reason: String?, path: inout [Hop], rows: inout [Translation]) {
        let node = topology.nodes[id]
        if node.isLeaf {
            if path.count > 1 {
                rows.append(Translation(device: node.name, start: range.start, length: range.length, outcome: .unknown, kind: kind, reason: reason, path: path))
            }
            return
        }
        var ti = node.maps.partitionPoint { $0.target.start + $0.target.length <= range.start }
        while ti < node.maps.count && node.maps[ti].target.start < range.end {
            let map = node.maps[ti]
            for e in map.down(range) {
                // A piece that stops here (its mapping unknown; or, for zero/error targets and
                // unprovisioned thin blocks, on no device) is said, with its own path.
                if e.kind == .unknown || e.locations.isEmpty {
                    var p = path
                    Self.narrow(&p, to: e.range)
                    rows.append(e.kind == .unknown
                        ? Translation(device: node.name, start: e.start, length: e.length, outcome: .unknown, kind: .unknown, reason: e.reason, path: p)
                        : Translation(device: node.name, start: e.start, length: e.length, outcome: .unaffected, kind: .data,
                                      reason: e.reason ?? "no member device", path: p))
                    continue
                }
                // The hops above show the piece being followed, not the whole query.
                let saved = path
                defer { path = saved }
                Self.narrow(&path, to: e.range)
                for l in e.locations where l.role != .peer && l.slot >= 0 {
                    let member = map.members[l.slot]
                    let lower = topology.memberNodes[id][ti][l.slot]
                    let k: PieceKind = l.role == .parity ? .parity : kind
                    path.append(Hop(device: topology.name(of: lower), start: l.start, length: e.length, target: map.target.typeName, role: l.role == .parity ? "parity" : member.role.rawValue))
                    walkDown(lower, SectorRange(start: l.start, length: e.length), kind: k, reason: reason, path: &path, rows: &rows)
                    path.removeLast()
                }
            }
            ti += 1
        }
    }
}

extension Topology {
    /// The node of a name already known to be in the topology.
    func resolveUnchecked(_ name: String) -> Int { index[canonical(name)]! }
}

extension Array {
    /// The first index whose element does not satisfy `belongsBefore` (binary search; the
    /// array must be partitioned by it).
    func partitionPoint(_ belongsBefore: (Element) -> Bool) -> Int {
        var lo = 0, hi = count
        while lo < hi { let mid = (lo + hi) / 2; if belongsBefore(self[mid]) { lo = mid + 1 } else { hi = mid } }
        return lo
    }
}
