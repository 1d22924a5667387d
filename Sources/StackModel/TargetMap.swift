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

    public var range: SectorRange { SectorRange(start: start, length: length) }
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
