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
    /// Why the outcome is unknown, as a code (JSON `reason_code`, only on an `unknown` row;
    /// `reason` is the text): set by the command that reports rows (`withReasonCodes`).
    public var reasonCode: UnknownReason? = nil

    /// The first (for a plain row, the only) range of the row.
    public var range: SectorRange { SectorRange(start: start, length: length) }
    /// The row's sectors as a run (one plain range when `stride` is nil).
    public var run: StridedRange { StridedRange(start: start, length: length, stride: stride ?? length, count: count ?? 1) }

    /// Why this unknown row is unknown, as a code: `permission` or `metadata-unreadable` when
    /// the reason is a dynamic layer's metadata that could not be read (`unavailable`: device
    /// → the read error, as `DynamicMappings.unavailable` records it); `metadata-missing` when
    /// it is metadata dmstack can be given and was not (every target map that reads metadata
    /// says "... not given": thin, cache, snapshot, writecache, integrity); else
    /// `mapping-unknown` (a target dmstack does not model, such as era; a bound; a reshape).
    public func unknownReason(unavailable: [String: String]) -> UnknownReason {
        let text = reason ?? ""
        if unavailable.values.contains(where: { !$0.isEmpty && text.contains($0) }) {
            let denied = ["Permission denied", "Operation not permitted", "CAP_SYS_ADMIN"].contains { text.contains($0) }
            return denied ? .permission : .metadataUnreadable
        }
        return text.contains("not given") ? .metadataMissing : .mappingUnknown
    }

    /// `rows` with `reasonCode` set on each unknown one.
    public static func withReasonCodes(_ rows: [Translation], unavailable: [String: String]) -> [Translation] {
        rows.map { r in
            guard r.outcome == .unknown else { return r }
            var r = r
            r.reasonCode = r.unknownReason(unavailable: unavailable)
            return r
        }
    }

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
    /// outcome of losing `range` judged over all paths at once. A whole leg of a striped or
    /// raid layout comes out as runs (`Translation.stride`, `count`), not one row a chunk.
    public func up(from device: String, _ range: SectorRange) throws(TopologyError) -> [Translation] {
        let start = try topology.resolve(device)
        try check(start, range)
        var budget = PieceBudget(limit: pieceLimit)
        var (rows, simple) = walkUp(start, range, budget: &budget)
        if simple || (pathwise && judgedPathwise(from: start)) {
            // Every extent on every path keeps one copy (every piece is lost), or each
            // redundant layer is reached through one member only (what passed one is degraded):
            // the walk's outcomes are the answer, runs and all.
            return rows.sorted(by: Translation.reportOrder)
        }
        for i in rows.indices where rows[i].kind != .unknown { rows[i].outcome = .degraded }
        var initial = Damage()
        initial.lost.insert(range)
        guard let damage = propagate([start: initial], budget: &budget) else {
            for i in rows.indices where rows[i].kind != .unknown { rows[i].outcome = .unknown; rows[i].reason = budget.reason }
            return rows.sorted(by: Translation.reportOrder)
        }
        rows = rows.flatMap { row -> [Translation] in
            if row.kind == .unknown { var r = row; r.outcome = .unknown; return [r] }
            let top = topology.resolveUnchecked(row.device)
            let d = damage[top] ?? Damage()
            let run = row.run
            // A run whose whole hull has one outcome keeps it (the cheap, common case).
            let hull = d.classify(run.hull)
            if hull.count == 1 { var r = row; r.outcome = hull[0].1; return [r] }
            var out: [Translation] = []
            for i in 0..<run.count {
                guard budget.take() else {
                    var r = row
                    r.start = run.start + i * run.stride
                    r.count = run.count - i > 1 ? run.count - i : nil
                    r.stride = r.count == nil ? nil : run.stride
                    r.outcome = .unknown; r.reason = budget.reason
                    out.append(r)
                    break
                }
                for (piece, outcome) in d.classify(run.piece(i)) {
                    var r = row
                    r.start = piece.start; r.length = piece.length; r.stride = nil; r.count = nil
                    r.outcome = outcome // a parity piece too: lost only when its stripe is (a degraded raid5)
                    Self.narrow(&r.path, to: StridedRange(piece))
                    out.append(r)
                }
            }
            return out
        }
        return rows.sorted(by: Translation.reportOrder)
    }

    /// The most pieces one query expands where a run cannot stay a run (`PieceBudget`).
    public var pieceLimit = PieceBudget.defaultLimit
    /// Whether outcomes may be judged path by path (`judgedPathwise`); tests turn it off to
    /// check it against `propagate`.
    var pathwise = true

    /// The top-device ranges above `range` of device `id`, without paths or outcomes, for
    /// callers that translate many ranges (monitoring, benchmarks): no allocation and no
    /// reference counting on 1:1 layers. `body` gets the top device, its range and the kind.
    /// Iterative: the depth of a stack comes from its tables.
    public func forEachTop(from id: Int, _ range: SectorRange, _ body: (Int, SectorRange, PieceKind) -> Void) {
        topology.nodeGroups.withUnsafeBufferPointer { nodeGroups in
            topology.groups.withUnsafeBufferPointer { groups in
                topology.entries.withUnsafeBufferPointer { entries in
                    var stack: [(Int, SectorRange, PieceKind)] = [(id, range, .data)]
                    while let (id, range, kind) = stack.popLast() {
                        walkTops(id, range, kind, nodeGroups, groups, entries, &stack, body)
                    }
                }
            }
        }
    }

    private func walkTops(_ id: Int, _ range: SectorRange, _ kind: PieceKind,
                          _ nodeGroups: UnsafeBufferPointer<(first: Int32, end: Int32)>,
                          _ groups: UnsafeBufferPointer<Topology.UpGroup>,
                          _ entries: UnsafeBufferPointer<Topology.UpEntry>,
                          _ stack: inout [(Int, SectorRange, PieceKind)],
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
                    if a < b { stack.append((upper, SectorRange(start: entry.targetStart + (a - o), length: b - a), kind)) }
                    return
                }
                let map = topology.nodes[upper].maps[Int(entry.target)]
                for e in map.up(slot: Int(entry.slot), range) {
                    stack.append((upper, e.range, kind == .data ? e.kind : kind))
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

    /// The hops of every path being walked, as a tree: each hop points at the one below it,
    /// so a walk thousands of layers deep shares its lower hops instead of copying them.
    struct PathArena {
        var hops: [Hop] = []
        var parent: [Int] = []

        mutating func add(_ hop: Hop, below p: Int) -> Int { hops.append(hop); parent.append(p); return hops.count - 1 }

        /// The path ending at hop `i`, first hop first.
        func path(_ i: Int) -> [Hop] {
            var out: [Hop] = []
            var j = i
            while j >= 0 { out.append(hops[j]); j = parent[j] }
            return out.reversed()
        }

        /// `Translator.narrow` on the path ending at `i`: the hops it changes are new, the
        /// others shared.
        mutating func narrow(_ i: Int, to piece: StridedRange) -> Int { narrowExactly(i, to: piece).hop }

        /// `narrow`, and whether every hop below that maps linearly could be narrowed (false
        /// when a piece is not one range or one run in a lower hop: runs that do not nest).
        mutating func narrowExactly(_ i: Int, to piece: StridedRange) -> (hop: Int, exact: Bool) {
            let last = hops[i].run
            guard piece != last else { return (i, true) }
            var changed: [Hop] = []
            var j = i
            var h = hops[j]
            h.setRun(piece)
            var exact = true
            while true {
                changed.append(h)
                let was = hops[j]
                let p = parent[j]
                guard p >= 0, Translator.mapsLinearly(role: was.role) else { break }
                guard let below = Translator.correspond(h.run, inside: was.run, onto: hops[p].run) else { exact = false; break }
                j = p
                h = hops[j]
                h.setRun(below)
            }
            var below = parent[j]
            for h in changed.reversed() { below = add(h, below: below) }
            return (below, exact)
        }
    }

    /// Two runs of the same length, stride and count: a layer that maps one onto the other
    /// linearly maps every piece of it the same way.
    static func sameShape(_ a: StridedRange, _ b: StridedRange) -> Bool {
        a.length == b.length && a.count == b.count && a.stride == b.stride
    }

    /// Whether `q` lies inside `r`: checked for the shapes translation makes (a piece inside
    /// one piece of `r`, or a run whose stride is a multiple of `r`'s).
    static func isInside(_ q: StridedRange, _ r: StridedRange) -> Bool {
        guard q.start >= r.start, q.end <= r.end else { return false }
        if r.isPlain { return true }
        let off = (q.start - r.start) % r.stride
        guard off + q.length <= r.length else { return false }
        return q.isPlain || q.stride % r.stride == 0
    }

    /// Walks up from `range` of `start` with an explicit stack (the depth of a stack comes
    /// from its tables); returns the rows and whether every extent met keeps a single copy.
    func walkUp(_ start: Int, _ range: SectorRange, budget: inout PieceBudget) -> ([Translation], Bool) {
        struct Frame { var id: Int; var range: StridedRange; var kind: PieceKind; var reason: String?; var hop: Int; var depth: Int; var saved = false }
        var arena = PathArena()
        let root = arena.add(Hop(device: topology.name(of: start), start: range.start, length: range.length, target: nil, role: nil), below: -1)
        var stack = [Frame(id: start, range: StridedRange(range), kind: .data, reason: nil, hop: root, depth: 1)]
        var rows: [Translation] = []
        var simple = true
        func row(_ f: Frame, _ r: StridedRange, _ hop: Int) -> Translation {
            var t = Translation(device: topology.name(of: f.id), start: r.start, length: r.length,
                                outcome: f.kind == .unknown ? .unknown : f.saved ? .degraded : .lost, kind: f.kind, reason: f.reason, path: arena.path(hop))
            t.setRun(r)
            return t
        }
        while let f = stack.popLast() {
            let groups = topology.upperGroups(of: f.id)
            if groups.isEmpty {
                if f.depth > 1 { rows.append(row(f, f.range, f.hop)) }
                continue
            }
            let hull = f.range.hull
            var covered = SectorSet()
            for g in groups {
                let upper = topology.upper(ofGroup: g)
                topology.forEachOverlap(group: g, hull) { entry in
                    let window = SectorRange(start: entry.start, end: max(entry.start, entry.end))
                    if let c = window.intersection(hull) { covered.insert(c) }
                    let map = topology.nodes[upper].maps[Int(entry.target)]
                    let slot = Int(entry.slot)
                    let role = map.members[slot].role
                    if let (s, o) = map.identitySlot, s == slot {
                        for part in f.range.intersection(SectorRange(start: o, length: map.target.length)) {
                            let d = part.rebased(from: o, to: map.target.start)
                            let below = arena.narrow(f.hop, to: part)
                            var hop = Hop(device: topology.nodes[upper].name, start: 0, length: 0, target: map.target.typeName, role: role.rawValue)
                            hop.setRun(d)
                            stack.append(Frame(id: upper, range: d, kind: f.kind, reason: f.reason, hop: arena.add(hop, below: below), depth: f.depth + 1, saved: f.saved))
                        }
                        return
                    }
                    for part in f.range.intersection(window) {
                        for e in map.upRuns(slot: slot, part, budget: &budget) {
                            if e.keepsAnotherCopy { simple = false }
                            let k: PieceKind = f.kind == .data ? e.kind : f.kind
                            // The hops below show the piece of their range that backs this extent.
                            var below = f.hop
                            if let l = e.locations.first(where: { $0.slot == slot && $0.span == nil }), Self.isInside(e.run(of: l), part) {
                                below = arena.narrow(f.hop, to: e.run(of: l))
                            }
                            var hop = Hop(device: topology.nodes[upper].name, start: 0, length: 0, target: map.target.typeName, role: role.rawValue)
                            hop.setRun(e.run)
                            let reason = f.reason ?? e.reason.flatMap { k == .unknown ? $0 : nil }
                            stack.append(Frame(id: upper, range: e.run, kind: k, reason: reason, hop: arena.add(hop, below: below), depth: f.depth + 1,
                                               saved: f.saved || e.keepsAnotherCopy))
                        }
                    }
                }
            }
            // Parts no device above uses end here: this device is their top.
            guard f.depth > 1 else { continue }
            for gap in covered.subtracting(from: hull) {
                for piece in f.range.intersection(gap) {
                    rows.append(row(f, piece, arena.narrow(f.hop, to: piece)))
                }
            }
        }
        return (rows, simple)
    }

    /// Narrows the last hop to `piece` (inside it) and every earlier hop by the same shift, as
    /// far down as each layer maps its piece linearly onto the next: a hop of the same shape
    /// (length, and for a run stride and count) reached as data. Below a hop that depends on
    /// the whole of the hop under it (a raid leg's metadata device fails the whole leg,
    /// dm-raid.c; an integrity tag span) the lower hops keep their own range: shifting them
    /// would run past their device's end.
    static func narrow(_ path: inout [Hop], to piece: StridedRange) {
        var i = path.count - 1
        guard piece != path[i].run else { return }
        var q = piece
        while true {
            let was = path[i]
            path[i].setRun(q)
            guard i > 0, Self.mapsLinearly(role: was.role), let below = correspond(q, inside: was.run, onto: path[i - 1].run) else { return }
            q = below
            i -= 1
        }
    }

    /// The part of `h` that `q` (inside `w`) is, when the layer between them maps `w` onto `h`
    /// sector for sector in order (the same total length: a linear layer, or a leg's
    /// contiguous range under the run of chunks it holds); nil when that part is not one
    /// range or one run.
    static func correspond(_ q: StridedRange, inside w: StridedRange, onto h: StridedRange) -> StridedRange? {
        if sameShape(h, w) { return q.rebased(from: w.start, to: h.start) }
        guard h.totalLength == w.totalLength, q.start >= w.start else { return nil }
        let i = (q.start - w.start) / w.stride, o = (q.start - w.start) % w.stride
        guard o + q.length <= w.length else { return nil }
        let ordinal = i * w.length + o
        let j = ordinal / h.length, p = ordinal % h.length
        guard p + q.length <= h.length else { return nil }
        let start = h.start + j * h.stride + p
        if q.isPlain { return StridedRange(start: start, length: q.length, stride: q.length, count: 1) }
        guard w.isPlain || q.stride % w.stride == 0 else { return nil }
        let step = w.isPlain ? q.stride : q.stride / w.stride * w.length
        if h.isPlain { return step >= q.length ? StridedRange(start: start, length: q.length, stride: step, count: q.count) : nil }
        guard step % h.length == 0 else { return nil }
        return StridedRange(start: start, length: q.length, stride: step / h.length * h.stride, count: q.count)
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

    /// Whether losing ranges of `id` can be judged one path at a time: every target of every
    /// device above it has at most one member that is `id` or above it, and none counts a
    /// leg as failed already. Then each device's damage comes from one member only, a
    /// redundant layer (copies, parity) keeps what it is given readable (degraded) and a
    /// single-copy layer passes it on; no sets are needed, so runs stay runs. Two raid1 legs
    /// on one leaf, or a degraded array, go to `propagate` instead.
    func judgedPathwise(from id: Int) -> Bool {
        var affected: Set<Int> = [id]
        var queue = [id]
        while let n = queue.popLast() {
            for u in topology.upperDevices(of: n) where affected.insert(u).inserted { queue.append(u) }
        }
        for n in affected where n != id {
            for (ti, map) in topology.nodes[n].maps.enumerated() {
                var hit = Set<Int>()
                for (slot, m) in topology.memberNodes[n][ti].enumerated() where affected.contains(m) { hit.insert(slot) }
                if hit.count > 1 || (!hit.isEmpty && map.hasAbsentMember) { return false }
            }
        }
        return true
    }

    /// Carries damage from lower devices to every device above, judging redundancy per target
    /// with all damaged members at once (so two raid1 legs on one leaf lose data). Devices are
    /// judged in topological order, each only once every device below it is final.
    public func propagate(_ initial: [Int: Damage]) -> [Int: Damage] {
        var budget = PieceBudget(limit: Int.max)
        return propagate(initial, budget: &budget) ?? [:]
    }

    /// `propagate` expanding runs into explicit pieces within `budget`; nil past it.
    func propagate(_ initial: [Int: Damage], budget: inout PieceBudget) -> [Int: Damage]? {
        var damage = initial
        var over = false
        for id in topology.bottomUp {
            var result = damage[id] ?? Damage()
            for lower in topology.lowers[id] {
                guard let d = damage[lower], !d.isEmpty, let g = topology.group(from: lower, to: id) else { continue }
                for r in d.any.ranges {
                    topology.forEachOverlap(group: g, r) { entry in
                        let target = Int(entry.target)
                        let map = topology.nodes[id].maps[target]
                        let members = topology.memberNodes[id][target]
                        for e in map.upRuns(slot: Int(entry.slot), StridedRange(r), budget: &budget) {
                            if e.count == 1 { judge(e, map: map, members: members, damage: damage, into: &result); continue }
                            for i in 0..<e.count {
                                guard budget.take() else { over = true; return }
                                judge(e.piece(i), map: map, members: members, damage: damage, into: &result)
                            }
                        }
                    }
                    if over { return nil }
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
    /// of its stripe; each with the outcome if that leaf range alone were gone. A whole
    /// striped or raid volume comes out as one run a leg.
    public func down(from device: String, _ range: SectorRange) throws(TopologyError) -> [Translation] {
        let start = try topology.resolve(device)
        try check(start, range)
        var budget = PieceBudget(limit: pieceLimit)
        var (rows, single) = walkDown(start, range, budget: &budget)
        for i in rows.indices where rows[i].kind != .unknown && rows[i].outcome != .unaffected {
            if single[i] { rows[i].outcome = .lost; continue } // one copy on every layer of its path
            let leaf = topology.resolveUnchecked(rows[i].device)
            if pathwise && judgedPathwise(from: leaf) { rows[i].outcome = .degraded; continue } // a redundant layer on its one path
            let run = rows[i].run
            // Expanding the row spends its pieces: every row of a query draws on one bound.
            guard budget.take(run.count) else { rows[i].outcome = .unknown; rows[i].reason = budget.reason; continue }
            var d = Damage()
            for p in run.pieces { d.lost.insert(p) }
            guard let damage = propagate([leaf: d], budget: &budget) else { rows[i].outcome = .unknown; rows[i].reason = budget.reason; continue }
            let origin = rows[i].path[0].run
            let at = damage[start] ?? Damage()
            var worst = Outcome.unaffected
            for (set, outcome) in [(at.lost, Outcome.lost), (at.unknown, .unknown), (at.degraded, .degraded)] where outcome > worst {
                if set.ranges.contains(where: { !origin.intersection($0).isEmpty }) { worst = outcome }
            }
            rows[i].outcome = worst
        }
        return rows.sorted(by: Translation.reportOrder)
    }

    /// Walks down from `range` of `start` with an explicit stack; returns the rows and, for
    /// each, whether every extent on its path keeps a single copy.
    func walkDown(_ start: Int, _ range: SectorRange, budget: inout PieceBudget) -> ([Translation], [Bool]) {
        struct Frame {
            var id: Int; var range: StridedRange; var kind: PieceKind; var reason: String?; var hop: Int; var depth: Int; var single: Bool
            /// Set when `range` is the contiguous image of a run of pieces this long above.
            var grain: UInt64? = nil
        }
        var arena = PathArena()
        let root = arena.add(Hop(device: topology.name(of: start), start: range.start, length: range.length, target: nil, role: nil), below: -1)
        var stack = [Frame(id: start, range: StridedRange(range), kind: .data, reason: nil, hop: root, depth: 1, single: true)]
        var rows: [Translation] = []
        var single: [Bool] = []
        while let f = stack.popLast() {
            let node = topology.nodes[f.id]
            if node.isLeaf {
                if f.depth > 1 {
                    var t = Translation(device: node.name, start: 0, length: 0, outcome: .unknown, kind: f.kind, reason: f.reason, path: arena.path(f.hop))
                    t.setRun(f.range)
                    rows.append(t); single.append(f.single)
                }
                continue
            }
            let hull = f.range.hull
            var ti = node.maps.partitionPoint { $0.target.start + $0.target.length <= hull.start }
            var mapped: [(ti: Int, extents: [Extent])] = []
            var nests = true
            while ti < node.maps.count && node.maps[ti].target.start < hull.end {
                let extents = node.maps[ti].downRuns(f.range, budget: &budget)
                mapped.append((ti, extents))
                if f.grain != nil {
                    var probe = arena
                    nests = nests && extents.allSatisfy { $0.kind == .unknown || probe.narrowExactly(f.hop, to: $0.run).exact }
                }
                ti += 1
            }
            if !nests, let grain = f.grain, f.range.isPlain, f.range.length > grain {
                // This range is the contiguous image of a run above whose pieces this layer
                // cuts elsewhere (chunks that do not nest): followed one piece of the run at
                // a time, so every path stays exact; bounded.
                var s = f.range.start
                while s < f.range.end {
                    let piece = SectorRange(start: s, length: min(grain, f.range.end - s))
                    guard budget.take() else {
                        var t = Translation(device: node.name, start: 0, length: 0, outcome: .unknown, kind: .unknown, reason: budget.reason, path: arena.path(f.hop))
                        t.setRun(StridedRange(SectorRange(start: s, end: f.range.end)))
                        rows.append(t); single.append(false)
                        break
                    }
                    var g = f
                    g.range = StridedRange(piece); g.grain = nil
                    g.hop = arena.narrow(f.hop, to: g.range)
                    stack.append(g)
                    s += piece.length
                }
                continue
            }
            for (ti, extents) in mapped {
                let map = node.maps[ti]
                for e in extents {
                    // A piece that stops here (its mapping unknown; or, for zero/error targets and
                    // unprovisioned thin blocks, on no device) is said, with its own path.
                    if e.kind == .unknown || e.locations.isEmpty {
                        let hop = Self.isInside(e.run, f.range) ? arena.narrow(f.hop, to: e.run) : f.hop
                        let path = arena.path(hop)
                        var t = e.kind == .unknown
                            ? Translation(device: node.name, start: 0, length: 0, outcome: .unknown, kind: .unknown, reason: e.reason, path: path)
                            : Translation(device: node.name, start: 0, length: 0, outcome: .unaffected, kind: .data, reason: e.reason ?? "no member device", path: path)
                        t.setRun(e.run)
                        rows.append(t); single.append(false)
                        continue
                    }
                    // The hops above show the piece being followed, not the whole query.
                    let above = arena.narrow(f.hop, to: e.run)
                    for l in e.locations where l.role != .peer && l.slot >= 0 {
                        let member = map.members[l.slot]
                        let lower = topology.memberNodes[f.id][ti][l.slot]
                        let k: PieceKind = l.role == .parity ? .parity : f.kind
                        let r = e.run(of: l)
                        var hop = Hop(device: topology.name(of: lower), start: 0, length: 0, target: map.target.typeName, role: l.role == .parity ? "parity" : member.role.rawValue)
                        hop.setRun(r)
                        stack.append(Frame(id: lower, range: r, kind: k, reason: f.reason, hop: arena.add(hop, below: above), depth: f.depth + 1,
                                           single: f.single && !e.keepsAnotherCopy, grain: e.count > 1 && r.isPlain ? e.length : nil))
                    }
                }
            }
        }
        return (rows, single)
    }
}

extension Hop {
    /// Sets the hop's sectors to `r` (`stride` and `count` nil for a plain range).
    mutating func setRun(_ r: StridedRange) {
        start = r.start; length = r.length
        stride = r.isPlain ? nil : r.stride; count = r.isPlain ? nil : r.count
    }
}

extension Translation {
    /// Sets the row's sectors to `r` (`stride` and `count` nil for a plain range).
    mutating func setRun(_ r: StridedRange) {
        start = r.start; length = r.length
        stride = r.isPlain ? nil : r.stride; count = r.isPlain ? nil : r.count
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
