import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// A file handle as name_to_handle_at(2) gives it: the filesystem's own name for an inode and
/// its generation (fs/exportfs/expfs.c; XFS and ext4 encode both, FILEID_INO32_GEN and the
/// like), so it survives renames and reboots and goes stale (ESTALE) when the file is deleted,
/// even where the inode number is reused. Kept as hex text: `type:bytes`.
public struct FileHandleText: Sendable, Hashable, CustomStringConvertible {
    public var type: Int32
    public var bytes: [UInt8]

    public var description: String { "\(type):" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    /// The handle of `description`'s form; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let type = Int32(parts[0]), parts[1].count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var i = parts[1].startIndex
        while i < parts[1].endIndex {
            let j = parts[1].index(i, offsetBy: 2)
            guard let b = UInt8(parts[1][i..<j], radix: 16) else { return nil }
            bytes.append(b)
            i = j
        }
        self.type = type
        self.bytes = bytes
    }

    public init(type: Int32, bytes: [UInt8]) {
        self.type = type
        self.bytes = bytes
    }

    /// The generation of the inode where the handle is FILEID_INO32_GEN (type 1: 32-bit inode,
    /// then 32-bit generation, include/linux/exportfs.h) or XFS's 64-bit variant (0x81: 64-bit
    /// inode, then generation); nil for another encoding.
    public var generation: UInt32? {
        let at: Int
        switch type {
        case 1, 2: at = 4
        case 0x81, 0x82: at = 8
        default: return nil
        }
        guard bytes.count >= at + 4 else { return nil }
        return bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }
}

extension Syscall {
    /// name_to_handle_at(2) of `path`, not following a last link.
    public static func fileHandle(_ path: String) throws(SystemError) -> FileHandleText {
        var type: Int32 = 0, length: UInt32 = 0, mount: Int32 = 0
        var bytes = [UInt8](repeating: 0, count: 128)
        _ = try retrying("name_to_handle_at", "get the file handle of", path) {
            clinux_name_to_handle(path, &type, &bytes, &length, UInt32(bytes.count), &mount)
        }
        return FileHandleText(type: type, bytes: Array(bytes.prefix(Int(length))))
    }

    /// open_by_handle_at(2) (needs CAP_DAC_READ_SEARCH) relative to `mountFD`, an open file of
    /// the handle's filesystem; ESTALE when the file is gone. `path` is what an error names.
    public static func open(handle: FileHandleText, mountFD: Int32, flags: Int32, path: @autoclosure () -> String) throws(SystemError) -> Int32 {
        try retrying("open_by_handle_at", "open by handle", path()) {
            handle.bytes.withUnsafeBufferPointer { clinux_open_by_handle(mountFD, handle.type, $0.baseAddress, UInt32($0.count), flags) }
        }
    }
}
