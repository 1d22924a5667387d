#if canImport(Glibc)
import Glibc
#endif

/// A file written piece by piece and put in place whole or not at all, as `AtomicFile` does
/// for bytes held at once: the pieces go to a temporary file beside `path`; `commit` syncs
/// it and renames it over `path`. A writer dropped without `commit` (an error on the way)
/// removes its temporary file, so a reader or a crash never sees half a snapshot.
public final class AtomicFileWriter {
    public let path: String
    let temporary: String
    var fd: Int32
    var committed = false

    public init(path: String, mode: mode_t = 0o644) throws(SystemError) {
        self.path = path
        temporary = path + ".tmp-\(getpid())"
        // The error names the file asked for, not its temporary name.
        do { fd = try Syscall.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: mode) } catch {
            throw SystemError(path: path, operation: "create", errno: error.errno)
        }
    }

    public func write(_ bytes: [UInt8]) throws(SystemError) {
        try Syscall.writeAll(fd, bytes, path: path)
    }

    /// fsync, close and rename(2) over `path`.
    public func commit() throws(SystemError) {
        try Syscall.fsync(fd, path: path)
        Syscall.close(fd)
        fd = -1
        try Syscall.rename(temporary, to: path)
        committed = true
    }

    deinit {
        if fd >= 0 { Syscall.close(fd) }
        if !committed { unlink(temporary) }
    }
}
