#if canImport(Glibc)
import Glibc
#endif

/// A whole input file read with a size limit: a regular file larger than the limit is
/// refused before a byte is read, anything else (a pipe, standard input as `-`, a character
/// device such as /dev/zero) as soon as it passes the limit, or sooner when `check` refuses
/// its first bytes. Memory never holds more than the limit.
public enum BoundedInput {
    /// Why an input was refused: too large, or its first bytes are not what it must be.
    public struct Refused: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// What an error calls `path`: `standard input` for `-`.
    public static func name(_ path: String) -> String { path == "-" ? "standard input" : path }

    /// The bytes of `path` (`-`: standard input), at most `limit`. `check` sees the first
    /// bytes read (up to 64 KiB) and returns why they cannot be the start of such a file.
    public static func read(_ path: String, limit: Int, what: String, check: (([UInt8]) -> String?)? = nil) throws -> [UInt8] {
        let fd: Int32
        if path == "-" { fd = 0 } else { fd = try Syscall.open(path, O_RDONLY | O_CLOEXEC) }
        defer { if fd != 0 { Syscall.close(fd) } }
        let st = try Syscall.fstat(fd, path: name(path))
        if st.st_mode & S_IFMT == S_IFREG, Int64(st.st_size) > Int64(limit) {
            throw Refused(description: "\(name(path)): \(what) is \(st.st_size) bytes, more than the limit of \(sizeText(limit))")
        }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var checked = check == nil
        while true {
            let n = try Syscall.read(fd, into: &chunk, path: name(path))
            if n == 0 { break }
            guard out.count + n <= limit else {
                throw Refused(description: "\(name(path)): \(what) is larger than the limit of \(sizeText(limit))")
            }
            out.append(contentsOf: chunk[0..<n])
            if !checked, out.count >= 4096 || n < chunk.count {
                checked = true
                if let why = check?(out) { throw Refused(description: "\(name(path)): \(why)") }
            }
            if chunk.count < 1 << 20 { chunk = [UInt8](repeating: 0, count: 1 << 20) }
        }
        if !checked, let why = check?(out) { throw Refused(description: "\(name(path)): \(why)") }
        return out
    }

    /// `4 GiB`, `64 MiB`, or bytes.
    public static func sizeText(_ bytes: Int) -> String {
        if bytes >= 1 << 30, bytes % (1 << 30) == 0 { return "\(bytes >> 30) GiB" }
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        return "\(bytes) bytes"
    }
}
