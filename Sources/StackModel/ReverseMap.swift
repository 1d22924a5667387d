/// One record of a filesystem's reverse map, in bytes, as FS_IOC_GETFSMAP reports it
/// (include/uapi/linux/fsmap.h) or as a FIEMAP walk rebuilds it for file data: a physical
/// range of one of the filesystem's devices and who owns it.
public struct ReverseMapRecord: Codable, Hashable, Sendable {
    /// Which device of the filesystem: data, external log or realtime.
    public var role: HolderRole
    /// Bytes from the start of that device.
    public var physical: UInt64
    public var length: UInt64
    /// The owning inode; nil for metadata with a special owner.
    public var inode: UInt64?
    /// The kind of metadata for a special owner (`log`, `inode btree`, ...).
    public var metadata: String?
    /// Byte offset in the file (inode owners).
    public var offset: UInt64
    /// FMR_OF_ATTR_FORK: the range holds the inode's extended attributes.
    public var attributeFork: Bool
    /// FMR_OF_EXTENT_MAP: the range is a block of the inode's extent btree (bmbt).
    public var extentMap: Bool
    /// FMR_OF_PREALLOC: allocated, unwritten.
    public var unwritten: Bool
    /// FMR_OF_SHARED: other inodes own the same blocks (reflink); each is its own record.
    public var shared: Bool
    /// The owning file's size in bytes (st_size) when the source knows it: the FIEMAP walk
    /// stats every file, a snapshot keeps them (`file_sizes`); GETFSMAP does not say. Lost
    /// file ranges are clipped to it: the last block of a file holds bytes past its end.
    public var fileSize: UInt64? = nil

    public init(role: HolderRole = .data, physical: UInt64, length: UInt64, inode: UInt64? = nil, metadata: String? = nil,
                offset: UInt64 = 0, attributeFork: Bool = false, extentMap: Bool = false, unwritten: Bool = false, shared: Bool = false,
                fileSize: UInt64? = nil) {
        self.role = role
        self.physical = physical
        self.length = length
        self.inode = inode
        self.metadata = metadata
        self.offset = offset
        self.attributeFork = attributeFork
        self.extentMap = extentMap
        self.unwritten = unwritten
        self.shared = shared
        self.fileSize = fileSize
    }

    public var end: UInt64 { physical + length }

    /// Filesystem metadata in the sense of xfs_dax_failure_fn: a special owner, an attribute
    /// fork or an extent-map block (fs/xfs/xfs_notify_failure.c).
    public var isMetadata: Bool { inode == nil || attributeFork || extentMap }

    /// The kind named in reports: the special owner's kind, or what of an inode it is.
    public var kind: String {
        if let metadata { return metadata }
        if attributeFork { return "attribute fork" }
        if extentMap { return "extent map block" }
        return "file data"
    }
}

/// Owner codes of FS_IOC_GETFSMAP: the generic ones (include/uapi/linux/fsmap.h), XFS's
/// (fs/xfs/libxfs/xfs_fs.h, XFS_FMR_OWN_*) and ext4's (fs/ext4/fsmap.h, EXT4_FMR_OWN_*),
/// all built by FMR_OWNER(type, code) = type << 32 | code, with the kind dmstack names.
public enum FsmapOwner {
    public static func code(_ type: Character, _ code: UInt32) -> UInt64 { UInt64(type.asciiValue!) << 32 | UInt64(code) }
    public static let free = code("\0", 1)
    public static let unknown = code("\0", 2)
    public static let metadata = code("\0", 3)
    static let names: [UInt64: String] = [
        free: "free space",
        unknown: "unknown",
        metadata: "metadata",
        // XFS, 'X' (XFS_FMR_OWN_FS ... XFS_FMR_OWN_DEFECTIVE); ext4 uses FS, LOG and INODES too.
        code("X", 1): "static fs metadata",
        code("X", 2): "log",
        code("X", 3): "AG metadata",
        code("X", 4): "inode btree",
        code("X", 5): "inodes",
        code("X", 6): "refcount btree",
        code("X", 7): "CoW staging",
        code("X", 8): "bad blocks",
        // ext4, 'f' (EXT4_FMR_OWN_GDT ... EXT4_FMR_OWN_INOBM).
        code("f", 1): "group descriptors",
        code("f", 2): "reserved GDT blocks",
        code("f", 3): "block bitmap",
        code("f", 4): "inode bitmap",
    ]

    /// The kind of a special owner, `special 0x…` for a code this table lacks.
    public static func name(_ owner: UInt64) -> String {
        names[owner] ?? "special 0x\(String(owner, radix: 16))"
    }

    /// Free space and unknown owners carry no data of a file or of the filesystem's metadata
    /// that GETFSMAP can name: unknown is what ext4 reports for file data.
    public static func isFreeOrUnknown(_ kind: String) -> Bool { kind == "free space" || kind == "unknown" }
}

/// One process's use of one file: an open descriptor, or a mapping with its address range
/// and the file range it maps (/proc/PID/fd, /proc/PID/maps).
public struct FileUse: Codable, Hashable, Sendable {
    public var pid: Int32
    public var command: String
    /// st_dev of the file (the filesystem's device), major:minor.
    public var device: String
    public var inode: UInt64
    /// `mmap` or `fd N`.
    public var how: String
    public var path: String
    /// Mappings: `start-end` addresses, and the file bytes they map.
    public var address: String?
    public var fileOffset: UInt64?
    public var fileLength: UInt64?

    public init(pid: Int32, command: String, device: String, inode: UInt64, how: String, path: String,
                address: String? = nil, fileOffset: UInt64? = nil, fileLength: UInt64? = nil) {
        self.pid = pid
        self.command = command
        self.device = device
        self.inode = inode
        self.how = how
        self.path = path
        self.address = address
        self.fileOffset = fileOffset
        self.fileLength = fileLength
    }
}
