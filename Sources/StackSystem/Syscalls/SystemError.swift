#if canImport(Glibc)
import Glibc
#endif

/// A system call failed: the operation ("open", "read sector 8 of", "detach (LOOP_CLR_FD)"),
/// the path it was about and the errno, one line for the user ("cannot open missing.table: No
/// such file or directory"). Every `Syscall` wrapper throws it; callers never read errno.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var operation: String
    public var errno: Int32
    public init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }
    /// strerror(3) of the errno alone ("Device or resource busy"), for messages that say the
    /// operation their own way.
    public var reason: String { String(cString: strerror(errno)) }
    public var description: String { "cannot \(operation) \(path): \(reason)" }
}
