#if canImport(Glibc)
import Glibc
#endif

/// A file or block device could not be read; names the path and the operation.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var operation: String
    public var errno: Int32
    public init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }
    public var description: String { "cannot \(operation) \(path): \(String(cString: strerror(errno)))" }
}
