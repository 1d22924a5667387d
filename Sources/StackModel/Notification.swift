/// One notification: what happened to a leaf and what it hits, small enough for any sink (a
/// hook's stdin, a journal entry, an Alertmanager alert). The full impact stays with
/// `dmstack simulate`; an event names at most `fileLimit` files per filesystem and counts the rest.
public struct NotificationEvent: Codable, Sendable, Hashable {
    /// remove (the whole leaf went or is going), failure (a bad range), degraded (a raid or
    /// mirror lost a member: dm event), test (`dmstack events test`).
    public enum Kind: String, Codable, Sendable, CaseIterable { case remove, failure, degraded, test }
    /// critical: data or a filesystem is lost; warning: redundancy saved it, or it is unknown;
    /// info: nothing above the leaf is hit.
    public enum Severity: String, Codable, Sendable { case critical, warning, info }

    public struct Process: Codable, Sendable, Hashable {
        public var pid: Int32
        public var command: String
        public var how: String
        public var path: String
    }

    public struct Filesystem: Codable, Sendable, Hashable {
        public var mountpoint: String
        public var device: String
        public var type: String
        public var roles: [String]
        public var metadata: [String]
        public var filesTotal: Int
        public var files: [String]
        public var processes: [Process]
        /// `action target` as the kernel would take them (see simulate).
        public var actions: [String]
    }

    /// The idempotency key: the same occurrence always gets the same key, so a receiver can
    /// drop a redelivery (delivery is at least once).
    public var key: String
    public var kind: Kind
    public var severity: Severity
    /// ISO 8601, when it was recorded.
    public var at: String
    /// What raised it: `remove`, `monitor`, `events test`, or `damage check` (a resolution:
    /// the ledger found its event's damage gone).
    public var origin: String
    public var host: String
    public var leaf: String
    /// Sectors of the leaf, `start+length`.
    public var range: String
    public var summary: String
    public var filesystems: [Filesystem]
    /// Devices whose redundancy saved the range (now degraded).
    public var degraded: [String]
    /// Devices that lose data with no filesystem on them, and ranges not judged.
    public var other: [String]
    /// What dmstack could not learn (`Impact.unknownLines`: each with its reason code in
    /// brackets); absent when the answer is whole (and in events recorded before it was kept).
    public var unknown: [String]?
    /// Set on the event that says another is over (its damage cleared, the raid healthy
    /// again, the leaf back): the key of that event. Absent on every other event.
    public var resolves: String?
    /// With `resolves`: when the event it ends was recorded (an alert's startsAt).
    public var startedAt: String?

    public static let fileLimit = 100

    public init(key: String, kind: Kind, severity: Severity, at: String, origin: String, host: String, leaf: String,
                range: String, summary: String, filesystems: [Filesystem] = [], degraded: [String] = [], other: [String] = []) {
        self.key = key
        self.kind = kind
        self.severity = severity
        self.at = at
        self.origin = origin
        self.host = host
        self.leaf = leaf
        self.range = range
        self.summary = summary
        self.filesystems = filesystems
        self.degraded = degraded
        self.other = other
    }

    /// The idempotency key of an impact's event (see `init(impact:...)`), known before the
    /// impact is computed: a monitor skips what it recorded before.
    public static func key(kind: Kind, leafIdentity: String, range: SectorRange, occurrence: String) -> String {
        EventKey.make([kind.rawValue, leafIdentity, "\(range.start)+\(range.length)", occurrence])
    }

    /// The occurrence of a registered leaf's going, shared by `remove` and `monitor` so that
    /// both name it with one key: the newest time a holder recorded the leaf present.
    public static func goneOccurrence(lastSeen: String) -> String { "gone after \(lastSeen)" }

    /// The event of an impact. `occurrence` tells two occurrences of the same event apart
    /// (a removal's time, a bad range's identity); it goes into the key, with the leaf's
    /// stable identity, the kind and the range.
    public init(impact: Impact, leafIdentity: String, occurrence: String, at: String, origin: String, host: String) {
        let kind: Kind = impact.event == .remove ? .remove : .failure
        let range = "\(impact.range.start)+\(impact.range.length)"
        var filesystems: [Filesystem] = []
        for fs in impact.filesystems {
            filesystems.append(Filesystem(
                mountpoint: fs.mountpoint, device: fs.device, type: fs.type, roles: fs.roles.map(\.rawValue),
                metadata: Array(Set(fs.metadata.map(\.kind))).sorted(), filesTotal: fs.files.count,
                files: fs.files.prefix(Self.fileLimit).map(\.path),
                processes: Array(Set(fs.processes.map { Process(pid: $0.pid, command: $0.command, how: $0.how, path: $0.path) }))
                    .sorted { ($0.pid, $0.path, $0.how) < ($1.pid, $1.path, $1.how) },
                actions: fs.actions.map { "\($0.action) \($0.target)" }))
        }
        let degraded = impact.degradedDevices
        let other = impact.notices.filter { $0.action != .notifyDegraded }.map { "\($0.target): \($0.reason)" }
        let severity: Severity = !filesystems.isEmpty || impact.notices.contains { $0.action == .lost } ? .critical
            : !degraded.isEmpty || !other.isEmpty ? .warning : .info
        self.init(key: Self.key(kind: kind, leafIdentity: leafIdentity, range: impact.range, occurrence: occurrence), kind: kind, severity: severity, at: at,
                  origin: origin, host: host, leaf: impact.leaf, range: range, summary: impact.summary,
                  filesystems: filesystems, degraded: degraded, other: other)
        let unknown = impact.unknownLines
        if !unknown.isEmpty {
            self.unknown = unknown
            // Not knowing is never "nothing above the leaf is hit".
            if self.severity == .info { self.severity = .warning }
        }
    }
}

/// Idempotency keys: `dmstack-` and 32 hex digits, two FNV-1a 64-bit hashes of the parts
/// (not a secret, only stable and well spread).
public enum EventKey {
    public static func make(_ parts: [String]) -> String {
        let bytes = Array(parts.joined(separator: "\u{1f}").utf8)
        var a: UInt64 = 0xcbf2_9ce4_8422_2325, b: UInt64 = 0x8422_2325_cbf2_9ce4
        for byte in bytes {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = (b ^ UInt64(byte ^ 0x5c)) &* 0x0000_0100_0000_01b3
        }
        return "dmstack-" + hex(a) + hex(b)
    }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

/// When a failed delivery is tried again: `initial` seconds after the first failure, doubling
/// up to `maximum`; after `attempts` failures it is marked failed (only `dmstack events retry`
/// tries it again). Zero attempts means never give up.
public struct RetryPolicy: Sendable, Hashable {
    public var initial: Double = 5
    public var maximum: Double = 3600
    public var attempts: Int = 20

    public init(initial: Double = 5, maximum: Double = 3600, attempts: Int = 20) {
        self.initial = initial
        self.maximum = maximum
        self.attempts = attempts
    }

    /// Seconds to wait after the `failures`-th failed attempt (1-based).
    public func delay(afterFailures failures: Int) -> Double {
        guard failures > 0 else { return 0 }
        var d = initial
        for _ in 1..<min(failures, 64) {
            d *= 2
            if d >= maximum { return maximum }
        }
        return min(d, maximum)
    }

    /// Whether `failures` failed attempts mean giving up.
    public func exhausted(_ failures: Int) -> Bool { attempts > 0 && failures >= attempts }
}
