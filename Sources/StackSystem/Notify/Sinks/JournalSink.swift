import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// `type: journal`: systemd-journald's native protocol (structured DMSTACK_* fields) on
/// `socket`, so `journalctl DMSTACK_LEAF=...` finds an event; the default sink.
public struct JournalSink: NotificationSink {
    public static let type = "journal"
    /// Where journald listens for native-protocol datagrams.
    public static let defaultSocket = "/run/systemd/journal/socket"
    public var socket: String

    public init(socket: String) {
        self.socket = socket
    }

    public static func decode(_ map: inout SpecMap) throws(SpecError) -> JournalSink {
        JournalSink(socket: try map.string("socket") ?? defaultSocket)
    }

    /// systemd-journald's native protocol (systemd.journal-fields(7), "Native Journal
    /// Protocol"): one datagram of FIELD=value lines; a value with a newline is sent as FIELD,
    /// newline, its 64-bit little-endian length, the bytes, newline. DMSTACK_EVENT holds the
    /// whole JSON, dropped if the datagram is too large for the socket.
    public func deliver(_ event: NotificationEvent, payload: String, attempt: Int, sink: String) -> SinkOutcome {
        // Where no journald listens (a container, the test VM), the syslog socket instead.
        if socket == Self.defaultSocket && !Syscall.exists(socket) {
            return SyslogSink(socket: SyslogSink.defaultSocket, facility: 3).deliver(event, payload: payload, attempt: attempt, sink: sink)
        }
        let priority = event.severity == .critical ? 2 : event.severity == .warning ? 4 : 6
        var fields: [(String, String)] = [("MESSAGE", "dmstack: \(event.kind.rawValue) \(event.leaf): \(event.summary)"),
                                          ("PRIORITY", String(priority)), ("SYSLOG_IDENTIFIER", "dmstack"),
                                          ("SYSLOG_FACILITY", "3")]
        fields += Sinks.fields(event, attempt: attempt, sink: sink)
        func datagram(_ fields: [(String, String)]) -> [UInt8] {
            var out: [UInt8] = []
            for (name, value) in fields {
                if value.contains(where: \.isNewline) {
                    out += Array(name.utf8) + [0x0a]
                    var length = UInt64(value.utf8.count).littleEndian
                    withUnsafeBytes(of: &length) { out += $0 }
                    out += Array(value.utf8) + [0x0a]
                } else {
                    out += Array("\(name)=\(value)\n".utf8)
                }
            }
            return out
        }
        let full = datagram(fields + [("DMSTACK_EVENT", payload)])
        let outcome = Sinks.sendDatagram(full, to: socket)
        if !outcome.delivered, outcome.status == Int(EMSGSIZE) || outcome.status == Int(ENOBUFS) {
            return Sinks.sendDatagram(datagram(fields), to: socket)
        }
        return outcome
    }
}
