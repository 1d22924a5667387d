#if canImport(Glibc)
import Glibc
#endif

/// Device paths as the user gives them.
public enum DevicePath {
    /// `/dev/disk/by-id/...`, `/dev/mapper/NAME` and other /dev symlinks resolved to the
    /// node they point at (`/dev/dm-3`); anything else unchanged.
    public static func resolve(_ name: String) -> String {
        guard name.hasPrefix("/dev/"), let real = realpath(name, nil) else { return name }
        defer { free(real) }
        return String(cString: real)
    }
}
