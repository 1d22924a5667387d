/// dm-integrity.c `dm_integrity_ctr`: `<dev> <start> <tag size|-> <mode> <#opt> <opts>`.
/// Data and tags interleave on the device in areas its superblock describes.
public struct IntegrityTarget: TargetType {
    public var device: String
    public var start: UInt64
    public var tagSize: String
    /// `J` journal, `B` bitmap, `D` direct, `R` recovery, `I` inline.
    public var mode: String
    /// The optional argument words, nil without a count.
    public var options: [String]?

    /// `meta_device:<dev>`: tags on a separate device.
    public var metaDevice: String? {
        options?.last { $0.hasPrefix("meta_device:") }.map { String($0.dropFirst("meta_device:".count)) }
    }

    public static let names = ["integrity"]
    public var typeName: String { "integrity" }
    public static var effect: LayerEffect { .dynamic }
    public static var dynamicMetadata: DynamicMetadataKind? { .integritySuperblock }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> IntegrityTarget {
        let d = try p.device("device"); let s = try p.number("start")
        let tag = try p.word("tag size"); let mode = try p.word("mode")
        var options: [String]?
        if p.remaining > 0 {
            let n = try p.count("optional argument count")
            var words: [String] = []
            for _ in 0..<n { words.append(try p.word("optional argument")) }
            options = words
        }
        try p.noMore()
        return IntegrityTarget(device: d, start: s, tagSize: tag, mode: mode, options: options)
    }

    public var tableArguments: [String] {
        [device, "\(start)", tagSize, mode] + (options.map { ["\($0.count)"] + $0 } ?? [])
    }
    public var members: [MemberDevice] {
        [MemberDevice(device: device, offset: start)] + (metaDevice.map { [MemberDevice(device: $0, role: .metadata)] } ?? [])
    }

    /// The key part of `internal_hash:`, `journal_crypt:` and `journal_mac:` (`alg:key`).
    public static func maskSecrets(_ arguments: inout [String]) {
        for i in arguments.indices {
            for prefix in ["internal_hash:", "journal_crypt:", "journal_mac:"] where arguments[i].hasPrefix(prefix) {
                let parts = arguments[i].dropFirst(prefix.count).split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                if parts.count == 2 { arguments[i] = prefix + parts[0] + ":" + TableSecrets.hidden(parts[1]) }
            }
        }
    }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        // A separate metadata device or inline mode keep no interleaved tags.
        let geometry = metaDevice == nil && mode != "I" ? mappings.integrity[frame.deviceName] : nil
        return IntegrityMapper(frame: frame, start: start, geometry: geometry)
    }
}

struct IntegrityMapper: TargetMapper {
    let frame: MapFrame
    let start: UInt64
    let geometry: IntegrityGeometry?
    /// Why a given superblock does not describe this table: dm-integrity.c `dm_integrity_ctr`
    /// refuses a table longer than the superblock's provided_data_sectors ("Not enough
    /// provided sectors for requested mapping size"), so such a pair is not what the kernel
    /// maps, and the layout arithmetic would run past what `IntegrityGeometry.read` checked.
    let mismatch: String?

    init(frame: MapFrame, start: UInt64, geometry: IntegrityGeometry?) {
        self.frame = frame
        self.start = start
        if let g = geometry, frame.length > g.providedDataSectors {
            self.geometry = nil
            mismatch = "integrity \(frame.deviceName): its table is \(frame.length) sectors but the superblock provides \(g.providedDataSectors) (the kernel refuses such a table)"
        } else {
            self.geometry = geometry
            mismatch = nil
        }
    }

    /// Superblock and journal, then every area's tags and data up to the last sector.
    func footprint(slot: Int) -> UInt64? {
        guard slot == 0, let g = geometry else { return nil }
        return g.dataSector(frame.length - 1) + 1
    }

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        guard let g = geometry else {
            if let mismatch { return [frame.unknownExtent(r, mismatch)] }
            return [frame.unknownExtent(r, "integrity \(frame.deviceName): \(frame.missing("data and tag interleaving come from its superblock; not given (or a separate metadata device / inline mode, not supported)"))")]
        }
        // Data runs are linear within an area; each area starts after its tag run.
        var out: [Extent] = []
        var s = rel
        let end = rel + r.length
        while s < end {
            // One extent per area (no period: each area is preceded by its tags): bounded as
            // PieceBudget bounds a query, the rest one unknown piece saying so.
            if out.count >= PieceBudget.defaultLimit {
                out.append(frame.unknownExtent(SectorRange(start: frame.start + s, end: frame.start + end), PieceBudget().reason))
                break
            }
            let len = min(g.interleaveSectors - s % g.interleaveSectors, end - s)
            out.append(Extent(start: frame.start + s, length: len, kind: .data, redundancy: .single,
                              locations: [Location(slot: 0, start: start + g.dataSector(s), role: .data)]))
            s += len
        }
        return out
    }

    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        guard slot == 0, let g = geometry else {
            if slot == 0, let mismatch { return [frame.unknownExtent(frame.wholeTarget, mismatch)] }
            return [frame.unknownExtent(frame.wholeTarget, "integrity \(frame.deviceName): \(frame.missing("data and tag interleaving come from its superblock; not given"))")]
        }
        return integrityUp(g, range)
    }

    /// dm-integrity.c get_data_sector inverted: a device range → the logical sectors whose data
    /// it holds; a hit on an area's tags makes that area's data unreadable (its checksums are
    /// gone), a hit on the superblock or journal affects the whole device.
    func integrityUp(_ g: IntegrityGeometry, _ range: SectorRange) -> [Extent] {
        var out: [Extent] = []
        let length = frame.length
        let areaSectors = g.interleaveSectors + g.metadataRun
        let base = start + g.initialSectors
        if range.start < base && range.end > start {
            out.append(frame.unknownExtent(frame.wholeTarget, "integrity \(frame.deviceName): superblock or journal hit"))
        }
        var p = max(range.start, base)
        while p < range.end {
            let area = (p - base) / areaSectors, within = (p - base) % areaSectors
            let areaStart = area * g.interleaveSectors
            guard areaStart < length else { break }
            if out.count >= PieceBudget.defaultLimit {
                out.append(frame.unknownExtent(SectorRange(start: frame.start + areaStart, end: frame.start + length), PieceBudget().reason))
                break
            }
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
                let hi = min(areaStart + endBlock * spb, areaStart + g.interleaveSectors, length)
                if lo < hi {
                    out.append(Extent(start: frame.start + lo, length: hi - lo, kind: .data, redundancy: .single,
                                      locations: [Location(slot: 0, start: p, role: .data, span: len)],
                                      reason: "integrity tags hit: these blocks fail their checksums"))
                }
                p += len
            } else {
                let offset = within - g.metadataRun
                let len = min(g.interleaveSectors - offset, range.end - p)
                let logical = areaStart + offset
                guard logical < length else { break }
                out.append(contentsOf: down(SectorRange(start: frame.start + logical, length: min(len, length - logical))))
                p += len
            }
        }
        return out
    }
}
