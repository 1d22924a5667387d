/// An md array as its sysfs directory states it (Documentation/admin-guide/md.rst; drivers/md/
/// md.c `md_default_attrs` and `rdev_default_attrs`), in the one table line a non-dm layer has:
///
///     <start> <length> md-<level> <layout> <chunk_sectors> <component_sectors> <raid_disks>
///         <reshape_position|none> <#members> (<slot|none|journal> <dev> <data_offset> <sectors> <state>)*
///
/// `layout` is md/layout as a number, `chunk_sectors` md/chunk_size / 512, `component_sectors`
/// md/component_size × 2 (it is in KiB), each member's `data_offset` dev-*/offset and `sectors`
/// dev-*/size × 2 (md.c `rdev->sectors`), `state` dev-*/state (comma-separated, `-` if empty).
/// The status line (`md-<level> <array_state> <sync_action|-> <legs> <#bad> (<dev> <start>
/// <length>)*`) carries the array's state, each slot's health character and the members' bad
/// blocks (dev-*/bad_blocks, absolute member sectors: md.c `rdev_set_badblocks` adds
/// `data_offset` before recording one).
public struct MdArray: Hashable, Sendable {
    /// One member device (md.c `struct md_rdev` as sysfs shows it).
    public struct Member: Hashable, Sendable {
        /// md.c `slot_show`: the raid slot, `none` (a spare, or a failed device no longer in
        /// the array), or `journal` (a raid5 write journal, raid5-cache.c).
        public enum Slot: Hashable, Sendable {
            case index(Int)
            case none
            case journal
        }
        public var slot: Slot
        public var device: String
        /// Where the array's data begins on the device (md.c `rdev->data_offset`).
        public var dataOffset: UInt64
        /// Sectors of the device the array may use from `dataOffset` (md.c `rdev->sectors`).
        public var sectors: UInt64
        /// md.c `state_show` words: `faulty`, `in_sync`, `write_mostly`, `spare`, ...
        public var state: [String]

        public init(slot: Slot, device: String, dataOffset: UInt64, sectors: UInt64, state: [String]) {
            self.slot = slot
            self.device = device
            self.dataOffset = dataOffset
            self.sectors = sectors
            self.state = state
        }

        public var isFaulty: Bool { state.contains("faulty") }
        /// Holds current data for its slot (md.c `In_sync` and not `Faulty`); a device being
        /// rebuilt does not yet.
        public var isInSync: Bool { state.contains("in_sync") && !isFaulty }
        var slotWord: String {
            switch slot {
            case .index(let i): "\(i)"
            case .none: "none"
            case .journal: "journal"
            }
        }
    }

    /// md/level without the `raid` prefix spelled out: `linear`, `raid0`, ..., `raid10`.
    public var level: String
    public var layout: Int
    public var chunkSectors: UInt64
    public var componentSectors: UInt64
    public var raidDisks: Int
    /// md/reshape_position, nil for `none`.
    public var reshapePosition: UInt64?
    public var devices: [Member]

    public init(level: String, layout: Int, chunkSectors: UInt64, componentSectors: UInt64, raidDisks: Int,
                reshapePosition: UInt64? = nil, devices: [Member]) {
        self.level = level
        self.layout = layout
        self.chunkSectors = chunkSectors
        self.componentSectors = componentSectors
        self.raidDisks = raidDisks
        self.reshapePosition = reshapePosition
        self.devices = devices
    }

    /// Every md level dmstack maps, as the target type words `md-<level>`.
    public static let levels = ["linear", "raid0", "raid1", "raid4", "raid5", "raid6", "raid10"]

    static func parse(_ p: inout TargetParser) throws(TableParseError) -> MdArray {
        let level = String(p.typeName.dropFirst(3))
        // md.c layout_show prints a signed number (raid0 arrays made before layouts existed
        // may say -1).
        let layoutWord = try p.word("layout")
        guard let layout = Int(layoutWord), layout >= Int(Int32.min), layout <= Int(UInt32.max) else {
            throw p.fail("layout", "expected an integer, got '\(layoutWord)'")
        }
        let chunk = try p.number("chunk sectors")
        let component = try p.number("component sectors")
        let disks = try p.count("raid disks", max: 4096)
        let reshapeWord = try p.word("reshape position")
        var reshape: UInt64?
        if reshapeWord != "none" {
            guard isUnsigned(reshapeWord), let v = UInt64(reshapeWord) else { throw p.fail("reshape position", "expected a sector or 'none', got '\(reshapeWord)'") }
            reshape = v
        }
        let count = try p.count("member count", max: 4096)
        var devices: [Member] = []
        var taken = Set<Int>()
        for i in 0..<count {
            let slotWord = try p.word("member \(i) slot")
            let slot: Member.Slot
            switch slotWord {
            case "none": slot = .none
            case "journal": slot = .journal
            default:
                guard isUnsigned(slotWord), let n = Int(slotWord), n < disks else {
                    throw p.fail("member \(i) slot", "expected a slot below \(disks), 'none' or 'journal', got '\(slotWord)'")
                }
                slot = .index(n)
            }
            let device = try p.device("member \(i) device")
            let offset = try p.number("member \(i) data offset")
            let sectors = try p.number("member \(i) sectors")
            let stateWord = try p.word("member \(i) state")
            let state = stateWord == "-" ? [] : stateWord.split(separator: ",").map(String.init)
            if case .index(let n) = slot, !state.contains("faulty"), !state.contains("replacement") {
                // md.c: one working device per slot (a replacement shares its slot while it is rebuilt).
                guard taken.insert(n).inserted else { throw p.fail("member \(i) slot", "slot \(n) has two working devices") }
            }
            devices.append(Member(slot: slot, device: device, dataOffset: offset, sectors: sectors, state: state))
        }
        try p.noMore()
        return MdArray(level: level, layout: layout, chunkSectors: chunk, componentSectors: component, raidDisks: disks,
                       reshapePosition: reshape, devices: devices)
    }

    var typeName: String { "md-\(level)" }

    /// The table line's argument words after `md-<level>`.
    public var tableArgumentWords: [String] { tableArguments }

    var tableArguments: [String] {
        ["\(layout)", "\(chunkSectors)", "\(componentSectors)", "\(raidDisks)", reshapePosition.map { "\($0)" } ?? "none", "\(devices.count)"]
            + devices.flatMap { [$0.slotWord, $0.device, "\($0.dataOffset)", "\($0.sectors)", $0.state.isEmpty ? "-" : $0.state.joined(separator: ",")] }
    }

    var members: [MemberDevice] { devices.map { MemberDevice(device: $0.device, offset: $0.dataOffset) } }

    /// The table index of the device serving each slot, -1 where none does: for raid0 and
    /// linear any device in its slot that is not faulty (they have no spare to rebuild), for
    /// the others an in-sync one (a device being rebuilt does not hold the data yet).
    var servingDevice: [Int] {
        var out = Array(repeating: -1, count: raidDisks)
        let striped = level == "raid0" || level == "linear"
        for (i, d) in devices.enumerated() {
            guard case .index(let s) = d.slot, s < raidDisks, out[s] < 0, !d.isFaulty, striped || d.isInSync else { continue }
            out[s] = i
        }
        return out
    }

    /// dm-raid's health characters per slot, for `tree` and `monitor`: `A` in sync, `a` a device
    /// rebuilding into the slot, `D` no working device (failed, removed or missing: one
    /// character for all three, so a failed device that md then removes is one finding).
    var legCharacters: String {
        let serving = servingDevice
        return String((0..<raidDisks).map { s -> Character in
            if serving[s] >= 0 { return "A" }
            let rebuilding = devices.contains { if case .index(s) = $0.slot { !$0.isFaulty } else { false } }
            return rebuilding ? "a" : "D"
        })
    }

    func summary() -> String {
        var out = "\(level) \(raidDisks) disk\(raidDisks == 1 ? "" : "s")"
        if let name = layoutName { out += " \(name)" }
        if chunkSectors > 0 && level != "raid1" && level != "linear" { out += " \(chunkSectors / 2)KiB chunks" }
        return out
    }

    /// The md name of the layout (mdadm's words: raid5 `left-symmetric`, raid10 `n2`, `f2`, `o2`).
    var layoutName: String? {
        switch level {
        case "raid5", "raid6":
            let names = [0: "left-asymmetric", 1: "right-asymmetric", 2: "left-symmetric", 3: "right-symmetric", 4: "parity-first",
                         5: "parity-last", 8: "ddf-zero-restart", 9: "ddf-N-restart", 10: "ddf-N-continue", 16: "left-asymmetric-6",
                         17: "right-asymmetric-6", 18: "left-symmetric-6", 19: "right-symmetric-6", 20: "parity-first-6"]
            return names[layout] ?? "layout \(layout)"
        case "raid10":
            let nc = layout & 255, fc = (layout >> 8) & 255
            if layout & (1 << 16) != 0 { return "o\(fc)" }
            return fc > 1 ? (nc > 1 ? "n\(nc)f\(fc)" : "f\(fc)") : "n\(nc)"
        default: return nil
        }
    }

    /// The array's health from its status words: `<array_state> <sync_action> <legs> <#bad>
    /// (<dev> <start> <length>)*`.
    static func health(status args: [String]) -> TargetHealth {
        guard args.count >= 3 else { return TargetHealth() }
        let arrayState = args[0], sync = args[1], legs = args[2]
        let failed = legs.contains { $0 == "D" || $0 == "-" }
        // In tree's words, empty when nothing is wrong. md.c array_state_show: clean, active,
        // active-idle and write-pending are a working array; readonly, read-auto, inactive
        // and broken (raid0/linear that lost a member) are not. md.c action_show: idle or
        // frozen when nothing runs, recover while a member is rebuilt.
        var states: [String] = []
        if arrayState == "readonly" || arrayState == "read-auto" { states.append("read-only") }
        if failed { states.append("degraded") }
        if legs.contains("a") || sync == "recover" { states.append("recovering") }
        if ["resync", "reshape", "check", "repair"].contains(sync) { states.append(sync) }
        if arrayState == "inactive" { states.append("inactive") }
        if arrayState == "broken" { states.append("failed") }
        var bad: [MemberRange] = []
        if args.count >= 4, let n = Int(args[3]), n >= 0 {
            var i = 4
            for _ in 0..<n {
                guard i + 2 < args.count else { break }
                if let s = UInt64(args[i + 1]), let l = UInt64(args[i + 2]), l > 0 {
                    bad.append(MemberRange(device: args[i], range: SectorRange(start: s, length: l)))
                }
                i += 3
            }
        }
        return TargetHealth(legs: legs, failed: failed, states: states, badRanges: bad)
    }

    /// A status line's argument words from what sysfs says.
    public func statusArguments(arrayState: String, syncAction: String?, badBlocks: [MemberRange]) -> [String] {
        [arrayState.isEmpty ? "-" : arrayState, syncAction ?? "-", legCharacters, "\(badBlocks.count)"]
            + badBlocks.flatMap { [$0.device, "\($0.range.start)", "\($0.range.length)"] }
    }

    func mapper(_ frame: MapFrame) -> any TargetMapper {
        let name = frame.deviceName
        if let position = reshapePosition {
            return MdMapper(frame: frame, md: self, inner: nil,
                            unknown: "md array \(name) is reshaping (reshape_position \(position)): its geometry is changing under it")
        }
        let serving = servingDevice
        let offsets = serving.map { $0 >= 0 ? devices[$0].dataOffset : 0 }
        func raid(_ level: Int, _ algorithm: RaidAlgorithm, parity: Int) -> RaidTarget {
            RaidTarget(raidType: typeName, level: level, algorithm: algorithm, parityDevices: parity, chunkSectors: chunkSectors,
                       raid10Format: .near, raid10Copies: 1, raid10UseNearSets: false, dataOffset: 0, journalDevice: nil,
                       legs: serving.map { RaidTarget.Leg(metadata: nil, data: $0 >= 0 ? "-" : nil) }, tableChunk: chunkSectors, parameterWords: [])
        }
        func unknown(_ reason: String) -> MdMapper { MdMapper(frame: frame, md: self, inner: nil, unknown: "md array \(name): \(reason)") }
        let chunkOK = chunkSectors >= 8 && chunkSectors & (chunkSectors - 1) == 0
        switch level {
        case "linear", "raid0":
            // raid0.c refuses to run with a slot empty ("too few disks"), and keeps a failed
            // member in its slot (the array is `broken`): an empty slot is a table it never had.
            if let empty = serving.firstIndex(of: -1) { return unknown("\(level) slot \(empty) has no working device") }
            switch MdStripeMapper.zones(md: self, serving: serving) {
            case .success(let zones): return MdMapper(frame: frame, md: self, inner: MdStripeMapper(frame: frame, md: self, serving: serving, zones: zones), unknown: nil)
            case .failure(let reason): return unknown(reason.message)
            }
        case "raid1":
            guard raidDisks >= 1 else { return unknown("no slots") }
            return MdMapper(frame: frame, md: self, inner: RaidMapper(frame: frame, raid: raid(1, .leftAsymmetric, parity: 0), dataSlots: serving, offsets: offsets, raid10: nil), unknown: nil)
        case "raid4", "raid5", "raid6":
            let parity = level == "raid6" ? 2 : 1
            guard chunkOK else { return unknown("chunk of \(chunkSectors) sectors is not a power of two of at least 4 KiB") }
            guard raidDisks > parity + (parity == 2 ? 1 : 0) else { return unknown("\(raidDisks) disks are too few for \(level)") }
            // raid5.c raid5_compute_sector: level 4 always keeps parity on the last device
            // (the same placement as ALGORITHM_PARITY_N); raid5 takes layouts 0-5
            // (algorithm_valid_raid5), raid6 0-5, 8-10 and 16-20 (algorithm_valid_raid6).
            let algorithm: RaidAlgorithm
            if level == "raid4" { algorithm = .parityN } else {
                guard let a = RaidAlgorithm(rawValue: layout), level == "raid6" || a.rawValue <= 5 else { return unknown("\(level) layout \(layout) is not one raid5.c knows") }
                algorithm = a
            }
            return MdMapper(frame: frame, md: self, inner: RaidMapper(frame: frame, raid: raid(level == "raid6" ? 6 : 5, algorithm, parity: parity),
                                                                       dataSlots: serving, offsets: offsets, raid10: nil), unknown: nil)
        case "raid10":
            guard let g = Raid10Geometry(mdLayout: layout, raidDisks: raidDisks, chunkSectors: chunkSectors, componentSectors: componentSectors) else {
                return unknown("raid10 layout \(layout) with \(raidDisks) disks and \(chunkSectors)-sector chunks is not one raid10.c accepts")
            }
            var r = raid(10, .leftAsymmetric, parity: 0)
            r.raid10Copies = g.copies
            return MdMapper(frame: frame, md: self, inner: RaidMapper(frame: frame, raid: r, dataSlots: serving, offsets: offsets, raid10: g), unknown: nil)
        default:
            return unknown("level '\(level)' is not mapped")
        }
    }
}

/// A bad range of one member device (md dev-*/bad_blocks), as a status line names it.
public struct MemberRange: Hashable, Sendable {
    public var device: String
    public var range: SectorRange
    public init(device: String, range: SectorRange) {
        self.device = device
        self.range = range
    }
}

/// md linear and raid0 (`md-linear`, `md-raid0`): no copies, a lost member sector is lost.
public struct MdStripeTarget: TargetType {
    public var array: MdArray
    public init(array: MdArray) { self.array = array }
    public static var names: [String] { ["md-linear", "md-raid0"] }
    public var typeName: String { array.typeName }
    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> MdStripeTarget { MdStripeTarget(array: try MdArray.parse(&p)) }
    public var tableArguments: [String] { array.tableArguments }
    public var members: [MemberDevice] { array.members }
    public func summary(segments: Int) -> String { array.summary() }
    public static func health(status: [String]) -> TargetHealth { MdArray.health(status: status) }
    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper { array.mapper(frame) }
}

/// md raid1, raid4, raid5, raid6 and raid10 (`md-raid1` ... `md-raid10`): copies or parity keep a
/// lost member sector readable while the array is otherwise whole.
public struct MdRaidTarget: TargetType {
    public var array: MdArray
    public init(array: MdArray) { self.array = array }
    public static var names: [String] { ["md-raid1", "md-raid4", "md-raid5", "md-raid6", "md-raid10"] }
    public var typeName: String { array.typeName }
    public static var effect: LayerEffect { .keepsRedundancy }
    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> MdRaidTarget { MdRaidTarget(array: try MdArray.parse(&p)) }
    public var tableArguments: [String] { array.tableArguments }
    public var members: [MemberDevice] { array.members }
    public func summary(segments: Int) -> String { array.summary() }
    public static func health(status: [String]) -> TargetHealth { MdArray.health(status: status) }
    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper { array.mapper(frame) }
}

/// An md array's mapper: its personality's geometry (`inner`), or `unknown` with the reason
/// when the array's mapping cannot be stated (a reshape, a layout not understood). Devices
/// that serve no slot (spares, failed devices) back nothing; a journal device backs data
/// dmstack cannot place (raid5-cache.c keeps writes there before they reach the members).
struct MdMapper: TargetMapper {
    let frame: MapFrame
    let md: MdArray
    let inner: (any TargetMapper)?
    let unknown: String?
    let serving: Set<Int>

    init(frame: MapFrame, md: MdArray, inner: (any TargetMapper)?, unknown: String?) {
        self.frame = frame
        self.md = md
        self.inner = inner
        self.unknown = unknown
        serving = Set(md.servingDevice.filter { $0 >= 0 })
    }

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        guard let inner, unknown == nil else { return [frame.unknownExtent(r, unknown ?? "md array \(frame.deviceName) is not mapped")] }
        return inner.down(r, rel: rel)
    }

    func up(slot: Int, _ range: SectorRange) -> [Extent] {
        guard let inner, unknown == nil else { return [frame.unknownExtent(frame.wholeTarget, unknown ?? "md array \(frame.deviceName) is not mapped")] }
        if slot < md.devices.count, md.devices[slot].slot == .journal {
            return [frame.unknownExtent(frame.wholeTarget, "md array \(frame.deviceName): its write journal \(md.devices[slot].device) was hit")]
        }
        guard serving.contains(slot) else { return [] }
        return inner.up(slot: slot, range)
    }

    func footprint(slot: Int) -> UInt64? {
        guard let inner, unknown == nil else { return nil }
        if slot < md.devices.count, md.devices[slot].slot == .journal { return nil }
        guard serving.contains(slot) else { return 0 }
        return inner.footprint(slot: slot)
    }

    var hasAbsentMember: Bool { inner?.hasAbsentMember ?? false }

    /// The personality's own period (raid.c personalities through `RaidMapper`).
    var period: (member: UInt64, device: UInt64)? { unknown == nil ? inner?.period : nil }
    func periodOrigin(slot: Int) -> UInt64? {
        guard let inner, unknown == nil, serving.contains(slot) else { return nil }
        if slot < md.devices.count, md.devices[slot].slot == .journal { return nil }
        return inner.periodOrigin(slot: slot)
    }
}

/// md-linear.c and raid0.c: the members concatenated (linear) or striped in zones (raid0).
/// raid0.c `create_strip_zones`: every device's size is rounded down to whole chunks; zone 0
/// stripes every device up to the smallest, each next zone the devices still longer, from
/// where the last stopped (`dev_start`), in slot order. `map_sector` picks the device in a zone
/// from the array sector (RAID0_ORIG_LAYOUT, layout 1) or the sector inside the zone
/// (RAID0_ALT_MULTIZONE_LAYOUT, layout 2); with one zone both are the same. md-linear.c
/// `linear_conf`: each device in slot order, its size rounded down to chunks if a chunk is set.
struct MdStripeMapper: TargetMapper {
    struct Zone: Hashable, Sendable {
        /// First array sector after the zone (raid0.c `zone_end`).
        var end: UInt64
        /// Where the zone begins on each of its devices, from their data offset.
        var deviceStart: UInt64
        /// Slots of the devices in the zone, in order.
        var slots: [Int]
    }
    struct Failure: Error { var message: String }

    let frame: MapFrame
    let md: MdArray
    /// Table index of the device serving each slot (-1: none).
    let serving: [Int]
    let zones: [Zone]
    var linear: Bool { md.level == "linear" }

    /// The zones of a raid0 array, or for linear one zone per device.
    static func zones(md: MdArray, serving: [Int]) -> Result<[Zone], Failure> {
        let chunk = md.chunkSectors
        func rounded(_ slot: Int) -> UInt64 {
            let s = md.devices[serving[slot]].sectors
            return chunk > 0 ? s / chunk * chunk : s
        }
        if md.level == "linear" {
            var out: [Zone] = [], end: UInt64 = 0
            for slot in 0..<md.raidDisks {
                guard serving[slot] >= 0 else { return .failure(Failure(message: "linear slot \(slot) has no device: the array cannot be placed")) }
                end += rounded(slot)
                out.append(Zone(end: end, deviceStart: 0, slots: [slot]))
            }
            return .success(out)
        }
        guard chunk > 0 else { return .failure(Failure(message: "raid0 without a chunk size")) }
        let sizes = (0..<md.raidDisks).map(rounded)
        var out: [Zone] = []
        var start: UInt64 = 0, end: UInt64 = 0
        while true {
            let slots = (0..<md.raidDisks).filter { sizes[$0] > start }
            guard let smallest = slots.map({ sizes[$0] }).min() else { break }
            end += (smallest - start) * UInt64(slots.count)
            out.append(Zone(end: end, deviceStart: start, slots: slots))
            start = smallest
        }
        if out.count > 1 && md.layout != 1 && md.layout != 2 {
            return .failure(Failure(message: "raid0 with \(out.count) zones (members of different sizes) and layout \(md.layout): raid0.c then follows its default_layout module parameter, which sysfs does not show"))
        }
        return .success(out)
    }

    func location(slot: Int, start: UInt64) -> Location {
        let d = serving[slot]
        return Location(slot: d, start: d >= 0 ? md.devices[d].dataOffset + start : start, role: .data)
    }

    func zoneIndex(_ s: UInt64) -> Int { zones.partitionPoint { $0.end <= s } }

    func down(_ r: SectorRange, rel: UInt64) -> [Extent] {
        var out: [Extent] = []
        var s = rel
        let end = rel + r.length
        while s < end {
            let z = zoneIndex(s)
            guard z < zones.count else {
                out.append(frame.unknownExtent(SectorRange(start: frame.start + s, end: frame.start + end), "md array \(frame.deviceName): beyond its last zone"))
                break
            }
            let zone = zones[z], zoneStart = z > 0 ? zones[z - 1].end : 0
            let inZone = s - zoneStart
            let len: UInt64, slot: Int, memberSector: UInt64
            if linear {
                len = min(end, zone.end) - s
                slot = zone.slots[0]
                memberSector = inZone
            } else {
                let chunk = md.chunkSectors, n = UInt64(zone.slots.count)
                let select = md.layout == 2 ? inZone : s
                slot = zone.slots[Int((select / chunk) % n)]
                memberSector = zone.deviceStart + inZone / (chunk * n) * chunk + inZone % chunk
                len = min(chunk - inZone % chunk, end - s, zone.end - s)
            }
            out.append(Extent(start: frame.start + s, length: len, kind: .data, redundancy: .single, locations: [location(slot: slot, start: memberSector)]))
            s += len
        }
        return out
    }

    func up(slot frameSlot: Int, _ range: SectorRange) -> [Extent] {
        guard let slot = serving.firstIndex(of: frameSlot) else { return [] }
        let offset = md.devices[frameSlot].dataOffset
        var out: [Extent] = []
        var zoneStart: UInt64 = 0
        for zone in zones {
            defer { zoneStart = zone.end }
            guard let k = zone.slots.firstIndex(of: slot) else { continue }
            let n = UInt64(zone.slots.count)
            let perDevice = (zone.end - zoneStart) / n
            let lo = max(range.start, offset + zone.deviceStart), hi = min(range.end, offset + zone.deviceStart + perDevice)
            guard lo < hi else { continue }
            if linear {
                let a = zoneStart + (lo - offset - zone.deviceStart)
                out.append(contentsOf: down(SectorRange(start: frame.start + a, length: hi - lo)))
                continue
            }
            let chunk = md.chunkSectors
            var d = lo - offset - zone.deviceStart
            let stop = hi - offset - zone.deviceStart
            while d < stop {
                let row = d / chunk, inChunk = d % chunk
                let len = min(chunk - inChunk, stop - d)
                // The zone's chunk whose device is this one: (select / chunk) % n == k.
                let shift = md.layout == 2 ? 0 : (zoneStart / chunk) % n
                let c = row * n + (UInt64(k) + n - shift) % n
                let a = zoneStart + c * chunk + inChunk
                if a < frame.length { out.append(contentsOf: down(SectorRange(start: frame.start + a, length: min(len, frame.length - a)))) }
                d += len
            }
        }
        return out
    }

    /// raid0.c with one zone (members of one size): dm-stripe's arithmetic, a row of chunks a
    /// period; md-linear.c: each member 1:1. With several raid0 zones: none.
    var period: (member: UInt64, device: UInt64)? {
        if linear { return (1, 1) }
        guard zones.count == 1, md.chunkSectors > 0 else { return nil }
        return (md.chunkSectors, md.chunkSectors * UInt64(zones[0].slots.count))
    }

    func periodOrigin(slot frameSlot: Int) -> UInt64? {
        guard linear || zones.count == 1, let slot = serving.firstIndex(of: frameSlot),
              let zone = zones.first(where: { $0.slots.contains(slot) }) else { return nil }
        return md.devices[frameSlot].dataOffset + zone.deviceStart
    }

    func footprint(slot frameSlot: Int) -> UInt64? {
        guard let slot = serving.firstIndex(of: frameSlot) else { return 0 }
        var zoneStart: UInt64 = 0, used: UInt64 = 0
        for zone in zones {
            if zone.slots.contains(slot) { used = zone.deviceStart + (zone.end - zoneStart) / UInt64(zone.slots.count) }
            zoneStart = zone.end
        }
        return used
    }
}
