import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// What one attempt to deliver an event to a sink gave: delivered or not, the status the sink
/// answered (a hook's exit status, an HTTP code), and a one-line detail for the outbox.
public struct SinkOutcome: Sendable, Hashable {
    public var delivered: Bool
    public var status: Int?
    public var detail: String?
}

/// One kind of notification sink: everything dmstack knows about it lives in its file under
/// `Notify/Sinks/`: its `type:` word in the configuration, the strict decoding of its keys,
/// and its delivery. Found by that word in `Sinks.all`; nothing else switches on sink types.
/// A delivery says what happened and never throws, never retries (the outbox does) and never
/// blocks past its timeout.
public protocol NotificationSink: Sendable, Hashable {
    /// The `type:` word of this sink in the configuration (`jsonl`).
    static var type: String { get }
    /// Reads this sink's keys from its entry of `sinks:`; `type` and `name` are read by
    /// `NotifyConfig.decode`, and every key nobody reads is refused after this returns.
    static func decode(_ map: inout SpecMap) throws(SpecError) -> Self
    /// Delivers `event`, whose compact JSON is `payload`, as the sink named `sink` in the
    /// configuration; `attempt` counts from 1.
    func deliver(_ event: NotificationEvent, payload: String, attempt: Int, sink: String) -> SinkOutcome
    /// The files this sink writes itself: `remove` refuses to freeze the filesystem under one,
    /// since a write there would wait for the thaw that comes after it.
    var writtenFiles: [String] { get }
}

extension NotificationSink {
    public var writtenFiles: [String] { [] }
    /// Equality across the existential: same type and same value.
    func isEqual(to other: any NotificationSink) -> Bool { (other as? Self) == self }
}

/// Every sink type, looked up by its `type:` word, and what the sinks share (the key fields,
/// one Unix datagram). Registering a new sink is one line in `all`.
public enum Sinks {
    /// The registered sink types, in the order the configuration's errors list them.
    public static let all: [any NotificationSink.Type] = [
        JSONLinesSink.self, ExecSink.self, JournalSink.self, SyslogSink.self, AlertmanagerSink.self,
    ]

    /// Every `type:` word, in registration order, for messages.
    static var names: [String] { all.map { $0.type } }

    /// The registered sink type of a `type:` word, nil for a word no sink has.
    public static func type(named name: String) -> (any NotificationSink.Type)? { all.first { $0.type == name } }

    /// The key fields every sink exposes, named as the exec sink's environment variables
    /// (the journal's fields are the same names).
    static func fields(_ e: NotificationEvent, attempt: Int, sink: String) -> [(String, String)] {
        [("DMSTACK_EVENT_KEY", e.key), ("DMSTACK_EVENT_KIND", e.kind.rawValue), ("DMSTACK_SEVERITY", e.severity.rawValue),
         ("DMSTACK_LEAF", e.leaf), ("DMSTACK_RANGE", e.range), ("DMSTACK_SUMMARY", e.summary),
         ("DMSTACK_MOUNTPOINTS", e.filesystems.map(\.mountpoint).joined(separator: " ")),
         ("DMSTACK_FILES", String(e.filesystems.reduce(0) { $0 + $1.filesTotal })),
         ("DMSTACK_PIDS", Array(Set(e.filesystems.flatMap { $0.processes.map(\.pid) })).sorted().map(String.init).joined(separator: " ")),
         ("DMSTACK_DEGRADED", e.degraded.joined(separator: " ")),
         ("DMSTACK_ATTEMPT", String(attempt)), ("DMSTACK_SINK", sink)]
    }

    /// Delivers `event` (whose compact JSON is `payload`) to `sink`; `attempt` counts from 1.
    public static func deliver(_ event: NotificationEvent, payload: String, to sink: SinkConfig, attempt: Int) -> SinkOutcome {
        sink.kind.deliver(event, payload: payload, attempt: attempt, sink: sink.name)
    }

    static func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    /// One datagram on a Unix socket; the errno as status when it fails.
    static func sendDatagram(_ bytes: [UInt8], to path: String) -> SinkOutcome {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return SinkOutcome(delivered: false, status: Int(errno), detail: "socket: \(errorText())") }
        defer { Syscall.close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            return SinkOutcome(delivered: false, detail: "socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in pathBytes.enumerated() { raw[i] = b }
        }
        let sent = withUnsafePointer(to: &address) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                // Never blocks: a journald or syslogd stuck (on a frozen /var, say) must not stop dmstack.
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT), sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        guard sent == bytes.count else {
            let code = errno
            return SinkOutcome(delivered: false, status: Int(code), detail: "cannot send to \(path): \(errorText(code))")
        }
        return SinkOutcome(delivered: true)
    }
}
