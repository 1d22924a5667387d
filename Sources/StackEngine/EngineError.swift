import StackModel
import StackSystem

/// A failure of an engine read or a use case, with the kind of failure a command turns into
/// its documented exit status: a bad argument, a malformed input, refused for safety, or a run
/// time failure.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    /// Which exit status the failure means (usage 64, data 65, refused 3, failure 1, partial 2:
    /// some of it was done and could not be undone).
    public enum Kind: Sendable, Hashable { case usage, dataError, refused, failure, partial }
    public var kind: Kind
    public var message: String
    public var description: String { message }
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// A registry failure: a name taken by another holder is refused; a registry that cannot
    /// be opened or read (no permission, not a directory, damaged or not a database) is a
    /// run-time failure, as any state file dmstack keeps (issue 18: never "none registered").
    public init(_ error: RegistryError) {
        let kind: Kind = switch error.kind {
        case .conflict: .refused
        case .corrupt, .access, .other: .failure
        }
        self.init(kind, error.message)
    }
}

/// Runs a registry call, its failure turned into an `EngineError`.
public func usingRegistry<T>(_ body: () throws(RegistryError) -> T) throws(EngineError) -> T {
    do { return try body() } catch { throw EngineError(error) }
}

/// A change failure as an engine error: refused when a device is in use, partial when its
/// rollback failed too, else a failure.
extension EngineError {
    init(_ failure: ChangeFailure) {
        let kind: Kind = !failure.rollbackFailures.isEmpty ? .partial : failure.category == .inUse ? .refused : .failure
        self.init(kind, failure.description)
    }
}
