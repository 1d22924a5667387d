import Foundation
import StackEngine
import StackModel
import StackSystem

/// A machine to test use cases on: the bundled example snapshots, loaded as values so a test
/// can change them (a device removed, badblocks added, a raid leg marked dead) and ask a
/// second engine about the machine afterwards; a temporary state directory for the registry.
enum Machines {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../examples").standardized.path

    /// `examples/NAME.json` as a value.
    static func snapshot(_ name: String) throws -> SystemSnapshot {
        let file = "\(examples)/\(name).json"
        return try SnapshotCodec.decode(try Data(contentsOf: URL(fileURLWithPath: file)), file: file)
    }

    /// raid1-raid5-loop: `mirror` (dm-0, raid1 on loop0 loop1) mounted on
    /// /tmp/dmstack-mnt/mirror, `parity` (dm-1, raid5 on loop2 loop3 loop4) on
    /// /tmp/dmstack-mnt/parity, both XFS with their reverse maps captured.
    static func raid() throws -> SystemSnapshot { try snapshot("raid1-raid5-loop") }

    static let mirror = "/tmp/dmstack-mnt/mirror"
    static let parity = "/tmp/dmstack-mnt/parity"
}

extension SystemSnapshot {
    /// The machine after `kernelName` went away: gone from the devices and from the lists of
    /// what is built on what.
    func removing(_ kernelName: String) -> SystemSnapshot {
        var s = self
        s.devices.removeAll { $0.kernelName == kernelName }
        for i in s.devices.indices {
            s.devices[i].slaves.removeAll { $0 == kernelName }
            s.devices[i].holders.removeAll { $0 == kernelName }
        }
        return s
    }

    /// The machine with `ranges` in the badblocks list of `kernelName`.
    func withBadblocks(_ kernelName: String, _ ranges: [SectorRange]) -> SystemSnapshot {
        var s = self
        for i in s.devices.indices where s.devices[i].kernelName == kernelName { s.devices[i].badblocks = ranges }
        return s
    }

    /// The machine with the status lines of dm device `name` replaced (a dead raid leg: `AD`).
    func withStatus(_ name: String, _ status: [String]) -> SystemSnapshot {
        var s = self
        for i in s.devices.indices where s.devices[i].dm?.name == name { s.devices[i].dm?.status = status }
        return s
    }
}

/// A temporary state directory (registry and outbox), removed at the end of `body`.
func withStore<T>(_ body: (RegistryStore) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-engine-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(RegistryStore(directory: dir))
}

/// The lines a JSON lines sink wrote, one event each.
func jsonLines(_ path: String) -> [String] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}

/// A dispatcher whose only sink appends to `events.jsonl` in the store's directory.
func fileDispatcher(_ store: RegistryStore) throws -> (Dispatcher, sink: String) {
    let sink = "\(store.directory)/events.jsonl"
    let config = NotifyConfig(sinks: [SinkConfig(name: "file", kind: JSONLinesSink(path: sink))])
    return (Dispatcher(registry: try store.open(), config: config), sink)
}
