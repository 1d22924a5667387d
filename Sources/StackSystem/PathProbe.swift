#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// Which filesystem a path is on, for refusing a write onto a filesystem about to be frozen.
public enum PathProbe {
    /// `path` made absolute against the working directory (unchanged when already absolute).
    public static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let cwd = getcwd(&buffer, buffer.count) != nil ? String(filledBuffer: buffer) : ""
        return cwd + "/" + path
    }

    /// The device (st_dev) of the nearest existing ancestor of `path` (itself if it exists):
    /// which filesystem a file would be written on.
    public static func fileSystemDevice(of path: String) -> UInt64? {
        var probe = path
        var st = stat()
        while stat(probe, &st) != 0, probe.contains("/"), probe != "/" {
            probe = String(probe[..<probe.lastIndex(of: "/")!])
            if probe.isEmpty { probe = "/" }
        }
        return UInt64(st.st_dev)
    }

    /// The size of `path` (not followed if a symlink) if it is a regular file whose inode is
    /// `inode` on the filesystem `majorMinor`: a name found by a walk still being that file.
    public static func regularFileSize(_ path: String, inode: UInt64, majorMinor: String) -> UInt64? {
        var st = stat()
        guard lstat(path, &st) == 0, UInt64(st.st_ino) == inode, (st.st_mode & S_IFMT) == S_IFREG,
              "\(clinux_major(UInt64(st.st_dev))):\(clinux_minor(UInt64(st.st_dev)))" == majorMinor else { return nil }
        return UInt64(st.st_size)
    }

    /// The device (st_dev) of an existing path, nil if it cannot be stat'ed.
    public static func device(of path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_dev) : nil
    }
}
