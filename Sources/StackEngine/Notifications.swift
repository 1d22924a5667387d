import FoundationEssentials
import StackModel
import StackSystem

/// The durable outbox as commands use it: an event recorded once per key, the due deliveries
/// tried (or one event's, or every undelivered one now), the events listed; registry failures
/// as `EngineError`, so a command needs nothing of the store's own error type.
public struct Notifications {
    public let dispatcher: Dispatcher
    public init(_ dispatcher: Dispatcher) { self.dispatcher = dispatcher }

    /// Records `event` with a delivery per configured sink; false if its key was recorded before.
    public func record(_ event: NotificationEvent) throws(EngineError) -> Bool {
        try usingRegistry { () throws(RegistryError) in try dispatcher.record(event) }
    }

    /// Tries the due deliveries (`force`: every undelivered one; `only`: that event's).
    public func deliver(force: Bool = false, only event: String? = nil) throws(EngineError) -> Dispatcher.Report {
        try usingRegistry { () throws(RegistryError) in try dispatcher.dispatch(force: force, event: event) }
    }

    /// The newest `limit` events of `registry`, oldest first; none without a registry.
    public static func list(_ registry: HolderRegistry?, limit: Int) throws(EngineError) -> [OutboxEntry] {
        try usingRegistry { () throws(RegistryError) in try registry?.outbox(limit: limit) ?? [] }
    }

    /// An event as one JSON line, as the sinks get it.
    public static func payload(_ event: NotificationEvent) throws -> String { try Dispatcher.payload(event) }

    /// Deletes the delivered events recorded more than `seconds` ago; how many.
    public static func prune(_ registry: HolderRegistry, olderThan seconds: Double, now: Date = Date()) throws(EngineError) -> Int {
        let before = now.addingTimeInterval(-seconds).formatted(.iso8601)
        return try usingRegistry { () throws(RegistryError) in try registry.pruneDelivered(before: before) }
    }
}
