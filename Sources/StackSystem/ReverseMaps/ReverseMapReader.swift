import CLinux
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// Reads a mounted filesystem's reverse map: FS_IOC_GETFSMAP where the filesystem names the
/// owners (XFS with rmapbt), else a FIEMAP walk over its inodes for file data, with the
/// metadata GETFSMAP does name (ext4's). Never writes: FIEMAP is asked without
/// FIEMAP_FLAG_SYNC, so delayed-allocation extents (not yet on disk) are skipped and counted.
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

    /// The error a GETFSMAP call gave, kept to say why the walk was used instead.
    public struct FsmapUnavailable: Error, CustomStringConvertible {
        public var errno: Int32
        public var description: String {
            switch errno {
            case EPERM, EACCES: "GETFSMAP needs CAP_SYS_ADMIN"
            case ENOTTY, EOPNOTSUPP, EINVAL: "the filesystem has no GETFSMAP"
            default: "GETFSMAP failed: \(String(cString: strerror(errno)))"
            }
        }
    }

    /// GETFSMAP records of device `device` (dev_t as the filesystem reports it) that
    /// intersect `ranges` (bytes), each range queried on its own, paged `batch` at a time.
    public func fsmap(mountpoint: String, device: UInt32, role: HolderRole, ranges: [ByteRange]) throws -> [ReverseMapRecord] {
        let fd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(path: mountpoint, operation: "open", errno: errno) }
        defer { close(fd) }
        precondition(batch > 0, "GETFSMAP batch must hold a record")
        let size = clinux_fsmap_head_size(batch)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { raw.deallocate() }
        let head = raw.bindMemory(to: fsmap_head.self, capacity: 1)
        let records = (raw + MemoryLayout<fsmap_head>.size).bindMemory(to: CLinux.fsmap.self, capacity: Int(batch))
        var out: [ReverseMapRecord] = []
        for range in ranges where range.length > 0 {
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            head.pointee.fmh_count = batch
            head.pointee.fmh_keys.0.fmr_device = device
            head.pointee.fmh_keys.0.fmr_physical = range.offset
            head.pointee.fmh_keys.1.fmr_device = device
            head.pointee.fmh_keys.1.fmr_physical = range.end - 1
            head.pointee.fmh_keys.1.fmr_owner = UInt64.max
            head.pointee.fmh_keys.1.fmr_offset = UInt64.max
            head.pointee.fmh_keys.1.fmr_flags = UInt32.max
            while true {
                guard clinux_getfsmap(fd, head) == 0 else { throw FsmapUnavailable(errno: errno) }
                let n = min(Int(head.pointee.fmh_entries), Int(batch))
                for i in 0..<n {
                    let r = records[i]
                    guard r.fmr_device == device else { continue }
                    let special = r.fmr_flags & UInt32(FMR_OF_SPECIAL_OWNER) != 0
                    out.append(ReverseMapRecord(role: role, physical: r.fmr_physical, length: r.fmr_length,
                                                inode: special ? nil : r.fmr_owner, metadata: special ? FsmapOwner.name(r.fmr_owner) : nil,
                                                offset: special ? 0 : r.fmr_offset,
                                                attributeFork: r.fmr_flags & UInt32(FMR_OF_ATTR_FORK) != 0,
                                                extentMap: r.fmr_flags & UInt32(FMR_OF_EXTENT_MAP) != 0,
                                                unwritten: r.fmr_flags & UInt32(FMR_OF_PREALLOC) != 0,
                                                shared: r.fmr_flags & UInt32(FMR_OF_SHARED) != 0))
                }
                guard n > 0, records[n - 1].fmr_flags & UInt32(FMR_OF_LAST) == 0, n == Int(batch) else { break }
                // fsmap_advance(): the next call starts after the last record returned.
                head.pointee.fmh_keys.0 = records[n - 1]
            }
        }
        return out
    }

    /// Walks the filesystem mounted on `root` (not crossing into other mounts), asking FIEMAP
    /// for the extents of every regular file and directory. Keeps the extents that intersect
    /// `ranges` (all if nil) and every name of the inodes kept.
    public func fiemapWalk(root: String, role: HolderRole, ranges: [ByteRange]?) throws -> (records: [ReverseMapRecord], paths: [UInt64: [String]], delayed: Int) {
        var st = stat()
        guard stat(root, &st) == 0 else { throw SystemError(path: root, operation: "stat", errno: errno) }
        let dev = st.st_dev
        var records: [ReverseMapRecord] = []
        var paths: [UInt64: [String]] = [:]
        var mapped = Set<UInt64>()
        var delayed = 0, walked = 0
        let sorted = ranges.map(ByteRange.merged)
        func wanted(_ start: UInt64, _ length: UInt64) -> Bool {
            guard let sorted else { return true }
            return !ByteRange.overlapping(sorted, start, start + length).isEmpty
        }
        let count: UInt32 = 256
        let size = clinux_fiemap_size(count)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { raw.deallocate() }
        let map = raw.bindMemory(to: fiemap.self, capacity: 1)
        let extents = (raw + MemoryLayout<fiemap>.size).bindMemory(to: fiemap_extent.self, capacity: Int(count))
        /// FIEMAP of one open file: its extents, page by page of `count`.
        func extentsOf(_ fd: Int32, inode: UInt64) {
            var start: UInt64 = 0
            while true {
                raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
                map.pointee.fm_start = start
                map.pointee.fm_length = UInt64.max - start
                map.pointee.fm_extent_count = count
                guard clinux_fiemap(fd, map) == 0 else { return }
                let n = Int(map.pointee.fm_mapped_extents)
                guard n > 0 else { return }
                for i in 0..<n {
                    let e = extents[i]
                    if e.fe_flags & UInt32(FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN) != 0 { delayed += 1; continue }
                    // Inline data lives in the inode itself, not at fe_physical.
                    if e.fe_flags & UInt32(FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED) != 0 { continue }
                    if wanted(e.fe_physical, e.fe_length) {
                        records.append(ReverseMapRecord(role: role, physical: e.fe_physical, length: e.fe_length, inode: inode,
                                                        offset: e.fe_logical, unwritten: e.fe_flags & UInt32(FIEMAP_EXTENT_UNWRITTEN) != 0,
                                                        shared: e.fe_flags & UInt32(FIEMAP_EXTENT_SHARED) != 0))
                        mapped.insert(inode)
                    }
                }
                let last = extents[n - 1]
                if last.fe_flags & UInt32(FIEMAP_EXTENT_LAST) != 0 { return }
                start = last.fe_logical + last.fe_length
            }
        }
        // Depth-first with an explicit stack of directory paths; names kept for every inode
        // with a mapped extent (hard links: each name), found in the same walk.
        var names: [UInt64: [String]] = [:]
        var stack = [root]
        /// Opens the entry relative to its directory, never following a link or blocking on
        /// a FIFO, and checks it is still the inode stat(2) saw (it may have been replaced).
        func visit(_ dirfd: Int32, _ name: String, _ path: String, _ inode: UInt64, _ isDir: Bool) {
            walked += 1
            if walked % 2000 == 0 { progress?(walked) }
            names[inode, default: []].append(path)
            guard names[inode]!.count == 1 else { return }
            let fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (isDir ? O_DIRECTORY : 0))
            guard fd >= 0 else { return }
            defer { close(fd) }
            var now = stat()
            guard fstat(fd, &now) == 0, UInt64(now.st_ino) == inode,
                  (now.st_mode & S_IFMT) == (isDir ? S_IFDIR : S_IFREG) else { return }
            // FIEMAP does not say which device: an XFS realtime file's extents are on the
            // realtime device, every other file's on the data device.
            let realtime = clinux_xflags(fd) & Int64(FS_XFLAG_REALTIME) != 0
            guard realtime == (role == .realtime) else { return }
            extentsOf(fd, inode: inode)
        }
        visit(AT_FDCWD, root, root, UInt64(st.st_ino), true)
        while let dir = stack.popLast() {
            guard let d = opendir(dir) else { continue }
            let dfd = dirfd(d)
            while let entry = readdir(d) {
                let name = entry.name
                if name == "." || name == ".." { continue }
                var es = stat()
                guard fstatat(dfd, name, &es, AT_SYMLINK_NOFOLLOW) == 0, es.st_dev == dev else { continue }
                let path = dir == "/" ? "/\(name)" : "\(dir)/\(name)"
                switch es.st_mode & S_IFMT {
                case S_IFDIR:
                    visit(dfd, name, path, UInt64(es.st_ino), true)
                    stack.append(path)
                case S_IFREG:
                    visit(dfd, name, path, UInt64(es.st_ino), false)
                default:
                    continue
                }
            }
            closedir(d)
        }
        progress?(walked)
        for inode in mapped { paths[inode] = names[inode] }
        return (records, paths, delayed)
    }

    /// Every name of `inodes` in the filesystem mounted on `root`, by one walk that stops as
    /// soon as each inode has as many names as its link count.
    public func paths(root: String, inodes: Set<UInt64>) -> [UInt64: [String]] {
        var st = stat()
        guard !inodes.isEmpty, stat(root, &st) == 0 else { return [:] }
        let dev = st.st_dev
        var found: [UInt64: [String]] = [:]
        var remaining: [UInt64: Int] = [:]
        if inodes.contains(UInt64(st.st_ino)) { found[UInt64(st.st_ino)] = [root] }
        var stack = [root], walked = 0
        while let dir = stack.popLast(), remaining.isEmpty ? found.count < inodes.count : true {
            guard let d = opendir(dir) else { continue }
            let dfd = dirfd(d)
            while let entry = readdir(d) {
                // d_ino and d_type from readdir: stat(2) only for directories (not to cross
                // into another mount) and for the inodes sought (their link count).
                let ino = UInt64(entry.pointee.d_ino)
                let type = entry.pointee.d_type
                let wantedHere = inodes.contains(ino)
                guard wantedHere || type == UInt8(DT_DIR) || type == UInt8(DT_UNKNOWN) else { walked += 1; continue }
                let name = entry.name
                if name == "." || name == ".." { continue }
                var es = stat()
                guard fstatat(dfd, name, &es, AT_SYMLINK_NOFOLLOW) == 0, es.st_dev == dev else { continue }
                walked += 1
                if walked % 2000 == 0 { progress?(walked) }
                let path = dir == "/" ? "/\(name)" : "\(dir)/\(name)"
                if inodes.contains(UInt64(es.st_ino)) {
                    let ino = UInt64(es.st_ino)
                    found[ino, default: []].append(path)
                    let isDir = (es.st_mode & S_IFMT) == S_IFDIR
                    remaining[ino] = isDir ? 0 : Int(es.st_nlink) - found[ino]!.count
                    if remaining[ino]! <= 0 { remaining[ino] = nil }
                }
                if (es.st_mode & S_IFMT) == S_IFDIR { stack.append(path) }
            }
            closedir(d)
            if found.count == inodes.count && remaining.isEmpty { break }
        }
        progress?(walked)
        return found
    }
}

extension ReverseMapReader {
    /// The reverse map of one device (`role`) of the mounted filesystem `fs` over `ranges`:
    /// GETFSMAP when it names file owners; otherwise its metadata records plus file data from
    /// a FIEMAP walk, and what neither explains named as an unknown owner (ext4 extent-tree
    /// and xattr blocks, an unlinked file still open, or metadata of an XFS without rmapbt).
    public func answer(_ fs: MountedFilesystem, role: HolderRole, ranges: [ByteRange], device: BlockDevice) -> ReverseMapAnswer {
        let dev = UInt32(truncatingIfNeeded: clinux_makedev(device.major, device.minor))
        var notes: [String] = []
        var metadata: [ReverseMapRecord] = []
        var gaps: [ByteRange] = []
        do {
            let records = try fsmap(mountpoint: fs.mountpoint, device: dev, role: role, ranges: ranges)
            // The log holds no file: what GETFSMAP says is all there is.
            if role == .log { return ReverseMapAnswer(records: records, paths: [:], notes: []) }
            if strategy == .fiemap {
                metadata = records.filter(\.isMetadata)
                notes.append("file data from a FIEMAP walk (--reverse-map fiemap)")
                throw FsmapUnavailable(errno: 0)
            }
            // Owners are named unless some allocated range comes back as "unknown" (ext4's file
            // data, or any allocation of an XFS without rmapbt) or is not reported at all
            // (older kernels leave an XFS without rmapbt's allocated space out of the answer).
            let covered = ByteRange.merged(records.map { ByteRange(offset: $0.physical, length: $0.length) })
            gaps = ranges.flatMap { ByteRange.subtracting(covered, from: $0) }
            // Past the filesystem's end (a device larger than its filesystem) nothing is owed.
            var st = statvfs()
            if role == .data, statvfs(fs.mountpoint, &st) == 0 {
                let end = UInt64(st.f_blocks) * UInt64(st.f_frsize)
                gaps = gaps.compactMap { $0.offset >= end ? nil : ByteRange(offset: $0.offset, length: min($0.end, end) - $0.offset) }
            }
            if !records.contains(where: { $0.metadata == "unknown" }) && gaps.isEmpty {
                let inodes = Set(records.compactMap(\.inode))
                return ReverseMapAnswer(records: records, paths: paths(root: fs.mountpoint, inodes: inodes), notes: [])
            }
            metadata = records
            if strategy == .getfsmap { return ReverseMapAnswer(records: records, paths: [:], notes: ["GETFSMAP names no file owners here; --reverse-map getfsmap: no walk"]) }
            notes.append("GETFSMAP of \(fs.mountpoint) names no file owners (\(fs.type == "xfs" ? "XFS without rmapbt" : "\(fs.type) reports file data as unknown")): file data from a FIEMAP walk")
        } catch let e as FsmapUnavailable where e.errno == 0 {
            // --reverse-map fiemap: GETFSMAP gave the metadata, the walk gives the files.
        } catch {
            if strategy == .getfsmap || role == .log {
                return ReverseMapAnswer(records: [], paths: [:], notes: ["\(fs.mountpoint): \(error)"])
            }
            notes.append("\(fs.mountpoint): \(error); file data from a FIEMAP walk, metadata not named")
        }
        let walk: (records: [ReverseMapRecord], paths: [UInt64: [String]], delayed: Int)
        do { walk = try fiemapWalk(root: fs.mountpoint, role: role, ranges: ranges) } catch {
            return ReverseMapAnswer(records: metadata, paths: [:], notes: notes + ["FIEMAP walk of \(fs.mountpoint) failed: \(error)"])
        }
        if walk.delayed > 0 {
            notes.append("\(walk.delayed) extent(s) not yet allocated on disk (delayed allocation) were skipped; sync first to include them")
        }
        // Unknown-owner ranges that no file explains stay unknown: metadata the filesystem
        // does not name, or a file no directory reaches.
        let files = ByteRange.merged(walk.records.map { ByteRange(offset: $0.physical, length: $0.length) })
        var records = metadata.filter { $0.metadata != "unknown" }
        let unexplained = metadata.filter { $0.metadata == "unknown" }.map { ByteRange(offset: $0.physical, length: $0.length) } + gaps
        for r in unexplained {
            for piece in ByteRange.subtracting(files, from: r) {
                records.append(ReverseMapRecord(role: role, physical: piece.offset, length: piece.length, metadata: "unknown owner (not a file's data)"))
            }
        }
        return ReverseMapAnswer(records: records + walk.records, paths: walk.paths, notes: notes)
    }
}
