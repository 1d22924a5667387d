/// A target as a spec writes it (YAML, examples/stack.yaml): its type's file decodes it
/// strictly and plans it into typed table targets, so `apply` emits every table through the
/// same types that parse the kernel's. Registered by name in `SpecTargets`.
public protocol SpecTarget: Sendable, Hashable {
    /// The `type:` words this target is written as (raid takes one per level).
    static var specNames: [String] { get }
    /// Reads the target's keys (every key not read is refused as unknown).
    static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> Self
    /// Every member reference, in table order.
    var references: [MemberSpec] { get }
    /// Resolves members and sizes into the table targets this spec target becomes.
    func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget]
}

extension SpecTarget {
    func isEqual(to other: any SpecTarget) -> Bool { (other as? Self) == self }
}

/// Every spec target type, looked up by its `type:` word. Registering one is a line here.
public enum SpecTargets {
    public static let all: [any SpecTarget.Type] = [
        LinearSpec.self, StripedSpec.self, RaidSpec.self, MirrorSpec.self, CryptSpec.self, SnapshotOriginSpec.self,
        SnapshotSpec.self, ThinPoolSpec.self, ThinSpec.self, WritecacheSpec.self, CacheSpec.self, DelaySpec.self,
        FlakeySpec.self, ErrorSpec.self, ZeroSpec.self,
    ]
    static let byName: [String: any SpecTarget.Type] = {
        var out: [String: any SpecTarget.Type] = [:]
        for t in all { for n in t.specNames { out[n] = t } }
        return out
    }()
    /// Every `type:` word, in registration order, for messages.
    static var names: [String] { all.flatMap { $0.specNames } }
}

/// One table target a spec target plans: its length and typed arguments.
public struct PlannedTarget: Sendable {
    public var length: UInt64
    public var target: any TargetType
}

/// Reads one target mapping of a spec for its type's `decode`: the strict key reader plus the
/// checks several types share (members, positive sizes, powers of two).
public struct SpecTargetDecoder {
    var map: SpecMap
    let node: SpecNode
    let file: String
    let path: String
    /// The `type:` word.
    public let type: String
    /// `size:` once read by `readSize`.
    public internal(set) var size: UInt64?

    func missing(_ key: String, _ message: String = "missing (required)") -> SpecError {
        SpecError(file: file, line: node.line, key: "\(path).\(key)", message: message)
    }

    mutating func member(_ key: String, allowSize: Bool = false) throws(SpecError) -> MemberSpec {
        guard let n = map.node(key) else { throw missing(key) }
        return try StackSpec.decodeMember(n, file: file, path: "\(path).\(key)", allowSize: allowSize)
    }

    mutating func members(minimum: Int, allowSize: Bool = false) throws(SpecError) -> [MemberSpec] {
        guard let items = try map.list("members") else { throw missing("members") }
        guard items.count >= minimum else { throw map.fail("members", "\(type) needs at least \(minimum) member(s), found \(items.count)") }
        var out: [MemberSpec] = []
        for (i, item) in items.enumerated() { out.append(try StackSpec.decodeMember(item, file: file, path: "\(path).members[\(i)]", allowSize: allowSize)) }
        return out
    }

    mutating func positive(_ key: String, default value: UInt64?) throws(SpecError) -> UInt64 {
        guard let v = try map.size(key) ?? value else { throw missing(key) }
        guard v > 0 else { throw map.fail(key, "must be greater than zero") }
        return v
    }

    func powerOfTwo(_ key: String, _ v: UInt64) throws(SpecError) {
        guard v & (v - 1) == 0 else { throw map.fail(key, "\(SpecSize.describe(v)) is not a power of two") }
    }

    mutating func readSize(required: Bool = false) throws(SpecError) {
        size = try map.size("size")
        if size == 0 { throw map.fail("size", "must be greater than zero") }
        if required && size == nil { throw missing("size", "missing (required for \(type))") }
    }
}

/// A member resolved by the planner: the table word for it and the sectors available from its
/// offset.
public struct ResolvedMember: Sendable {
    var word: String
    var available: UInt64
    /// Kernel name for real devices, `{volume}` for volumes of this spec.
    var identity: String
}

/// What one spec target's `plan` works with: member resolution, the use of member sectors
/// (checked for size here, for overlaps by the planner), steps to queue, the crypt key reader.
public struct TargetPlanning {
    let spec: StackSpec
    let target: TargetSpec
    let volume: String
    /// The volume's dm device exists already (thin ids are created only with it).
    let volumeExists: Bool
    let resolve: (MemberSpec) throws(PlanError) -> ResolvedMember
    let key: (String) -> Result<String, KeyFileError>
    var uses: [(identity: String, range: SectorRange, shared: Bool, member: MemberSpec)] = []
    var steps: [ApplyStep] = []

    func member(_ m: MemberSpec) throws(PlanError) -> ResolvedMember { try resolve(m) }

    mutating func use(_ r: ResolvedMember, _ m: MemberSpec, _ length: UInt64, shared: Bool = false) throws(PlanError) {
        guard length <= r.available else {
            throw fail(.size, m, "member \(m.ref) is too small: \(SpecSize.describe(length)) needed from offset \(SpecSize.describe(m.offset)), \(SpecSize.describe(r.available)) available")
        }
        uses.append((r.identity, SectorRange(start: m.offset, length: length), shared, m))
    }

    func fail(_ c: PlanError.Category, _ m: MemberSpec, _ message: String) -> PlanError {
        PlanError(c, spec, line: m.line, key: m.key, message)
    }

    /// An error about the target itself, or one of its keys (`suffix` like `.size`).
    func failTarget(_ c: PlanError.Category, key suffix: String = "", _ message: String) -> PlanError {
        PlanError(c, spec, line: target.line, key: target.key + suffix, message)
    }
}
