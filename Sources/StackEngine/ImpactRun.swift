#if canImport(Glibc)
import Glibc
#endif
import StackModel
import StackSystem

/// The impact of one event, computed over an engine: the planner with its two questions (who
/// owns these filesystem ranges, which processes use these files) answered by the engine, so
/// simulate, remove and monitor give the same answer on the live machine and on a snapshot.
public struct ImpactRun: Sendable {
    public let engine: any Engine
    public let inventory: Inventory
    public let mappings: DynamicMappings
    public var reverseMapOptions: ReverseMapOptions
    public let time: any TimeSource
    /// `--kernel VERSION`'s rules; nil: those of the kernel the machine runs (live) or recorded
    /// (a snapshot).
    public var rules: KernelRules?

    /// Time spent in the reverse map, in naming its inodes and in process uses, for DMSTACK_TIMING.
    public struct Timing: Sendable { public var mapNanos: UInt64 = 0, pathNanos: UInt64 = 0, procNanos: UInt64 = 0 }

    /// File pieces held before a file list spills to a temporary file (`FileFold`):
    /// DMSTACK_SPILL_PIECES overrides it (tests make small filesystems spill).
    static var spillPieces: Int {
        if let v = getenv("DMSTACK_SPILL_PIECES").flatMap({ Int(String(cString: $0)) }), v > 0 { return v }
        return SpillPolicy().pieces
    }

    public init(engine: any Engine, inventory: Inventory, mappings: DynamicMappings = DynamicMappings(),
                reverseMapOptions: ReverseMapOptions = ReverseMapOptions(), time: any TimeSource = SystemTime()) {
        self.engine = engine
        self.inventory = inventory
        self.mappings = mappings
        self.reverseMapOptions = reverseMapOptions
        self.time = time
    }

    /// The impact of `event` on `leaf` (a range of it for a failure); a leaf or range the
    /// topology cannot take is a usage error, a table that does not parse a data error naming
    /// the engine's source.
    public func plan(leaf: String, range: SectorRange?, event: FailureEvent) throws -> (impact: Impact, timing: Timing) {
        final class Clock: @unchecked Sendable { var timing = Timing() }
        let clock = Clock()
        let engine = engine, inventory = inventory, options = reverseMapOptions, time = time
        // The map is read as a stream and folded as it comes (the engine pages GETFSMAP);
        // names are asked once, for the inodes found.
        var planner = ImpactPlanner(inventory: inventory, mappings: mappings, records: { fs, role, ranges, body in
            let t = time.monotonicNanoseconds()
            defer { clock.timing.mapNanos += time.monotonicNanoseconds() - t }
            return try engine.forEachReverseMapRecord(fs, role: role, ranges: ranges, in: inventory, options: options, body)
        }, names: { fs, inodes, body in
            let t = time.monotonicNanoseconds()
            defer { clock.timing.pathNanos += time.monotonicNanoseconds() - t }
            return engine.forEachPath(fs, inodes: inodes, in: inventory, options: options, body)
        }, users: { fs, inodes in
            let t = time.monotonicNanoseconds()
            defer { clock.timing.procNanos += time.monotonicNanoseconds() - t }
            return engine.fileUses(fs, inodes: inodes, in: inventory)
        })
        planner.rules = rules ?? KernelRules.choose(release: inventory.snapshot.host.kernel, source: engine is SnapshotEngine ? .snapshot : .running)
        planner.fileSize = { fs, inode, path in engine.fileSize(fs, inode: inode, path: path) }
        planner.spill = SpillPolicy(pieces: Self.spillPieces, store: { avoid in try engine.spillStore(avoiding: avoid) })
        do { return (try planner.plan(leaf: leaf, range: range, event: event), clock.timing) } catch let e as TopologyError {
            // As translate and tree say it: a cycle is the input's fault (65, naming it).
            if case .cycle = e { throw EngineError(.dataError, "\(engine.source): \(e)") }
            throw EngineError(.usage, "\(e)")
        } catch let e as UnknownDeviceError {
            throw EngineError(.usage, e.description)
        } catch let e as TableParseError {
            throw EngineError(.dataError, "\(engine.source): \(e)")
        }
    }
}
