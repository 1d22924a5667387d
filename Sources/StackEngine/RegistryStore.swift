import StackSystem

/// Where the holder registry and outbox live; opened only when a use case needs it, so a
/// command that does not need it never creates or locks it.
public struct RegistryStore: Sendable {
    public let directory: String
    public init(directory: String) { self.directory = directory }

    /// The registry file's path, for messages.
    public var path: String { "\(directory)/\(HolderRegistry.fileName)" }

    /// The registry, created if missing.
    public func open() throws(EngineError) -> HolderRegistry {
        guard let db = try usingRegistry({ () throws(RegistryError) in try HolderRegistry.open(directory: directory) }) else {
            throw EngineError(.failure, "cannot open the registry in \(directory)")
        }
        return db
    }

    /// The registry if one exists; never creates it, and with `readOnly` never writes it.
    public func openExisting(readOnly: Bool = true) throws(EngineError) -> HolderRegistry? {
        try usingRegistry { () throws(RegistryError) in try HolderRegistry.open(directory: directory, create: false, readOnly: readOnly) }
    }

    /// The registry for a command that only reads (`list`, `damage`, `metrics`): opened
    /// read-only, so a read-only state directory serves and nothing is written; only a
    /// registry older than this dmstack is opened writable, to be migrated first.
    public func openForReading() throws(EngineError) -> HolderRegistry? {
        do {
            return try openExisting(readOnly: true)
        } catch {
            guard (try? HolderRegistry.isOlderThanThisVersion(directory: directory)) == true else { throw error }
            return try openExisting(readOnly: false)
        }
    }
}
