#if canImport(Glibc)
import Glibc
#endif

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

    /// The device (st_dev) of an existing path, nil if it cannot be stat'ed.
    public static func device(of path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_dev) : nil
    }
}
