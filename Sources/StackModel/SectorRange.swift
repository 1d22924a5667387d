/// The unit of every range inside dmstack: the kernel's 512-byte sector (`SECTOR_SHIFT` 9 in
/// include/linux/blk_types.h), whatever the device's logical block size.
public let sectorBytes: UInt64 = 512

/// A half-open range of sectors, `[start, start + length)`.
///
/// Every range inside dmstack is in 512-byte sectors (the unit of every dm table and of
/// `bi_sector`) unless a type says bytes;
/// lengths are never zero once a range is built by the parsers or the translator.
public struct SectorRange: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public var start: UInt64
    public var length: UInt64

    public init(start: UInt64, length: UInt64) {
        self.start = start
        self.length = length
    }

    public init(start: UInt64, end: UInt64) {
        precondition(end >= start, "a range cannot end before it starts")
        self.start = start
        self.length = end - start
    }

    /// The first sector after the range.
    public var end: UInt64 { start + length }
    public var isEmpty: Bool { length == 0 }

    public func contains(_ sector: UInt64) -> Bool { sector >= start && sector < end }
    public func contains(_ other: SectorRange) -> Bool { other.start >= start && other.end <= end }

    /// The common part of two ranges, or nil when they do not overlap.
    public func intersection(_ other: SectorRange) -> SectorRange? {
        let s = max(start, other.start)
        let e = min(end, other.end)
        return s < e ? SectorRange(start: s, end: e) : nil
    }

    /// The same range moved so that `from` lands on `to` (used for 1:1 linear remapping).
    @inline(__always)
    public func rebased(from: UInt64, to: UInt64) -> SectorRange {
        SectorRange(start: start - from + to, length: length)
    }

    public static func < (lhs: SectorRange, rhs: SectorRange) -> Bool {
        lhs.start != rhs.start ? lhs.start < rhs.start : lhs.length < rhs.length
    }

    public var description: String { "\(start)+\(length)" }
}

/// A set of sectors kept as sorted, disjoint, non-adjacent ranges.
///
/// Used for damage bookkeeping: which sectors of a device are gone, so that redundancy can be
/// judged across every path at once (two raid1 legs on one leaf lose data; one does not).
public struct SectorSet: Hashable, Sendable, Codable {
    public private(set) var ranges: [SectorRange] = []

    public init() {}
    public init<S: Sequence>(_ ranges: S) where S.Element == SectorRange {
        for r in ranges { insert(r) }
    }

    public var isEmpty: Bool { ranges.isEmpty }
    public var totalLength: UInt64 { ranges.reduce(0) { $0 + $1.length } }

    /// `128+512, 896+512, ... 1696 more (871424 sectors)`: a few ranges for a line of text.
    public func listing(limit: Int = 6) -> String {
        let shown = ranges.prefix(limit).map { "\($0.start)+\($0.length)" }.joined(separator: ", ")
        return ranges.count <= limit ? shown : "\(shown), ... \(ranges.count - limit) more (\(totalLength) sectors)"
    }

    /// Adds a range, merging it with whatever it overlaps or touches.
    public mutating func insert(_ range: SectorRange) {
        guard range.length > 0 else { return }
        // First range whose end is >= range.start (it may touch or overlap).
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].end < range.start { lo = mid + 1 } else { hi = mid }
        }
        var newStart = range.start, newEnd = range.end
        var j = lo
        while j < ranges.count && ranges[j].start <= newEnd {
            newStart = min(newStart, ranges[j].start)
            newEnd = max(newEnd, ranges[j].end)
            j += 1
        }
        ranges.replaceSubrange(lo..<j, with: [SectorRange(start: newStart, end: newEnd)])
    }

    public mutating func formUnion(_ other: SectorSet) {
        for r in other.ranges { insert(r) }
    }

    /// The parts of `range` that are in the set, in order.
    public func intersection(with range: SectorRange) -> [SectorRange] {
        var out: [SectorRange] = []
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].end <= range.start { lo = mid + 1 } else { hi = mid }
        }
        var j = lo
        while j < ranges.count && ranges[j].start < range.end {
            if let i = ranges[j].intersection(range) { out.append(i) }
            j += 1
        }
        return out
    }

    public func intersection(_ other: SectorSet) -> SectorSet {
        var out = SectorSet()
        for r in other.ranges {
            for i in intersection(with: r) { out.ranges.append(i) }
        }
        out.ranges.sort()
        return SectorSet(out.ranges)
    }

    /// The parts of `range` that are not in the set, in order.
    public func subtracting(from range: SectorRange) -> [SectorRange] {
        var out: [SectorRange] = []
        var cursor = range.start
        for i in intersection(with: range) {
            if i.start > cursor { out.append(SectorRange(start: cursor, end: i.start)) }
            cursor = i.end
        }
        if cursor < range.end { out.append(SectorRange(start: cursor, end: range.end)) }
        return out
    }

    public func contains(_ sector: UInt64) -> Bool {
        !intersection(with: SectorRange(start: sector, length: 1)).isEmpty
    }
}

/// `count` ranges of `length` units, the i-th at `start + i * stride`: the compact form of a
/// range through a layout that deals chunks round-robin. One leg of a striped device is this
/// in the device above it (dm-stripe.c `stripe_map_sector`: chunk k of leg L is chunk
/// k × stripes + L of the device), so a whole leg of a 100 TiB volume is four numbers, not
/// 800 million ranges; raid4/5/6 and raid10 legs are a few of these, one per position in the
/// layout's rotation. Units are the holder's: sectors in translation, bytes in filesystem
/// hits. `count` is at least 1; with `count == 1`, `stride` says nothing and equals `length`;
/// otherwise `stride > length` (a run whose stride equals its length is one plain range and
/// `init(start:length:stride:count:)` makes it that).
public struct StridedRange: Hashable, Sendable, Codable, CustomStringConvertible {
    public var start: UInt64
    public var length: UInt64
    public var stride: UInt64
    public var count: UInt64

    /// A run, normalised: a stride that leaves no gap makes one plain range. `stride` must be
    /// at least `length` when `count > 1` (the ranges are disjoint and in order).
    public init(start: UInt64, length: UInt64, stride: UInt64, count: UInt64) {
        precondition(count >= 1 && (count == 1 || stride >= length), "a strided range's pieces are disjoint and in order")
        if count == 1 || stride == length {
            self.start = start; self.length = length * count; self.stride = length * count; self.count = 1
        } else {
            self.start = start; self.length = length; self.stride = stride; self.count = count
        }
    }

    /// One plain range.
    public init(_ range: SectorRange) { self.init(start: range.start, length: range.length, stride: range.length, count: 1) }

    public var isPlain: Bool { count == 1 }
    /// The first piece.
    public var first: SectorRange { SectorRange(start: start, length: length) }
    /// The `i`-th piece.
    public func piece(_ i: UInt64) -> SectorRange { SectorRange(start: start + i * stride, length: length) }
    /// The unit after the last piece.
    public var end: UInt64 { start + (count - 1) * stride + length }
    /// From the first piece's start to the last piece's end.
    public var hull: SectorRange { SectorRange(start: start, end: end) }
    /// Units in all the pieces.
    public var totalLength: UInt64 { length * count }
    public var isEmpty: Bool { length == 0 }

    /// Every piece in order; `count` may be huge, so callers that only need a bound use
    /// `totalLength`, `hull` or `intersection(_:)` instead.
    public var pieces: some Sequence<SectorRange> { (0..<count).lazy.map { piece($0) } }

    /// The same run moved so that `from` lands on `to`.
    public func rebased(from: UInt64, to: UInt64) -> StridedRange {
        StridedRange(start: start - from + to, length: length, stride: stride, count: count)
    }

    /// The parts of the run inside `range`, in order: at most a clipped first piece, a run of
    /// whole pieces, and a clipped last piece. Constant time whatever `count` is.
    public func intersection(_ range: SectorRange) -> [StridedRange] {
        guard let h = hull.intersection(range) else { return [] }
        if count == 1 { return [StridedRange(h)] }
        // Pieces i with piece(i).end > h.start and piece(i).start < h.end.
        let lo = h.start < start + length ? 0 : (h.start - start - length) / stride + 1
        let hi = min(count - 1, (h.end - 1 - start) / stride) // last piece starting before h.end
        guard lo <= hi else { return [] }
        var out: [StridedRange] = []
        var firstWhole = lo, lastWhole = hi
        if let p = piece(lo).intersection(h), p != piece(lo) { out.append(StridedRange(p)); firstWhole = lo + 1 }
        var tail: StridedRange?
        if hi >= firstWhole, let p = piece(hi).intersection(h), p != piece(hi) { tail = StridedRange(p); lastWhole = hi - 1 }
        if firstWhole <= lastWhole, firstWhole <= hi {
            out.append(StridedRange(start: start + firstWhole * stride, length: length, stride: stride, count: lastWhole - firstWhole + 1))
        }
        if let tail { out.append(tail) }
        return out.filter { !$0.isEmpty }
    }

    /// `128+128` for a plain range, `128+128/256×1000` for a run (start+length/stride×count).
    public var description: String { count == 1 ? "\(start)+\(length)" : "\(start)+\(length)/\(stride)×\(count)" }
}
