import CLinux
import FoundationEssentials
import StackModel

/// `type: alertmanager`: POST to an Alertmanager API v2 `/api/v2/alerts` URL, one alert per
/// event, so dmstack's events route, group and silence like every other alert of the site.
public struct AlertmanagerSink: NotificationSink {
    public static let type = "alertmanager"
    public var url: String
    /// Seconds the whole POST may take.
    public var timeout: Double
    /// Labels added to every alert (`team: storage`), Prometheus label names only.
    public var labels: [String: String]

    public init(url: String, timeout: Double, labels: [String: String]) {
        self.url = url
        self.timeout = timeout
        self.labels = labels
    }

    public static func decode(_ map: inout SpecMap) throws(SpecError) -> AlertmanagerSink {
        let url = try map.required("url")
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw map.fail("url", "expected an http:// or https:// URL, got '\(url)'") }
        var labels: [String: String] = [:]
        if let node = map.node("labels") {
            var l = try SpecMap(node, file: map.file, path: map.keyPath("labels"))
            for e in l.entries {
                guard e.key.first.map({ $0.isLetter || $0 == "_" }) == true, e.key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                    throw l.fail(e.key, "not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
                }
                labels[e.key] = try l.required(e.key)
            }
            try l.finish()
        }
        return AlertmanagerSink(url: url, timeout: try map.positiveDuration("timeout") ?? 10, labels: labels)
    }

    /// An alert of the Alertmanager API v2 (POST /api/v2/alerts takes a list of them).
    struct Alert: Encodable {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAt: String
        /// Set when the condition is over: Alertmanager resolves the alert of the same labels.
        var endsAt: String?
    }

    static let alertNames: [NotificationEvent.Kind: String] = [
        .remove: "DmstackLeafRemoved", .failure: "DmstackBadRange", .degraded: "DmstackDegraded", .test: "DmstackTest",
    ]

    /// The alert of an event: labels identify it (the idempotency key among them, so a
    /// redelivery is the same alert to Alertmanager), annotations describe it. A resolution
    /// (`resolves`) is the alert it ends, with the same labels (the ended event's key) and
    /// `endsAt`: Alertmanager matches alerts by their label set (API v2 postableAlert).
    static func alert(_ event: NotificationEvent, labels extra: [String: String]) -> Alert {
        var labels = extra
        labels["alertname"] = alertNames[event.kind]
        labels["severity"] = event.severity.rawValue
        labels["instance"] = event.host
        labels["leaf"] = event.leaf
        labels["dmstack_key"] = event.resolves ?? event.key
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
        guard event.resolves != nil else { return Alert(labels: labels, annotations: annotations, startsAt: event.at) }
        return Alert(labels: labels, annotations: annotations, startsAt: event.startedAt ?? event.at, endsAt: event.at)
    }

    public func deliver(_ event: NotificationEvent, payload: String, attempt: Int, sink: String) -> SinkOutcome {
        let body: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            body = Array(try encoder.encode([Self.alert(event, labels: labels)]))
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
