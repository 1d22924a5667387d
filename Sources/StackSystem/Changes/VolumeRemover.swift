import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// Carries out a teardown: first checks that no process uses any device of it (or a file on
/// its filesystems), naming the processes if one does; then unmounts and removes top-down
/// through libdevmapper. A removal cannot be undone, so nothing starts until the check passes.
public struct VolumeRemover {
    let dm = DeviceMapperClient()
    public init() {}

    /// Processes using any of `items`; empty when the teardown may go ahead.
    public func users(of items: [TeardownItem]) -> [ProcessUse] {
        ProcessScanner.users(of: Set(items.map(\.majorMinor)))
    }

    /// Unmounts and removes `items` in order; returns one line per step done. `progress(k)`
    /// follows the k-th item's removal (recorded by `teardown`; `DMSTACK_FAULT=kill@K` kills
    /// there).
    public func run(_ items: [TeardownItem], progress: (Int) -> Void = { _ in }) throws(ChangeFailure) -> [String] {
        var log: [String] = []
        func stop(_ category: ChangeFailure.Category, _ cause: String) -> ChangeFailure {
            ChangeFailure(category: category, cause: cause + (log.isEmpty ? "" : " (done before: \(log.joined(separator: "; ")))"), rolledBack: [], rollbackFailures: [])
        }
        for item in items {
            // Deepest mountpoint first, for mounts stacked on each other.
            for mp in item.mountpoints.sorted(by: { $0.count > $1.count }) {
                do { try Syscall.unmount(mp) } catch {
                    let who = ProcessScanner.users(of: [item.majorMinor]).map(\.description).joined(separator: ", ")
                    throw stop(error.errno == EBUSY ? .inUse : .kernel, "cannot unmount \(mp) (\(item.name)): \(error.reason)" + (who.isEmpty ? "" : "; used by \(who)"))
                }
                log.append("unmounted \(mp)")
            }
            do { try dm.remove(name: item.name) } catch {
                throw stop(error.errno == EBUSY ? .inUse : .kernel, error.description + (error.errno == EBUSY ? " (open by something dmstack cannot see in /proc: a kernel user such as swap, md or a loop device backed by it)" : ""))
            }
            log.append("removed \(item.name)")
            progress(log.count { $0.hasPrefix("removed ") })
            FaultInjection.shared.stepDone(log.count { $0.hasPrefix("removed ") })
        }
        return log
    }
}
