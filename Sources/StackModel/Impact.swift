/// What happens to a leaf: `remove` is the whole device going away with warning (the
/// kernel's MF_MEM_PRE_REMOVE notification, sent by kill_dax() before a pmem device is
/// unbound); `failure` is a bad range (a memory failure, badblocks, a bad sector).
public enum FailureEvent: String, Codable, Sendable, CaseIterable {
    case remove
    case failure
}

/// A range in bytes, of a device or of a file.
public struct ByteRange: Codable, Hashable, Sendable, Comparable {
    public var offset: UInt64
    public var length: UInt64
    public init(offset: UInt64, length: UInt64) {
        self.offset = offset
        self.length = length
    }
    public var end: UInt64 { offset + length }
    public static func < (a: ByteRange, b: ByteRange) -> Bool { (a.offset, a.length) < (b.offset, b.length) }

    /// What of `range` none of `sorted` (merged, sorted) covers.
    public static func subtracting(_ sorted: [ByteRange], from range: ByteRange) -> [ByteRange] {
        var out: [ByteRange] = []
        var at = range.offset
        for r in sorted where r.end > at && r.offset < range.end {
            if r.offset > at { out.append(ByteRange(offset: at, length: r.offset - at)) }
            at = max(at, r.end)
        }
        if at < range.end { out.append(ByteRange(offset: at, length: range.end - at)) }
        return out
    }

    /// The ranges of `merged` (sorted, disjoint) that overlap [start, end), found by binary
    /// search: a striped leaf's removal hits thousands of ranges, a filesystem has many
    /// thousands of records, and every record is asked.
    public static func overlapping(_ merged: [ByteRange], _ start: UInt64, _ end: UInt64) -> ArraySlice<ByteRange> {
        var low = 0, high = merged.count
        while low < high {
            let mid = (low + high) / 2
            if merged[mid].end <= start { low = mid + 1 } else { high = mid }
        }
        var last = low
        while last < merged.count && merged[last].offset < end { last += 1 }
        return merged[low..<last]
    }

    /// Sorted, with overlapping and touching ranges joined.
    public static func merged(_ ranges: [ByteRange]) -> [ByteRange] {
        var out: [ByteRange] = []
        for r in ranges.sorted() where r.length > 0 {
            if let last = out.last, r.offset <= last.end {
                out[out.count - 1].length = max(last.end, r.end) - last.offset
            } else {
                out.append(r)
            }
        }
        return out
    }
}

extension Inventory {
    /// Every mounted filesystem on a block device, with its log and realtime devices.
    public func mountedFilesystems() -> [MountedFilesystem] {
        var out: [MountedFilesystem] = []
        var seen = Set<String>()
        for m in snapshot.mounts {
            guard let d = try? device(m.majorMinor), seen.insert(m.majorMinor).inserted else { continue }
            var devices: [HolderRole: String] = [.data: d.displayName]
            if let log = m.logDevice, let l = try? device(log) { devices[.log] = l.displayName }
            if let rt = m.realtimeDevice, let r = try? device(rt) { devices[.realtime] = r.displayName }
            out.append(MountedFilesystem(mount: m, devices: devices))
        }
        return out
    }
}

/// A mounted filesystem and the device it uses for each role (data; an XFS external log or
/// realtime device from the mount's logdev=/rtdev=).
public struct MountedFilesystem: Sendable, Hashable {
    public var mount: Mount
    /// Display names per role.
    public var devices: [HolderRole: String]
    public var type: String { mount.fsType }
    public var mountpoint: String { mount.mountpoint }
}

/// What a filesystem's reverse map answers for some ranges of one of its devices.
public struct ReverseMapAnswer: Sendable {
    public var records: [ReverseMapRecord]
    /// Paths of the inodes in `records` (hard links: every name).
    public var paths: [UInt64: [String]]
    /// How the map was read, and what it could not do (no rmapbt, no CAP_SYS_ADMIN, ...).
    public var notes: [String]
    public init(records: [ReverseMapRecord], paths: [UInt64: [String]], notes: [String] = []) {
        self.records = records
        self.paths = paths
        self.notes = notes
    }
}

/// The ranges one device of the stack loses, with their outcome.
public struct LayerImpact: Encodable, Sendable, Hashable {
    public var device: String
    public var ranges: [Piece]
    /// One range (or run) of the layer with the outcome it has at this layer: lost below the
    /// layer that saves or hides it, the translation's outcome from there up.
    public struct Piece: Encodable, Sendable, Hashable {
        /// Sectors.
        public var start: UInt64
        public var length: UInt64
        public var outcome: Outcome
        /// Set when the piece is a run (`StridedRange`, one leg of a striped or raid layout):
        /// `count` ranges of `length`, the i-th at `start + i * stride`; nil for one range.
        /// JSON: left out for a plain range (docs/json/simulate.schema.json `layer_range`).
        public var stride: UInt64? = nil
        public var count: UInt64? = nil
        /// Why the outcome is unknown (set only for `unknown`; the text is in the impact's
        /// notices): JSON left out otherwise.
        public var reason: UnknownReason? = nil

        public init(start: UInt64, length: UInt64, outcome: Outcome, stride: UInt64? = nil, count: UInt64? = nil, reason: UnknownReason? = nil) {
            self.start = start; self.length = length; self.outcome = outcome; self.stride = stride; self.count = count
            self.reason = outcome == .unknown ? reason : nil
        }

        public init(_ run: StridedRange, outcome: Outcome, reason: UnknownReason? = nil) {
            self.init(start: run.start, length: run.length, outcome: outcome,
                      stride: run.isPlain ? nil : run.stride, count: run.isPlain ? nil : run.count, reason: reason)
        }

        /// The piece's sectors as a run (one plain range when `stride` is nil).
        public var run: StridedRange { StridedRange(start: start, length: length, stride: stride ?? length, count: count ?? 1) }
    }
}

/// One metadata kind hit, with the device ranges (bytes) hit.
public struct MetadataHit: Encodable, Sendable, Hashable {
    public var kind: String
    public var role: HolderRole
    /// The inode whose attribute fork or extent map it is.
    public var inode: UInt64?
    public var ranges: [ByteRange]
}

/// One file hit: its names and the byte ranges of it that are lost.
public struct FileHit: Encodable, Sendable, Hashable {
    public var path: String
    public var paths: [String]
    public var inode: UInt64
    public var extents: [ByteRange]
    public var shared: Bool
    public var unwritten: Bool
}

/// One thing to do, as the kernel would (or, where the kernel is never told, as it would if
/// it were), with the rule it follows.
public struct ImpactAction: Encodable, Sendable, Hashable {
    /// What is done, in the words of xfs_notify_failure.c and memory-failure.c; the JSON
    /// and text use the raw values.
    public enum Kind: String, Encodable, Sendable, Hashable, CustomStringConvertible {
        case freeze, thaw, shutdown, unmap, kill, invalidate
        /// Notices: a range redundancy saves (`notify-degraded`), a range lost with no
        /// filesystem to act on (`lost`), a range whose outcome is unknown (`none`: not judged).
        case notifyDegraded = "notify-degraded", lost, none
        /// A filesystem whose owners in some hit ranges dmstack could not learn: what the
        /// kernel does there (shut down for metadata, poison and signal for file data) cannot
        /// be decided, and the reason says what to check.
        case unknown
        public var description: String { rawValue }
    }
    public var action: Kind
    public var target: String
    public var reason: String
}

/// Why part of an answer is unknown: a machine-readable code next to the text (JSON
/// `reason` of an `unknown` entry and of a layer range whose outcome is unknown; the codes
/// are listed in docs/json/simulate.schema.json `unknown_reason`). An answer with any of
/// them is incomplete: simulate, remove and monitor exit 2.
public enum UnknownReason: String, Codable, Sendable, CaseIterable {
    /// The filesystem's reverse map could not be read at all (GETFSMAP refused and the FIEMAP
    /// walk failed, no device to ask, the strategy asked for is not there).
    case reverseMapUnavailable = "reverse-map-unavailable"
    /// The snapshot holds no reverse map of the filesystem (not registered at capture time).
    case notInSnapshot = "not-in-snapshot"
    /// Reading was refused (EPERM, EACCES: not root, no CAP_SYS_ADMIN).
    case permission
    /// The reverse map answered but names no owner for these bytes (GETFSMAP's OWN_UNKNOWN,
    /// ext4's file data, under `--reverse-map getfsmap` with no FIEMAP walk to explain it).
    case ownerNotReported = "owner-not-reported"
    /// The reverse map stopped part way: the owners read before are listed, more may be hit.
    case cutShort = "cut-short"
    /// A dynamic layer's metadata (thin, cache, snapshot, writecache) was neither given nor read.
    case metadataMissing = "metadata-missing"
    /// Reading a dynamic layer's metadata was tried and failed.
    case metadataUnreadable = "metadata-unreadable"
    /// A layer's mapping is unknown for another reason (a translation bound, an md reshape).
    case mappingUnknown = "mapping-unknown"

    /// `permission` for EPERM and EACCES, else `otherwise`.
    public static func of(errno: Int32, otherwise: UnknownReason) -> UnknownReason {
        errno == 1 || errno == 13 ? .permission : otherwise
    }
}

/// A reverse map that cannot answer at all, thrown by an engine before any record is handed
/// on: the planner makes the ranges asked an `unknown` part of the filesystem with this
/// reason instead of an empty list of owners.
public struct ReverseMapUnavailable: Error, CustomStringConvertible, Sendable {
    public var reason: UnknownReason
    public var detail: String
    public init(_ reason: UnknownReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }
    public var description: String { detail }
}

/// Bytes of a filesystem device whose owners are unknown: one range, or a run (one leg of a
/// striped layout: `count` ranges of `length`, the i-th at `offset + i * stride`).
public struct UnknownRange: Encodable, Sendable, Hashable {
    public var offset: UInt64
    public var length: UInt64
    /// nil (left out of the JSON) for a plain range.
    public var stride: UInt64?
    public var count: UInt64?

    public init(_ run: StridedRange) {
        offset = run.start
        length = run.length
        stride = run.isPlain ? nil : run.stride
        count = run.isPlain ? nil : run.count
    }

    public var description: String { stride.map { "\(offset)+\(length)/\($0)×\(count ?? 1)" } ?? "\(offset)+\(length)" }
}

/// One thing dmstack needed to judge a filesystem and could not learn: which device, why
/// (the code and the text), and the bytes of it concerned. Never read as "nothing there".
public struct UnknownPart: Encodable, Sendable, Hashable {
    public var role: HolderRole
    public var reason: UnknownReason
    public var detail: String
    public var ranges: [UnknownRange]
}

/// The notices of an impact are grouped by what they say about which device.
struct NoticeKey: Equatable {
    var action: ImpactAction.Kind
    var device: String
    var reason: String
}

/// Everything one filesystem loses and what must happen to it.
public struct FilesystemImpact: Encodable, Sendable {
    public var mountpoint: String
    public var type: String
    public var device: String
    /// The roles whose devices lost data: data, log, realtime.
    public var roles: [HolderRole]
    public var metadata: [MetadataHit]
    public var files: FileList
    public var processes: [FileUse]
    public var actions: [ImpactAction]
    public var notes: [String]
    /// What of it is hit, in this order: `file data`, `metadata`, `log`, `free space`,
    /// `unknown` (what the text's heading says).
    public var hit: [String] = []
    /// What dmstack could not learn about it; empty when the answer is whole.
    public var unknown: [UnknownPart] = []
    /// What the kernel by itself does for this filesystem on this event, under the rules
    /// applied (`KernelRules`): where it does less than `actions` (nothing crosses a dm or md
    /// layer, ext4 has no holder, 6.0-6.7 only shuts XFS down), an admin sees what dmstack adds.
    public var kernelAlone: String = ""
}

/// What one filesystem may lose: ranges of its devices whose outcome is unknown, and the
/// files and metadata the reverse map finds in them. An admin is told which files to check or
/// restore even where dmstack cannot say whether their data survives.
public struct PossibleLoss: Encodable, Sendable {
    public var mountpoint: String
    public var type: String
    public var device: String
    public var roles: [HolderRole]
    /// Why the outcome is unknown, once each.
    public var reasons: [String]
    /// The codes of `reasons`, once each, sorted.
    public var reasonCodes: [UnknownReason] = []
    public var metadata: [MetadataHit]
    public var files: FileList
    public var notes: [String]
    /// Ranges whose owners could not be learned either (a reverse map not read or cut short).
    public var unknown: [UnknownPart] = []
}

/// The impact of one event: per layer the ranges, per filesystem what is hit and what to do.
public struct Impact: Encodable, Sendable {
    public var event: FailureEvent
    public var leaf: String
    /// Sectors of the leaf.
    public var range: SectorRange
    public var layers: [LayerImpact]
    public var filesystems: [FilesystemImpact]
    /// Ranges that redundancy saves (degraded) or that cannot be judged (unknown), per device,
    /// and devices without a filesystem that lose data.
    public var notices: [ImpactAction]
    /// Mounted filesystems with ranges whose outcome is unknown (a dynamic mapping whose
    /// metadata could not be read, a cache block that may be dirty): the files and metadata
    /// in them, which may be lost, with the reasons. Kept apart from `filesystems`, which
    /// holds what is lost and what must be done about it: nothing is done for these.
    public var mayLose: [PossibleLoss] = []
    public var summary: String
    /// The kernel rules the actions follow and where they were chosen from.
    public var kernelRules: KernelRules = KernelRules.choose(release: "", source: .snapshot)

    /// Whether dmstack learned everything it needed: no filesystem with an `unknown` part, no
    /// range of unknown outcome on a layer, nothing not judged. False makes simulate, remove
    /// and monitor exit 2 (partial).
    public var isComplete: Bool {
        filesystems.allSatisfy(\.unknown.isEmpty) && mayLose.isEmpty
            && !layers.contains { $0.ranges.contains { $0.outcome == .unknown } } && !notices.contains { $0.action == .none }
    }

    /// What is unknown, one line each, for the text and for logs: `UNKNOWN: ...`.
    public var unknownLines: [String] {
        var out: [String] = []
        for fs in filesystems {
            for u in fs.unknown {
                out.append("UNKNOWN: the owners of \(fs.mountpoint)'s \(u.role.rawValue) device bytes \(ImpactPlanner.some(u.ranges.map(\.description))) "
                           + "are not known because \(u.detail) [\(u.reason.rawValue)]")
            }
        }
        for loss in mayLose {
            out.append("UNKNOWN: whether \(loss.mountpoint) loses data is not known because \(loss.reasons.joined(separator: "; ")) [\(loss.reasonCodes.map(\.rawValue).joined(separator: ", "))]")
            for u in loss.unknown {
                out.append("UNKNOWN: nor which owners \(loss.mountpoint)'s \(u.role.rawValue) device bytes \(ImpactPlanner.some(u.ranges.map(\.description))) have, because \(u.detail) [\(u.reason.rawValue)]")
            }
        }
        for n in notices where n.action == .none && !mayLose.contains(where: { n.reason.contains("may_lose of \($0.mountpoint)") }) {
            out.append("UNKNOWN: \(n.target): \(n.reason)")
        }
        return out
    }

    /// The devices whose redundancy saved a range (the notify-degraded notices), once each.
    public var degradedDevices: [String] { Self.degradedDevices(notices) }

    static func degradedDevices(_ notices: [ImpactAction]) -> [String] {
        Array(Set(notices.filter { $0.action == .notifyDegraded }.map(\.target))).sorted()
    }
}

/// Computes an `Impact` from the machine's tables, its mounts, and two questions it asks the
/// system (or a snapshot): the reverse map of a filesystem device over some ranges, and who
/// maps or holds open some inodes. Pure; the decisions follow the kernel's fsdax failure path:
/// fs/xfs/xfs_notify_failure.c (xfs_dax_notify_failure, xfs_dax_failure_fn) and
/// mm/memory-failure.c (mf_dax_kill_procs, collect_procs_fsdax, kill_proc).
public struct ImpactPlanner {
    public let inventory: Inventory
    public var mappings: DynamicMappings
    /// The whole answer at once; over `records` and `paths` for a planner made with those.
    public var reverseMap: (MountedFilesystem, HolderRole, [ByteRange]) throws -> ReverseMapAnswer
    /// Who maps or holds open the inodes asked (every inode: all uses on the filesystem).
    public var users: (MountedFilesystem, InodeSelection) -> [FileUse]
    /// The reverse map as a stream: the records over some ranges (bytes, sorted, disjoint) of
    /// one device, each handed to the body as it is read; returns the notes. A throw means
    /// the map stopped short.
    public var records: (MountedFilesystem, HolderRole, [ByteRange], (ReverseMapRecord) throws -> Void) throws -> [String]
    /// Every name of the inodes asked, once the records are read, each (inode, name) handed
    /// to the body as it is found.
    /// Returns notes (directories the walk could not read: their files stay unnamed).
    public var names: (MountedFilesystem, InodeSelection, (UInt64, String) -> Void) -> [String]
    /// The size of a named regular file where the records did not carry it (GETFSMAP's do
    /// not): a held list's lost ranges are clipped at the end of each file (issue 18 point 5).
    public var fileSize: ((MountedFilesystem, UInt64, String) -> UInt64?)?
    /// How a large file list spills out of memory (`FileFold`); the engines give a
    /// temporary file on a filesystem the event does not touch.
    public var spill = SpillPolicy()
    /// The kernel whose rules the actions follow: by default the one the inventory recorded
    /// (uname on the live machine, `host.kernel` of a snapshot); `ImpactRun` says which, or
    /// `--kernel` overrides it.
    public var rules: KernelRules?

    /// Over a reverse map that answers all at once (tests, small maps): its records are
    /// streamed from the answer and its paths kept for the names asked after.
    public init(inventory: Inventory, mappings: DynamicMappings = DynamicMappings(),
                reverseMap: @escaping (MountedFilesystem, HolderRole, [ByteRange]) throws -> ReverseMapAnswer,
                users: @escaping (MountedFilesystem, InodeSelection) -> [FileUse]) {
        final class Names: @unchecked Sendable { var byMount: [String: [UInt64: [String]]] = [:] }
        let names = Names()
        self.inventory = inventory
        self.mappings = mappings
        self.reverseMap = reverseMap
        self.users = users
        self.records = { fs, role, ranges, body in
            let answer = try reverseMap(fs, role, ranges)
            names.byMount[fs.mountpoint, default: [:]].merge(answer.paths) { a, _ in a }
            for r in answer.records { try body(r) }
            return answer.notes
        }
        self.names = { fs, inodes, body in
            let known = names.byMount[fs.mountpoint] ?? [:]
            switch inodes {
            case .some(let set): for i in set { for n in known[i] ?? [] { body(i, n) } }
            case .all: for (i, ns) in known { for n in ns { body(i, n) } }
            }
            return []
        }
    }

    /// Over a reverse map read as a stream (the engines): memory does not grow with the
    /// number of records, only with the files and metadata found.
    public init(inventory: Inventory, mappings: DynamicMappings = DynamicMappings(),
                records: @escaping (MountedFilesystem, HolderRole, [ByteRange], (ReverseMapRecord) throws -> Void) throws -> [String],
                names: @escaping (MountedFilesystem, InodeSelection, (UInt64, String) -> Void) -> [String],
                users: @escaping (MountedFilesystem, InodeSelection) -> [FileUse]) {
        self.inventory = inventory
        self.mappings = mappings
        self.records = records
        self.names = names
        self.users = users
        self.reverseMap = { fs, role, ranges in
            var all: [ReverseMapRecord] = []
            let notes = try records(fs, role, ranges) { all.append($0) }
            var paths: [UInt64: [String]] = [:]
            _ = names(fs, .some(Set(all.compactMap(\.inode)))) { paths[$0, default: []].append($1) }
            return ReverseMapAnswer(records: all, paths: paths, notes: notes)
        }
    }

    /// `SectorSet.listing` of the plain ranges, then the runs as `START+LENGTH/STRIDE×COUNT`
    /// (a few; the total counts every sector of them).
    static func listing(_ ranges: SectorSet, _ runs: [StridedRange], limit: Int = 6) -> String {
        guard !runs.isEmpty else { return ranges.listing(limit: limit) }
        // The first few by start, plain ranges and runs together.
        var all = ranges.ranges.prefix(limit).map(StridedRange.init) + runs.prefix(limit)
        all.sort { $0.start < $1.start }
        let items = all.prefix(limit).map(\.description)
        let shown = items.count, every = ranges.ranges.count + runs.count
        let total = ranges.totalLength + runs.reduce(0) { $0 + $1.totalLength }
        return items.joined(separator: ", ") + (every > shown ? ", ... \(every - shown) more" : "") + " (\(total) sectors)"
    }

    public func plan(leaf name: String, range given: SectorRange?, event: FailureEvent) throws -> Impact {
        let leaf = try inventory.device(name)
        let range = event == .remove || given == nil ? SectorRange(start: 0, length: leaf.size) : given!
        let (topology, _) = try inventory.topology(mappings: mappings)
        var rows = try Translator(topology).up(from: leaf.displayName, range)
        if rows.isEmpty {
            // Nothing is built on the leaf: it is its own top device.
            rows = [Translation(device: leaf.displayName, start: range.start, length: range.length, outcome: .lost, kind: .data,
                                reason: nil, path: [Hop(device: leaf.displayName, start: range.start, length: range.length, target: nil, role: nil)])]
        }
        // Per layer: every hop of every row.
        var layerPieces: [String: Set<LayerImpact.Piece>] = [:]
        var order: [String] = []
        // Below the layer that saves it (a raid or mirror) or hides it (a dynamic target), a
        // range is lost; from that layer up it has the row's outcome.
        for row in rows {
            var outcome = Outcome.lost
            let code = row.outcome == .unknown ? unknownReason(row) : nil
            for (i, hop) in row.path.enumerated() {
                if let t = hop.target, TargetTypes.effect(of: t) == (row.outcome == .degraded ? .keepsRedundancy : .dynamic) { outcome = row.outcome }
                if i == row.path.count - 1 { outcome = row.outcome }
                if layerPieces[hop.device] == nil { order.append(hop.device) }
                layerPieces[hop.device, default: []].insert(.init(hop.run, outcome: outcome, reason: code))
            }
        }
        // Touching plain pieces with one outcome are one range; a run stays one run, and runs
        // of one stride and count side by side are one (those tiling their stride, a range).
        let layers = order.map { device -> LayerImpact in
            var merged: [LayerImpact.Piece] = []
            for p in layerPieces[device]!.sorted(by: { ($0.start, $0.length, $0.count ?? 1) < ($1.start, $1.length, $1.count ?? 1) }) {
                if let last = merged.last, last.count == nil, p.count == nil, last.outcome == p.outcome, last.reason == p.reason, last.start + last.length >= p.start {
                    merged[merged.count - 1].length = max(last.start + last.length, p.start + p.length) - last.start
                } else if let last = merged.last, let c = last.count, let s = last.stride, p.count == c, p.stride == s, last.outcome == p.outcome,
                          last.reason == p.reason, last.start + last.length == p.start, last.length + p.length <= s {
                    merged[merged.count - 1] = .init(StridedRange(start: last.start, length: last.length + p.length, stride: s, count: c), outcome: p.outcome, reason: p.reason)
                } else {
                    merged.append(p)
                }
            }
            return LayerImpact(device: device, ranges: merged)
        }

        let mounted = inventory.mountedFilesystems()
        var byDevice: [String: (MountedFilesystem, HolderRole)] = [:]
        for fs in mounted { for (role, device) in fs.devices { byDevice[device] = (fs, role) } }

        // Ranges nothing is done for, one notice per device and reason however many rows a
        // layout spreads them over (a raid5 leg is thousands of chunk rows).
        var quiet: [(key: NoticeKey, ranges: SectorSet, runs: [StridedRange])] = []
        func note(_ key: NoticeKey, _ row: Translation) {
            let i = quiet.firstIndex(where: { $0.key == key }) ?? { quiet.append((key, SectorSet(), [])); return quiet.count - 1 }()
            // A run (a whole leg) is kept as one; its chunks are never listed one by one.
            if row.run.isPlain { quiet[i].ranges.insert(row.range) } else if !quiet[i].runs.contains(row.run) { quiet[i].runs.append(row.run) }
        }
        var hits: [String: [HolderRole: [StridedRange]]] = [:]
        var fsOrder: [MountedFilesystem] = []
        var uncertain: [String: [HolderRole: [StridedRange]]] = [:]
        var uncertainReasons: [String: [String]] = [:]
        var uncertainCodes: [String: Set<UnknownReason>] = [:]
        var uncertainOrder: [MountedFilesystem] = []
        for row in rows {
            // In bytes; a strided row (one leg of a striped layout) stays one run.
            let bytes = StridedRange(start: row.start * 512, length: row.length * 512, stride: (row.stride ?? row.length) * 512, count: row.count ?? 1)
            switch row.outcome {
            case .degraded:
                note(NoticeKey(action: .notifyDegraded, device: row.device, reason: "still have a copy or parity: no data action, redundancy is reduced"), row)
                continue
            case .unknown:
                let reason = row.reason ?? "mapping not known"
                if let (fs, role) = byDevice[row.device] {
                    if uncertain[fs.mountpoint] == nil { uncertainOrder.append(fs) }
                    uncertain[fs.mountpoint, default: [:]][role, default: []].append(bytes)
                    if !(uncertainReasons[fs.mountpoint] ?? []).contains(reason) { uncertainReasons[fs.mountpoint, default: []].append(reason) }
                    uncertainCodes[fs.mountpoint, default: []].insert(unknownReason(row))
                    note(NoticeKey(action: .none, device: row.device, reason: "outcome unknown (\(reason)); the files there may be lost (may_lose of \(fs.mountpoint))"), row)
                } else {
                    note(NoticeKey(action: .none, device: row.device, reason: "outcome unknown (\(reason)); not judged"), row)
                }
                continue
            case .unaffected:
                continue
            case .lost:
                break
            }
            guard let (fs, role) = byDevice[row.device] else {
                note(NoticeKey(action: .lost, device: row.device, reason: "lost; no mounted filesystem on \(row.device)"), row)
                continue
            }
            if hits[fs.mountpoint] == nil { fsOrder.append(fs) }
            hits[fs.mountpoint, default: [:]][role, default: []].append(bytes)
        }
        let notices = quiet.map { key, ranges, runs in
            ImpactAction(action: key.action, target: key.device, reason: "sectors \(Self.listing(ranges, runs)) \(key.reason)")
        }

        var impacts: [FilesystemImpact] = []
        var planner = self
        planner.spill.avoid = (fsOrder + uncertainOrder).map(\.mount.majorMinor)
        let rules = self.rules ?? KernelRules.choose(release: inventory.snapshot.host.kernel, source: .snapshot)
        // What lies between the leaf and each filesystem device: the kernel's own notification
        // reaches only a filesystem directly on a pmem leaf (dm and md register no dax holder).
        var between: [String: Set<String>] = [:]
        for row in rows { between[row.device, default: []].formUnion(row.path.dropFirst().dropLast().map(\.device)) }
        let leafIsPmem = inventory.namespace(of: leaf) != nil || leaf.kernelName.hasPrefix("pmem")
        for fs in fsOrder {
            var impact = planner.judge(fs, hits: hits[fs.mountpoint]!, event: event, rules: rules)
            let roles = impact.roles.compactMap { fs.devices[$0] }
            let layers = Set(roles.flatMap { between[$0] ?? [] }).union(roles.filter { $0 != leaf.displayName })
            impact.kernelAlone = Self.kernelAlone(fs, impact: impact, event: event, rules: rules, leafIsPmem: leafIsPmem, layers: layers.sorted())
            impacts.append(impact)
        }
        let mayLose = uncertainOrder.map { fs in
            var loss = planner.possibleLoss(fs, ranges: uncertain[fs.mountpoint]!, reasons: uncertainReasons[fs.mountpoint] ?? [])
            loss.reasonCodes = (uncertainCodes[fs.mountpoint] ?? []).sorted { $0.rawValue < $1.rawValue }
            return loss
        }
        let files = impacts.reduce(0) { $0 + $1.files.count }
        let metadata = impacts.reduce(0) { $0 + $1.metadata.count }
        let processes = Set(impacts.flatMap { $0.processes.map(\.pid) }).count
        let shutdowns = impacts.filter { $0.actions.contains { $0.action == .shutdown } }.map(\.mountpoint)
        let degraded = Impact.degradedDevices(notices)
        var summary = "\(event.rawValue) \(leaf.displayName) \(range): \(impacts.count) filesystem\(impacts.count == 1 ? "" : "s") hit, "
            + "\(files) file\(files == 1 ? "" : "s"), \(metadata) metadata kind\(metadata == 1 ? "" : "s"), \(processes) process\(processes == 1 ? "" : "es")"
        if !shutdowns.isEmpty { summary += "; shut down \(shutdowns.joined(separator: ", "))" }
        if !degraded.isEmpty { summary += "; degraded \(degraded.joined(separator: ", "))" }
        let uncertainFiles = mayLose.reduce(0) { $0 + $1.files.count }
        if !mayLose.isEmpty { summary += "; outcome unknown on \(mayLose.map(\.mountpoint).joined(separator: ", ")): \(uncertainFiles) file\(uncertainFiles == 1 ? "" : "s") may be lost" }
        let ownersUnknown = impacts.filter { !$0.unknown.isEmpty }
        if !ownersUnknown.isEmpty {
            summary += "; owners UNKNOWN on " + ownersUnknown.map { fs in
                "\(fs.mountpoint) (\(Array(Set(fs.unknown.map(\.reason.rawValue))).sorted().joined(separator: ", ")))"
            }.joined(separator: ", ")
        }
        var impact = Impact(event: event, leaf: leaf.displayName, range: range, layers: layers, filesystems: impacts, notices: notices, mayLose: mayLose, summary: summary)
        impact.kernelRules = rules
        return impact
    }

    /// The code of an unknown row: a dynamic target whose metadata read failed (the live
    /// engine or the capture tried: `DynamicMappings.unavailable`), one whose metadata nobody
    /// gave, or another layer's unknown (a bound on the pieces, an md reshape).
    func unknownReason(_ row: Translation) -> UnknownReason { row.unknownReason(unavailable: mappings.unavailable) }

    /// The first few of a long list, and how many more.
    static func some(_ items: [String], _ limit: Int = 6) -> String {
        items.count <= limit ? items.joined(separator: ", ") : items.prefix(limit).joined(separator: ", ") + ", ... \(items.count - limit) more"
    }

    /// What the reverse map of `fs` finds in `hits`: metadata per kind, role and inode, files
    /// with the byte ranges of them, how the map was read, whether free space was hit, and
    /// why the map stopped short if it did (the owners are then only those read before).
    /// Records are taken one at a time and folded: the map is asked for the hull of each run
    /// and every record is clipped against the runs arithmetically (`StridedRange.intersection`),
    /// so one leg of a striped volume is never expanded into its chunks.
    func owners(_ fs: MountedFilesystem, _ hits: [HolderRole: [StridedRange]]) -> Owners {
        var metadata: [String: MetadataHit] = [:]
        var files = FileFold(policy: spill, fs: fs)
        var out = Owners()
        for role in HolderRole.allCases.filter({ hits[$0] != nil }) {
            let runs = RunIndex(hits[role]!)
            if role == .log {
                // The whole external log is metadata; GETFSMAP reports it as one record.
                metadata["log"] = MetadataHit(kind: "log", role: .log, inode: nil, ranges: runs.expandedRanges())
                continue
            }
            var read = 0
            // GETFSMAP's OWN_UNKNOWN records that reach the planner (nothing explained them):
            // owners not known, never "no owner".
            var notReported: [ByteRange] = []
            do {
                out.notes += try records(fs, role, runs.hulls) { record in
                    read += 1
                    if record.inode == nil, FsmapOwner.isFreeOrUnknown(record.kind) {
                        if record.kind == "free space", !out.freeSpace, runs.overlaps(record.physical, record.end) { out.freeSpace = true }
                        if record.kind == "unknown" {
                            runs.forEachPiece(overlapping: record.physical, record.end) { notReported.append(ByteRange(offset: $0, length: $1 - $0)) }
                        }
                        return
                    }
                    runs.forEachPiece(overlapping: record.physical, record.end) { start, end in
                        if record.isMetadata {
                            let key = "\(record.kind)|\(role.rawValue)|\(record.inode.map(String.init) ?? "")"
                            metadata[key, default: MetadataHit(kind: record.kind, role: role, inode: record.inode, ranges: [])]
                                .ranges.append(ByteRange(offset: start, length: end - start))
                        } else if let inode = record.inode {
                            // Clipped at the end of the file (issue 18 point 5): a 1-byte
                            // file's block loses byte 0 only; a piece wholly past it, nothing.
                            let offset = record.offset + (start - record.physical)
                            let length = record.fileSize.map { $0 > offset ? min(end - start, $0 - offset) : 0 } ?? (end - start)
                            if length > 0 {
                                files.add(inode: inode, offset: offset, length: length, shared: record.shared, unwritten: record.unwritten)
                            }
                        }
                    }
                }
            } catch let e as ReverseMapUnavailable {
                // Records handed on before it (GETFSMAP's metadata ahead of a walk that failed)
                // are kept: they are known.
                let before = read == 0 ? "" : "; the \(read) record\(read == 1 ? "" : "s") read before it are listed"
                out.unknown.append(UnknownPart(role: role, reason: e.reason, detail: e.detail + before, ranges: runs.unknownRanges))
            } catch {
                let text = "the reverse map of the \(role.rawValue) device of \(fs.mountpoint) stopped after \(read) record\(read == 1 ? "" : "s"): \(error); "
                    + "only the owners read before it are listed, more may be lost"
                out.cutShort.append(text)
                out.unknown.append(UnknownPart(role: role, reason: read == 0 ? .reverseMapUnavailable : .cutShort, detail: text, ranges: runs.unknownRanges))
            }
            if !notReported.isEmpty {
                let merged = ByteRange.merged(notReported)
                out.unknown.append(UnknownPart(role: role, reason: .ownerNotReported,
                                               detail: "the reverse map names no owner for them: " + (["xfs", "ext4"].contains(fs.type) ? "GETFSMAP reports an unknown owner\(fs.type == "ext4" ? " (ext4 reports file data so)" : "")" : "\(fs.type) has no GETFSMAP")
                                                   + " and no file a FIEMAP walk read covers them (no walk under --reverse-map getfsmap, a directory the walk could not open, or a map a capture could not read: see the notes)",
                                               ranges: merged.map { UnknownRange(StridedRange(start: $0.offset, length: $0.length, stride: $0.length, count: 1)) }))
            }
        }
        out.metadata = metadata.values.map { MetadataHit(kind: $0.kind, role: $0.role, inode: $0.inode, ranges: ByteRange.merged($0.ranges)) }
            .sorted { ($0.role.rawValue, $0.kind, $0.inode ?? 0) < ($1.role.rawValue, $1.kind, $1.inode ?? 0) }
        let size = fileSize.map { f in { (inode: UInt64, path: String) in f(fs, inode, path) } }
        let (list, spillNotes) = files.finish(names: { inodes, body in names(fs, inodes, body) }, size: size)
        out.files = list
        out.notes += spillNotes
        return out
    }

    /// What `owners` found on one filesystem.
    struct Owners {
        var metadata: [MetadataHit] = []
        var files = FileList()
        var notes: [String] = []
        var freeSpace = false
        /// Why a reverse map stopped before its end, once a device: nothing may then be called
        /// safe.
        var cutShort: [String] = []
        /// What could not be learned: a map not read, cut short, or owners not reported.
        var unknown: [UnknownPart] = []
    }

    /// One filesystem's ranges of unknown outcome: the owners in them, named as may be lost.
    /// A reverse map that cannot be read here is a note, not a failure of the whole answer.
    func possibleLoss(_ fs: MountedFilesystem, ranges: [HolderRole: [StridedRange]], reasons: [String]) -> PossibleLoss {
        let roles = HolderRole.allCases.filter { ranges[$0] != nil }
        var loss = PossibleLoss(mountpoint: fs.mountpoint, type: fs.type, device: fs.devices[.data] ?? "?", roles: roles, reasons: reasons,
                                metadata: [], files: [], notes: [])
        let found = owners(fs, ranges)
        loss.metadata = found.metadata
        loss.files = found.files
        loss.unknown = found.unknown
        loss.notes = found.notes + found.cutShort.map { "the reverse map could not be read for these ranges: \($0)" }
        if found.files.isEmpty && found.metadata.isEmpty && found.unknown.isEmpty {
            loss.notes.append(found.freeSpace ? "the ranges hold only free space" : "no owner found in the ranges")
        }
        return loss
    }

    /// One filesystem: its reverse map over the hit ranges, the files and metadata in them,
    /// the processes using those files, and the actions.
    func judge(_ fs: MountedFilesystem, hits: [HolderRole: [StridedRange]], event: FailureEvent, rules: KernelRules) -> FilesystemImpact {
        var actions: [ImpactAction] = []
        let roles = HolderRole.allCases.filter { hits[$0] != nil }
        let found = owners(fs, hits)
        var notes = found.notes + found.cutShort
        let metadataHits = found.metadata, fileHits = found.files, freeSpace = found.freeSpace

        // Processes: every mapping of a lost page, and every open descriptor of a hit file;
        // /proc is scanned once for the whole set of inodes.
        // The uses are few: only their inodes are looked up in the list (one pass), so
        // nothing a file is built here.
        // A spilled list asks for every use on the filesystem (the set would be the list).
        let uses = fileHits.isEmpty ? [] : users(fs, fileHits.selection)
        let lost: [UInt64: [ByteRange]]
        do { lost = try fileHits.extents(ofInodes: Set(uses.map(\.inode))) } catch {
            lost = Dictionary(uses.map { ($0.inode, [ByteRange(offset: 0, length: UInt64.max / 2)]) }) { a, _ in a }
            notes.append("the spilled file list could not be read back to match processes (\(error)): every process using a file of this filesystem is listed")
        }
        let page: UInt64 = 4096
        let processes = uses.filter { use in
            guard let hit = lost[use.inode] else { return false }
            guard use.how == "mmap", let offset = use.fileOffset, let length = use.fileLength else { return true }
            return hit.contains { e in
                let first = e.offset / page * page, last = (e.end + page - 1) / page * page
                return first < offset + length && offset < last
            }
        }.sorted { ($0.pid, $0.how, $0.path) < ($1.pid, $1.how, $1.path) }

        // Decisions, in the kernel's order (fs/xfs/xfs_notify_failure.c, v6.7+:
        // xfs_dax_notify_ddev_failure freezes on pre-remove, walks the rmap calling
        // xfs_dax_failure_fn per record, shuts down, then thaws).
        let metadataLost = metadataHits.filter { $0.role != .log }
        let logLost = metadataHits.contains { $0.role == .log }
        // A reverse map cut short may hide owners: the device is still lost, so the
        // filesystem is treated as losing something (never "nothing is lost").
        // So may owners that could not be learned (a map not read, not captured): on
        // pre-remove the device goes away whoever owns it, so freeze, shutdown and thaw stand.
        let losesSomething = !metadataHits.isEmpty || !fileHits.isEmpty || !found.cutShort.isEmpty || !found.unknown.isEmpty
        if event == .remove && losesSomething {
            actions.append(ImpactAction(action: .freeze, target: fs.mountpoint,
                                        reason: "pre-remove: xfs_dax_notify_failure_freeze (freeze_super, kernel holder) before the rmap walk"))
        }
        if roles.contains(.realtime) && fs.type == "xfs" && rules.set != .realtimeRmap {
            notes.append("xfs_dax_notify_failure returns -EOPNOTSUPP for a realtime device (up to 6.13): the kernel takes no action for it; its files listed here lose data")
        }
        for p in processes where p.how == "mmap" {
            actions.append(ImpactAction(action: .unmap, target: "pid \(p.pid) (\(p.command)) \(p.address ?? "")",
                                        reason: "maps a lost page of \(p.path): mf_dax_kill_procs zaps the range in every process (unmap_mapping_range)"))
            actions.append(ImpactAction(action: .kill, target: "pid \(p.pid) (\(p.command))",
                                        reason: event == .remove
                                            ? "pre-remove collects every task that maps the page (collect_procs_fsdax): SIGBUS BUS_MCEERR_AO"
                                            : "SIGBUS: BUS_MCEERR_AR to the task that touched the page; BUS_MCEERR_AO now only if it asked for early kill (PR_MCE_KILL, vm.memory_failure_early_kill; task_early_kill, kill_proc)"))
        }
        if !fileHits.isEmpty {
            // One action for every file listed: each file's lost ranges are in `files`.
            let bytes = fileHits.totalLostBytes
            actions.append(ImpactAction(action: .invalidate, target: fileHits.count == 1 ? fileHits.first?.path ?? "1 file" : "the \(fileHits.count) files listed",
                                        reason: "cached pages of the lost ranges (\(bytes) bytes) "
                                            + (event == .remove ? "dropped (invalidate_inode_pages2_range, pre-remove)" : "poisoned and unmapped (SetPageHWPoison): never served again")))
        }
        if !found.unknown.isEmpty {
            // What the kernel does for bytes whose owner is not known depends on the owner
            // (xfs_dax_failure_fn: metadata sets want_shutdown, file data goes to
            // mf_dax_kill_procs): dmstack says what it cannot decide instead of "none".
            let why = Array(Set(found.unknown.map(\.reason.rawValue))).sorted().joined(separator: ", ")
            actions.append(ImpactAction(action: .unknown, target: fs.mountpoint,
                                        reason: "owners not known (\(why)): "
                                            + (event == .remove
                                                ? "the files there are not named; the kernel drops their cached pages and signals every mapper (pre-remove), dmstack cannot list them"
                                                : "if they hold metadata the kernel shuts the filesystem down (xfs_dax_failure_fn), if file data it poisons the pages and signals the mappers (mf_dax_kill_procs); check the filesystem (xfs_scrub, e2fsck -n) or read the map as root")))
        }
        switch event {
        case .failure:
            if !metadataLost.isEmpty {
                actions.append(ImpactAction(action: .shutdown, target: fs.mountpoint,
                                            reason: "metadata hit (\(Set(metadataLost.map(\.kind)).sorted().joined(separator: ", "))): xfs_dax_failure_fn sets want_shutdown; SHUTDOWN_CORRUPT_ONDISK"))
            } else if logLost {
                actions.append(ImpactAction(action: .shutdown, target: fs.mountpoint,
                                            reason: "external log device hit: xfs_dax_notify_failure shuts down (SHUTDOWN_CORRUPT_ONDISK, ondisk log corrupt)"))
            }
        case .remove:
            if losesSomething {
                actions.append(ImpactAction(action: .shutdown, target: fs.mountpoint,
                                            reason: logLost && metadataLost.isEmpty && fileHits.isEmpty
                                                ? "its external log goes away: xfs ignores a pre-remove of the log device, but the filesystem cannot go on: unmount it, or shut it down if it is busy"
                                                : "pre-remove: metadata is not a reason, but the device goes away: xfs_dax_notify_ddev_failure shuts down (SHUTDOWN_FORCE_UMOUNT); unmount it"))
                actions.append(ImpactAction(action: .thaw, target: fs.mountpoint, reason: "pre-remove: thawed after the shutdown (thaw_super)"))
            }
        }
        if event == .remove && rules.set == .flagZero && losesSomething {
            // 6.0-6.7 (KernelRuleSet.flagZero): kill_dax passes flags 0, so the whole device is
            // a plain failure; xfs_dax_notify_failure (fs/xfs/xfs_notify_failure.c) shuts down
            // with SHUTDOWN_CORRUPT_ONDISK (seen on 6.1.0-57: "Corruption of on-disk metadata
            // (0x10) detected at xfs_dax_notify_failure", xfs_notify_failure.c:169) and no task
            // is signalled: nothing is frozen, signalled or dropped.
            actions = actions.filter { $0.action == .unknown } + [ImpactAction(action: .shutdown, target: fs.mountpoint,
                reason: "6.0-6.7: kill_dax notifies with flags 0 (no MF_MEM_PRE_REMOVE): xfs_dax_notify_failure shuts down (SHUTDOWN_CORRUPT_ONDISK, 0x10) before any task is signalled")]
            if !processes.isEmpty {
                notes.append("under the 6.0-6.7 rules no task is signalled and no page dropped: a process mapping a file keeps reading the old bytes; dmstack remove signals them (--kill) and unmounts")
            }
        }
        if !losesSomething {
            notes.append(freeSpace ? "the range holds only free space: nothing is lost" : "no owner found in the range")
        }
        // Notes of the filesystem's own kernel code: xfs_dax_failure_fn looks inodes up with
        // xfs_iget(XFS_IGET_INCORE) (fs/xfs/xfs_notify_failure.c); ext4 registers no holder
        // (fs/ext4/super.c passes no holder_ops to fs_dax_get_by_bdev), nothing of it is told.
        if !fileHits.isEmpty && fs.type == "xfs" {
            notes.append("the kernel notifies only files whose inode is in memory (xfs_iget XFS_IGET_INCORE) and signals only tasks that have the page mapped; dmstack lists every owner and mapper")
        }
        if fs.type != "xfs" {
            notes.append("the kernel registers no dax holder for \(fs.type): it would not be told; the actions are the XFS rules applied to it"
                         + (!fileHits.isEmpty ? " (memory-failure.c still signals a task that touches a poisoned page)" : ""))
        }
        var hit: [String] = []
        if !fileHits.isEmpty { hit.append("file data") }
        if !metadataLost.isEmpty { hit.append("metadata") }
        if logLost { hit.append("log") }
        if freeSpace { hit.append("free space") }
        if !found.unknown.isEmpty { hit.append("unknown") }
        return FilesystemImpact(mountpoint: fs.mountpoint, type: fs.type, device: fs.devices[.data] ?? "?", roles: roles,
                                metadata: metadataHits, files: fileHits, processes: processes, actions: actions, notes: notes,
                                hit: hit, unknown: found.unknown)
    }
}

extension ImpactPlanner {
    /// What the kernel alone does for `fs` on `event` under `rules`, in one sentence. The
    /// kernel tells a filesystem only through the dax holder of a pmem leaf it sits on
    /// directly: drivers/md/dm.c and md open their members with no holder_ops
    /// (fs_dax_get_by_bdev without a holder), ext4 passes none (fs/ext4/super.c), and a disk
    /// or loop leaf has no dax device. A memory failure with no holder takes the generic path
    /// (mm/memory-failure.c memory_failure_dev_pagemap: dax_holder_notify_failure gives
    /// -EOPNOTSUPP, then mf_generic_kill_procs): the tasks mapping that one page only.
    static func kernelAlone(_ fs: MountedFilesystem, impact: FilesystemImpact, event: FailureEvent, rules: KernelRules,
                            leafIsPmem: Bool, layers: [String]) -> String {
        let xfs = fs.type == "xfs"
        if leafIsPmem && layers.isEmpty && xfs {
            if impact.roles == [.realtime] && rules.set != .realtimeRmap {
                return "nothing: xfs_dax_notify_failure returns -EOPNOTSUPP for the realtime device before 6.14"
            }
            switch (event, rules.set) {
            case (.remove, .flagZero):
                return "shutdown only (SHUTDOWN_CORRUPT_ONDISK): no freeze, no task signalled, no page dropped; mappers keep reading the old bytes"
            case (.remove, _):
                return "the actions listed: xfs_dax_notify_failure is told (MF_MEM_PRE_REMOVE)"
            case (.failure, _):
                return "the actions listed: xfs_dax_notify_failure is told; the task touching the page gets BUS_MCEERR_AR"
            }
        }
        let why = !leafIsPmem ? "the leaf has no dax device"
            : !layers.isEmpty ? "\(layers.joined(separator: ", ")) between the leaf and the filesystem \(layers.count == 1 ? "registers" : "register") no dax holder"
            : "\(fs.type) registers no dax holder"
        switch event {
        case .remove:
            return "nothing: \(why), so no filesystem is told; no freeze, no signal, no shutdown until I/O fails"
        case .failure where leafIsPmem:
            return "the generic per-page kill only: \(why); mf_generic_kill_procs signals the tasks mapping that page, blind to reflink owners and metadata (no shutdown)"
        case .failure:
            return "nothing until the range is read: \(why); the reader gets EIO (XFS shuts down on a metadata I/O error)"
        }
    }
}

/// A filesystem device's hit runs (bytes), indexed for clipping records: plain ranges merged
/// and found by binary search, strided runs (few: one a leg and rotation position) each asked
/// arithmetically. The reverse map is asked for the hulls, merged.
struct RunIndex {
    let plain: [ByteRange]
    let strided: [StridedRange]
    let hulls: [ByteRange]

    init(_ runs: [StridedRange]) {
        plain = ByteRange.merged(runs.filter(\.isPlain).map { ByteRange(offset: $0.start, length: $0.length) })
        strided = runs.filter { !$0.isPlain && !$0.isEmpty }.sorted { $0.start < $1.start }
        hulls = ByteRange.merged(plain + strided.map { ByteRange(offset: $0.start, length: $0.end - $0.start) })
    }

    /// Every hit piece of [start, end), clipped, as (start, end); a piece of a plain range and
    /// of a run that overlap is given for each (the fold merges them).
    func forEachPiece(overlapping start: UInt64, _ end: UInt64, _ body: (UInt64, UInt64) -> Void) {
        guard start < end else { return }
        for r in ByteRange.overlapping(plain, start, end) {
            let s = max(start, r.offset), e = min(end, r.end)
            if s < e { body(s, e) }
        }
        for run in strided where run.start < end && run.end > start {
            for part in run.intersection(SectorRange(start: start, length: end - start)) {
                for p in part.pieces { body(p.start, p.start + p.length) }
            }
        }
    }

    /// Whether any hit piece overlaps [start, end).
    func overlaps(_ start: UInt64, _ end: UInt64) -> Bool {
        guard start < end else { return false }
        if !ByteRange.overlapping(plain, start, end).isEmpty { return true }
        return strided.contains { $0.start < end && $0.end > start && !$0.intersection(SectorRange(start: start, length: end - start)).isEmpty }
    }

    /// The runs as the ranges of an `unknown` part: plain ranges merged, runs as runs.
    var unknownRanges: [UnknownRange] {
        (plain.map { StridedRange(start: $0.offset, length: $0.length, stride: $0.length, count: 1) } + strided)
            .sorted { $0.start < $1.start }.map(UnknownRange.init)
    }

    /// Every range, expanded (the external log: its runs are a few plain ranges).
    func expandedRanges() -> [ByteRange] {
        ByteRange.merged(plain + strided.flatMap { $0.pieces.map { ByteRange(offset: $0.start, length: $0.length) } })
    }
}
