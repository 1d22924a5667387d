#if canImport(Glibc)
import Glibc
#endif

/// Writes a file whole or not at all: a temporary file beside it, fsync, rename(2), so a
/// reader (or a crash) never sees half a snapshot.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd: Int32
        // The error names the file asked for, not its temporary name.
        do { fd = try Syscall.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: mode) } catch {
            throw SystemError(path: path, operation: "create", errno: error.errno)
        }
        var ok = false
        defer { if !ok { unlink(temporary) } }
        do {
            defer { Syscall.close(fd) }
            try Syscall.writeAll(fd, bytes, path: path)
            try Syscall.fsync(fd, path: path)
        }
        try Syscall.rename(temporary, to: path)
        ok = true
    }
}
