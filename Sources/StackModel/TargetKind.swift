/// The parsed arguments of every dm target dmstack understands, following each target's
/// constructor (`*_ctr` in drivers/md/dm-*.c) and Documentation/admin-guide/device-mapper/.
public enum TargetKind: Hashable, Sendable {
    /// dm-linear.c: `<dev> <offset>`.
    case linear(device: String, offset: UInt64)
    /// dm-stripe.c: `<#stripes> <chunk sectors> (<dev> <offset>)+`.
    case striped(StripedTarget)
    /// dm-raid1.c: every leg holds every sector at its own offset.
    case mirror(MirrorTarget)
    /// dm-raid.c over md raid0/1/4/5/6/10.
    case raid(RaidTarget)
    /// dm-crypt.c: `<cipher> <key> <iv_offset> <dev> <offset> [<#opt> <opt>...]`.
    case crypt(cipher: String, device: String, offset: UInt64)
    /// dm-delay.c: reads, writes (and flushes) may go to different devices.
    case delay(paths: [MemberDevice])
    /// dm-flakey.c: `<dev> <offset> <up> <down> [<#features> ...]`.
    case flakey(device: String, offset: UInt64)
    /// dm-zero.c and the error target: no member device.
    case zero
    case error
    /// dm-mpath.c: every path reaches the same sectors.
    case multipath(MultipathTarget)
    /// dm-snap.c `origin_ctr`: `<origin>`.
    case snapshotOrigin(origin: String)
    /// dm-snap.c `snapshot_ctr`: `<origin> <cow> <P|N|PO> <chunk>`; also snapshot-merge.
    case snapshot(SnapshotTarget)
    /// dm-thin.c `pool_ctr`: `<metadata> <data> <block sectors> <low water> [features]`.
    case thinPool(ThinPoolTarget)
    /// dm-thin.c `thin_ctr`: `<pool> <dev id> [<external origin>]`.
    case thin(ThinTarget)
    /// dm-cache-target.c `cache_ctr`.
    case cache(CacheTarget)
    /// dm-writecache.c `writecache_ctr`.
    case writecache(WritecacheTarget)
    /// dm-integrity.c `dm_integrity_ctr`.
    case integrity(IntegrityTarget)
    /// A partition: `<parent> <start>`, a fixed window on its parent disk. Not a dm target;
    /// dmstack writes partitions in this form so a whole stack is one table set.
    case partition(parent: String, start: UInt64)
    /// A target dmstack does not know: its devices are still known, its mapping is not.
    case opaque(name: String, devices: [String])

    public var typeName: String {
        switch self {
        case .linear: "linear"
        case .striped: "striped"
        case .mirror: "mirror"
        case .raid: "raid"
        case .crypt: "crypt"
        case .delay: "delay"
        case .flakey: "flakey"
        case .zero: "zero"
        case .error: "error"
        case .multipath: "multipath"
        case .snapshotOrigin: "snapshot-origin"
        case .snapshot(let s): s.merging ? "snapshot-merge" : "snapshot"
        case .thinPool: "thin-pool"
        case .thin: "thin"
        case .cache: "cache"
        case .writecache: "writecache"
        case .integrity: "integrity"
        case .partition: "partition"
        case .opaque(let name, _): name
        }
    }

    /// Every member device with its role and the offset where the target's part begins.
    public var members: [MemberDevice] {
        switch self {
        case .linear(let d, let o): [MemberDevice(device: d, offset: o)]
        case .striped(let s): s.stripes
        case .mirror(let m): m.legs + (m.logDevice.map { [MemberDevice(device: $0, role: .log)] } ?? [])
        case .raid(let r):
            r.legs.flatMap { leg in
                (leg.metadata.map { [MemberDevice(device: $0, role: .metadata)] } ?? [])
                    + (leg.data.map { [MemberDevice(device: $0, offset: r.dataOffset)] } ?? [])
            } + (r.journalDevice.map { [MemberDevice(device: $0, role: .journal)] } ?? [])
        case .crypt(_, let d, let o): [MemberDevice(device: d, offset: o)]
        case .delay(let p): p
        case .flakey(let d, let o): [MemberDevice(device: d, offset: o)]
        case .zero, .error: []
        case .multipath(let m): m.paths.map { MemberDevice(device: $0, role: .path) }
        case .snapshotOrigin(let o): [MemberDevice(device: o, role: .origin)]
        case .snapshot(let s): [MemberDevice(device: s.origin, role: .origin), MemberDevice(device: s.cow, role: .cow)]
        case .thinPool(let p): [MemberDevice(device: p.metadata, role: .metadata), MemberDevice(device: p.data)]
        case .thin(let t): [MemberDevice(device: t.pool, role: .pool)]
            + (t.externalOrigin.map { [MemberDevice(device: $0, role: .origin)] } ?? [])
        case .cache(let c): [MemberDevice(device: c.metadata, role: .metadata),
                             MemberDevice(device: c.cache, role: .cache),
                             MemberDevice(device: c.origin, role: .origin)]
        case .writecache(let w): [MemberDevice(device: w.origin, role: .origin),
                                  MemberDevice(device: w.cache, role: .cache)]
        case .integrity(let i): [MemberDevice(device: i.device, offset: i.start)]
            + (i.metaDevice.map { [MemberDevice(device: $0, role: .metadata)] } ?? [])
        case .partition(let p, let s): [MemberDevice(device: p, offset: s)]
        case .opaque(_, let devices): devices.map { MemberDevice(device: $0) }
        }
    }
}

/// dm-stripe.c: data is dealt round-robin in chunks of `chunkSectors` over the stripes.
public struct StripedTarget: Hashable, Sendable {
    public var chunkSectors: UInt64
    public var stripes: [MemberDevice]
}

/// dm-raid1.c: `<log type> <#log args> <log args> <#legs> (<dev> <offset>)+ [<#features> ...]`.
public struct MirrorTarget: Hashable, Sendable {
    public var logType: String
    public var logDevice: String?
    public var legs: [MemberDevice]
}

/// dm-mpath.c: priority groups of paths; every path reaches the whole device.
public struct MultipathTarget: Hashable, Sendable {
    public var paths: [String]
    public var groupCount: Int
}

/// dm-snap.c: a snapshot reads a chunk from the COW device when it has an exception for it,
/// otherwise from the origin.
public struct SnapshotTarget: Hashable, Sendable {
    public var origin: String
    public var cow: String
    public var persistent: Bool
    public var chunkSectors: UInt64
    public var merging: Bool
}

/// dm-thin.c pool: the pool device remaps every bio 1:1 to the data device (`pool_map`).
public struct ThinPoolTarget: Hashable, Sendable {
    public var metadata: String
    public var data: String
    public var blockSectors: UInt64
}

/// dm-thin.c thin device: blocks of `dev id` live where the pool metadata says.
public struct ThinTarget: Hashable, Sendable {
    public var pool: String
    public var deviceID: UInt64
    public var externalOrigin: String?
}

/// dm-cache-target.c: `<metadata> <cache> <origin> <block sectors> <#features> ... <policy> ...`.
public struct CacheTarget: Hashable, Sendable {
    public var metadata: String
    public var cache: String
    public var origin: String
    public var blockSectors: UInt64
    public var writeback: Bool
    public var policy: String
}

/// dm-writecache.c: `<p|s> <origin> <cache> <block bytes> <#opt> ...`.
public struct WritecacheTarget: Hashable, Sendable {
    public var persistentMemory: Bool
    public var origin: String
    public var cache: String
    public var blockBytes: UInt64
    /// `start_sector`: where the writecache superblock begins on the cache device.
    public var startSector: UInt64
}

/// dm-integrity.c: `<dev> <start> <tag size|-> <mode> <#opt> ...`.
public struct IntegrityTarget: Hashable, Sendable {
    public var device: String
    public var start: UInt64
    public var mode: String
    public var metaDevice: String?
}
