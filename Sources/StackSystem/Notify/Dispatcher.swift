import FoundationEssentials
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// Records events in the outbox and delivers what is due, with the sinks and retry policy of
/// the configuration. Used by `remove`, `monitor` and `events`.
public struct Dispatcher {
    public let registry: HolderRegistry
    public let config: NotifyConfig

    public init(registry: HolderRegistry, config: NotifyConfig) {
        self.registry = registry
        self.config = config
    }

    /// An event as one line of JSON (sorted snake_case keys), as every sink gets it.
    public static func payload(_ event: NotificationEvent) throws -> String {
        let encoder = JSONOutputEncoder.make()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(event), as: UTF8.self)
    }

    /// Writes `event` to the outbox for every configured sink; false if its key was there.
    public func record(_ event: NotificationEvent) throws(RegistryError) -> Bool {
        let payload: String
        do { payload = try Self.payload(event) } catch { throw RegistryError(.other, "cannot encode event \(event.key): \(error)") }
        return try registry.enqueue(event, payload: payload, sinks: config.sinks.map(\.name), now: Self.now())
    }

    /// What one dispatch did.
    public struct Report: Sendable {
        public var delivered: [(event: String, sink: String)] = []
        public var failed: [(event: String, sink: String, detail: String)] = []
        /// Deliveries still not delivered after this pass (pending or failed).
        public var undelivered = 0
    }

    /// Tries every due delivery once (with `force`, every undelivered one, backoff and
    /// give-up ignored), oldest event first, and marks each. With `event`, only that event's
    /// deliveries (`remove` sends its own while the filesystems are frozen, not a backlog).
    public func dispatch(force: Bool = false, event only: String? = nil) throws(RegistryError) -> Report {
        var report = Report()
        var tried: Set<String> = []
        let me = ProcessToken.current
        let sinks = Dictionary(config.sinks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // A window of deliveries is claimed in one transaction and marked in one: two syncs a
        // window, not two a delivery. The window closes early after `windowSeconds`, so a
        // slow sink does not keep the rest claimed (they stay this process's and are taken
        // again by the next claim); a process killed inside a window leaves its claims
        // pending, and the next dispatcher sends them again.
        while true {
            let batch = try registry.claim(upTo: Self.window, force: force, now: Self.now(), skip: tried, claimant: me, event: only,
                                           isAlive: ProcessToken.isAlive)
            if batch.isEmpty { break }
            let opened = Self.now()
            var marks: [DeliveryMark] = []
            for claimed in batch {
                if !marks.isEmpty && Self.now() - opened > Self.windowSeconds { break }
                tried.insert(HolderRegistry.deliveryID(claimed.event, claimed.sink))
                let outcome: SinkOutcome
                if let sink = sinks[claimed.sink] {
                    do {
                        let event = try JSONOutputEncoder.decoder().decode(NotificationEvent.self, from: Data(claimed.payload.utf8))
                        outcome = Sinks.deliver(event, payload: claimed.payload, to: sink, attempt: claimed.attempts + 1)
                    } catch {
                        outcome = SinkOutcome(delivered: false, detail: "the stored event cannot be read: \(error)")
                    }
                } else {
                    outcome = SinkOutcome(delivered: false, detail: "sink '\(claimed.sink)' is not in the configuration")
                }
                marks.append(DeliveryMark(claimed: claimed, delivered: outcome.delivered, status: outcome.status, detail: outcome.detail,
                                          now: Self.now(), at: Self.timestamp()))
                if outcome.delivered {
                    report.delivered.append((claimed.event, claimed.sink))
                } else {
                    report.failed.append((claimed.event, claimed.sink, outcome.detail ?? "failed"))
                }
            }
            try registry.finish(marks, policy: config.retry)
        }
        report.undelivered = try registry.undelivered(event: only)
        return report
    }

    /// Deliveries claimed and marked together, and how long a window stays open at most.
    static let window = 64
    static let windowSeconds = 1.0

    /// Seconds since the epoch, as the outbox keeps due times.
    static func now() -> Double { Date.now.timeIntervalSince1970 }

    /// Now as every record of dmstack writes times: ISO 8601, UTC.
    public static func timestamp() -> String { Date.now.formatted(.iso8601) }
}
