#if canImport(Glibc)
import Glibc
#endif
import CLinux
import StackModel

/// Reads 512-byte sectors of a file or block device with pread(2), for metadata parsers that
/// only need a few areas of a large device (snapshot exception stores, writecache entries).
/// With `direct`, the device is opened O_DIRECT and read in aligned 4 KiB units, so what is
/// read is what the device holds now, never a page cached before the kernel wrote it
/// (metadata of a live dm target is written by the kernel below the page cache).
public final class SectorReader: @unchecked Sendable {
    public let path: String
    let fd: Int32
    /// Sector added to every read (e.g. a writecache `start_sector`).
    public let base: UInt64
    public let direct: Bool
    /// O_DIRECT needs buffers, offsets and lengths aligned to the logical block size; 4 KiB
    /// covers every block device (open(2), O_DIRECT).
    static let alignment = 4096

    public init(path: String, base: UInt64 = 0, direct: Bool = false) throws {
        self.path = path
        self.base = base
        // A file on a filesystem without O_DIRECT (tmpfs: an image in a test) is read through
        // the page cache: nothing writes it below that cache.
        if direct, let fd = try? Syscall.open(path, O_RDONLY | O_CLOEXEC | clinux_o_direct()) {
            (self.fd, self.direct) = (fd, true)
        } else {
            (fd, self.direct) = (try Syscall.open(path, O_RDONLY | O_CLOEXEC), false)
        }
        // A directory opens read-only but reads EISDIR: said of the path, not of "sector 0".
        if let st = try? Syscall.fstat(fd, path: path), st.st_mode & S_IFMT == S_IFDIR {
            Syscall.close(fd)
            throw SystemError(path: path, operation: "read", errno: EISDIR)
        }
    }

    deinit { Syscall.close(fd) }

    /// `count` sectors from `sector`, fewer bytes at the end of the file.
    public func read(_ sector: UInt64, _ count: UInt64) throws -> [UInt8] {
        // Sectors come from on-disk metadata: one past any device is refused, not multiplied
        // into an overflow (a trap, with a pool's metadata snapshot still held).
        guard sector <= maxSectors, count <= maxSectors, base <= maxSectors else { throw BeyondAnyDevice(path: path, sector: sector) }
        if direct { return try readAligned(sector, count) }
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

    /// The same through an aligned buffer covering the sectors asked.
    func readAligned(_ sector: UInt64, _ count: UInt64) throws -> [UInt8] {
        let a = UInt64(Self.alignment)
        let first = (base + sector) * 512, end = first + count * 512
        let lo = first / a * a, hi = (end + a - 1) / a * a
        let length = Int(hi - lo)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: Self.alignment)
        defer { buffer.deallocate() }
        var done = 0
        while done < length {
            let n = try Syscall.pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: off_t(lo) + off_t(done),
                                      path: path, operation: "read sector \(base + sector) (O_DIRECT) of")
            if n == 0 { break }
            done += n
        }
        let skip = Int(first - lo)
        guard done > skip else { return [] }
        return Array(buffer[skip..<min(done, skip + Int(count * 512))])
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

/// A read asked for sectors past any block device (2^54 sectors): a damaged pointer.
public struct BeyondAnyDevice: Error, CustomStringConvertible {
    public var path: String
    public var sector: UInt64
    public var description: String { "\(path): sector \(sector) is beyond any block device" }
}
