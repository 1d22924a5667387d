import CLinux
import FoundationEssentials
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

/// The notification sinks. Each delivers one event and says what happened; none throws, none
/// retries (the outbox does), none blocks past its timeout.
public enum Sinks {
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
        switch sink.kind {
        case .jsonLines(let path): return jsonLines(payload, path: path)
        case .exec(let argv, let timeout): return exec(argv, event: event, payload: payload, timeout: timeout, attempt: attempt, sink: sink.name)
        case .journal(let socket):
            // Where no journald listens (a container, the test VM), the syslog socket instead.
            if socket == NotifyConfig.journalSocket && !Syscall.exists(socket) {
                return syslog(event, socket: NotifyConfig.syslogSocket, facility: 3, attempt: attempt, sink: sink.name)
            }
            return journal(event, payload: payload, socket: socket, attempt: attempt, sink: sink.name)
        case .syslog(let socket, let facility): return syslog(event, socket: socket, facility: facility, attempt: attempt, sink: sink.name)
        case .alertmanager(let url, let timeout, let labels): return alertmanager(event, url: url, timeout: timeout, labels: labels)
        }
    }

    static func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    // MARK: JSON lines

    /// One line per event, appended with a single write(2) on an O_APPEND file and fsync'd
    /// before it counts as delivered; stdout is written as it is.
    static func jsonLines(_ payload: String, path: String?) -> SinkOutcome {
        let bytes = Array((payload + "\n").utf8)
        do {
            let fd = try path.map { (path) throws(SystemError) in try Syscall.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode: 0o600) } ?? 1
            defer { if path != nil { Syscall.close(fd) } }
            try Syscall.writeAll(fd, bytes, path: path ?? "stdout")
            if let path { try Syscall.fsync(fd, path: path, operation: "fsync") }
        } catch {
            return SinkOutcome(delivered: false, detail: error.description)
        }
        return SinkOutcome(delivered: true)
    }

    // MARK: exec

    /// argv as configured (no shell), the event JSON on stdin, the key fields in DMSTACK_*
    /// variables; delivered when it exits 0 within `timeout`.
    static func exec(_ argv: [String], event: NotificationEvent, payload: String, timeout: Double, attempt: Int, sink: String) -> SinkOutcome {
        let environment = fields(event, attempt: attempt, sink: sink).map { "\($0.0)=\($0.1)" }
        let result: CommandRunner.Result
        do {
            result = try CommandRunner.run(argv, input: Array(payload.utf8), environment: environment, timeout: timeout, keepStdout: true)
        } catch {
            return SinkOutcome(delivered: false, detail: "\(error)")
        }
        if result.timedOut {
            return SinkOutcome(delivered: false, status: Int(result.status), detail: "\(argv[0]) timed out after \(timeout) s and was killed")
        }
        let last = result.output.split(whereSeparator: \.isNewline).last.map(String.init)
        if result.status == 0 { return SinkOutcome(delivered: true, status: 0) }
        return SinkOutcome(delivered: false, status: Int(result.status), detail: "\(argv[0]) exited with status \(result.status)" + (last.map { ": \($0)" } ?? ""))
    }

    // MARK: journal and syslog

    /// systemd-journald's native protocol (systemd.journal-fields(7), "Native Journal
    /// Protocol"): one datagram of FIELD=value lines; a value with a newline is sent as FIELD,
    /// newline, its 64-bit little-endian length, the bytes, newline. DMSTACK_EVENT holds the
    /// whole JSON, dropped if the datagram is too large for the socket.
    static func journal(_ event: NotificationEvent, payload: String, socket: String, attempt: Int, sink: String) -> SinkOutcome {
        let priority = event.severity == .critical ? 2 : event.severity == .warning ? 4 : 6
        var fields: [(String, String)] = [("MESSAGE", "dmstack: \(event.kind.rawValue) \(event.leaf): \(event.summary)"),
                                          ("PRIORITY", String(priority)), ("SYSLOG_IDENTIFIER", "dmstack"),
                                          ("SYSLOG_FACILITY", "3")]
        fields += Self.fields(event, attempt: attempt, sink: sink)
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
        let outcome = sendDatagram(full, to: socket)
        if !outcome.delivered, outcome.status == Int(EMSGSIZE) || outcome.status == Int(ENOBUFS) {
            return sendDatagram(datagram(fields), to: socket)
        }
        return outcome
    }

    /// A syslog datagram as glibc's syslog(3) frames it (`<PRI>Mmm dd hh:mm:ss dmstack[pid]: `),
    /// the key fields as an RFC 5424 structured-data element at the start of the message
    /// (enterprise number 32473, the one RFC 5612 reserves for examples).
    static func syslog(_ event: NotificationEvent, socket: String, facility: Int, attempt: Int, sink: String) -> SinkOutcome {
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
        let data = fields(event, attempt: attempt, sink: sink)
            .filter { !["DMSTACK_SUMMARY", "DMSTACK_ATTEMPT", "DMSTACK_SINK"].contains($0.0) }
            .map { name, value in
                let short = name.dropFirst("DMSTACK_".count)
                return "\((short.hasPrefix("EVENT_") ? short.dropFirst("EVENT_".count) : short).lowercased())=\"\(quote(value))\""
            }
            .joined(separator: " ")
        let line = "<\(facility * 8 + severity)>\(String(filledBuffer: stamp)) dmstack[\(getpid())]: [dmstack@32473 \(data)] "
            + quote("\(event.kind.rawValue) \(event.leaf): \(event.summary)")
        return sendDatagram(Array(line.utf8), to: socket)
    }

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

    // MARK: Alertmanager

    /// An alert of the Alertmanager API v2 (POST /api/v2/alerts takes a list of them).
    struct Alert: Encodable {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAt: String
    }

    static let alertNames: [NotificationEvent.Kind: String] = [
        .remove: "DmstackLeafRemoved", .failure: "DmstackBadRange", .degraded: "DmstackDegraded", .test: "DmstackTest",
    ]

    /// The alert of an event: labels identify it (the idempotency key among them, so a
    /// redelivery is the same alert to Alertmanager), annotations describe it.
    static func alert(_ event: NotificationEvent, labels extra: [String: String]) -> Alert {
        var labels = extra
        labels["alertname"] = alertNames[event.kind]
        labels["severity"] = event.severity.rawValue
        labels["instance"] = event.host
        labels["leaf"] = event.leaf
        labels["dmstack_key"] = event.key
        var description: [String] = []
        for fs in event.filesystems {
            description.append("\(fs.mountpoint) (\(fs.type) on \(fs.device)): \(fs.filesTotal) files"
                + (fs.metadata.isEmpty ? "" : ", metadata \(fs.metadata.joined(separator: " "))")
                + (fs.processes.isEmpty ? "" : ", pids \(Array(Set(fs.processes.map(\.pid))).sorted().map(String.init).joined(separator: " "))")
                + (fs.actions.isEmpty ? "" : "; \(fs.actions.joined(separator: ", "))"))
        }
        if !event.degraded.isEmpty { description.append("degraded: \(event.degraded.joined(separator: " "))") }
        description += event.other
        var annotations = ["summary": "\(event.kind.rawValue) \(event.leaf) \(event.range): \(event.summary)"]
        if !description.isEmpty { annotations["description"] = description.joined(separator: "\n") }
        return Alert(labels: labels, annotations: annotations, startsAt: event.at)
    }

    static func alertmanager(_ event: NotificationEvent, url: String, timeout: Double, labels: [String: String]) -> SinkOutcome {
        let body: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            body = Array(try encoder.encode([alert(event, labels: labels)]))
        } catch {
            return SinkOutcome(delivered: false, detail: "cannot encode the alert: \(error)")
        }
        var status = 0
        var error = [CChar](repeating: 0, count: 256), reply = [CChar](repeating: 0, count: 512)
        let rc = body.withUnsafeBytes { raw in
            clinux_http_post_json(url, raw.baseAddress, raw.count, max(1, Int(timeout * 1000)), &status, &error, error.count, &reply, reply.count)
        }
        guard rc == 0 else { return SinkOutcome(delivered: false, detail: "POST \(url): \(String(filledBuffer: error))") }
        guard (200..<300).contains(status) else {
            let line = String(filledBuffer: reply).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            return SinkOutcome(delivered: false, status: status, detail: "POST \(url): HTTP \(status)" + (line.isEmpty ? "" : ": \(line)"))
        }
        return SinkOutcome(delivered: true, status: status)
    }
}
