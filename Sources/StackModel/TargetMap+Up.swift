extension TargetMap {
    // MARK: - Up: a range of one member → the extents of this device it backs

    /// The extents of this device backed by `range` of member `slot` (member sectors), each
    /// clipped to that part and carrying every location, so redundancy can be judged.
    public func up(slot: Int, _ range: SectorRange) -> [Extent] {
        let t = target
        guard slot >= 0, slot < members.count else { return [] }
        if let (s, o) = identitySlot, s == slot {
            guard let d = identityUp(offset: o, range) else { return [] }
            return down(d)
        }
        switch t.kind {
        case .delay(let paths):
            guard let d = identityUp(offset: paths[slot].offset, range) else { return [] }
            return down(d).filter { $0.locations.first?.slot == slot }
        case .mirror(let m):
            if slot >= m.legs.count {
                return [unknownExtent(wholeTarget, "mirror \(deviceName): log device \(members[slot].device) hit; dm-raid1 stops recording region state")]
            }
            guard let d = identityUp(offset: m.legs[slot].offset, range) else { return [] }
            return down(d)
        case .multipath:
            guard let d = identityUp(offset: 0, range) else { return [] }
            return down(d)
        case .striped(let s):
            return stripedUp(stripe: slot, offset: s.stripes[slot].offset, range: range, chunk: s.chunkSectors, count: s.stripes.count)
        case .raid(let raid):
            return raidUp(raid, slot: slot, range: range)
        case .snapshot:
            return snapshotUp(slot: slot, range)
        case .thin(let th):
            return thinUp(th, slot: slot, range)
        case .thinPool:
            // slot 0: the pool metadata; every thin volume's mapping depends on it.
            return [unknownExtent(wholeTarget, "thin-pool \(deviceName): metadata device hit; the pool's mappings depend on it")]
        case .cache:
            return cacheUp(slot: slot, range)
        case .writecache(let w):
            return writecacheUp(w, slot: slot, range)
        case .integrity(let i):
            guard slot == 0, let g = integrity else {
                return [unknownExtent(wholeTarget, "integrity \(deviceName): data and tag interleaving come from its superblock; not given")]
            }
            return integrityUp(g, start: i.start, range)
        case .opaque(let name, _):
            return [unknownExtent(wholeTarget, "unknown target type '\(name)' over \(members[slot].device)")]
        default:
            return []
        }
    }

    /// The device range a 1:1 member range maps to, clipped to the target.
    @inline(__always)
    func identityUp(offset: UInt64, _ range: SectorRange) -> SectorRange? {
        let lo = max(range.start, offset)
        let hi = min(range.end, offset &+ target.length)
        guard lo < hi else { return nil }
        return SectorRange(start: target.start + (lo - offset), length: hi - lo)
    }

    /// dm-stripe.c `stripe_map_sector` inverted: member sector → row, chunk offset → array chunk.
    func stripedUp(stripe: Int, offset: UInt64, range: SectorRange, chunk: UInt64, count: Int) -> [Extent] {
        let perStripe = target.length / UInt64(count)
        let lo = max(range.start, offset), hi = min(range.end, offset &+ perStripe)
        guard lo < hi else { return [] }
        var out: [Extent] = []
        var r = lo - offset
        let end = hi - offset
        while r < end {
            let row = r / chunk, off = r % chunk
            let len = min(chunk - off, end - r)
            let arraySector = (row * UInt64(count) + UInt64(stripe)) * chunk + off
            out.append(contentsOf: down(SectorRange(start: target.start + arraySector, length: len)))
            r += len
        }
        return out
    }

    func raidUp(_ raid: RaidTarget, slot: Int, range: SectorRange) -> [Extent] {
        let leg = raidLegOfSlot[slot]
        guard leg >= 0 else {
            return [unknownExtent(wholeTarget, "raid \(deviceName): journal device hit")]
        }
        let devSectors = raidDeviceSectors(raid)
        if members[slot].role == .metadata {
            // dm-raid fails a leg whose metadata device fails: as if its whole data device went.
            let dataSlot = raidDataSlot[leg]
            guard dataSlot >= 0 else { return [] }
            return raidUp(raid, slot: dataSlot, range: SectorRange(start: raid.dataOffset, length: devSectors))
        }
        let off = raid.dataOffset
        let lo = max(range.start, off), hi = min(range.end, off &+ devSectors)
        guard lo < hi else { return [] }
        switch raid.level {
        case 0:
            return stripedUp(stripe: leg, offset: off, range: range, chunk: raid.chunkSectors, count: raid.raidDisks)
        case 1:
            return down(SectorRange(start: target.start + (lo - off), length: hi - lo))
        case 10:
            let g = raid10!
            var out: [Extent] = []
            var d = lo - off
            let end = hi - off
            while d < end {
                let len = min(g.chunkSectors - d % g.chunkSectors, end - d)
                let a = g.arraySector(disk: leg, sector: d)
                if a < target.length {
                    out.append(contentsOf: down(SectorRange(start: target.start + a, length: min(len, target.length - a))))
                }
                d += len
            }
            return out
        default:
            var out: [Extent] = []
            let chunk = raid.chunkSectors
            let dataDisks = UInt64(raid.raidDisks - raid.parityDevices)
            var d = lo - off
            let end = hi - off
            while d < end {
                let stripe = d / chunk, offset = d % chunk
                let len = min(chunk - offset, end - d)
                var isParity = false
                for k in 0..<dataDisks {
                    let chunkNumber = stripe * dataDisks + k
                    let p = RaidGeometry.parityPlacement(level: raid.level, algorithm: raid.algorithm, raidDisks: raid.raidDisks, chunkNumber: chunkNumber)
                    if p.dataDisk == leg {
                        out.append(contentsOf: down(SectorRange(start: target.start + chunkNumber * chunk + offset, length: len)))
                        break
                    }
                    if p.pDisk == leg || p.qDisk == leg {
                        isParity = true
                        break
                    }
                }
                if isParity {
                    // The parity chunk protects the same offsets of every data chunk in its row.
                    for k in 0..<dataDisks {
                        for var e in down(SectorRange(start: target.start + (stripe * dataDisks + k) * chunk + offset, length: len)) {
                            e.kind = .parity
                            out.append(e)
                        }
                    }
                }
                d += len
            }
            return out
        }
    }

    func snapshotUp(slot: Int, _ range: SectorRange) -> [Extent] {
        guard let store = snapshotStore else {
            return [unknownExtent(wholeTarget, "snapshot \(deviceName): exception store not given; \(members[slot].role.rawValue) \(members[slot].device) hit")]
        }
        guard store.valid else {
            return [unknownExtent(wholeTarget, "snapshot \(deviceName) is invalidated (its COW header says so): the kernel fails all its I/O")]
        }
        let cs = store.chunkSectors
        var out: [Extent] = []
        if slot == 0 {
            // Origin chunks without an exception are read from the origin.
            guard let d = identityUp(offset: 0, range) else { return [] }
            for e in down(d) where e.locations.first?.slot == 0 { out.append(e) }
            return out
        }
        let firstChunk = range.start / cs, lastChunk = (range.end - 1) / cs
        if store.metadataChunks.contains(where: { $0 >= firstChunk && $0 <= lastChunk }) {
            out.append(unknownExtent(wholeTarget, "snapshot \(deviceName): COW metadata hit; dm-snap invalidates the snapshot on a metadata I/O error"))
        }
        for run in overlappingRuns(snapshotReverse, key: \.to, first: firstChunk, count: lastChunk - firstChunk + 1) {
            let cowRange = SectorRange(start: run.to * cs, length: cs)
            guard let part = cowRange.intersection(range) else { continue }
            let origin = run.from * cs + (part.start - cowRange.start)
            guard origin < target.length else { continue }
            out.append(contentsOf: down(SectorRange(start: target.start + origin, length: min(part.length, target.length - origin))))
        }
        return out
    }

    func thinUp(_ th: ThinTarget, slot: Int, _ range: SectorRange) -> [Extent] {
        guard let pool = thin, pool.devices[th.deviceID] != nil else {
            return [unknownExtent(wholeTarget, "thin device \(deviceName): pool mapping not given (thin_dump of its pool); pool range \(range) may back any of its blocks")]
        }
        let bs = pool.dataBlockSectors
        var out: [Extent] = []
        if slot == 1 {
            // External origin: read where the thin device has no block of its own.
            guard let d = identityUp(offset: 0, range) else { return [] }
            return down(d).filter { $0.locations.first?.slot == 1 }
        }
        let first = range.start / bs, last = (range.end - 1) / bs
        for run in overlappingRuns(thinReverse, key: \.to, first: first, count: last - first + 1) {
            let poolRange = SectorRange(start: run.to * bs, length: run.length * bs)
            guard let part = poolRange.intersection(range) else { continue }
            let thinSector = run.from * bs + (part.start - poolRange.start)
            guard thinSector < target.length else { continue }
            out.append(contentsOf: down(SectorRange(start: target.start + thinSector, length: min(part.length, target.length - thinSector))))
        }
        return out
    }

    func cacheUp(slot: Int, _ range: SectorRange) -> [Extent] {
        if slot == 0 {
            return [unknownExtent(wholeTarget, "cache \(deviceName): metadata device hit")]
        }
        guard let m = cache else {
            if slot == 2, let d = identityUp(offset: 0, range) {
                return [unknownExtent(d, "cache \(deviceName): origin range may be cached; cache mapping not given")]
            }
            return [unknownExtent(wholeTarget, "cache \(deviceName): cache device hit; cache mapping not given")]
        }
        let bs = m.blockSectors
        if slot == 2 {
            guard let d = identityUp(offset: 0, range) else { return [] }
            return down(d).filter { $0.locations.contains { $0.slot == 2 } }
        }
        var out: [Extent] = []
        let first = range.start / bs, last = (range.end - 1) / bs
        for e in overlappingRuns(cacheReverse, key: \.to, first: first, count: last - first + 1) {
            let cacheRange = SectorRange(start: e.to * bs, length: bs)
            guard let part = cacheRange.intersection(range) else { continue }
            let origin = e.from * bs + (part.start - cacheRange.start)
            guard origin < target.length else { continue }
            out.append(contentsOf: down(SectorRange(start: target.start + origin, length: min(part.length, target.length - origin))))
        }
        return out
    }

    func writecacheUp(_ w: WritecacheTarget, slot: Int, _ range: SectorRange) -> [Extent] {
        guard let m = writecache else {
            if slot == 0, let d = identityUp(offset: 0, range) {
                return [unknownExtent(d, "writecache \(deviceName): origin range may be superseded by cached blocks; metadata not given")]
            }
            return [unknownExtent(wholeTarget, "writecache \(deviceName): cache device hit; metadata not given")]
        }
        if slot == 0 {
            guard let d = identityUp(offset: 0, range) else { return [] }
            return down(d).filter { $0.locations.first?.slot == 0 }
        }
        let bs = m.blockSectors
        let dataStart = w.startSector + m.metadataSectors
        var out: [Extent] = []
        if range.start < dataStart && range.end > w.startSector {
            out.append(unknownExtent(wholeTarget, "writecache \(deviceName): metadata on the cache device hit"))
        }
        let lo = max(range.start, dataStart)
        guard lo < range.end else { return out }
        let first = (lo - dataStart) / bs, last = (range.end - 1 - dataStart) / bs
        for run in overlappingRuns(writecacheReverse, key: \.to, first: first, count: last - first + 1) {
            let cacheRange = SectorRange(start: dataStart + run.to * bs, length: bs)
            guard let part = cacheRange.intersection(range) else { continue }
            let origin = run.from * bs + (part.start - cacheRange.start)
            guard origin < target.length else { continue }
            out.append(contentsOf: down(SectorRange(start: target.start + origin, length: min(part.length, target.length - origin))))
        }
        return out
    }

    /// dm-integrity.c get_data_sector inverted: a device range → the logical sectors whose data
    /// it holds; a hit on an area's tags makes that area's data unreadable (its checksums are
    /// gone), a hit on the superblock or journal affects the whole device.
    func integrityUp(_ g: IntegrityGeometry, start: UInt64, _ range: SectorRange) -> [Extent] {
        var out: [Extent] = []
        let areaSectors = g.interleaveSectors + g.metadataRun
        let base = start + g.initialSectors
        if range.start < base && range.end > start {
            out.append(unknownExtent(wholeTarget, "integrity \(deviceName): superblock or journal hit"))
        }
        var p = max(range.start, base)
        while p < range.end {
            let area = (p - base) / areaSectors, within = (p - base) % areaSectors
            let areaStart = area * g.interleaveSectors
            guard areaStart < target.length else { break }
            if within < g.metadataRun {
                // Tags: tag sector k of an area holds the tags of blocks k*512/tag_size up to
                // ((k+1)*512-1)/tag_size (dm-integrity.c get_metadata_sector_and_offset); reads of
                // those blocks fail their check once the tags are gone.
                let len = min(g.metadataRun - within, range.end - p)
                let tagBytes = UInt64(g.tagSize)
                let firstBlock = within * 512 / tagBytes
                let endBlock = ((within + len) * 512 + tagBytes - 1) / tagBytes
                let spb = UInt64(1) << UInt64(g.log2SectorsPerBlock)
                let lo = areaStart + firstBlock * spb
                let hi = min(areaStart + endBlock * spb, areaStart + g.interleaveSectors, target.length)
                if lo < hi {
                    out.append(Extent(start: target.start + lo, length: hi - lo, kind: .data, redundancy: .single,
                                      locations: [Location(slot: 0, start: p, role: .data, span: len)],
                                      reason: "integrity tags hit: these blocks fail their checksums"))
                }
                p += len
            } else {
                let offset = within - g.metadataRun
                let len = min(g.interleaveSectors - offset, range.end - p)
                let logical = areaStart + offset
                guard logical < target.length else { break }
                out.append(contentsOf: down(SectorRange(start: target.start + logical, length: min(len, target.length - logical))))
                p += len
            }
        }
        return out
    }
}
