import FoundationEssentials
import StackModel
import StackSystem

/// Where a command's view of the machine comes from: one protocol, two engines, chosen once
/// at start-up (stratisd's `Engine` / `SimEngine`). Every read command works on the
/// `SystemSnapshot` an engine returns, so live and offline answers are the same by construction.
public protocol Engine: Sendable {
    /// A short description for messages: "the live system" or the snapshot file.
    var source: String { get }
    func snapshot() throws -> SystemSnapshot
}

/// The machine dmstack runs on, read through sysfs, libdevmapper, libblkid and /proc.
public struct LiveEngine: Engine {
    public let discovery: LiveDiscovery
    public let dmstackVersion: String

    public init(dmstackVersion: String, discovery: LiveDiscovery = LiveDiscovery()) {
        self.dmstackVersion = dmstackVersion
        self.discovery = discovery
    }

    public var source: String { "the live system" }

    public func snapshot() throws -> SystemSnapshot {
        let now = Date.now.formatted(.iso8601)
        return try discovery.snapshot(dmstackVersion: dmstackVersion, capturedAt: now)
    }
}

/// A machine captured elsewhere by `dmstack capture`.
public struct SnapshotEngine: Engine {
    public let file: String
    public init(file: String) { self.file = file }

    public var source: String { file }

    public func snapshot() throws -> SystemSnapshot {
        let bytes: [UInt8]
        do { bytes = try SectorReader.contents(of: file) } catch {
            throw SnapshotFileError(file: file, message: "\(error)")
        }
        return try SnapshotCodec.decode(Data(bytes), file: file)
    }
}
