import CLinux
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// What became of a damaged file range, as the ledger's check asks it.
public enum FileDamageState: Sendable, Equatable {
    /// Still there and still mapped (in part) onto the bad bytes: still damaged.
    case damaged
    /// The file was deleted (its handle is stale, or its path names another inode).
    case deleted
    /// Truncated below the damaged range.
    case truncated
    /// The damaged range no longer maps onto any bad byte (rewritten elsewhere, or punched).
    case rewritten
    /// Cannot be told now (FIEMAP refused, the filesystem not mounted, no permission): kept.
    case unknown(String)
}

/// The live machine's answers about damaged files: a file's handle when it is recorded, and
/// later whether the damaged range is still damaged. The file is found by its handle
/// (open_by_handle_at, through renames and reboots), its extents read by FIEMAP
/// (`FiemapReader`, shared with the FIEMAP walk).
public protocol FileDamageProbe {
    /// The handle text and generation of `path` (nil where the filesystem gives no handle).
    func handle(_ path: String) -> (handle: String, generation: UInt32?)?
    /// What became of `[offset, offset+length)` of the file, whose bad bytes on its
    /// filesystem's device are `bad`; and the path it has now, if it was found by handle.
    func check(mountpoint: String, handle: String?, inode: UInt64?, path: String?, offset: UInt64, length: UInt64,
               bad: [ByteRange]) -> (state: FileDamageState, path: String?)
}

/// `FileDamageProbe` on this machine.
public struct LiveFileDamageProbe: FileDamageProbe {
    public init() {}

    public func handle(_ path: String) -> (handle: String, generation: UInt32?)? {
        guard let h = try? Syscall.fileHandle(path) else { return nil }
        return (h.description, h.generation)
    }

    public func check(mountpoint: String, handle: String?, inode: UInt64?, path: String?, offset: UInt64, length: UInt64,
                      bad: [ByteRange]) -> (state: FileDamageState, path: String?) {
        var fd: Int32 = -1
        var now: String?
        if let text = handle, let h = FileHandleText(text) {
            let mount: Int32
            do { mount = try Syscall.open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } catch {
                return (.unknown("cannot open the mountpoint \(mountpoint): \(error.reason)"), nil)
            }
            defer { Syscall.close(mount) }
            do { fd = try Syscall.open(handle: h, mountFD: mount, flags: O_RDONLY | O_CLOEXEC | O_NONBLOCK, path: path ?? mountpoint) } catch {
                // ESTALE: the inode of this generation is gone (fs/exportfs, xfs_nfs_get_inode).
                if error.errno == ESTALE || error.errno == ENOENT { return (.deleted, nil) }
                return (.unknown("cannot open \(path ?? "the file") by its handle: \(error.reason)"), nil)
            }
            now = try? Syscall.readlink("/proc/self/fd/\(fd)")
            if let n = now, n.hasSuffix(" (deleted)") { Syscall.close(fd); return (.deleted, nil) }
        } else if let path {
            // No handle: the path, which must still name the same inode.
            do { fd = try Syscall.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW) } catch {
                if error.errno == ENOENT { return (.deleted, nil) }
                return (.unknown("cannot open \(path): \(error.reason)"), nil)
            }
        } else {
            return (.unknown("neither a handle nor a path was recorded"), nil)
        }
        defer { Syscall.close(fd) }
        let name = now ?? path ?? mountpoint
        guard let st = try? Syscall.fstat(fd, path: name) else { return (.unknown("cannot stat \(name)"), now) }
        if handle == nil, let inode, UInt64(st.st_ino) != inode { return (.deleted, now) }
        if UInt64(st.st_size) <= offset { return (.truncated, now) }
        let reader = FiemapReader()
        guard reader.supported(fd, path: name) else { return (.unknown("FIEMAP is not supported on \(name)"), now) }
        let end = offset + length
        var hit = false, pending = false
        let sorted = ByteRange.merged(bad)
        do {
            try reader.forEachExtent(fd, path: name, from: offset, to: end) { e in
                if e.fe_flags & UInt32(FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN) != 0 { pending = true; return }
                if e.fe_flags & UInt32(FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED) != 0 { return }
                // The part of this extent inside the damaged file range, on the device.
                let from = max(e.fe_logical, offset), to = min(e.fe_logical + e.fe_length, end)
                guard from < to else { return }
                let physical = e.fe_physical + (from - e.fe_logical)
                if !ByteRange.overlapping(sorted, physical, physical + (to - from)).isEmpty { hit = true }
            }
        } catch {
            return (.unknown("cannot read the extents of \(name): \(error)"), now)
        }
        if hit { return (.damaged, now) }
        // Data not written back yet has no place on the device: ask again on the next pass.
        if pending { return (.unknown("\(name) has data not yet written back"), now) }
        return (.rewritten, now)
    }
}
