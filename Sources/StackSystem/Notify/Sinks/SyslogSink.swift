import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// `type: syslog`: a syslog datagram (RFC 3164 framing, RFC 5424 structured data in the
/// message) on `socket`, for hosts whose logs go through a syslog daemon rather than journald.
public struct SyslogSink: NotificationSink {
    public static let type = "syslog"
    /// Where syslog(3) sends.
    public static let defaultSocket = "/dev/log"
    /// The facility names of syslog(3) the configuration takes, and their codes.
    static let facilities = ["kern": 0, "user": 1, "daemon": 3, "auth": 4, "syslog": 5, "local0": 16, "local1": 17, "local2": 18,
                             "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23]
    public var socket: String
    /// The facility code (`daemon` is 3).
    public var facility: Int

    public init(socket: String, facility: Int) {
        self.socket = socket
        self.facility = facility
    }

    public static func decode(_ map: inout SpecMap) throws(SpecError) -> SyslogSink {
        let facility = try map.string("facility") ?? "daemon"
        guard let code = facilities[facility] else {
            throw map.fail("facility", "unknown facility '\(facility)' (one of \(facilities.keys.sorted().joined(separator: ", ")))")
        }
        return SyslogSink(socket: try map.string("socket") ?? defaultSocket, facility: code)
    }

    /// A syslog datagram as glibc's syslog(3) frames it (`<PRI>Mmm dd hh:mm:ss dmstack[pid]: `),
    /// the key fields as an RFC 5424 structured-data element at the start of the message
    /// (enterprise number 32473, the one RFC 5612 reserves for examples).
    public func deliver(_ event: NotificationEvent, payload: String, attempt: Int, sink: String) -> SinkOutcome {
        let severity = event.severity == .critical ? 2 : event.severity == .warning ? 4 : 6
        var now = time(nil)
        var tm = tm()
        localtime_r(&now, &tm)
        var stamp = [CChar](repeating: 0, count: 32)
        strftime(&stamp, stamp.count, "%b %e %H:%M:%S", &tm)
        func quote(_ s: String) -> String {
            String(s.flatMap { c -> [Character] in c == "\"" || c == "\\" || c == "]" ? ["\\", c] : c.isNewline ? [" "] : [c] })
        }
        // The exec sink's fields, named without DMSTACK_ and EVENT_ (the summary is the message).
        let data = Sinks.fields(event, attempt: attempt, sink: sink)
            .filter { !["DMSTACK_SUMMARY", "DMSTACK_ATTEMPT", "DMSTACK_SINK"].contains($0.0) }
            .map { name, value in
                let short = name.dropFirst("DMSTACK_".count)
                return "\((short.hasPrefix("EVENT_") ? short.dropFirst("EVENT_".count) : short).lowercased())=\"\(quote(value))\""
            }
            .joined(separator: " ")
        let line = "<\(facility * 8 + severity)>\(String(filledBuffer: stamp)) dmstack[\(getpid())]: [dmstack@32473 \(data)] "
            + quote("\(event.kind.rawValue) \(event.leaf): \(event.summary)")
        return Sinks.sendDatagram(Array(line.utf8), to: socket)
    }
}
