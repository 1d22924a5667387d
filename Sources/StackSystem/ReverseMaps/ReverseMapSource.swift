import StackModel

/// One way of learning who owns the bytes of one device of a mounted filesystem: GETFSMAP,
/// the filesystem's own reverse map (fs/xfs/xfs_fsmap.c, fs/ext4/fsmap.c), or a FIEMAP walk
/// that asks every file where its extents are (fs/ioctl.c). `ReverseMapReader` picks and
/// combines them by what the filesystem answers; a new way is one new conforming type.
protocol ReverseMapSource {
    /// Filesystem types (`btrfs`) whose own reverse map this source is: the reader asks it,
    /// and only it, for those filesystems (`ReverseMapReader.dedicated`). Empty for the
    /// generic ways (GETFSMAP, the FIEMAP walk), which the reader combines for the others.
    static var filesystemTypes: [String] { get }
    func read(_ request: ReverseMapRequest) throws -> ReverseMapPass
}

extension ReverseMapSource {
    static var filesystemTypes: [String] { [] }
}

/// What is asked of a source: the filesystem mounted on `mountpoint`, its device `device`
/// (dev_t as the filesystem reports it) in `role`, and the byte ranges of it wanted (nil:
/// all of them).
struct ReverseMapRequest {
    var mountpoint: String
    var device: UInt32
    var role: HolderRole
    var ranges: [ByteRange]?
}

/// What a source found: the records, the names of the inodes it can name (a walk finds them
/// on the way; GETFSMAP names none), and the extents it skipped as not yet allocated.
struct ReverseMapPass {
    var records: [ReverseMapRecord]
    var paths: [UInt64: [String]] = [:]
    var delayed = 0
    /// Directories a walk could not open: the files under them are not named.
    var unreadable = 0
}
