#if canImport(Glibc)
import Glibc
#endif

/// Reads 512-byte sectors of a file or block device with pread(2), for metadata parsers that
/// only need a few areas of a large device (snapshot exception stores, writecache entries).
public final class SectorReader: @unchecked Sendable {
    public let path: String
    let fd: Int32
    /// Sector added to every read (e.g. a writecache `start_sector`).
    public let base: UInt64

    public init(path: String, base: UInt64 = 0) throws {
        self.path = path
        self.base = base
        fd = try Syscall.open(path, O_RDONLY | O_CLOEXEC)
    }

    deinit { Syscall.close(fd) }

    /// `count` sectors from `sector`, fewer bytes at the end of the file.
    public func read(_ sector: UInt64, _ count: UInt64) throws -> [UInt8] {
        let bytes = Int(count * 512)
        var buffer = [UInt8](repeating: 0, count: bytes)
        var done = 0
        while done < bytes {
            let n = try Syscall.pread(fd, into: &buffer, from: done, at: off_t((base + sector) * 512) + off_t(done),
                                      path: path, operation: "read sector \(base + sector) of")
            if n == 0 { break }
            done += n
        }
        return Array(buffer.prefix(done))
    }

    /// The whole file, for small inputs such as XML dumps; with `limit`, at most that many
    /// bytes (a key file that is `/dev/zero` or a disk must not be read whole).
    public static func contents(of path: String, limit: Int? = nil) throws -> [UInt8] {
        let reader = try SectorReader(path: path)
        var out: [UInt8] = []
        var sector: UInt64 = 0
        let step: UInt64 = limit.map { UInt64(max(1, ($0 + 511) / 512)) } ?? 2048
        while true {
            let chunk = try reader.read(sector, step)
            out.append(contentsOf: chunk)
            if let limit, out.count >= limit { return Array(out.prefix(limit)) }
            if chunk.count < Int(step) * 512 { return out }
            sector += step
        }
    }
}
