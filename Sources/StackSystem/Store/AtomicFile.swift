#if canImport(Glibc)
import Glibc
#endif

/// Writes a file whole or not at all: a temporary file beside it, fsync, rename(2), so a
/// reader (or a crash) never sees half a snapshot.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError(path: path, operation: "create", errno: errno) }
        var ok = false
        defer { if !ok { unlink(temporary) } }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                close(fd)
                throw SystemError(path: path, operation: "write", errno: e)
            }
            done += n
        }
        guard fsync(fd) == 0 else { let e = errno; close(fd); throw SystemError(path: path, operation: "sync", errno: e) }
        close(fd)
        guard rename(temporary, path) == 0 else { throw SystemError(path: path, operation: "replace", errno: errno) }
        ok = true
    }
}
