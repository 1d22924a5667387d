import StackSystem

/// Where use cases get the time: the wall clock for what they record (ISO 8601, UTC, as the
/// registry writes times) and a monotonic clock for what they measure. A protocol so that a
/// test can fix the time and get the same keys and records every run.
public protocol TimeSource: Sendable {
    /// Now, as the registry and the outbox write it.
    func now() -> String
    /// Nanoseconds of a monotonic clock, for durations.
    func monotonicNanoseconds() -> UInt64
}

/// The machine's clocks.
public struct SystemTime: TimeSource {
    public init() {}
    public func now() -> String { Dispatcher.timestamp() }
    public func monotonicNanoseconds() -> UInt64 { Monotonic.nanoseconds() }
}

/// A time that stays put, for tests: every `now()` is `at`.
public struct FixedTime: TimeSource {
    public var at: String
    public init(_ at: String) { self.at = at }
    public func now() -> String { at }
    public func monotonicNanoseconds() -> UInt64 { 0 }
}
