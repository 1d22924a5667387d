#if canImport(Glibc)
import Glibc
#endif

/// Device paths as the user gives them.
public enum DevicePath {
    /// `/dev/disk/by-id/...`, `/dev/mapper/NAME` and other /dev symlinks resolved to the
    /// node they point at (`/dev/dm-3`); anything else unchanged.
    public static func resolve(_ name: String) -> String {
        guard name.hasPrefix("/dev/"), let real = Syscall.realpath(name) else { return name }
        return real
    }

    /// The kernel name of the block device node a /dev path leads to (`/dev/mapper/x` →
    /// `dm-3`), nil if it is not under /dev or does not exist.
    public static func kernelName(of path: String) -> String? {
        let real = resolve(path)
        guard real.hasPrefix("/dev/"), Syscall.exists(real) else { return nil }
        return String(real.dropFirst(5))
    }
}
