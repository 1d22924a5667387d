/// What a member device is to the target that uses it; reports name it, and redundancy rules
/// depend on it (losing a raid metadata device fails that leg; losing thin-pool metadata loses
/// the mapping of every thin volume in the pool).
public enum MemberRole: String, Sendable, Codable, Hashable {
    case data, metadata, log, origin, cow, cache, pool, journal, path
}

/// A member device as written in a table: a path (`/dev/pmem0`), a dm name, or `major:minor`.
public struct MemberDevice: Hashable, Sendable, Codable {
    public var device: String
    /// Sector on the member where this member's part of the target begins.
    public var offset: UInt64
    public var role: MemberRole

    public init(device: String, offset: UInt64 = 0, role: MemberRole = .data) {
        self.device = device
        self.offset = offset
        self.role = role
    }
}

/// One line of a dm table: `start length target args`, the target's sector window on the
/// device and its parsed arguments (drivers/md/dm-table.c `dm_table_add_target`).
public struct Target: Hashable, Sendable {
    public var start: UInt64
    public var length: UInt64
    /// The target's type and arguments; its file under `Targets/` knows everything about it.
    public var kind: any TargetType

    public init(start: UInt64, length: UInt64, kind: any TargetType) {
        self.start = start
        self.length = length
        self.kind = kind
    }

    public var range: SectorRange { SectorRange(start: start, length: length) }
    public var typeName: String { kind.typeName }
    /// Every member device, in table order, with its role.
    public var members: [MemberDevice] { kind.members }
    /// The argument words in the kernel's printed form.
    public var arguments: [String] { kind.tableArguments }
    /// The table line as `dmsetup table` prints it: `<start> <length> <type> <arguments>`.
    public var line: String { (["\(start)", "\(length)", typeName] + arguments).joined(separator: " ") }

    public static func == (a: Target, b: Target) -> Bool {
        a.start == b.start && a.length == b.length && a.kind.isEqual(to: b.kind)
    }

    public func hash(into h: inout Hasher) {
        h.combine(start)
        h.combine(length)
        h.combine(typeName)
        kind.hash(into: &h)
    }
}

/// A device's table: targets sorted by start, covering `[0, size)` without gaps
/// (the kernel refuses gaps, dm-table.c `dm_table_complete` / `device_area_is_invalid`).
public struct DeviceTable: Hashable, Sendable {
    public var targets: [Target]
    public init(targets: [Target]) { self.targets = targets }
    public var size: UInt64 { targets.last.map { $0.start + $0.length } ?? 0 }

    /// The distinct member devices of all targets, in first-use order.
    public var memberDevices: [String] {
        var seen = Set<String>(), out: [String] = []
        for t in targets { for m in t.members where seen.insert(m.device).inserted { out.append(m.device) } }
        return out
    }
}
