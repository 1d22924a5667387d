import StackModel

/// One configured sink, from /etc/dmstack/config.yaml `sinks:` (see `NotifyConfig`): its name
/// and the sink itself, of whichever registered type (`Sinks.all`) its `type:` word names.
public struct SinkConfig: Sendable, Hashable {
    /// Names the sink in the outbox: a delivery belongs to (event, sink name).
    public var name: String
    /// The sink's type and settings; it delivers.
    public var kind: any NotificationSink

    public init(name: String, kind: any NotificationSink) {
        self.name = name
        self.kind = kind
    }

    public static func == (lhs: SinkConfig, rhs: SinkConfig) -> Bool {
        lhs.name == rhs.name && lhs.kind.isEqual(to: rhs.kind)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(type(of: kind).type)
        hasher.combine(kind)
    }
}

/// dmstack's configuration file: the notification sinks, the retry policy, the monitor's poll
/// interval. Read strictly like a spec (unknown keys refused, one line per error). It lives in
/// StackSystem, beside the sinks, because each sink's file decodes its own keys: the
/// configuration knows sinks only through their registry.
public struct NotifyConfig: Sendable, Hashable {
    public static let defaultPath = "/etc/dmstack/config.yaml"

    public var sinks: [SinkConfig]
    public var retry = RetryPolicy()
    /// Seconds between two reads of every pmem badblocks list.
    public var badblocksInterval: Double = 5
    /// `events: {retention: 30d}`: how long a delivered event stays in the outbox; a monitor
    /// pass prunes the delivered ones older (nil: kept until `dmstack events prune`).
    public var retention: Double?

    public init(sinks: [SinkConfig], retry: RetryPolicy = RetryPolicy(), badblocksInterval: Double = 5) {
        self.sinks = sinks
        self.retry = retry
        self.badblocksInterval = badblocksInterval
    }

    /// Without a configuration file: the journal (syslog where no journald listens).
    public static let fallback = NotifyConfig(sinks: [SinkConfig(name: "journal", kind: JournalSink(socket: JournalSink.defaultSocket))])

    /// Decodes the configuration tree (see the man page's FILES for the format). Everything a
    /// delivery would trip over later is refused here, at load: an empty `sinks` list (events
    /// would be recorded for no one), `retry.initial` above `retry.max`, and an exec hook whose
    /// program others could change (`ExecSink.decode`).
    public static func decode(_ root: SpecNode, file: String) throws(SpecError) -> NotifyConfig {
        var top = try SpecMap(root, file: file, path: "")
        var config = NotifyConfig(sinks: [])
        var names: Set<String> = []
        let sinks = try top.list("sinks")
        if let sinks, sinks.isEmpty {
            throw top.fail("sinks", "is an empty list: no event would be delivered (list at least one sink, or leave the key out for the journal)")
        }
        for (i, node) in (sinks ?? []).enumerated() {
            var m = try SpecMap(node, file: file, path: "sinks[\(i)]")
            let type = try m.required("type")
            guard let sinkType = Sinks.type(named: type) else {
                throw m.fail("type", "unknown sink type '\(type)' (\(Sinks.names.joined(separator: ", ")))")
            }
            let kind = try sinkType.decode(&m)
            let name = try m.string("name") ?? "\(type)-\(i + 1)"
            guard names.insert(name).inserted else { throw m.fail("name", "sink name '\(name)' is used twice") }
            try m.finish()
            config.sinks.append(SinkConfig(name: name, kind: kind))
        }
        if let node = top.node("retry") {
            var r = try SpecMap(node, file: file, path: "retry")
            if let v = try r.duration("initial") { config.retry.initial = v }
            if let v = try r.duration("max") { config.retry.maximum = v }
            if let v = try r.integer("attempts", max: 1_000_000) { config.retry.attempts = Int(v) }
            try r.finish()
            guard config.retry.initial <= config.retry.maximum else {
                let initial = try r.string("initial") ?? "\(Int(config.retry.initial))s (the default)"
                let maximum = try r.string("max") ?? "\(Int(config.retry.maximum))s (the default)"
                throw r.fail(r.node("initial") != nil ? "initial" : "max",
                             "the first delay (initial: \(initial)) is longer than the longest (max: \(maximum))")
            }
        }
        if let node = top.node("events") {
            var r = try SpecMap(node, file: file, path: "events")
            // Kept for years if asked (ten at most: a retention is a date, not a timer).
            config.retention = try r.positiveDuration("retention", max: 3_650 * 86_400)
            try r.finish()
            // Shorter than a day would prune what a person has not looked at yet.
            if let v = config.retention, v < 86400 {
                throw r.fail("retention", "is shorter than a day (\(Int(v)) s): delivered events would be pruned before anyone read them")
            }
        }
        if let node = top.node("monitor") {
            var r = try SpecMap(node, file: file, path: "monitor")
            if let v = try r.positiveDuration("badblocks-interval") { config.badblocksInterval = v }
            try r.finish()
        }
        try top.finish()
        return config
    }
}
