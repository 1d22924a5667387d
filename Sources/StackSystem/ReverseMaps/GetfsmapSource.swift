import CLinux
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// FS_IOC_GETFSMAP (include/uapi/linux/fsmap.h): the filesystem's own reverse map, every
/// extent of a device with its owner (an inode and offset, or a metadata kind). XFS with
/// rmapbt names file owners; ext4 names its metadata and reports file data as "unknown".
/// Memory stays bounded whatever the filesystem's size: `batch` records per call.
struct GetfsmapSource: ReverseMapSource {
    var batch: UInt32

    /// GETFSMAP records of `request.device` that intersect its ranges (bytes), each range
    /// queried on its own, paged `batch` at a time. A refused call throws `FsmapUnavailable`.
    func read(_ request: ReverseMapRequest) throws -> ReverseMapPass {
        var out: [ReverseMapRecord] = []
        try stream(request) { out.append($0) }
        return ReverseMapPass(records: out)
    }

    /// The same records handed to `body` batch by batch as the kernel returns them, never
    /// held: memory is one batch whatever the filesystem's size. A refused call throws
    /// `FsmapUnavailable` (with how many records were handed on before it); what `body`
    /// throws stops the read and is thrown as it is.
    func stream(_ request: ReverseMapRequest, _ body: (ReverseMapRecord) throws -> Void) throws {
        let mountpoint = request.mountpoint
        let fd = try Syscall.open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { Syscall.close(fd) }
        precondition(batch > 0, "GETFSMAP batch must hold a record")
        let size = clinux_fsmap_head_size(batch)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { raw.deallocate() }
        let head = raw.bindMemory(to: fsmap_head.self, capacity: 1)
        let records = (raw + MemoryLayout<fsmap_head>.size).bindMemory(to: CLinux.fsmap.self, capacity: Int(batch))
        var handed = 0
        for range in request.ranges ?? [ByteRange(offset: 0, length: UInt64.max)] where range.length > 0 {
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            head.pointee.fmh_count = batch
            head.pointee.fmh_keys.0.fmr_device = request.device
            head.pointee.fmh_keys.0.fmr_physical = range.offset
            head.pointee.fmh_keys.1.fmr_device = request.device
            head.pointee.fmh_keys.1.fmr_physical = range.end - 1
            head.pointee.fmh_keys.1.fmr_owner = UInt64.max
            head.pointee.fmh_keys.1.fmr_offset = UInt64.max
            head.pointee.fmh_keys.1.fmr_flags = UInt32.max
            while true {
                do { _ = try Syscall.ioctl("GETFSMAP", path: mountpoint) { clinux_getfsmap(fd, head) } } catch {
                    throw ReverseMapReader.FsmapUnavailable(errno: error.errno, after: handed)
                }
                let n = min(Int(head.pointee.fmh_entries), Int(batch))
                for i in 0..<n {
                    let r = records[i]
                    guard r.fmr_device == request.device else { continue }
                    let special = r.fmr_flags & UInt32(FMR_OF_SPECIAL_OWNER) != 0
                    handed += 1
                    try body(ReverseMapRecord(role: request.role, physical: r.fmr_physical, length: r.fmr_length,
                                                inode: special ? nil : r.fmr_owner, metadata: special ? FsmapOwner.name(r.fmr_owner) : nil,
                                                offset: special ? 0 : r.fmr_offset,
                                                attributeFork: r.fmr_flags & UInt32(FMR_OF_ATTR_FORK) != 0,
                                                extentMap: r.fmr_flags & UInt32(FMR_OF_EXTENT_MAP) != 0,
                                                unwritten: r.fmr_flags & UInt32(FMR_OF_PREALLOC) != 0,
                                                shared: r.fmr_flags & UInt32(FMR_OF_SHARED) != 0))
                }
                guard n > 0, records[n - 1].fmr_flags & UInt32(FMR_OF_LAST) == 0, n == Int(batch) else { break }
                // fsmap_advance(): the next call starts after the last record returned.
                head.pointee.fmh_keys.0 = records[n - 1]
            }
        }
    }
}

extension ReverseMapReader {
    /// The error a GETFSMAP call gave, kept to say why the walk was used instead.
    public struct FsmapUnavailable: Error, CustomStringConvertible {
        public var errno: Int32
        /// Records already handed on when the call failed: 0 means GETFSMAP was refused
        /// outright (a walk can stand in), more means the map stopped part way.
        public var after = 0
        public init(errno: Int32, after: Int = 0) {
            self.errno = errno
            self.after = after
        }
        public var description: String {
            switch errno {
            case EPERM, EACCES: "GETFSMAP needs CAP_SYS_ADMIN"
            case ENOTTY, EOPNOTSUPP, EINVAL: "the filesystem has no GETFSMAP"
            default: "GETFSMAP failed: \(String(cString: strerror(errno)))"
            }
        }
    }
}
