import StackModel
#if canImport(Glibc)
import Glibc
#endif

extension HolderContext {
    /// What recording a holder asks of this machine: /dev/disk/by-id names, /dev paths
    /// followed to their node, and statvfs for a mounted filesystem's block size.
    public static func live(now: String, sysfs: SysfsRoot = SysfsRoot()) -> HolderContext {
        HolderContext(byId: byIdLinks(sysfs: sysfs), resolvePath: DevicePath.kernelName(of:), blockSize: { mountpoint, kernelName in
            if let mountpoint, let st = try? Syscall.statvfs(mountpoint) { return UInt32(truncatingIfNeeded: st.f_bsize) }
            return superblockBlockSize(sysfs.path("/dev/\(kernelName)"))
        }, now: now)
    }

    /// The block size an XFS or ext2/3/4 superblock records: XFS `sb_blocksize` (big-endian
    /// at byte 4 after the magic XFSB, fs/xfs/libxfs/xfs_format.h); ext4 `1024 <<
    /// s_log_block_size` (little-endian at 1024+24, magic 0xEF53 at 1024+56, fs/ext4/ext4.h).
    static func superblockBlockSize(_ path: String) -> UInt32? {
        guard let reader = try? SectorReader(path: path), let head = try? reader.read(0, 3) else { return nil }
        func be32(_ o: Int) -> UInt32 { head[o..<o + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        func le32(_ o: Int) -> UInt32 { head[o..<o + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        if head.count >= 8, head[0..<4].elementsEqual("XFSB".utf8) { return be32(4) }
        if head.count >= 1024 + 60, head[1024 + 56] == 0x53, head[1024 + 57] == 0xEF, le32(1024 + 24) < 7 {
            return 1024 << le32(1024 + 24)
        }
        return nil
    }

    /// /dev/disk/by-id link names per kernel name (udev makes them; without udev there are
    /// none and identities fall back to other names).
    static func byIdLinks(sysfs: SysfsRoot) -> [String: [String]] {
        var out: [String: [String]] = [:]
        let dir = "/dev/disk/by-id"
        for link in sysfs.list(dir) {
            let target = DevicePath.resolve(sysfs.path("\(dir)/\(link)"))
            guard target.hasPrefix("/dev/") else { continue }
            out[String(target.dropFirst(5)), default: []].append(link)
        }
        return out
    }
}
