import StackModel
import StackSystem
#if canImport(Glibc)
import Glibc
#endif

/// Computes an impact on the live system or a snapshot: the planner with its two questions
/// answered (reverse maps by GETFSMAP or a FIEMAP walk, or the snapshot's; file users from
/// /proc, or the snapshot's). Shared by simulate, remove and monitor.
final class ImpactRun {
    let inventory: Inventory
    let live: Bool
    let mappings: DynamicMappings
    var reader = ReverseMapReader()
    /// Time spent in the reverse map and in /proc, for DMSTACK_TIMING.
    private(set) var mapNanos: UInt64 = 0, procNanos: UInt64 = 0

    init(inventory: Inventory, live: Bool, mappings: DynamicMappings, strategy: ReverseMapReader.Strategy = .auto) {
        self.inventory = inventory
        self.live = live
        self.mappings = mappings
        reader.strategy = strategy
    }

    /// The impact of `event` on `leaf` (a range of it for a failure); a leaf or table the
    /// topology cannot take is a usage or data error naming `source`.
    func plan(leaf: String, range: SectorRange?, event: FailureEvent, source: String) throws -> Impact {
        let inventory = inventory, live = live, reader = reader
        let planner = ImpactPlanner(inventory: inventory, mappings: mappings, reverseMap: { [self] fs, role, ranges in
            guard live else {
                guard let map = inventory.snapshot.reverseMaps?.first(where: { $0.mountpoint == fs.mountpoint }) else {
                    return ReverseMapAnswer(records: [], paths: [:], notes: ["the snapshot has no reverse map of \(fs.mountpoint) (capture it registered, or with --reverse-maps all): files not named"])
                }
                return map.answer(role: role, ranges: ranges)
            }
            guard let name = fs.devices[role], let d = try? inventory.device(name) else {
                return ReverseMapAnswer(records: [], paths: [:], notes: ["\(fs.mountpoint): no \(role.rawValue) device"])
            }
            let t = Monotonic.nanoseconds()
            defer { mapNanos += Monotonic.nanoseconds() - t }
            return reader.answer(fs, role: role, ranges: ranges, device: d)
        }, users: { [self] fs, inodes in
            let t = Monotonic.nanoseconds()
            defer { procNanos += Monotonic.nanoseconds() - t }
            return live ? ProcessScanner.fileUses(device: fs.mount.majorMinor, inodes: inodes)
                        : (inventory.snapshot.fileUses ?? []).filter { $0.device == fs.mount.majorMinor && inodes.contains($0.inode) }
        })
        do { return try planner.plan(leaf: leaf, range: range, event: event) } catch let e as TopologyError {
            throw CommandFailure(status: .usage, message: "\(e)")
        } catch let e as UnknownDeviceError {
            throw CommandFailure(status: .usage, message: e.description)
        } catch let e as TableParseError {
            throw CommandFailure(status: .dataError, message: "\(source): \(e)")
        }
    }
}
