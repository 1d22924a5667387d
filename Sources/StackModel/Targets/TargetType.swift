/// One kind of layer dmstack understands: a device-mapper target type (drivers/md/dm-*.c) or a
/// partition. Everything dmstack knows about one type lives in that type's file under
/// `Targets/`, as lvm2 keeps one `segtype_handler` per segment type: how its table words parse
/// (following the target's `*_ctr`), how it prints them back (`*_status` STATUSTYPE_TABLE,
/// so `tableArguments` of a parsed kernel table is that table), its member devices, how a
/// range maps down to its members and back up, what redundancy it keeps, its health from a
/// status line, and what metadata it needs to map dynamically. Types are found by name in
/// `TargetTypes`; nothing else switches on target names.
public protocol TargetType: Sendable, Hashable {
    /// The names this type is registered under (`snapshot` and `snapshot-merge`).
    static var names: [String] { get }
    /// Reads the argument words after `<start> <length> <type>`, naming the field on errors.
    static func parse(_ parser: inout TargetParser) throws(TableParseError) -> Self
    /// The type word the kernel prints for this target.
    var typeName: String { get }
    /// Every member device, in table order, with its role and the offset of its part.
    var members: [MemberDevice] { get }
    /// The argument words in the form the kernel prints them (`dmsetup table`).
    var tableArguments: [String] { get }
    /// The translation machinery of one target of this type in a device's table.
    func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper
    /// What this layer does to a lost range below it, for impact's per-layer outcome.
    static var effect: LayerEffect { get }
    /// Whether growing the last target of this type keeps every sector where it was (its
    /// mapping does not depend on its length), so `apply` may reload instead of refusing.
    static var growsInPlace: Bool { get }
    /// The metadata read for a device of this type (and named by it) to map it dynamically:
    /// a thin pool's dump (its thin devices map through it), a cache's dump, a snapshot's COW
    /// store, a writecache's or an integrity device's superblock.
    static var dynamicMetadata: DynamicMetadataKind? { get }
    /// The `tree` table column for `segments` consecutive targets of this type.
    func summary(segments: Int) -> String
    /// Masks the keys among a table line's argument words (which may not parse), as
    /// `dmsetup table` does without `--showkeys`.
    static func maskSecrets(_ arguments: inout [String])
    /// Health from the arguments of this target's status line (`dmsetup status` after
    /// `<start> <length> <type>`).
    static func health(status: [String]) -> TargetHealth
}

extension TargetType {
    public static var effect: LayerEffect { .passThrough }
    public static var growsInPlace: Bool { false }
    public static var dynamicMetadata: DynamicMetadataKind? { nil }
    public func summary(segments: Int) -> String { typeName + (segments > 1 ? " \(segments) segs" : "") }
    public static func health(status: [String]) -> TargetHealth { TargetHealth() }
    public static func maskSecrets(_ arguments: inout [String]) {}
    /// Equality across the existential: same type and same value.
    func isEqual(to other: any TargetType) -> Bool { (other as? Self) == self }
}

/// What a layer does to a range lost below it. Below the layer that saves it (a raid or mirror)
/// or hides it (a dynamic target whose mapping moves blocks), a range is lost; from that layer
/// up it has the translation's outcome (Impact).
public enum LayerEffect: Sendable, Hashable {
    /// Sectors map through unchanged in kind.
    case passThrough
    /// Keeps copies or parity: a lost member range may still be readable above.
    case keepsRedundancy
    /// Remaps blocks through metadata (thin, cache, snapshot, ...).
    case dynamic
}

/// The metadata a dynamic target needs, named by the option that supplies it offline.
public enum DynamicMetadataKind: String, Sendable, Hashable {
    /// A thin pool's `thin_dump` (dm-thin-metadata.c).
    case thinDump
    /// A cache's `cache_dump` (dm-cache-metadata.c).
    case cacheDump
    /// A snapshot's COW device (dm-snap-persistent.c).
    case snapshotStore
    /// A writecache's cache device (dm-writecache.c superblock and entries).
    case writecacheMetadata
    /// A dm-integrity data device's superblock (dm-integrity.c).
    case integritySuperblock
}

/// What a target's status line says about it: raid and mirror leg characters (dm-raid.c
/// `__raid_dev_status`, dm-raid1.c `device_status_char`), and states for `tree`.
public struct TargetHealth: Sendable, Hashable {
    /// The leg health characters, for targets with legs.
    public var legs: String?
    /// A leg is dead or absent.
    public var failed: Bool
    /// `degraded`, `recovering`, `invalid`, `failed`, `read-only`.
    public var states: [String]
    /// Bad ranges its members have recorded (md dev-*/bad_blocks), for `monitor`.
    public var badRanges: [MemberRange]
    public init(legs: String? = nil, failed: Bool = false, states: [String] = [], badRanges: [MemberRange] = []) {
        self.legs = legs
        self.failed = failed
        self.states = states
        self.badRanges = badRanges
    }
}

/// Every layer type, looked up by the name a table line gives. Registering a new type is one
/// line here.
public enum TargetTypes {
    public static let all: [any TargetType.Type] = [
        LinearTarget.self, StripedTarget.self, MirrorTarget.self, RaidTarget.self, CryptTarget.self,
        DelayTarget.self, FlakeyTarget.self, ZeroTarget.self, ErrorTarget.self, MultipathTarget.self,
        SnapshotOriginTarget.self, SnapshotTarget.self, ThinPoolTarget.self, ThinTarget.self,
        CacheTarget.self, WritecacheTarget.self, IntegrityTarget.self, PartitionLayer.self,
        MdStripeTarget.self, MdRaidTarget.self,
    ]

    static let byName: [String: any TargetType.Type] = {
        var out: [String: any TargetType.Type] = [:]
        for t in all { for n in t.names { out[n] = t } }
        return out
    }()

    /// The registered type of a name, nil for a type dmstack does not know (kept opaque).
    public static func type(named name: String) -> (any TargetType.Type)? { byName[name] }

    /// The layer effect of a type by name; unknown names are opaque.
    public static func effect(of name: String) -> LayerEffect {
        byName[name]?.effect ?? OpaqueTarget.effect(of: name)
    }

    /// The name of the type whose devices are named for `kind` of metadata (`thin-pool`).
    public static func holding(_ kind: DynamicMetadataKind) -> String {
        all.first { $0.dynamicMetadata == kind }.map { $0.names[0] } ?? kind.rawValue
    }
}

/// The target a translation runs through, the shared arithmetic of every mapper: the
/// target's window on its device, its members, and the device's name for messages.
public struct MapFrame: Sendable {
    public let start: UInt64
    public let length: UInt64
    public let members: [MemberDevice]
    /// The dm device the target belongs to (dynamic mappings are looked up by it).
    public let deviceName: String
    /// Why this target's metadata could not be read (the live engine tried and failed, or a
    /// snapshot lacks it), from `DynamicMappings.unavailable`; nil when nobody tried.
    public var unavailable: String? = nil

    /// The reason a dynamic target's mapping is unknown: why reading its metadata failed, if
    /// it was tried, else `otherwise` (what would have to be given).
    public func missing(_ otherwise: String) -> String { unavailable ?? otherwise }

    public var wholeTarget: SectorRange { SectorRange(start: start, length: length) }

    public func unknownExtent(_ range: SectorRange, _ reason: String) -> Extent {
        Extent(start: range.start, length: range.length, kind: .unknown, redundancy: .single, locations: [], reason: reason)
    }

    /// One location holding the whole piece.
    public func single(_ r: SectorRange, slot: Int, memberStart: UInt64) -> [Extent] {
        [Extent(start: r.start, length: r.length, kind: .data, redundancy: .single,
                locations: [Location(slot: slot, start: memberStart, role: .data)])]
    }

    /// The device range a 1:1 member range maps to, clipped to the target.
    @inline(__always)
    public func identityUp(offset: UInt64, _ range: SectorRange) -> SectorRange? {
        let lo = max(range.start, offset)
        let hi = min(range.end, offset &+ length)
        guard lo < hi else { return nil }
        return SectorRange(start: start + (lo - offset), length: hi - lo)
    }

    /// dm-stripe.c `stripe_map_sector` (any chunk size, power of two or not), also md raid0
    /// with equal members (raid0.c `map_sector`, a single zone).
    func stripedDown(rel: UInt64, length: UInt64, chunk: UInt64, count: Int, member: (Int) -> (slot: Int, offset: UInt64)) -> [Extent] {
        var out: [Extent] = []
        var s = rel
        let end = rel + length
        let n = UInt64(count)
        while s < end {
            let chunkIndex = s / chunk, offset = s % chunk
            let stripe = Int(chunkIndex % n)
            let row = chunkIndex / n
            let len = min(chunk - offset, end - s)
            let m = member(stripe)
            out.append(Extent(start: start + s, length: len, kind: .data, redundancy: .single,
                              locations: [Location(slot: m.slot, start: m.offset + row * chunk + offset, role: .data)]))
            s += len
        }
        return out
    }

    /// dm-stripe.c `stripe_map_sector` inverted: member sector → row, chunk offset → array
    /// chunk; each array piece is mapped back down by `down` so it carries every location.
    func stripedUp(stripe: Int, offset: UInt64, range: SectorRange, chunk: UInt64, count: Int,
                   down: (SectorRange) -> [Extent]) -> [Extent] {
        let perStripe = length / UInt64(count)
        let lo = max(range.start, offset), hi = min(range.end, offset &+ perStripe)
        guard lo < hi else { return [] }
        var out: [Extent] = []
        var r = lo - offset
        let end = hi - offset
        while r < end {
            let row = r / chunk, off = r % chunk
            let len = min(chunk - off, end - r)
            let arraySector = (row * UInt64(count) + UInt64(stripe)) * chunk + off
            out.append(contentsOf: down(SectorRange(start: start + arraySector, length: len)))
            r += len
        }
        return out
    }

    /// Splits `[rel, rel+length)` into blocks of `block` sectors and maps each through `map`,
    /// merging neighbours that map the same way. `map(b)` also says for how many blocks from
    /// `b` its answer holds, shifted block by block (the rest of a thin range mapping, the
    /// blocks before the next exception or cached block), so the walk costs what the
    /// metadata holds, not the number of blocks in the range: a whole 2^54-sector device
    /// over a sparse cache is a few steps.
    func blockwise(rel: UInt64, length: UInt64, block: UInt64, map: (UInt64) -> (Extent, blocks: UInt64)) -> [Extent] {
        var out: [Extent] = []
        var s = rel
        let end = rel + length
        while s < end {
            let b = s / block, offset = s % block
            let (mapped, holds) = map(b)
            // Blocks from b to the one holding end - 1; n * block stays below end + block.
            let n = min(max(holds, 1), (end - 1) / block - b + 1)
            let len = min(n * block - offset, end - s)
            var e = mapped
            e.start = start + s
            e.length = len
            e.locations = e.locations.map { var l = $0; l.start += offset; return l }
            if var last = out.last, last.kind == e.kind, last.redundancy == e.redundancy, last.reason == e.reason,
               last.start + last.length == e.start, last.locations.count == e.locations.count,
               zip(last.locations, e.locations).allSatisfy({ $0.slot == $1.slot && $0.role == $1.role && $0.start + last.length == $1.start }) {
                last.length += len
                out[out.count - 1] = last
            } else {
                out.append(e)
            }
            s += len
        }
        return out
    }

    /// The pieces of this device a reverse-mapped run of blocks backs: `runs` (sorted by `to`,
    /// in blocks of `block` sectors starting at member sector `base`) that overlap `range` of
    /// the member, each mapped back down so it carries every location. Shared by the thin,
    /// snapshot, cache and writecache mappers.
    func reverseRuns(_ runs: [BlockRun], block: UInt64, base: UInt64 = 0, runLength: (BlockRun) -> UInt64 = { $0.length },
                     range: SectorRange, down: (SectorRange) -> [Extent]) -> [Extent] {
        let lo = max(range.start, base)
        guard lo < range.end else { return [] }
        let first = (lo - base) / block, last = (range.end - 1 - base) / block
        var out: [Extent] = []
        for run in overlappingRuns(runs, key: \.to, first: first, count: last - first + 1) {
            let memberRange = SectorRange(start: base + run.to * block, length: runLength(run) * block)
            guard let part = memberRange.intersection(range) else { continue }
            let sector = run.from * block + (part.start - memberRange.start)
            guard sector < length else { continue }
            out.append(contentsOf: down(SectorRange(start: start + sector, length: min(part.length, length - sector))))
        }
        return out
    }
}

/// The translation machinery of one target, built once per table (raid slots, reverse maps of
/// dynamic metadata sorted for binary search).
public protocol TargetMapper: Sendable {
    var frame: MapFrame { get }
    /// The extents of `range` (device sectors, already inside the target; `rel` is its
    /// offset in the target), with every member location.
    func down(_ range: SectorRange, rel: UInt64) -> [Extent]
    /// The extents of this device backed by `range` of member `slot` (member sectors), each
    /// clipped to that part and carrying every location, so redundancy can be judged. Not
    /// called for the identity slot, which `TargetMap` maps itself.
    func up(slot: Int, _ range: SectorRange) -> [Extent]
    /// How many sectors of member `slot`, from its offset, this target uses; nil when it may
    /// use any sector of it (metadata, COW, cache and pool devices).
    func footprint(slot: Int) -> UInt64?
    /// For targets that map one member 1:1 at an offset: that slot and offset; the fast path
    /// of translation, which allocates nothing.
    var identitySlot: (slot: Int, offset: UInt64)? { get }
    /// Another slot whose loss of anything fails this slot's location as a whole (a dm-raid
    /// leg's metadata device), or nil.
    func failsWith(slot: Int) -> Int?
    /// For a layout that repeats itself (striped: every row of chunks; raid4/5/6: every full
    /// turn of the parity rotation; raid1, mirror, multipath: every sector): shifting a member
    /// range by `member` sectors shifts its image by `device` sectors, and shifting a device
    /// range by `device` shifts every location by `member`, inside the target. This is what
    /// lets a whole leg translate as a few runs (`TargetMap.upRuns`, `downRuns`); nil when the
    /// mapping has no such period (dynamic targets, raid10, md raid0 with several zones).
    var period: (member: UInt64, device: UInt64)? { get }
    /// The member sector where slot `slot`'s periodic layout starts (its data offset), nil
    /// for a slot outside the periodic data path (metadata, log, journal).
    func periodOrigin(slot: Int) -> UInt64?
    /// For a slot whose loss of anything fails a whole data leg (a dm-raid metadata device):
    /// that leg's slot and range, which `TargetMap` translates up instead (as runs).
    func wholeLeg(failedBy slot: Int) -> (slot: Int, range: SectorRange)?
    /// A leg the target counts as failed already (a raid leg absent from the table or not in
    /// sync): its extents cannot be judged one path at a time.
    var hasAbsentMember: Bool { get }
}

extension TargetMapper {
    public var identitySlot: (slot: Int, offset: UInt64)? { nil }
    public func failsWith(slot: Int) -> Int? { nil }
    public var period: (member: UInt64, device: UInt64)? { nil }
    public func periodOrigin(slot: Int) -> UInt64? { nil }
    public func wholeLeg(failedBy slot: Int) -> (slot: Int, range: SectorRange)? { nil }
    public var hasAbsentMember: Bool { false }

    /// `down` for any device range: clipped to the target first.
    func down(_ range: SectorRange) -> [Extent] {
        guard let r = range.intersection(frame.wholeTarget) else { return [] }
        return down(r, rel: r.start - frame.start)
    }
}

/// A mapper for targets that map one member 1:1 at an offset (dm-linear.c `linear_map_sector`,
/// dm-crypt, dm-flakey, partitions): `up` is the identity fast path.
struct IdentityMapper: TargetMapper {
    let frame: MapFrame
    let slot: Int
    let offset: UInt64
    var identitySlot: (slot: Int, offset: UInt64)? { (slot, offset) }

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] { frame.single(r, slot: slot, memberStart: offset + rel) }
    /// Only other slots reach here, and they have no sectors in this target's data path.
    func up(slot: Int, _ range: SectorRange) -> [Extent] { [] }
    func footprint(slot: Int) -> UInt64? { frame.length }
    var period: (member: UInt64, device: UInt64)? { (1, 1) }
    func periodOrigin(slot s: Int) -> UInt64? { s == slot ? offset : nil }
}
