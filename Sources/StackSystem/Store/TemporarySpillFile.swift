#if canImport(Glibc)
import Glibc
#endif
import CLinux
import StackModel

/// A spill store (`SpillStore`) in an unlinked temporary file: O_TMPFILE in the first of
/// $TMPDIR, /var/tmp, /tmp, /dev/shm that is a directory on another filesystem than the one
/// being judged (its runs must not be written to a filesystem the event hits, which `remove`
/// freezes and which may be failing). Unlinked from the start, it goes with the process, even
/// one killed. The page cache holds it, not this process's resident memory.
public final class TemporarySpillFile: SpillStore, @unchecked Sendable {
    private let fd: Int32
    private var size: UInt64 = 0
    public let place: String

    /// The directories tried, in order.
    static var candidates: [String] {
        var dirs: [String] = []
        if let t = getenv("TMPDIR").map({ String(cString: $0) }), t.hasPrefix("/") { dirs.append(t) }
        return dirs + ["/var/tmp", "/tmp", "/dev/shm"]
    }

    /// A temporary file on none of the filesystems whose st_dev is in `avoiding` (major:minor).
    public init(avoiding filesystems: [String]) throws {
        let avoid = Set(filesystems.compactMap(ProcessScanner.devNumber))
        var tried: [String] = []
        for dir in Self.candidates {
            guard let st = try? Syscall.stat(dir), (st.st_mode & S_IFMT) == S_IFDIR else { continue }
            if avoid.contains(UInt64(st.st_dev)) { tried.append("\(dir) (on a filesystem the event hits)"); continue }
            do {
                fd = try Syscall.open(dir, clinux_o_tmpfile() | O_RDWR | O_CLOEXEC, mode: 0o600, operation: "create a temporary file in")
                place = "a temporary file in \(dir)"
                return
            } catch {
                tried.append("\(dir) (\(error.reason))")
            }
        }
        throw NoDirectory(tried: tried)
    }

    /// No candidate directory took a temporary file.
    public struct NoDirectory: Error, CustomStringConvertible {
        public var tried: [String]
        public var description: String { "no temporary directory away from the filesystem: " + (tried.isEmpty ? "none exists" : tried.joined(separator: ", ")) }
    }

    deinit { Syscall.close(fd) }

    public func append(_ bytes: UnsafeRawBufferPointer) throws -> UInt64 {
        let at = size
        var done = 0
        while done < bytes.count {
            let n = try Syscall.pwrite(fd, UnsafeRawBufferPointer(rebasing: bytes[done...]), at: off_t(at) + off_t(done), path: place)
            guard n > 0 else { throw SystemError(path: place, operation: "write", errno: EIO) }
            done += n
        }
        size += UInt64(bytes.count)
        return at
    }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try Syscall.pread(fd, into: buffer, at: off_t(offset), path: place)
    }
}
