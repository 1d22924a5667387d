import CBlkid
#if canImport(Glibc)
import Glibc
#endif

extension BlkidProbe {
    /// Erases every signature libblkid finds on `path` (what `wipefs -a` does, through
    /// blkid_do_wipe), to take back a filesystem made by a step that is being rolled back.
    public static func wipe(path: String) throws {
        let fd = try Syscall.open(path, O_RDWR | O_CLOEXEC, operation: "open for wiping")
        defer { Syscall.close(fd) }
        guard let pr = blkid_new_probe() else { throw SystemError(path: path, operation: "probe", errno: ENOMEM) }
        defer { blkid_free_probe(pr) }
        guard blkid_probe_set_device(pr, fd, 0, 0) == 0 else { throw SystemError(path: path, operation: "probe", errno: errno) }
        _ = blkid_probe_enable_superblocks(pr, 1)
        _ = blkid_probe_set_superblocks_flags(pr, Int32(BLKID_SUBLKS_MAGIC))
        _ = blkid_probe_enable_partitions(pr, 1)
        _ = blkid_probe_set_partitions_flags(pr, Int32(BLKID_PARTS_MAGIC))
        while blkid_do_probe(pr) == 0 {
            guard blkid_do_wipe(pr, 0) == 0 else { throw SystemError(path: path, operation: "wipe a signature on", errno: errno) }
        }
        try? Syscall.fsync(fd, path: path)
    }
}
