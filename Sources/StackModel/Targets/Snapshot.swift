/// dm-snap.c `snapshot_ctr`: `<origin> <cow> <P|N|PO> <chunk> [<#features> <features>]`, also
/// `snapshot-merge`. A snapshot reads a chunk from the COW device when it has an exception for
/// it, otherwise from the origin.
public struct SnapshotTarget: TargetType {
    public var origin: String
    public var cow: String
    /// The persistence word as written (`P`, `N`, `PO`).
    public var persistence: String
    public var chunkSectors: UInt64
    public var merging: Bool
    /// Feature words (`discard_zeroes_cow`, `discard_passdown_origin`), nil without a count.
    public var features: [String]?

    public var persistent: Bool { persistence.uppercased().hasPrefix("P") }

    /// Why the exception store cannot be read from the COW device, nil when it can: a
    /// transient store (`N`) writes no metadata there; its exceptions live only in kernel
    /// memory (drivers/md/dm-snap-transient.c keeps no on-disk state;
    /// Documentation/admin-guide/device-mapper/snapshot.rst: "N (Not persistent)").
    public var unreadableStore: String? {
        persistent ? nil : "transient snapshot (N): its exceptions live only in kernel memory (dm-snap-transient.c writes no metadata to the COW device), so which chunks the COW device holds cannot be read"
    }

    public static let names = ["snapshot", "snapshot-merge"]
    public var typeName: String { merging ? "snapshot-merge" : "snapshot" }
    public static var effect: LayerEffect { .dynamic }
    public static var dynamicMetadata: DynamicMetadataKind? { .snapshotStore }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> SnapshotTarget {
        let o = try p.device("origin"); let c = try p.device("COW device")
        let persistence = try p.word("persistent flag")
        guard ["P", "N", "PO", "p", "n"].contains(persistence) else { throw p.fail("persistent flag", "expected P, N or PO, got '\(persistence)'") }
        let chunk = try p.number("chunk size", positive: true)
        var features: [String]?
        if p.remaining > 0 { let n = try p.count("feature count"); features = try p.words(n, "features") }
        try p.noMore()
        return SnapshotTarget(origin: o, cow: c, persistence: persistence, chunkSectors: chunk,
                              merging: p.typeName == "snapshot-merge", features: features)
    }

    public var tableArguments: [String] {
        [origin, cow, persistence, "\(chunkSectors)"] + (features.map { ["\($0.count)"] + $0 } ?? [])
    }
    public var members: [MemberDevice] { [MemberDevice(device: origin, role: .origin), MemberDevice(device: cow, role: .cow)] }
    public func summary(segments: Int) -> String { "\(typeName) \(SectorFormat.size(chunkSectors)) chunks" }

    /// dm-snap.c snapshot_status: `Invalid` once the exception store failed.
    public static func health(status: [String]) -> TargetHealth {
        TargetHealth(states: status.first == "Invalid" ? ["invalid"] : [])
    }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        SnapshotMapper(frame: frame, store: mappings.snapshots[frame.deviceName])
    }
}

struct SnapshotMapper: TargetMapper {
    let frame: MapFrame
    let store: SnapshotExceptionStore?
    /// Exceptions by COW chunk, for the way up.
    let reverse: [BlockRun]

    init(frame: MapFrame, store: SnapshotExceptionStore?) {
        self.frame = frame
        self.store = store
        reverse = (store?.exceptions ?? []).sorted { $0.to < $1.to }
    }

    func footprint(slot: Int) -> UInt64? { nil }

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        guard let store else {
            return [frame.unknownExtent(r, "snapshot \(frame.deviceName): \(frame.missing("exception store not given (read it from the COW device)"))")]
        }
        guard store.valid else {
            return [frame.unknownExtent(r, "snapshot \(frame.deviceName) is invalidated (its COW header says so): the kernel fails all its I/O")]
        }
        let cs = store.chunkSectors
        // dm-snap.c snapshot_map: a chunk with an exception is read from the COW device at
        // new_chunk * chunk_size; any other chunk from the origin at the same sector.
        return frame.blockwise(rel: rel, length: r.length, block: cs) { chunk in
            if let cow = store.cowChunk(forOrigin: chunk) {
                return (Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [Location(slot: 1, start: cow * cs, role: .data)]), 1)
            }
            return (Extent(start: 0, length: 0, kind: .data, redundancy: .single, locations: [Location(slot: 0, start: chunk * cs, role: .data)]),
                    blocksBeforeNextRun(store.exceptions, key: \.from, from: chunk))
        }
    }

    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        guard let store else {
            return [frame.unknownExtent(frame.wholeTarget, "snapshot \(frame.deviceName): \(frame.missing("exception store not given")); \(frame.members[slot].role.rawValue) \(frame.members[slot].device) hit")]
        }
        guard store.valid else {
            return [frame.unknownExtent(frame.wholeTarget, "snapshot \(frame.deviceName) is invalidated (its COW header says so): the kernel fails all its I/O")]
        }
        let cs = store.chunkSectors
        if slot == 0 {
            // Origin chunks without an exception are read from the origin.
            guard let d = frame.identityUp(offset: 0, range) else { return [] }
            return down(d).filter { $0.locations.first?.slot == 0 }
        }
        var out: [Extent] = []
        let firstChunk = range.start / cs, lastChunk = (range.end - 1) / cs
        if store.metadataChunks.contains(where: { $0 >= firstChunk && $0 <= lastChunk }) {
            out.append(frame.unknownExtent(frame.wholeTarget, "snapshot \(frame.deviceName): COW metadata hit; dm-snap invalidates the snapshot on a metadata I/O error"))
        }
        out += frame.reverseRuns(reverse, block: cs, runLength: { _ in 1 }, range: range, down: { down($0) })
        return out
    }
}

/// `{type: snapshot, origin: A, cow: B, chunk: 4K, persistent: true}`.
public struct SnapshotSpec: SpecTarget {
    public var origin: MemberSpec
    public var cow: MemberSpec
    public var chunk: UInt64
    public var persistent: Bool
    public static let specNames = ["snapshot"]
    public var references: [MemberSpec] { [origin, cow] }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> SnapshotSpec {
        let o = try d.member("origin"), c = try d.member("cow")
        // dm-exception-store.c set_chunk_size: a power of two, at least a page.
        let chunk = try d.positive("chunk", default: 8)
        try d.powerOfTwo("chunk", chunk)
        let persistent = try d.map.bool("persistent") ?? true
        return SnapshotSpec(origin: o, cow: c, chunk: chunk, persistent: persistent)
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        let ro = try p.member(origin), rc = try p.member(cow)
        try p.use(ro, origin, ro.available, shared: true)
        try p.use(rc, cow, rc.available)
        return [PlannedTarget(length: ro.available, target: SnapshotTarget(origin: ro.word, cow: rc.word, persistence: persistent ? "P" : "N",
                                                                           chunkSectors: chunk, merging: false, features: nil))]
    }
}
