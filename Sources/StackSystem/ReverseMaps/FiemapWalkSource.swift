import CLinux
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// A FIEMAP walk (fs/ioctl.c, Documentation/filesystems/fiemap.rst): every regular file and
/// directory of the filesystem, not crossing into other mounts, asked where its extents are,
/// for filesystems whose GETFSMAP does not name file owners (ext4, XFS without rmapbt). Never
/// writes: FIEMAP is asked without FIEMAP_FLAG_SYNC, so delayed-allocation extents (not yet
/// on disk) are skipped and counted.
struct FiemapWalkSource: ReverseMapSource {
    /// Called with the number of inodes walked so far (a progress line on a terminal).
    var progress: ((Int) -> Void)?

    /// The extents that intersect the request's ranges (all if nil), and every name of the
    /// inodes kept.
    func read(_ request: ReverseMapRequest) throws -> ReverseMapPass {
        var records: [ReverseMapRecord] = []
        var names: [UInt64: [String]] = [:]
        var mapped = Set<UInt64>()
        let counts = try stream(request, named: { inode, path in names[inode, default: []].append(path) }) { record in
            records.append(record)
            if let i = record.inode { mapped.insert(i) }
        }
        var paths: [UInt64: [String]] = [:]
        for inode in mapped { paths[inode] = names[inode] }
        return ReverseMapPass(records: records, paths: paths, delayed: counts.delayed, unreadable: counts.unreadable)
    }

    /// What a walk could not do: extents skipped as not yet allocated, and directories it
    /// could not open (EACCES as a user, a directory replaced while walked): the files under
    /// those are not named, which the reader says instead of calling their blocks nobody's.
    struct Counts {
        var delayed = 0
        var unreadable = 0
        /// The first directory not opened, with the reason.
        var firstUnreadable: String?
    }

    /// The walk with each extent handed to `body` as FIEMAP returns it, never held, and each
    /// name seen to `named` (nil: names are not wanted; they are asked apart for the inodes
    /// kept). Memory is one FIEMAP page and the directory stack, plus one number a file with
    /// more than one link (visited once). Returns the delayed-allocation extents skipped; what
    /// `body` throws stops the walk.
    func stream(_ request: ReverseMapRequest, named: ((UInt64, String) -> Void)? = nil,
                _ body: (ReverseMapRecord) throws -> Void) throws -> Counts {
        let root = request.mountpoint, role = request.role
        let st = try Syscall.stat(root)
        let dev = st.st_dev
        var delayed = 0, walked = 0
        var counts = Counts()
        func unreadable(_ path: String, _ error: (any Error)?) {
            counts.unreadable += 1
            if counts.firstUnreadable == nil { counts.firstUnreadable = "\(path): \(error.map { "\($0)" } ?? String(cString: strerror(errno)))" }
        }
        var linked = Set<UInt64>()
        var failure: (any Error)?
        let sorted = request.ranges.map(ByteRange.merged)
        func wanted(_ start: UInt64, _ length: UInt64) -> Bool {
            guard let sorted else { return true }
            return !ByteRange.overlapping(sorted, start, start + length).isEmpty
        }
        let reader = FiemapReader()
        /// FIEMAP of one open file: its extents, page by page.
        func extentsOf(_ fd: Int32, inode: UInt64, size fileSize: UInt64?, path: String) throws {
            try reader.forEachExtent(fd, path: path) { e in
                if e.fe_flags & UInt32(FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN) != 0 { delayed += 1; return }
                // Inline data lives in the inode itself, not at fe_physical.
                if e.fe_flags & UInt32(FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED) != 0 { return }
                if wanted(e.fe_physical, e.fe_length) {
                    try body(ReverseMapRecord(role: role, physical: e.fe_physical, length: e.fe_length, inode: inode,
                                              offset: e.fe_logical, unwritten: e.fe_flags & UInt32(FIEMAP_EXTENT_UNWRITTEN) != 0,
                                              shared: e.fe_flags & UInt32(FIEMAP_EXTENT_SHARED) != 0, fileSize: fileSize))
                }
            }
        }
        // Depth-first with an explicit stack of directory paths; each name told to `named`
        // (hard links: each name), a file with several links asked once.
        var stack = [root]
        /// Opens the entry relative to its directory, never following a link or blocking on
        /// a FIFO, and checks it is still the inode stat(2) saw (it may have been replaced).
        func visit(_ dirfd: Int32, _ name: String, _ path: String, _ inode: UInt64, _ isDir: Bool, links: UInt64) {
            guard failure == nil else { return }
            walked += 1
            if walked % 2000 == 0 { progress?(walked) }
            named?(inode, path)
            if !isDir && links > 1 { guard linked.insert(inode).inserted else { return } }
            let fd: Int32
            do { fd = try Syscall.openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (isDir ? O_DIRECTORY : 0), path: path) } catch {
                if isDir { unreadable(path, error) }
                return
            }
            defer { Syscall.close(fd) }
            guard let now = try? Syscall.fstat(fd, path: path), UInt64(now.st_ino) == inode,
                  (now.st_mode & S_IFMT) == (isDir ? S_IFDIR : S_IFREG) else { return }
            // FIEMAP does not say which device: an XFS realtime file's extents are on the
            // realtime device, every other file's on the data device.
            let realtime = clinux_xflags(fd) & Int64(FS_XFLAG_REALTIME) != 0
            guard realtime == (role == .realtime) else { return }
            // A regular file's size clips its lost ranges; a directory's blocks are all its own.
            do { try extentsOf(fd, inode: inode, size: isDir ? nil : UInt64(now.st_size), path: path) } catch { failure = error }
        }
        visit(AT_FDCWD, root, root, UInt64(st.st_ino), true, links: 1)
        while failure == nil, let dir = stack.popLast() {
            guard let d = opendir(dir) else { unreadable(dir, nil); continue }
            let dfd = dirfd(d)
            while let entry = readdir(d) {
                let name = entry.name
                if name == "." || name == ".." { continue }
                let path = dir == "/" ? "/\(name)" : "\(dir)/\(name)"
                guard let es = try? Syscall.fstatat(dfd, name, flags: AT_SYMLINK_NOFOLLOW, path: path) else { continue }
                // Another filesystem mounted over a directory (or a file) of this one hides
                // what is below it from any walk: those files are not named, and the blocks
                // they own must stay unknown, never "not a file's data".
                guard es.st_dev == dev else { unreadable(path, MountedOver()); continue }
                switch es.st_mode & S_IFMT {
                case S_IFDIR:
                    visit(dfd, name, path, UInt64(es.st_ino), true, links: 1)
                    stack.append(path)
                case S_IFREG:
                    visit(dfd, name, path, UInt64(es.st_ino), false, links: UInt64(es.st_nlink))
                default:
                    continue
                }
            }
            closedir(d)
        }
        progress?(walked)
        if let failure { throw failure }
        counts.delayed = delayed
        return counts
    }
}

/// Why a walk did not enter an entry: another filesystem is mounted over it.
struct MountedOver: Error, CustomStringConvertible {
    var description: String { "another filesystem is mounted over it" }
}

/// FIEMAP of one open file (fs/ioctl.c `ioctl_fiemap`), a page of 256 extents at a time from
/// one buffer: the walk and the damage ledger's check both read extents through it.
public final class FiemapReader {
    let count: UInt32 = 256
    let size: Int
    let raw: UnsafeMutableRawPointer

    public init() {
        size = clinux_fiemap_size(count)
        raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
    }

    deinit { raw.deallocate() }

    /// Each extent of `fd` from byte `start` on, in file order, to `body`; a file FIEMAP
    /// refuses (a filesystem without it) gives none: the caller tells that apart with
    /// `supported`. Stops at the last extent or at `end`.
    public func forEachExtent(_ fd: Int32, path: String, from start: UInt64 = 0, to end: UInt64 = .max,
                              _ body: (fiemap_extent) throws -> Void) throws {
        let map = raw.bindMemory(to: fiemap.self, capacity: 1)
        let extents = (raw + MemoryLayout<fiemap>.size).bindMemory(to: fiemap_extent.self, capacity: Int(count))
        var start = start
        while start < end {
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            map.pointee.fm_start = start
            map.pointee.fm_length = end - start
            map.pointee.fm_extent_count = count
            guard (try? Syscall.ioctl("FIEMAP", path: path) { clinux_fiemap(fd, map) }) != nil else { return }
            let n = Int(map.pointee.fm_mapped_extents)
            guard n > 0 else { return }
            for i in 0..<n { try body(extents[i]) }
            let last = extents[n - 1]
            if last.fe_flags & UInt32(FIEMAP_EXTENT_LAST) != 0 { return }
            start = last.fe_logical + last.fe_length
        }
    }

    /// Whether FIEMAP works on `fd` at all (EOPNOTSUPP on a filesystem without it).
    public func supported(_ fd: Int32, path: String) -> Bool {
        let map = raw.bindMemory(to: fiemap.self, capacity: 1)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        map.pointee.fm_length = 1
        return (try? Syscall.ioctl("FIEMAP", path: path) { clinux_fiemap(fd, map) }) != nil
    }
}
