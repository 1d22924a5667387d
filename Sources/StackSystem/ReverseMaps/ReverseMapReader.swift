import CLinux
import StackModel

/// Reads a mounted filesystem's reverse map: FS_IOC_GETFSMAP where the filesystem names the
/// owners (XFS with rmapbt), else a FIEMAP walk over its inodes for file data, with the
/// metadata GETFSMAP does name (ext4's). Never writes: FIEMAP is asked without
/// FIEMAP_FLAG_SYNC, so delayed-allocation extents (not yet on disk) are skipped and counted.
/// The ways themselves are `ReverseMapSource`s (GetfsmapSource, FiemapWalkSource); this
/// façade picks them per filesystem and device and puts their answers together.
public struct ReverseMapReader {
    /// Records per GETFSMAP call: memory stays bounded whatever the filesystem's size.
    public var batch: UInt32 = 1024
    /// Called with the number of inodes walked so far (a progress line on a terminal).
    public var progress: ((Int) -> Void)?

    /// How file owners are found: GETFSMAP where it names them (auto), GETFSMAP only, or
    /// always the FIEMAP walk (to compare, or where GETFSMAP is not trusted).
    public enum Strategy: String, Sendable, CaseIterable { case auto, getfsmap, fiemap }
    public var strategy: Strategy = .auto

    public init() {}

    /// Sources that are a filesystem's own reverse map (none yet: btrfs's LOGICAL_INO is the
    /// candidate), asked instead of GETFSMAP and the walk for their filesystem types.
    /// Registering one is a line here.
    var dedicated: [any ReverseMapSource] { [] }

    var getfsmap: GetfsmapSource { GetfsmapSource(batch: batch) }
    var walk: FiemapWalkSource { FiemapWalkSource(progress: progress) }

    /// GETFSMAP records of device `device` (dev_t as the filesystem reports it) that
    /// intersect `ranges` (bytes), each range queried on its own, paged `batch` at a time.
    public func fsmap(mountpoint: String, device: UInt32, role: HolderRole, ranges: [ByteRange]) throws -> [ReverseMapRecord] {
        try getfsmap.read(ReverseMapRequest(mountpoint: mountpoint, device: device, role: role, ranges: ranges)).records
    }

    /// Walks the filesystem mounted on `root` (not crossing into other mounts), asking FIEMAP
    /// for the extents of every regular file and directory. Keeps the extents that intersect
    /// `ranges` (all if nil) and every name of the inodes kept.
    public func fiemapWalk(root: String, role: HolderRole, ranges: [ByteRange]?) throws -> (records: [ReverseMapRecord], paths: [UInt64: [String]], delayed: Int) {
        // FIEMAP does not say which device: the walk tells the data device from the
        // realtime device by each file's flags, not by dev_t.
        let pass = try walk.read(ReverseMapRequest(mountpoint: root, device: 0, role: role, ranges: ranges))
        return (pass.records, pass.paths, pass.delayed)
    }

    /// Every name of `inodes` in the filesystem mounted on `root`, by one walk that stops as
    /// soon as each inode has as many names as its link count.
    public func paths(root: String, inodes: Set<UInt64>) -> [UInt64: [String]] {
        InodeNameWalk(progress: progress).paths(root: root, inodes: inodes)
    }

    /// The same walk, each (inode, name) handed to `body` as it is found, none kept.
    /// Returns a note when some directories could not be read (their files stay unnamed).
    @discardableResult
    public func forEachPath(root: String, inodes: InodeSelection, _ body: (UInt64, String) -> Void) -> [String] {
        InodeNameWalk(progress: progress).forEachPath(root: root, inodes: inodes, body)
    }

    /// What GETFSMAP settled on its own, or left to a FIEMAP walk.
    enum FsmapVerdict {
        /// The whole answer (owners named, or no walk wanted or possible).
        case answered(ReverseMapAnswer)
        /// File data comes from a walk; `metadata` is what GETFSMAP gave (its "unknown"
        /// records and the `gaps` it left out are explained by the walk where they can be).
        case walk(metadata: [ReverseMapRecord], gaps: [ByteRange], notes: [String])
    }

    /// The reverse map of one device (`role`) of the mounted filesystem `fs` over `ranges`:
    /// GETFSMAP when it names file owners; otherwise its metadata records plus file data from
    /// a FIEMAP walk, and what neither explains named as an unknown owner (ext4 extent-tree
    /// and xattr blocks, an unlinked file still open, or metadata of an XFS without rmapbt).
    public func answer(_ fs: MountedFilesystem, role: HolderRole, ranges: [ByteRange], device: BlockDevice) -> ReverseMapAnswer {
        let dev = UInt32(truncatingIfNeeded: clinux_makedev(device.major, device.minor))
        let request = ReverseMapRequest(mountpoint: fs.mountpoint, device: dev, role: role, ranges: ranges)
        if let source = dedicated.first(where: { type(of: $0).filesystemTypes.contains(fs.type) }) {
            do {
                let pass = try source.read(request)
                return ReverseMapAnswer(records: pass.records, paths: pass.paths, notes: [])
            } catch {
                return ReverseMapAnswer(records: [], paths: [:], notes: ["\(fs.mountpoint): \(error)"])
            }
        }
        let metadata: [ReverseMapRecord], gaps: [ByteRange]
        var notes: [String]
        switch askGetfsmap(fs, request) {
        case .answered(let answer): return answer
        case .walk(let m, let g, let n): (metadata, gaps, notes) = (m, g, n)
        }
        let pass: ReverseMapPass
        do { pass = try walk.read(request) } catch {
            return ReverseMapAnswer(records: metadata, paths: [:], notes: notes + ["FIEMAP walk of \(fs.mountpoint) failed: \(error)"])
        }
        if pass.delayed > 0 {
            notes.append("\(pass.delayed) extent(s) not yet allocated on disk (delayed allocation) were skipped; sync first to include them")
        }
        // Unknown-owner ranges that no file explains stay unknown: metadata the filesystem
        // does not name, or a file no directory reaches.
        let files = ByteRange.merged(pass.records.map { ByteRange(offset: $0.physical, length: $0.length) })
        var records = metadata.filter { $0.metadata != "unknown" }
        let unexplained = metadata.filter { $0.metadata == "unknown" }.map { ByteRange(offset: $0.physical, length: $0.length) } + gaps
        for r in unexplained {
            for piece in ByteRange.subtracting(files, from: r) {
                records.append(ReverseMapRecord(role: role, physical: piece.offset, length: piece.length, metadata: "unknown owner (not a file's data)"))
            }
        }
        return ReverseMapAnswer(records: records + pass.records, paths: pass.paths, notes: notes)
    }

    /// GETFSMAP first, whatever the strategy: it names the metadata even where the walk names
    /// the files. Decides, by what the filesystem answered, whether a walk is needed.
    func askGetfsmap(_ fs: MountedFilesystem, _ request: ReverseMapRequest) -> FsmapVerdict {
        let role = request.role, ranges = request.ranges ?? []
        let records: [ReverseMapRecord]
        do { records = try getfsmap.read(request).records } catch {
            if strategy == .getfsmap || role == .log {
                return .answered(ReverseMapAnswer(records: [], paths: [:], notes: ["\(fs.mountpoint): \(error)"]))
            }
            return .walk(metadata: [], gaps: [], notes: ["\(fs.mountpoint): \(error); file data from a FIEMAP walk, metadata not named"])
        }
        // The log holds no file: what GETFSMAP says is all there is.
        if role == .log { return .answered(ReverseMapAnswer(records: records, paths: [:], notes: [])) }
        if strategy == .fiemap {
            // GETFSMAP gives the metadata, the walk gives the files.
            return .walk(metadata: records.filter(\.isMetadata), gaps: [], notes: ["file data from a FIEMAP walk (--reverse-map fiemap)"])
        }
        // Owners are named unless some allocated range comes back as "unknown" (ext4's file
        // data, or any allocation of an XFS without rmapbt) or is not reported at all
        // (older kernels leave an XFS without rmapbt's allocated space out of the answer).
        let covered = ByteRange.merged(records.map { ByteRange(offset: $0.physical, length: $0.length) })
        var gaps = ranges.flatMap { ByteRange.subtracting(covered, from: $0) }
        // Past the filesystem's end (a device larger than its filesystem) nothing is owed.
        if role == .data, let st = try? Syscall.statvfs(fs.mountpoint) {
            let end = UInt64(st.f_blocks) * UInt64(st.f_frsize)
            gaps = gaps.compactMap { $0.offset >= end ? nil : ByteRange(offset: $0.offset, length: min($0.end, end) - $0.offset) }
        }
        if !records.contains(where: { $0.metadata == "unknown" }) && gaps.isEmpty {
            let inodes = Set(records.compactMap(\.inode))
            return .answered(ReverseMapAnswer(records: records, paths: paths(root: fs.mountpoint, inodes: inodes), notes: []))
        }
        if strategy == .getfsmap { return .answered(ReverseMapAnswer(records: records, paths: [:], notes: ["GETFSMAP names no file owners here; --reverse-map getfsmap: no walk"])) }
        return .walk(metadata: records, gaps: gaps, notes: ["GETFSMAP of \(fs.mountpoint) names no file owners (\(fs.type == "xfs" ? "XFS without rmapbt" : "\(fs.type) reports file data as unknown")): file data from a FIEMAP walk"])
    }
    /// A reverse map that stopped part way: records were already handed on, so no other way
    /// can take over without counting them twice. The impact says so and lists what it read.
    public struct CutShort: Error, CustomStringConvertible {
        public var cause: String
        public var description: String { cause }
    }

    /// `answer` as a stream: every record handed to `body` as it is read, in device order for
    /// GETFSMAP, in walk order for the FIEMAP walk; returns the notes. Only what decides
    /// whether a walk is needed is kept: GETFSMAP's "unknown" records (ext4's file data, held
    /// for the walk to explain) and the merged extent of what it covered. Names are not read
    /// (`paths` is asked for the inodes kept). A GETFSMAP refused at its first call leads to
    /// the walk as in `answer`; one that fails after records were handed on throws `CutShort`.
    public func forEachRecord(_ fs: MountedFilesystem, role: HolderRole, ranges: [ByteRange], device: BlockDevice,
                              _ body: (ReverseMapRecord) throws -> Void) throws -> [String] {
        let dev = UInt32(truncatingIfNeeded: clinux_makedev(device.major, device.minor))
        let request = ReverseMapRequest(mountpoint: fs.mountpoint, device: dev, role: role, ranges: ranges)
        if let source = dedicated.first(where: { type(of: $0).filesystemTypes.contains(fs.type) }) {
            let pass: ReverseMapPass
            do { pass = try source.read(request) } catch {
                throw ReverseMapUnavailable(Self.reason(error), "\(fs.mountpoint): \(error)")
            }
            for r in pass.records { try body(r) }
            return []
        }
        var unknown: [ReverseMapRecord] = []
        var covered: [ByteRange] = []
        var inOrder = true, sawUnknown = false
        var notes: [String] = []
        do {
            try getfsmap.stream(request) { r in
                let span = ByteRange(offset: r.physical, length: r.length)
                if let last = covered.last, span.offset <= last.end {
                    if span.offset < last.offset { inOrder = false; covered.append(span) } else { covered[covered.count - 1].length = max(last.end, span.end) - last.offset }
                } else {
                    covered.append(span)
                }
                if r.metadata == "unknown" && role != .log {
                    sawUnknown = true
                    if strategy != .getfsmap { unknown.append(r); return }
                }
                if strategy == .fiemap && role != .log && !r.isMetadata { return }
                try body(r)
            }
        } catch let e as FsmapUnavailable {
            if e.after > 0 { throw CutShort(cause: "GETFSMAP of \(fs.mountpoint) failed after \(e.after) records: \(e)") }
            if strategy == .getfsmap || role == .log {
                throw ReverseMapUnavailable(UnknownReason.of(errno: e.errno, otherwise: .reverseMapUnavailable), "\(fs.mountpoint): \(e)")
            }
            // The walk names the files; what no file covers is not named (metadata or free
            // space, GETFSMAP would tell): an unknown owner, never "nothing there".
            return try walkStream(fs, request, unexplained: clipped(ranges, fs, role), unexplainedKind: "unknown",
                                  notes: ["\(fs.mountpoint): \(e); file data from a FIEMAP walk, metadata not named"], body)
        }
        if role == .log { return [] }
        if strategy == .fiemap {
            return try walkStream(fs, request, unexplained: unknown.map { ByteRange(offset: $0.physical, length: $0.length) },
                                  notes: ["file data from a FIEMAP walk (--reverse-map fiemap)"], body)
        }
        if !inOrder { covered = ByteRange.merged(covered) }
        let gaps = clipped(ranges.flatMap { ByteRange.subtracting(covered, from: $0) }, fs, role)
        covered = []
        if !sawUnknown && gaps.isEmpty { return notes }
        if strategy == .getfsmap {
            // Ranges GETFSMAP left out are as unknown as those it calls unknown (handed on
            // above): the planner reports both as owners not reported.
            for g in gaps { try body(ReverseMapRecord(role: role, physical: g.offset, length: g.length, metadata: "unknown")) }
            return ["GETFSMAP names no file owners here; --reverse-map getfsmap: no walk"]
        }
        notes.append("GETFSMAP of \(fs.mountpoint) names no file owners (\(fs.type == "xfs" ? "XFS without rmapbt" : "\(fs.type) reports file data as unknown")): file data from a FIEMAP walk")
        let unexplained = unknown.map { ByteRange(offset: $0.physical, length: $0.length) } + gaps
        unknown = []
        return try walkStream(fs, request, unexplained: unexplained, notes: notes, body)
    }

    /// The FIEMAP walk's records handed on as they come; then the `unexplained` ranges that no
    /// file's extent covers, as unknown owners (ext4 extent-tree and xattr blocks, an
    /// unlinked file still open, metadata of an XFS without rmapbt).
    func walkStream(_ fs: MountedFilesystem, _ request: ReverseMapRequest, unexplained: [ByteRange],
                    unexplainedKind: String = "unknown owner (not a file's data)", notes: [String],
                    _ body: (ReverseMapRecord) throws -> Void) throws -> [String] {
        // The files' extents, spilled past a bound: what no file covers is only known at the end.
        var files = ExtentSpill { try TemporarySpillFile(avoiding: [fs.mount.majorMinor]) }
        var handed = 0
        var stopped: (any Error)?
        var notes = notes
        let counts: FiemapWalkSource.Counts
        do {
            counts = try walk.stream(request) { r in
                if !unexplained.isEmpty { files.add(ByteRange(offset: r.physical, length: r.length)) }
                handed += 1
                do { try body(r) } catch { stopped = error; throw error }
            }
        } catch {
            if let stopped { throw stopped }
            if handed > 0 { throw CutShort(cause: "FIEMAP walk of \(fs.mountpoint) failed after \(handed) records: \(error)") }
            throw ReverseMapUnavailable(Self.reason(error), "FIEMAP walk of \(fs.mountpoint) failed: \(error)"
                                        + (notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))"))
        }
        if counts.delayed > 0 {
            notes.append("\(counts.delayed) extent(s) not yet allocated on disk (delayed allocation) were skipped; sync first to include them")
        }
        var kind = unexplainedKind
        if counts.unreadable > 0 {
            // A block no file named may be a file under a directory not read: its owner is
            // unknown, not "not a file's data".
            notes.append("the FIEMAP walk could not open \(counts.unreadable) director\(counts.unreadable == 1 ? "y" : "ies") (first \(counts.firstUnreadable ?? "?")): the files under them are not named")
            kind = "unknown"
        }
        try files.forEachUncovered(in: ByteRange.merged(unexplained)) { piece in
            try body(ReverseMapRecord(role: request.role, physical: piece.offset, length: piece.length, metadata: kind))
        }
        return notes
    }

    /// `ranges` cut at the filesystem's end on its data device (a device larger than its
    /// filesystem owes nothing past it).
    func clipped(_ ranges: [ByteRange], _ fs: MountedFilesystem, _ role: HolderRole) -> [ByteRange] {
        guard role == .data, let st = try? Syscall.statvfs(fs.mountpoint) else { return ranges }
        let end = UInt64(st.f_blocks) * UInt64(st.f_frsize)
        return ranges.compactMap { $0.offset >= end ? nil : ByteRange(offset: $0.offset, length: min($0.end, end) - $0.offset) }
    }

    /// `permission` for an EPERM or EACCES, else reverse-map-unavailable.
    static func reason(_ error: any Error) -> UnknownReason {
        if let e = error as? SystemError { return UnknownReason.of(errno: e.errno, otherwise: .reverseMapUnavailable) }
        if let e = error as? FsmapUnavailable { return UnknownReason.of(errno: e.errno, otherwise: .reverseMapUnavailable) }
        return .reverseMapUnavailable
    }
}
