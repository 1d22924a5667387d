/// dm-thin.c `thin_ctr`: `<pool> <dev id> [<external origin>]`; blocks of `dev id` live where
/// the pool metadata says.
public struct ThinTarget: TargetType {
    public var pool: String
    public var deviceID: UInt64
    public var externalOrigin: String?

    public static let names = ["thin"]
    public var typeName: String { "thin" }
    public static var effect: LayerEffect { .dynamic }
    /// A thin device's blocks are where the pool puts them, whatever its length.
    public static var growsInPlace: Bool { true }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> ThinTarget {
        let pool = try p.device("pool device"); let id = try p.number("device id")
        let origin = p.remaining > 0 ? try p.device("external origin") : nil
        try p.noMore()
        return ThinTarget(pool: pool, deviceID: id, externalOrigin: origin)
    }

    public var tableArguments: [String] { [pool, "\(deviceID)"] + (externalOrigin.map { [$0] } ?? []) }
    public var members: [MemberDevice] {
        [MemberDevice(device: pool, role: .pool)] + (externalOrigin.map { [MemberDevice(device: $0, role: .origin)] } ?? [])
    }
    public func summary(segments: Int) -> String { "thin id \(deviceID)" }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        ThinMapper(frame: frame, target: self, pool: poolName.flatMap { mappings.thinPools[$0] })
    }
}

struct ThinMapper: TargetMapper {
    let frame: MapFrame
    let target: ThinTarget
    let pool: ThinPoolMapping?
    /// This thin device's runs by pool data block; one device maps a data block at most once,
    /// so they are disjoint and binary-searchable (shared blocks belong to other devices).
    let reverse: [BlockRun]
    /// From a metadata snapshot someone else holds: the data blocks mapped by any device in
    /// it, merged; a block outside them may have been provisioned since (see `up`).
    let mappedInForeignSnapshot: [BlockRun]?

    init(frame: MapFrame, target: ThinTarget, pool: ThinPoolMapping?) {
        self.frame = frame
        self.target = target
        self.pool = pool
        reverse = (pool?.devices[target.deviceID] ?? []).sorted { $0.to < $1.to }
        mappedInForeignSnapshot = pool?.foreignSnapshotRoot == nil ? nil : pool?.mappedDataRuns
    }

    func footprint(slot: Int) -> UInt64? { nil }

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        guard let pool, let runs = pool.devices[target.deviceID] else {
            return [frame.unknownExtent(r, "thin device \(frame.deviceName): \(frame.missing("pool mapping not given (thin_dump of its pool)"))")]
        }
        let bs = pool.dataBlockSectors
        return frame.blockwise(rel: rel, length: r.length, block: bs) { block in
            if let run = overlappingRuns(runs, key: \.from, first: block, count: 1).first {
                return (Extent(start: 0, length: 0, kind: .data, redundancy: .single,
                               locations: [Location(slot: 0, start: (run.to + block - run.from) * bs, role: .data)]),
                        run.from + run.length - block)
            }
            let unmapped = blocksBeforeNextRun(runs, key: \.from, from: block)
            // An unprovisioned block reads from the external origin if there is one, otherwise
            // as zeros from no device (dm-thin.c process_bio / provision_block).
            if target.externalOrigin != nil {
                return (Extent(start: 0, length: 0, kind: .data, redundancy: .single,
                               locations: [Location(slot: 1, start: block * bs, role: .data)], reason: "external origin"), unmapped)
            }
            return (Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [], reason: "unprovisioned: reads zeros from no device"), unmapped)
        }
    }

    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        guard let pool, pool.devices[target.deviceID] != nil else {
            return [frame.unknownExtent(frame.wholeTarget, "thin device \(frame.deviceName): \(frame.missing("pool mapping not given (thin_dump of its pool)")); pool range \(range) may back any of its blocks")]
        }
        if slot == 1 {
            // External origin: read where the thin device has no block of its own.
            guard let d = frame.identityUp(offset: 0, range) else { return [] }
            return down(d).filter { $0.locations.first?.slot == 1 }
        }
        if let mapped = mappedInForeignSnapshot, let root = pool.foreignSnapshotRoot,
           let gap = firstUnmapped(mapped, block: pool.dataBlockSectors, range: range) {
            // dm-thin-metadata.c __reserve_metadata_snap: the held root is the mapping as it was
            // when its owner reserved it; blocks provisioned since are not in it.
            return [frame.unknownExtent(frame.wholeTarget, "thin device \(frame.deviceName): pool data block \(gap) is mapped by no device in the metadata snapshot someone else holds (held root \(root)), which may be older than the pool: it may back any of its blocks; release that snapshot to have the pool read afresh")]
        }
        return frame.reverseRuns(reverse, block: pool.dataBlockSectors, range: range, down: { down($0) })
    }

    /// The first pool data block of `range` (pool sectors) outside `mapped`, nil if none.
    func firstUnmapped(_ mapped: [BlockRun], block: UInt64, range: SectorRange) -> UInt64? {
        guard range.length > 0 else { return nil }
        var next = range.start / block
        let last = (range.end - 1) / block
        for run in overlappingRuns(mapped, key: \.to, first: next, count: last - next + 1) {
            if run.to > next { return next }
            next = max(next, run.to + run.length)
            if next > last { return nil }
        }
        return next
    }
}

/// `{type: thin, pool: VOLUME=pool, id: 1, size: 1G}`: the pool must be a thin-pool volume of
/// the same spec; its id is created with the volume.
public struct ThinSpec: SpecTarget {
    public var pool: MemberSpec
    public var id: UInt64
    public static let specNames = ["thin"]
    public var references: [MemberSpec] { [pool] }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> ThinSpec {
        let pool = try d.member("pool")
        // dm-thin-metadata.h: device ids are 24 bits.
        guard let id = try d.map.integer("id", max: (1 << 24) - 1) else { throw d.missing("id", "missing (required): the thin device id in its pool") }
        try d.readSize(required: true)
        return ThinSpec(pool: pool, id: id)
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        guard case .volume(let name) = pool.ref, p.spec.volume(name)?.targets.contains(where: { $0.kind is ThinPoolSpec }) == true else {
            throw p.fail(.size, pool, "pool must be VOLUME=<a thin-pool volume of this spec>")
        }
        let r = try p.member(pool)
        if !p.volumeExists { p.steps.append(.createThin(pool: name, id: id, volume: p.volume)) }
        return [PlannedTarget(length: p.target.size!, target: ThinTarget(pool: r.word, deviceID: id, externalOrigin: nil))]
    }
}
