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

/// A target with everything needed to translate through it: its members resolved once, raid
/// geometry computed once, and the dynamic mapping of the device if one was given.
public struct TargetMap: Sendable {
    public let target: Target
    public let members: [MemberDevice]
    /// The dm device this target belongs to (dynamic mappings are looked up by it).
    public let deviceName: String
    let raid10: Raid10Geometry?
    /// For raid: the data slot of each leg (-1 when absent) and the leg of each slot.
    let raidDataSlot: [Int]
    let raidMetaSlot: [Int]
    let raidLegOfSlot: [Int]
    let thin: ThinPoolMapping?
    /// This thin device's runs by pool data block; one device maps a data block at most once,
    /// so they are disjoint and binary-searchable (shared blocks belong to other devices).
    let thinReverse: [BlockRun]
    let snapshotStore: SnapshotExceptionStore?
    let snapshotReverse: [BlockRun]
    let cache: CacheMapping?
    /// Cache blocks (`to`) → origin blocks (`from`), by cache block.
    let cacheReverse: [BlockRun]
    let writecache: WritecacheMapping?
    let writecacheReverse: [BlockRun]
    let integrity: IntegrityGeometry?

    public init(target: Target, deviceName: String, mappings: DynamicMappings, poolName: String? = nil) {
        self.target = target
        self.deviceName = deviceName
        members = target.members
        var dataSlot: [Int] = [], metaSlot: [Int] = [], legOfSlot: [Int] = []
        if case .raid(let r) = target.kind {
            var slot = 0
            for (i, leg) in r.legs.enumerated() {
                if leg.metadata != nil { legOfSlot.append(i); metaSlot.append(slot); slot += 1 } else { metaSlot.append(-1) }
                if leg.data != nil { legOfSlot.append(i); dataSlot.append(slot); slot += 1 } else { dataSlot.append(-1) }
            }
            if r.journalDevice != nil { legOfSlot.append(-1) }
            raid10 = r.level == 10 ? Raid10Geometry(raid: r, length: target.length) : nil
        } else {
            raid10 = nil
        }
        raidDataSlot = dataSlot
        raidMetaSlot = metaSlot
        raidLegOfSlot = legOfSlot
        thin = poolName.flatMap { mappings.thinPools[$0] }
        if case .thin(let th) = target.kind, let runs = thin?.devices[th.deviceID] {
            thinReverse = runs.sorted { $0.to < $1.to }
        } else {
            thinReverse = []
        }
        snapshotStore = mappings.snapshots[deviceName]
        snapshotReverse = (snapshotStore?.exceptions ?? []).sorted { $0.to < $1.to }
        cache = mappings.caches[deviceName]
        cacheReverse = (cache?.entries ?? []).map { BlockRun(from: $0.originBlock, to: $0.cacheBlock, length: 1) }.sorted { $0.to < $1.to }
        writecache = mappings.writecaches[deviceName]
        writecacheReverse = (writecache?.blocks ?? []).sorted { $0.to < $1.to }
        if case .integrity(let i) = target.kind, i.metaDevice == nil, i.mode != "I" {
            integrity = mappings.integrity[deviceName]
        } else {
            integrity = nil
        }
    }

    /// For targets that map one member 1:1 at an offset: that slot and offset; used for a
    /// fast path that allocates nothing (dm-linear.c `linear_map_sector`, dm-crypt, dm-flakey,
    /// partitions, dm-snap origin, dm-thin pool data via `pool_map`).
    @inline(__always)
    public var identitySlot: (slot: Int, offset: UInt64)? {
        switch target.kind {
        case .linear(_, let o), .crypt(_, _, let o), .flakey(_, let o), .partition(_, let o): (0, o)
        // dm-snap.c origin_map and dm-thin.c pool_map pass the device's own sector through.
        case .snapshotOrigin: (0, target.start)
        case .thinPool: (1, target.start)
        default: nil
        }
    }

    /// How many sectors of member `slot`, from its offset, this target uses; nil when the
    /// target may use any sector of it (metadata, COW, cache and pool devices).
    public func footprint(slot: Int) -> UInt64? {
        let t = target
        switch t.kind {
        case .linear, .crypt, .flakey, .partition, .snapshotOrigin, .delay: return t.length
        case .striped(let s): return t.length / UInt64(s.stripes.count)
        case .mirror(let m): return slot < m.legs.count ? t.length : nil
        case .multipath: return t.length
        case .thinPool: return slot == 1 ? t.length : nil
        case .raid(let r):
            guard slot < raidLegOfSlot.count, raidLegOfSlot[slot] >= 0, members[slot].role == .data else { return nil }
            return raidDeviceSectors(r)
        case .integrity where slot == 0 && integrity != nil:
            // Superblock and journal, then every area's tags and data up to the last sector.
            return integrity!.dataSector(t.length - 1) + 1
        case .integrity, .snapshot, .thin, .cache, .writecache, .opaque, .zero, .error: return nil
        }
    }

    /// Sectors of each data device a raid target uses (dm-raid.c rs_set_dev_and_array_sectors).
    func raidDeviceSectors(_ r: RaidTarget) -> UInt64 {
        switch r.level {
        case 1: return target.length
        case 10: return raid10!.deviceSectors
        default: return target.length / UInt64(r.raidDisks - r.parityDevices)
        }
    }

    func unknownExtent(_ range: SectorRange, _ reason: String) -> Extent {
        Extent(start: range.start, length: range.length, kind: .unknown, redundancy: .single, locations: [], reason: reason)
    }

    var wholeTarget: SectorRange { target.range }

    // MARK: - Down: a range of this device → its member locations

    /// The extents of `range` (device sectors inside this target), with every member location.
    public func down(_ range: SectorRange) -> [Extent] {
        let t = target
        guard let r = range.intersection(t.range) else { return [] }
        let rel = r.start - t.start
        func single(_ slot: Int, _ memberStart: UInt64) -> [Extent] {
            [Extent(start: r.start, length: r.length, kind: .data, redundancy: .single,
                    locations: [Location(slot: slot, start: memberStart, role: .data)])]
        }
        switch t.kind {
        case .linear(_, let o), .crypt(_, _, let o), .flakey(_, let o), .partition(_, let o):
            return single(0, o + rel)
        case .snapshotOrigin, .thinPool:
            let (slot, o) = identitySlot!
            return single(slot, o + rel)
        case .delay(let paths):
            // dm-delay.c: reads, writes and flushes may go to different devices; the data must
            // be reachable on all of them, so each is a location whose loss loses it.
            return paths.indices.map { i in
                Extent(start: r.start, length: r.length, kind: .data, redundancy: .single,
                       locations: [Location(slot: i, start: paths[i].offset + rel, role: .data)])
            }
        case .zero, .error:
            return [Extent(start: r.start, length: r.length, kind: .data, redundancy: .single, locations: [],
                           reason: t.typeName == "zero" ? "zero target: reads zeros from no device" : "error target: every I/O fails, no device")]
        case .mirror(let m):
            return [Extent(start: r.start, length: r.length, kind: .data, redundancy: .copies,
                           locations: m.legs.indices.map { Location(slot: $0, start: m.legs[$0].offset + rel, role: .data) })]
        case .multipath(let m):
            return [Extent(start: r.start, length: r.length, kind: .data, redundancy: .copies,
                           locations: m.paths.indices.map { Location(slot: $0, start: rel, role: .data) })]
        case .striped(let s):
            return stripedDown(rel: rel, length: r.length, chunk: s.chunkSectors, count: s.stripes.count) { i in (i, s.stripes[i].offset) }
        case .raid(let raid):
            return raidDown(raid, rel: rel, length: r.length)
        case .snapshot(let s):
            return snapshotDown(s, rel: rel, length: r.length)
        case .thin:
            return thinDown(rel: rel, length: r.length)
        case .cache(let c):
            return cacheDown(c, rel: rel, length: r.length)
        case .writecache(let w):
            return writecacheDown(w, rel: rel, length: r.length)
        case .integrity(let i):
            guard let g = integrity else {
                return [unknownExtent(r, "integrity \(deviceName): data and tag interleaving come from its superblock; not given (or a separate metadata device / inline mode, not supported)")]
            }
            // Data runs are linear within an area; each area starts after its tag run.
            var out: [Extent] = []
            var s = rel
            let end = rel + r.length
            while s < end {
                let len = min(g.interleaveSectors - s % g.interleaveSectors, end - s)
                out.append(Extent(start: t.start + s, length: len, kind: .data, redundancy: .single,
                                  locations: [Location(slot: 0, start: i.start + g.dataSector(s), role: .data)]))
                s += len
            }
            return out
        case .opaque(let name, _):
            return [unknownExtent(r, "unknown target type '\(name)'")]
        }
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
            out.append(Extent(start: target.start + s, length: len, kind: .data, redundancy: .single,
                              locations: [Location(slot: m.slot, start: m.offset + row * chunk + offset, role: .data)]))
            s += len
        }
        return out
    }

    func raidDown(_ raid: RaidTarget, rel: UInt64, length: UInt64) -> [Extent] {
        let off = raid.dataOffset
        switch raid.level {
        case 0:
            return stripedDown(rel: rel, length: length, chunk: raid.chunkSectors, count: raid.raidDisks) { (raidDataSlot[$0], off) }
        case 1:
            return [Extent(start: target.start + rel, length: length, kind: .data, redundancy: .copies,
                           locations: raidDataSlot.map { Location(slot: $0, start: off + rel, role: .data) })]
        case 10:
            let g = raid10!
            var out: [Extent] = []
            var s = rel
            let end = rel + length
            while s < end {
                let len = min(g.chunkSectors - s % g.chunkSectors, end - s)
                let locations = g.copies(of: s).map { Location(slot: raidDataSlot[$0.disk], start: off + $0.sector, role: .data) }
                out.append(Extent(start: target.start + s, length: len, kind: .data, redundancy: .copies, locations: locations))
                s += len
            }
            return out
        default:
            var out: [Extent] = []
            var s = rel
            let end = rel + length
            let chunk = raid.chunkSectors
            let dataDisks = UInt64(raid.raidDisks - raid.parityDevices)
            while s < end {
                let chunkNumber = s / chunk, offset = s % chunk
                let len = min(chunk - offset, end - s)
                let p = RaidGeometry.parityPlacement(level: raid.level, algorithm: raid.algorithm, raidDisks: raid.raidDisks, chunkNumber: chunkNumber)
                let deviceSector = off + (chunkNumber / dataDisks) * chunk + offset
                var locations = [Location(slot: raidDataSlot[p.dataDisk], start: deviceSector, role: .data)]
                for leg in 0..<raid.raidDisks where leg != p.dataDisk {
                    let role: Location.Role = (leg == p.pDisk || leg == p.qDisk) ? .parity : .peer
                    locations.append(Location(slot: raidDataSlot[leg], start: deviceSector, role: role))
                }
                out.append(Extent(start: target.start + s, length: len, kind: .data, redundancy: .parity(tolerated: raid.parityDevices), locations: locations))
                s += len
            }
            return out
        }
    }

    /// Splits `[rel, rel+length)` into blocks of `block` sectors and maps each through `map`,
    /// merging neighbours that map the same way.
    func blockwise(rel: UInt64, length: UInt64, block: UInt64, map: (UInt64) -> Extent) -> [Extent] {
        var out: [Extent] = []
        var s = rel
        let end = rel + length
        while s < end {
            let b = s / block, offset = s % block
            let len = min(block - offset, end - s)
            var e = map(b)
            e.start = target.start + s
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

    func snapshotDown(_ s: SnapshotTarget, rel: UInt64, length: UInt64) -> [Extent] {
        guard let store = snapshotStore else {
            return [unknownExtent(SectorRange(start: target.start + rel, length: length), "snapshot \(deviceName): exception store not given (read it from the COW device)")]
        }
        guard store.valid else {
            return [unknownExtent(SectorRange(start: target.start + rel, length: length), "snapshot \(deviceName) is invalidated (its COW header says so): the kernel fails all its I/O")]
        }
        let cs = store.chunkSectors
        // dm-snap.c snapshot_map: a chunk with an exception is read from the COW device at
        // new_chunk * chunk_size; any other chunk from the origin at the same sector.
        return blockwise(rel: rel, length: length, block: cs) { chunk in
            if let cow = store.cowChunk(forOrigin: chunk) {
                return Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [Location(slot: 1, start: cow * cs, role: .data)])
            }
            return Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [Location(slot: 0, start: chunk * cs, role: .data)])
        }
    }

    func thinDown(rel: UInt64, length: UInt64) -> [Extent] {
        guard case .thin(let t) = target.kind, let pool = thin, let runs = pool.devices[t.deviceID] else {
            return [unknownExtent(SectorRange(start: target.start + rel, length: length), "thin device \(deviceName): pool mapping not given (thin_dump of its pool)")]
        }
        let bs = pool.dataBlockSectors
        return blockwise(rel: rel, length: length, block: bs) { block in
            if let run = overlappingRuns(runs, key: \.from, first: block, count: 1).first {
                return Extent(start: 0, length: 0, kind: .data, redundancy: .single,
                              locations: [Location(slot: 0, start: (run.to + block - run.from) * bs, role: .data)])
            }
            // An unprovisioned block reads from the external origin if there is one, otherwise
            // as zeros from no device (dm-thin.c process_bio / provision_block).
            if t.externalOrigin != nil {
                return Extent(start: 0, length: 0, kind: .data, redundancy: .single,
                              locations: [Location(slot: 1, start: block * bs, role: .data)], reason: "external origin")
            }
            return Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [], reason: "unprovisioned: reads zeros from no device")
        }
    }

    func cacheDown(_ c: CacheTarget, rel: UInt64, length: UInt64) -> [Extent] {
        guard let m = cache else {
            return [unknownExtent(SectorRange(start: target.start + rel, length: length), "cache \(deviceName): cache mapping not given (cache_dump of its metadata)")]
        }
        let bs = m.blockSectors
        return blockwise(rel: rel, length: length, block: bs) { block in
            let origin = Location(slot: 2, start: block * bs, role: .data)
            guard let e = m.entry(forOriginBlock: block) else {
                return Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [origin])
            }
            let cached = Location(slot: 1, start: e.cacheBlock * bs, role: .data)
            // A dirty block's only current copy is on the cache device (dm-cache writeback).
            return e.dirty
                ? Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [cached], reason: "dirty in cache")
                : Extent(start: 0, length: 0, kind: .data, redundancy: .copies, locations: [origin, cached])
        }
    }

    func writecacheDown(_ w: WritecacheTarget, rel: UInt64, length: UInt64) -> [Extent] {
        guard let m = writecache else {
            return [unknownExtent(SectorRange(start: target.start + rel, length: length), "writecache \(deviceName): metadata not given (read it from the cache device)")]
        }
        let bs = m.blockSectors
        let dataStart = w.startSector + m.metadataSectors
        return blockwise(rel: rel, length: length, block: bs) { block in
            if let cb = m.cacheBlock(forOriginBlock: block) {
                // Committed writecache blocks are not yet written back: the cache holds the only
                // current copy (dm-writecache.c frees an entry when its writeback completes).
                return Extent(start: 0, length: 0, kind: .data, redundancy: .single,
                              locations: [Location(slot: 1, start: dataStart + cb * bs, role: .data)], reason: "dirty in writecache")
            }
            return Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [Location(slot: 0, start: block * bs, role: .data)])
        }
    }
}
