/// md raid5/6 layouts, with the numbers of drivers/md/raid5.h (`ALGORITHM_*`), as dm-raid.c's
/// `raid_types[]` table selects them by name.
public enum RaidAlgorithm: Int, Sendable, Hashable {
    case leftAsymmetric = 0, rightAsymmetric = 1, leftSymmetric = 2, rightSymmetric = 3
    case parity0 = 4, parityN = 5
    case rotatingZeroRestart = 8, rotatingNRestart = 9, rotatingNContinue = 10
    case leftAsymmetric6 = 16, rightAsymmetric6 = 17, leftSymmetric6 = 18, rightSymmetric6 = 19
    case parity0_6 = 20
}

/// raid10 copy placement (md raid10.c `setup_geo`, dm-raid.c `raid10_format_to_md_layout`).
public enum Raid10Format: String, Sendable, Hashable {
    case near, far, offset
}

/// dm-raid.c: `raid <type> <#params> <chunk> [params] <#devs> (<meta|-> <data|->)+`, md's
/// raid0/1/4/5/6/10 personalities under a dm target.
public struct RaidTarget: TargetType {
    /// One leg: its metadata device and data device, either of which may be absent (`-`).
    public struct Leg: Hashable, Sendable {
        public var metadata: String?
        public var data: String?
    }

    /// The dm-raid type name as written (`raid5_ls`, `raid10`, `raid6_zr`, ...).
    public var raidType: String
    /// md personality: 0, 1, 5 (raid4 and raid5), 6 or 10.
    public var level: Int
    public var algorithm: RaidAlgorithm
    /// Parity devices per stripe: 1 for raid4/5, 2 for raid6, 0 otherwise.
    public var parityDevices: Int
    public var chunkSectors: UInt64
    public var raid10Format: Raid10Format
    public var raid10Copies: Int
    /// `raid10_use_near_sets`: without it dm-raid sets RAID10_USE_FAR_SETS for far/offset.
    public var raid10UseNearSets: Bool
    /// `data_offset`: where data begins on every data device (0 unless given).
    public var dataOffset: UInt64
    public var journalDevice: String?
    public var legs: [Leg]
    /// The chunk size as the table gives it (raid1 ignores it) and the parameter words after
    /// it, in table order, so the table prints back as it was read.
    public var tableChunk: UInt64
    public var parameterWords: [String]

    public var raidDisks: Int { legs.count }
    /// dm-raid.c `raid_types[]`: name → (md level, parity devices, algorithm, raid10 format).
    static let types: [String: (level: Int, parity: Int, algorithm: RaidAlgorithm, format: Raid10Format?)] = [
        "raid0": (0, 0, .leftAsymmetric, nil),
        "raid1": (1, 0, .leftAsymmetric, nil),
        "raid10": (10, 0, .leftAsymmetric, .near),
        "raid10_near": (10, 0, .leftAsymmetric, .near),
        "raid10_far": (10, 0, .leftAsymmetric, .far),
        "raid10_offset": (10, 0, .leftAsymmetric, .offset),
        "raid4": (5, 1, .parity0, nil),
        "raid5_n": (5, 1, .parityN, nil),
        "raid5_ls": (5, 1, .leftSymmetric, nil),
        "raid5_rs": (5, 1, .rightSymmetric, nil),
        "raid5_la": (5, 1, .leftAsymmetric, nil),
        "raid5_ra": (5, 1, .rightAsymmetric, nil),
        "raid6_zr": (6, 2, .rotatingZeroRestart, nil),
        "raid6_nr": (6, 2, .rotatingNRestart, nil),
        "raid6_nc": (6, 2, .rotatingNContinue, nil),
        "raid6_n_6": (6, 2, .parityN, nil),
        "raid6_ls_6": (6, 2, .leftSymmetric6, nil),
        "raid6_rs_6": (6, 2, .rightSymmetric6, nil),
        "raid6_la_6": (6, 2, .leftAsymmetric6, nil),
        "raid6_ra_6": (6, 2, .rightAsymmetric6, nil),
    ]

    /// dm-raid.c `parse_raid_params`: optional keywords and how many value words each takes.
    static let parameterArity: [String: Int] = [
        "sync": 0, "nosync": 0, "raid10_use_near_sets": 0,
        "rebuild": 1, "write_mostly": 1, "daemon_sleep": 1, "min_recovery_rate": 1,
        "max_recovery_rate": 1, "max_write_behind": 1, "writebehind": 1, "stripe_cache": 1,
        "region_size": 1, "raid10_copies": 1, "raid10_format": 1, "data_offset": 1,
        "delta_disks": 1, "journal_dev": 1, "journal_mode": 1,
    ]
}

extension RaidTarget {
    public static var names: [String] { ["raid"] }
    public var typeName: String { "raid" }
    /// Mirrors and parity keep data readable when a leg is lost.
    public static var effect: LayerEffect { .keepsRedundancy }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> RaidTarget {
        let typeName = try p.word("raid type")
        guard let type = RaidTarget.types[typeName] else {
            throw p.fail("raid type", "unknown raid type '\(typeName)' (known: \(RaidTarget.types.keys.sorted().joined(separator: ", ")))")
        }
        let nParams = try p.count("raid parameter count")
        guard nParams >= 1 else { throw p.fail("raid parameter count", "needs at least the chunk size") }
        let paramEnd = p.position + nParams
        guard paramEnd <= p.words.count else { throw p.fail("raid parameters", "expected \(nParams) words, found \(p.words.count - p.position)") }
        let tableChunk = try p.number("chunk size")
        var chunk = tableChunk
        let parameterWords = Array(p.words[p.position..<paramEnd])
        var copies = 2, format = type.format ?? .near, useNearSets = false
        var dataOffset: UInt64 = 0
        var journal: String?
        while p.position < paramEnd {
            let key = try p.word("raid parameter")
            guard let arity = RaidTarget.parameterArity[key] else { throw p.fail("raid parameter", "unknown parameter '\(key)'") }
            guard p.position + arity <= paramEnd else { throw p.fail(key, "missing value") }
            switch key {
            case "raid10_copies":
                copies = Int(try p.number(key))
                guard copies >= 2 else { throw p.fail(key, "must be at least 2") }
            case "raid10_format":
                let f = try p.word(key)
                guard let v = Raid10Format(rawValue: f) else { throw p.fail(key, "expected near, far or offset, got '\(f)'") }
                format = v
            case "raid10_use_near_sets": useNearSets = true
            case "data_offset": dataOffset = try p.number(key)
            case "journal_dev": journal = try p.device(key)
            default: _ = try p.words(arity, key)
            }
        }
        let nDevs = try p.count("device count", max: 253)
        guard nDevs >= 1 else { throw p.fail("device count", "must be at least 1") }
        var legs: [RaidTarget.Leg] = []
        for i in 0..<nDevs {
            let m = try p.word("leg \(i) metadata device"); let d = try p.word("leg \(i) data device")
            // dm-raid.c parse_dev_params: a metadata device without a data device is refused.
            if m != "-" && d == "-" { throw p.fail("leg \(i) data device", "a metadata device needs a data device") }
            // md's bind_rdev_to_array (drivers/md/md.c) refuses a device already in the array
            // (-EEXIST): a table naming one device twice never loads.
            for (j, earlier) in legs.enumerated() {
                for word in [m, d] where word != "-" && (word == earlier.data || word == earlier.metadata) {
                    throw p.fail("leg \(i)", "\(word) is already leg \(j) of this array; the kernel refuses a device twice")
                }
            }
            if m != "-" && m == d { throw p.fail("leg \(i)", "\(m) is both its metadata and its data device") }
            legs.append(RaidTarget.Leg(metadata: m == "-" ? nil : m, data: d == "-" ? nil : d))
        }
        try p.noMore()
        let level = type.level, length = p.length
        if level == 1 { chunk = 0 } else {
            // dm-raid.c parse_raid_params: chunk size must be a power of two of at least 8.
            guard chunk >= 8, chunk & (chunk - 1) == 0 else { throw p.fail("chunk size", "\(chunk) is not a power of two of at least 8 sectors") }
        }
        guard nDevs > type.parity else { throw p.fail("device count", "\(typeName) needs more than \(type.parity) devices") }
        if level == 6 && nDevs < 4 { throw p.fail("device count", "\(typeName) needs at least 4 devices") }
        if level == 10 && copies > nDevs { throw p.fail("raid10_copies", "\(copies) copies need at least as many devices, have \(nDevs)") }
        // dm-raid.c rs_set_dev_and_array_sectors: the length must divide evenly.
        let dataStripes = UInt64(nDevs - type.parity)
        if level != 1 && level != 10 && length % dataStripes != 0 {
            throw p.fail("length", "target length \(length) is not divisible by \(dataStripes) data devices")
        }
        if level == 10 && (length * UInt64(copies)) % UInt64(nDevs) != 0 {
            throw p.fail("length", "target length \(length) × \(copies) copies is not divisible by \(nDevs) devices")
        }
        return RaidTarget(raidType: typeName, level: level, algorithm: type.algorithm, parityDevices: type.parity,
                          chunkSectors: chunk, raid10Format: format, raid10Copies: level == 10 ? copies : 1,
                          raid10UseNearSets: useNearSets, dataOffset: dataOffset, journalDevice: journal, legs: legs,
                          tableChunk: tableChunk, parameterWords: parameterWords)
    }

    public var tableArguments: [String] {
        [raidType, "\(1 + parameterWords.count)", "\(tableChunk)"] + parameterWords + ["\(legs.count)"]
            + legs.flatMap { [$0.metadata ?? "-", $0.data ?? "-"] }
    }

    public var members: [MemberDevice] {
        legs.flatMap { leg in
            (leg.metadata.map { [MemberDevice(device: $0, role: .metadata)] } ?? [])
                + (leg.data.map { [MemberDevice(device: $0, offset: dataOffset)] } ?? [])
        } + (journalDevice.map { [MemberDevice(device: $0, role: .journal)] } ?? [])
    }

    public func summary(segments: Int) -> String {
        "\(raidType) \(legs.count) legs" + (level == 10 ? " \(raid10Copies) copies \(raid10Format.rawValue)" : "")
    }

    /// dm-raid.c raid_status `<type> <#devs> <chars> ...` (__raid_dev_status: A alive, a alive
    /// but not in sync, D dead, - absent): degraded when a leg is dead or absent, recovering
    /// while one is not in sync.
    public static func health(status args: [String]) -> TargetHealth {
        guard args.count >= 3 else { return TargetHealth() }
        let chars = args[2], failed = chars.contains { $0 == "D" || $0 == "-" }
        return TargetHealth(legs: chars, failed: failed, states: (failed ? ["degraded"] : []) + (chars.contains("a") ? ["recovering"] : []))
    }

    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        RaidMapper(frame: frame, raid: self)
    }
}

/// md's personalities as dm-raid runs them: raid0 striping, raid1 copies, raid10 copies
/// (raid10.c), raid4/5/6 parity (raid5.c `raid5_compute_sector`).
struct RaidMapper: TargetMapper {
    let frame: MapFrame
    let raid: RaidTarget
    let raid10: Raid10Geometry?
    /// The data slot of each leg (-1 when absent), the metadata slot of each leg, and the leg
    /// of each slot (-1 for the journal).
    let dataSlot: [Int]
    let metaSlot: [Int]
    let legOfSlot: [Int]
    /// Where data begins on each leg's data device: dm-raid's one `data_offset` for every leg,
    /// md's own per member (md.c `rdev->data_offset`, sysfs `dev-*/offset`).
    let legOffset: [UInt64]
    /// The layout's period (`TargetMapper.period`), worked out once.
    var period: (member: UInt64, device: UInt64)? { periodic.map { ($0.member, $0.device) } }
    private(set) var periodic: Period? = nil
    struct Period: Hashable, Sendable { var member: UInt64; var device: UInt64 }

    /// raid5.c `raid5_compute_sector` turns the parity by one device a stripe (raid4 and the
    /// parity-0/N layouts not at all), so every layout repeats after `raidDisks` stripes;
    /// checked here rather than assumed for each algorithm.
    static func rotation(_ raid: RaidTarget) -> UInt64? {
        guard raid.level == 4 || raid.level == 5 || raid.level == 6 else { return nil }
        let dataDisks = UInt64(raid.raidDisks - raid.parityDevices)
        let turn = UInt64(raid.raidDisks)
        guard dataDisks > 0 else { return nil }
        for c in 0..<(turn * dataDisks) {
            let a = RaidGeometry.parityPlacement(level: raid.level, algorithm: raid.algorithm, raidDisks: raid.raidDisks, chunkNumber: c)
            let b = RaidGeometry.parityPlacement(level: raid.level, algorithm: raid.algorithm, raidDisks: raid.raidDisks, chunkNumber: c + turn * dataDisks)
            if a != b { return nil }
        }
        return turn
    }

    /// raid0: one row of chunks; raid1: every sector; raid4/5/6: one turn of the parity
    /// rotation (`rotation` stripes: that many chunks on a leg, times the data devices on the
    /// array); raid10 with near copies only (raid10.c `__raid10_find_phys`: array chunk a's
    /// first copy is slot a × near of the row-major disk grid, so `raidDisks / gcd(raidDisks,
    /// near)` array chunks fill whole rows), checked against `Raid10Geometry.copies` over two
    /// periods. Far and offset copies have none here: a leg holds two regions that do not
    /// shift into each other.
    static func period(_ raid: RaidTarget, _ raid10: Raid10Geometry?, length: UInt64) -> Period? {
        let chunk = raid.chunkSectors
        switch raid.level {
        case 0: return Period(member: chunk, device: chunk * UInt64(raid.raidDisks))
        case 1: return Period(member: 1, device: 1)
        case 4, 5, 6:
            guard let t = rotation(raid) else { return nil }
            return Period(member: t * chunk, device: t * chunk * UInt64(raid.raidDisks - raid.parityDevices))
        case 10:
            guard let g = raid10, g.farCopies == 1, g.nearCopies >= 1 else { return nil }
            let n = UInt64(g.raidDisks), c = UInt64(g.nearCopies)
            var x = n, y = c
            while y != 0 { (x, y) = (y, x % y) }
            let l = n / x, m = l * c / n
            let p = Period(member: m * g.chunkSectors, device: l * g.chunkSectors)
            for a in 0..<(2 * l) where (a + l + 1) * g.chunkSectors <= length {
                let one = g.copies(of: a * g.chunkSectors), next = g.copies(of: (a + l) * g.chunkSectors)
                guard one.count == next.count, zip(one, next).allSatisfy({ $0.disk == $1.disk && $0.sector + p.member == $1.sector }) else { return nil }
            }
            return p
        default: return nil
        }
    }

    var hasAbsentMember: Bool { dataSlot.contains { $0 < 0 } }

    /// dm-raid fails a leg whose metadata device fails: as if its whole data device went.
    func wholeLeg(failedBy slot: Int) -> (slot: Int, range: SectorRange)? {
        guard slot >= 0, slot < legOfSlot.count, legOfSlot[slot] >= 0, frame.members[slot].role == .metadata else { return nil }
        let leg = legOfSlot[slot], data = dataSlot[leg]
        guard data >= 0 else { return nil }
        return (data, SectorRange(start: legOffset[leg], length: deviceSectors))
    }

    func periodOrigin(slot: Int) -> UInt64? {
        guard slot >= 0, slot < legOfSlot.count, legOfSlot[slot] >= 0, frame.members[slot].role == .data else { return nil }
        return legOffset[legOfSlot[slot]]
    }

    init(frame: MapFrame, raid: RaidTarget) {
        self.frame = frame
        self.raid = raid
        var data: [Int] = [], meta: [Int] = [], legOf: [Int] = []
        var slot = 0
        for (i, leg) in raid.legs.enumerated() {
            if leg.metadata != nil { legOf.append(i); meta.append(slot); slot += 1 } else { meta.append(-1) }
            if leg.data != nil { legOf.append(i); data.append(slot); slot += 1 } else { data.append(-1) }
        }
        if raid.journalDevice != nil { legOf.append(-1) }
        dataSlot = data
        metaSlot = meta
        legOfSlot = legOf
        legOffset = Array(repeating: raid.dataOffset, count: raid.legs.count)
        raid10 = raid.level == 10 ? Raid10Geometry(raid: raid, length: frame.length) : nil
        periodic = Self.period(raid, raid10, length: frame.length)
    }

    /// A mapper whose legs are given explicitly (md arrays): `dataSlots[leg]` is the frame slot
    /// of the leg's device (-1 when it is missing or not in sync), `offsets[leg]` where its data
    /// begins; `raid10` the geometry the array itself states.
    init(frame: MapFrame, raid: RaidTarget, dataSlots: [Int], offsets: [UInt64], raid10: Raid10Geometry?) {
        self.frame = frame
        self.raid = raid
        dataSlot = dataSlots
        metaSlot = Array(repeating: -1, count: dataSlots.count)
        var legOf = Array(repeating: -1, count: frame.members.count)
        for (leg, s) in dataSlots.enumerated() where s >= 0 && s < legOf.count { legOf[s] = leg }
        legOfSlot = legOf
        legOffset = offsets
        self.raid10 = raid10
        periodic = Self.period(raid, raid10, length: frame.length)
    }

    /// A raid leg whose metadata device lost anything is failed as a whole (dm-raid).
    func failsWith(slot: Int) -> Int? {
        guard slot >= 0, slot < legOfSlot.count, frame.members[slot].role != .metadata, legOfSlot[slot] >= 0 else { return nil }
        let meta = metaSlot[legOfSlot[slot]]
        return meta >= 0 ? meta : nil
    }

    /// Sectors of each data device a raid target uses (dm-raid.c rs_set_dev_and_array_sectors).
    var deviceSectors: UInt64 {
        switch raid.level {
        case 1: frame.length
        case 10: raid10!.deviceSectors
        default: frame.length / UInt64(raid.raidDisks - raid.parityDevices)
        }
    }

    func footprint(slot: Int) -> UInt64? {
        guard slot < legOfSlot.count, legOfSlot[slot] >= 0, frame.members[slot].role == .data else { return nil }
        return deviceSectors
    }

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        let length = r.length
        switch raid.level {
        case 0:
            return frame.stripedDown(rel: rel, length: length, chunk: raid.chunkSectors, count: raid.raidDisks) { (dataSlot[$0], legOffset[$0]) }
        case 1:
            return [Extent(start: frame.start + rel, length: length, kind: .data, redundancy: .copies,
                           locations: dataSlot.indices.map { Location(slot: dataSlot[$0], start: legOffset[$0] + rel, role: .data) })]
        case 10:
            let g = raid10!
            var out: [Extent] = []
            var s = rel
            let end = rel + length
            while s < end {
                let len = min(g.chunkSectors - s % g.chunkSectors, end - s)
                let locations = g.copies(of: s).map { Location(slot: dataSlot[$0.disk], start: legOffset[$0.disk] + $0.sector, role: .data) }
                out.append(Extent(start: frame.start + s, length: len, kind: .data, redundancy: .copies, locations: locations))
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
                let deviceSector = (chunkNumber / dataDisks) * chunk + offset
                var locations = [Location(slot: dataSlot[p.dataDisk], start: legOffset[p.dataDisk] + deviceSector, role: .data)]
                for leg in 0..<raid.raidDisks where leg != p.dataDisk {
                    let role: Location.Role = (leg == p.pDisk || leg == p.qDisk) ? .parity : .peer
                    locations.append(Location(slot: dataSlot[leg], start: legOffset[leg] + deviceSector, role: role))
                }
                out.append(Extent(start: frame.start + s, length: len, kind: .data, redundancy: .parity(tolerated: raid.parityDevices), locations: locations))
                s += len
            }
            return out
        }
    }

    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        let leg = legOfSlot[slot]
        guard leg >= 0 else {
            return [frame.unknownExtent(frame.wholeTarget, "raid \(frame.deviceName): journal device hit")]
        }
        let devSectors = deviceSectors
        if frame.members[slot].role == .metadata {
            // dm-raid fails a leg whose metadata device fails: as if its whole data device went.
            let data = dataSlot[leg]
            guard data >= 0 else { return [] }
            return up(slot: data, SectorRange(start: legOffset[leg], length: devSectors))
        }
        let off = legOffset[leg]
        let lo = max(range.start, off), hi = min(range.end, off &+ devSectors)
        guard lo < hi else { return [] }
        switch raid.level {
        case 0:
            return frame.stripedUp(stripe: leg, offset: off, range: range, chunk: raid.chunkSectors, count: raid.raidDisks, down: { down($0) })
        case 1:
            return down(SectorRange(start: frame.start + (lo - off), length: hi - lo))
        case 10:
            let g = raid10!
            var out: [Extent] = []
            var d = lo - off
            let end = hi - off
            while d < end {
                let len = min(g.chunkSectors - d % g.chunkSectors, end - d)
                let a = g.arraySector(disk: leg, sector: d)
                if a < frame.length {
                    out.append(contentsOf: down(SectorRange(start: frame.start + a, length: min(len, frame.length - a))))
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
                        out.append(contentsOf: down(SectorRange(start: frame.start + chunkNumber * chunk + offset, length: len)))
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
                        for var e in down(SectorRange(start: frame.start + (stripe * dataDisks + k) * chunk + offset, length: len)) {
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
}

/// Raid layouts dm-raid accepts (Documentation/admin-guide/device-mapper/dm-raid.rst), as a
/// spec's `type:` names them.
public enum RaidLevel: String, Sendable, Hashable, CaseIterable {
    case raid0, raid1, raid4, raid5, raid6, raid10

    /// Data devices' worth of capacity out of `legs` (raid10: legs / copies).
    func dataLegs(_ legs: Int, copies: Int) -> Int {
        switch self {
        case .raid0: legs
        case .raid1: 1
        case .raid4, .raid5: legs - 1
        case .raid6: legs - 2
        case .raid10: legs / copies
        }
    }

    var minimumLegs: Int {
        switch self {
        case .raid0: 1
        case .raid1, .raid10: 2
        case .raid4, .raid5: 3
        case .raid6: 4
        }
    }
}

/// `{type: raid1|raid4|raid5|raid6|raid10|raid0, members: [A, B, C], chunk: 64K, layout: ls,
/// region_size: 4M, nosync: false, copies: 2}`; members may be `{device: A, metadata: M}`.
public struct RaidSpec: SpecTarget {
    public var level: RaidLevel
    /// The dm-raid type word (`raid5_ls`, `raid10`, ...).
    public var type: String
    public var members: [MemberSpec]
    public var metadata: [MemberSpec?]
    public var chunk: UInt64
    public var regionSize: UInt64?
    public var copies: Int
    public var raid10Format: String?
    public var nosync: Bool

    public static var specNames: [String] { RaidLevel.allCases.map(\.rawValue) }
    public var references: [MemberSpec] { metadata.compactMap { $0 } + members }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> RaidSpec {
        let type = d.type, file = d.file, path = d.path
        let level = RaidLevel(rawValue: type)!
        guard let items = try d.map.list("members") else { throw d.missing("members") }
        guard items.count >= level.minimumLegs else { throw d.map.fail("members", "\(type) needs at least \(level.minimumLegs) members, found \(items.count)") }
        // dm-raid.c: at most 253 devices (MAX_RAID_DEVICES).
        guard items.count <= 253 else { throw d.map.fail("members", "dm-raid takes at most 253 devices") }
        var data: [MemberSpec] = [], meta: [MemberSpec?] = []
        for (i, item) in items.enumerated() {
            let p = "\(path).members[\(i)]"
            if case .mapping = item.value {
                var m = try SpecMap(item, file: file, path: p)
                let metaNode = m.node("metadata")
                _ = m.node("device"); _ = m.node("offset")
                try m.finish()
                var stripped = item
                if case .mapping(let entries) = item.value { stripped.value = .mapping(entries.filter { $0.key != "metadata" }) }
                data.append(try StackSpec.decodeMember(stripped, file: file, path: p, allowSize: false))
                meta.append(try metaNode.map { n throws(SpecError) in try StackSpec.decodeMember(n, file: file, path: "\(p).metadata", allowSize: false) })
            } else {
                data.append(try StackSpec.decodeMember(item, file: file, path: p, allowSize: false))
                meta.append(nil)
            }
        }
        if meta.contains(where: { $0 != nil }) && meta.contains(where: { $0 == nil }) {
            throw d.map.fail("members", "give every member a metadata device, or none")
        }
        let chunk = level == .raid1 ? 0 : try d.positive("chunk", default: 128)
        if level != .raid1 {
            try d.powerOfTwo("chunk", chunk)
            guard chunk >= 8 else { throw d.map.fail("chunk", "must be at least 4 KiB") }
        }
        let region = try d.map.size("region_size")
        if let region { try d.powerOfTwo("region_size", region) }
        let nosync = try d.map.bool("nosync") ?? false
        var dmType = type, copies = 2, format: String? = nil
        let layout = try d.map.string("layout")
        switch level {
        case .raid5:
            let l = layout ?? "ls"
            guard ["la", "ra", "ls", "rs", "n"].contains(l) else { throw d.map.fail("layout", "raid5 layouts are la, ra, ls, rs, n (got '\(l)')") }
            dmType = "raid5_\(l)"
        case .raid6:
            let l = layout ?? "zr"
            guard ["zr", "nr", "nc", "la_6", "ra_6", "ls_6", "rs_6", "n_6"].contains(l) else { throw d.map.fail("layout", "raid6 layouts are zr, nr, nc, la_6, ra_6, ls_6, rs_6, n_6 (got '\(l)')") }
            dmType = "raid6_\(l)"
        case .raid10:
            let l = layout ?? "near"
            guard ["near", "far", "offset"].contains(l) else { throw d.map.fail("layout", "raid10 layouts are near, far, offset (got '\(l)')") }
            format = layout
            copies = Int(try d.map.integer("copies", max: 64) ?? 2)
            guard copies >= 2, copies <= data.count else { throw d.map.fail("copies", "must be between 2 and the number of members") }
            if l == "near" && data.count % copies != 0 { throw d.map.fail("copies", "raid10 near with \(data.count) members needs copies dividing \(data.count)") }
        default:
            if layout != nil { throw d.map.fail("layout", "\(type) has no layouts") }
        }
        try d.readSize()
        return RaidSpec(level: level, type: dmType, members: data, metadata: meta, chunk: chunk, regionSize: region,
                        copies: copies, raid10Format: format, nosync: nosync)
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        var rs: [ResolvedMember] = [], metas: [ResolvedMember?] = []
        for m in members { rs.append(try p.member(m)) }
        for m in metadata { metas.append(try m.map { x throws(PlanError) in try p.member(x) }) }
        var per = rs.map(\.available).min()!
        per = chunk > 0 ? per / chunk * chunk : per / 8 * 8
        let dataLegs = UInt64(level.dataLegs(members.count, copies: copies))
        if let size = p.target.size {
            // dm-raid.c rs_set_dev_and_array_sectors: equal legs of whole chunks.
            let unit = chunk > 0 ? chunk : 8
            let legs = level == .raid10 ? UInt64(members.count) : dataLegs
            let scaled = level == .raid10 ? size * UInt64(copies) : size
            guard scaled % (legs * unit) == 0 else {
                throw p.failTarget(.size, key: ".size", "\(SpecSize.describe(size)) does not divide into \(legs) legs of whole \(SpecSize.describe(unit)) units")
            }
            per = scaled / legs
        }
        guard per > 0 else { throw p.failTarget(.size, "members are smaller than one chunk") }
        for (r, m) in zip(rs, members) { try p.use(r, m, per) }
        for (meta, m) in zip(metas, metadata) { if let meta, let m { try p.use(meta, m, meta.available) } }
        let length = level == .raid10 ? per * UInt64(members.count) / UInt64(copies) : per * dataLegs
        // dm-raid.c raid_ctr argument order: <type> <#params> <chunk> [params].
        var params: [String] = []
        if nosync { params.append("nosync") }
        if let regionSize { params += ["region_size", "\(regionSize)"] }
        if level == .raid10 {
            if copies != 2 { params += ["raid10_copies", "\(copies)"] }
            if let raid10Format { params += ["raid10_format", raid10Format] }
        }
        let legs = zip(rs, metas).map { RaidTarget.Leg(metadata: $1?.word, data: $0.word) }
        let shape = RaidTarget.types[type]!
        let target = RaidTarget(raidType: type, level: shape.level, algorithm: shape.algorithm, parityDevices: shape.parity,
                                chunkSectors: chunk, raid10Format: Raid10Format(rawValue: raid10Format ?? "") ?? shape.format ?? .near,
                                raid10Copies: level == .raid10 ? copies : 1, raid10UseNearSets: false, dataOffset: 0, journalDevice: nil,
                                legs: legs, tableChunk: chunk, parameterWords: params)
        return [PlannedTarget(length: length, target: target)]
    }
}
