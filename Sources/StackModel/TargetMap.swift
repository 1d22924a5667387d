/// What a piece of a translated range is.
public enum PieceKind: String, Sendable, Codable, Hashable {
    /// Sectors that hold the device's data.
    case data
    /// Parity of a raid4/5/6 stripe: no data of its own; its loss only removes protection.
    case parity
    /// The mapping is not known (dynamic target without its metadata, opaque target, or a
    /// metadata device whose loss affects the whole target).
    case unknown
}

/// How a piece of a device is protected against the loss of its member locations.
public enum Redundancy: Hashable, Sendable {
    /// One location holds the data: losing it loses the data.
    case single
    /// Every `.data` location holds the same data: lost only when all are lost
    /// (dm-raid1.c legs, md raid1/raid10 copies, dm-mpath paths).
    case copies
    /// raid4/5/6: lost when more than `tolerated` of the stripe's devices are lost at the same
    /// device sector (md `max_degraded`).
    case parity(tolerated: Int)
}

/// One member location of an extent: `slot` indexes `TargetMap.members` (-1 for a raid leg
/// that is absent from the table, which counts as already failed).
public struct Location: Hashable, Sendable {
    public enum Role: String, Sendable, Hashable { case data, parity, peer }
    public var slot: Int
    public var start: UInt64
    public var role: Role
    /// Set when the location is not a linear copy of the extent but something the whole extent
    /// depends on (dm-integrity tags): `span` sectors from `start`, any of which lost loses it.
    public var span: UInt64? = nil
    /// In an extent that repeats (`Extent.count > 1`): how far the i-th copy of this location
    /// is from the first (its start is `start + i * stride`); 0 in a single extent.
    public var stride: UInt64 = 0
}

/// A piece of a device, `[start, start + length)` in device sectors, mapped linearly onto each
/// of its locations (each covers `length` sectors from its own start).
public struct Extent: Hashable, Sendable {
    public var start: UInt64
    public var length: UInt64
    public var kind: PieceKind
    public var redundancy: Redundancy
    public var locations: [Location]
    /// Why the piece is `unknown`, or a remark on it.
    public var reason: String?
    /// How many copies of the extent this one stands for (one whole row of a striped or raid
    /// layout repeated over every row): the i-th starts at `start + i * stride` on the device
    /// and at `location.start + i * location.stride` on each member. 1 for a single extent.
    public var count: UInt64 = 1
    public var stride: UInt64 = 0

    /// Whether losing one location can leave the data readable: another copy, or parity.
    public var keepsAnotherCopy: Bool {
        switch redundancy {
        case .single: false
        case .copies: locations.count { $0.role == .data } >= 2
        case .parity(let tolerated): tolerated >= 1
        }
    }

    /// The first (for a single extent, the only) piece.
    public var range: SectorRange { SectorRange(start: start, length: length) }
    /// Every piece on the device, as a run.
    public var run: StridedRange { StridedRange(start: start, length: length, stride: count > 1 ? stride : length, count: count) }
    /// The pieces of location `l` (one of this extent's) on its member, as a run.
    public func run(of l: Location) -> StridedRange {
        StridedRange(start: l.start, length: length, stride: count > 1 ? l.stride : length, count: count)
    }
    /// The `i`-th copy as a single extent.
    public func piece(_ i: UInt64) -> Extent {
        var e = self
        e.start += i * stride
        e.locations = locations.map { var l = $0; l.start += i * l.stride; l.stride = 0; return l }
        e.count = 1; e.stride = 0
        return e
    }
    /// The extent repeated `times` times, `by` apart on the device and `memberBy` apart on
    /// every member (a single extent only).
    func repeated(_ times: UInt64, by: UInt64, memberBy: UInt64) -> Extent {
        guard times > 1 else { return self }
        var e = self
        e.count = times; e.stride = by
        e.locations = locations.map { var l = $0; l.stride = memberBy; return l }
        return e
    }
}

/// A target with everything needed to translate through it: its members resolved once, and
/// its type's mapper (raid geometry, dynamic mappings sorted for search) built once.
public struct TargetMap: Sendable {
    public let target: Target
    public let members: [MemberDevice]
    /// The dm device this target belongs to (dynamic mappings are looked up by it).
    public let deviceName: String
    let mapper: any TargetMapper
    /// The target's window and members, the shared arithmetic of its mapper.
    let frame: MapFrame
    /// For targets that map one member 1:1 at an offset: that slot and offset; used for a
    /// fast path that allocates nothing.
    public let identitySlot: (slot: Int, offset: UInt64)?

    public init(target: Target, deviceName: String, mappings: DynamicMappings, poolName: String? = nil) {
        self.target = target
        self.deviceName = deviceName
        members = target.members
        var frame = MapFrame(start: target.start, length: target.length, members: members, deviceName: deviceName)
        frame.unavailable = mappings.unavailable[poolName ?? deviceName]
        self.frame = frame
        mapper = target.kind.mapper(frame, mappings: mappings, poolName: poolName)
        identitySlot = mapper.identitySlot
    }

    /// How many sectors of member `slot`, from its offset, this target uses; nil when the
    /// target may use any sector of it (metadata, COW, cache and pool devices).
    public func footprint(slot: Int) -> UInt64? { mapper.footprint(slot: slot) }

    /// A slot whose loss of anything fails `slot`'s locations as a whole (a dm-raid leg's
    /// metadata device), or nil.
    func failsWith(slot: Int) -> Int? { mapper.failsWith(slot: slot) }

    /// A member the target counts as failed already (`TargetMapper.hasAbsentMember`).
    var hasAbsentMember: Bool { mapper.hasAbsentMember }

    /// The device range a 1:1 member range maps to, clipped to the target.
    @inline(__always)
    func identityUp(offset: UInt64, _ range: SectorRange) -> SectorRange? { frame.identityUp(offset: offset, range) }

    /// The extents of `range` (device sectors inside this target), with every member location.
    public func down(_ range: SectorRange) -> [Extent] { mapper.down(range) }

    /// The extents of this device backed by `range` of member `slot` (member sectors), each
    /// clipped to that part and carrying every location, so redundancy can be judged.
    public func up(slot: Int, _ range: SectorRange) -> [Extent] {
        guard slot >= 0, slot < members.count else { return [] }
        if let (s, o) = identitySlot, s == slot {
            guard let d = identityUp(offset: o, range) else { return [] }
            return down(d)
        }
        return mapper.up(slot: slot, range)
    }
}

/// How many pieces one query may expand explicitly when a run cannot stay a run (a layer
/// without a period: thin, cache, snapshot, writecache, integrity, raid10 with far or offset
/// copies, md raid0 with several zones).
/// Past it the rest is an `unknown` piece saying so, never a crash and never dropped.
public struct PieceBudget: Sendable {
    /// The default bound, per query (`translate`, one `simulate`).
    public static let defaultLimit = 1_000_000
    public let limit: Int
    public private(set) var left: Int
    public init(limit: Int = PieceBudget.defaultLimit) { self.limit = limit; left = limit }
    /// Takes one piece; false once the bound is reached.
    mutating func take() -> Bool { take(1) }
    /// Takes `n` pieces at once; false (and nothing taken) when fewer than `n` are left.
    mutating func take(_ n: UInt64) -> Bool { guard n <= UInt64(left) else { return false }; left -= Int(n); return true }
    var reason: String { "more than \(limit) pieces to translate one by one: the rest is not followed" }
}

extension TargetMap {
    /// The member window of `slot` inside which its layout is periodic, or nil.
    func periodicWindow(slot: Int) -> SectorRange? {
        if let (s, o) = identitySlot, s == slot { return SectorRange(start: o, length: frame.length) }
        guard let origin = mapper.periodOrigin(slot: slot), let f = mapper.footprint(slot: slot), f > 0 else { return nil }
        return SectorRange(start: origin, length: f)
    }

    /// `e` standing for `times` copies, `by` apart on the device and `memberBy` on members; an
    /// unknown piece (the whole target) or one that would overlap its copies is given once
    /// or, for the latter, one copy at a time within `budget`.
    private func repeating(_ e: Extent, _ times: UInt64, by: UInt64, memberBy: UInt64, budget: inout PieceBudget) -> [Extent] {
        if e.kind == .unknown && e.locations.isEmpty && e.range == frame.wholeTarget { return [e] }
        if e.count == 1, by >= e.length, memberBy >= e.length || e.locations.isEmpty {
            // Copies past the target's end hold nothing of it (a raid10 leg's last, partly
            // used row of chunks); a copy that crosses the end is cut there.
            let end = frame.start + frame.length
            guard e.start + (times - 1) * by + e.length > end else { return [e.repeated(times, by: by, memberBy: memberBy)] }
            guard e.start + e.length <= end else { return e.start < end ? [e.piece(0)].map { var c = $0; c.length = end - c.start; return c } : [] }
            let fit = (end - e.start - e.length) / by + 1
            var out = [e.repeated(fit, by: by, memberBy: memberBy)]
            if fit < times, e.start + fit * by < end {
                var c = e
                c.start += fit * by
                c.length = end - c.start
                c.locations = c.locations.map { var l = $0; l.start += fit * memberBy; return l }
                out.append(c)
            }
            return out
        }
        // A run of runs: expanded one level, bounded.
        var out: [Extent] = []
        for i in 0..<times {
            guard budget.take() else { out.append(frame.unknownExtent(frame.wholeTarget, budget.reason)); break }
            var c = e
            c.start += i * by
            c.locations = c.locations.map { var l = $0; l.start += i * memberBy; return l }
            out.append(c)
        }
        return out
    }

    /// The extents of this device backed by the run `run` of member `slot`: whole periods of
    /// a periodic layout as repeated extents (`Extent.count`), the rest one piece at a time
    /// within `budget`. The pieces are those of `up(slot:_:)` for each piece of the run.
    public func upRuns(slot: Int, _ run: StridedRange, budget: inout PieceBudget) -> [Extent] {
        guard slot >= 0, slot < members.count else { return [] }
        if run.isPlain { return upPlain(slot: slot, run.first, budget: &budget) }
        let parts = periodicWindow(slot: slot).map { run.intersection($0) } ?? [run]
        var out: [Extent] = []
        for part in parts {
            if part.isPlain { out += upPlain(slot: slot, part.first, budget: &budget); continue }
            out += lift(part, period: mapper.period.map { ($0.member, $0.device) }, up: true, budget: &budget) { upPlain(slot: slot, $0, budget: &$1) }
        }
        return out
    }

    /// The extents of the run `run` of this device (device sectors), as `upRuns` does up.
    public func downRuns(_ run: StridedRange, budget: inout PieceBudget) -> [Extent] {
        var out: [Extent] = []
        for part in run.intersection(frame.wholeTarget) {
            if part.isPlain { out += downPlain(part.first); continue }
            out += lift(part, period: mapper.period.map { ($0.device, $0.member) }, up: false, budget: &budget) { r, _ in downPlain(r) }
        }
        return out
    }

    /// A run through a layout of period `p` on the run's side and `q` on the other: with a
    /// stride that is a multiple of `p`, the image of the first piece repeated; a stride
    /// whose lcm with `p` is at most 64 strides is split into that many interleaved runs;
    /// anything else one piece at a time, bounded.
    private func lift(_ part: StridedRange, period: (UInt64, UInt64)?, up: Bool, budget: inout PieceBudget,
                      map: (SectorRange, inout PieceBudget) -> [Extent]) -> [Extent] {
        if let (p, q) = period, p > 0 {
            let s = part.stride
            if s % p == 0 {
                let other = s / p * q
                var out: [Extent] = []
                for e in map(part.first, &budget) {
                    out += repeating(e, part.count, by: up ? other : s, memberBy: up ? s : other, budget: &budget)
                }
                return out
            }
            let g = Self.lcm(s, p) / s
            if g <= 64, part.count >= 2 * g {
                var out: [Extent] = []
                for j in 0..<g {
                    let sub = StridedRange(start: part.start + j * s, length: part.length, stride: s * g, count: (part.count - j + g - 1) / g)
                    out += sub.isPlain ? map(sub.first, &budget) : lift(sub, period: period, up: up, budget: &budget, map: map)
                }
                return out
            }
        }
        var out: [Extent] = []
        for i in 0..<part.count {
            guard budget.take() else {
                let rest = StridedRange(start: part.start + i * part.stride, length: part.length, stride: part.stride, count: part.count - i)
                var u = frame.unknownExtent(up ? frame.wholeTarget : rest.first, budget.reason)
                if !up { u.count = rest.count; u.stride = rest.isPlain ? 0 : rest.stride }
                out.append(u)
                break
            }
            out += map(part.piece(i), &budget)
        }
        return out
    }

    /// `up(slot:_:)` of one range, whole periods of a periodic layout as one repeated extent
    /// each (a whole leg of a striped device is one row of chunks repeated).
    func upPlain(slot: Int, _ range: SectorRange, budget: inout PieceBudget) -> [Extent] {
        if let (data, whole) = mapper.wholeLeg(failedBy: slot) { return upRuns(slot: data, StridedRange(whole), budget: &budget) }
        guard identitySlot?.slot != slot, let (p, d) = mapper.period, p > 1,
              let w = periodicWindow(slot: slot), let r = range.intersection(w) else { return up(slot: slot, range) }
        let rel0 = r.start - w.start, rel1 = r.end - w.start
        let a = (rel0 + p - 1) / p * p, b = rel1 / p * p
        guard b > a, (b - a) / p >= 2 else { return up(slot: slot, r) }
        var out: [Extent] = []
        if rel0 < a { out += up(slot: slot, SectorRange(start: w.start + rel0, end: w.start + a)) }
        for e in up(slot: slot, SectorRange(start: w.start + a, length: p)) {
            out += repeating(e, (b - a) / p, by: d, memberBy: p, budget: &budget)
        }
        if b < rel1 { out += up(slot: slot, SectorRange(start: w.start + b, end: w.start + rel1)) }
        return out
    }

    /// `down(_:)` of one range, whole periods as repeated extents.
    func downPlain(_ range: SectorRange) -> [Extent] {
        guard let (p, d) = mapper.period, d > 1, let r = range.intersection(frame.wholeTarget) else { return down(range) }
        let rel0 = r.start - frame.start, rel1 = r.end - frame.start
        let a = (rel0 + d - 1) / d * d, b = rel1 / d * d
        guard b > a, (b - a) / d >= 2 else { return down(r) }
        var out: [Extent] = []
        var unused = PieceBudget(limit: 0)
        if rel0 < a { out += down(SectorRange(start: frame.start + rel0, end: frame.start + a)) }
        for e in down(SectorRange(start: frame.start + a, length: d)) {
            out += repeating(e, (b - a) / d, by: d, memberBy: p, budget: &unused)
        }
        if b < rel1 { out += down(SectorRange(start: frame.start + b, end: frame.start + rel1)) }
        return out
    }

    static func lcm(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var x = a, y = b
        while y != 0 { (x, y) = (y, x % y) }
        let (m, overflow) = (a / x).multipliedReportingOverflow(by: b)
        return overflow ? UInt64.max : m
    }
}

