/// Everything dmstack knows about one machine's block devices at one moment: what the live
/// engine discovers, what `dmstack capture` writes and what `--snapshot FILE` reads back, so
/// every read command gives the same answer live and offline.
public struct SystemSnapshot: Codable, Sendable, Hashable {
    /// Bumped whenever a field changes meaning or a required field is added; a file with a
    /// newer version is refused rather than misread.
    /// 2 added `reverse_maps` and `file_uses` (optional: a version 1 file still reads).
    /// 3 added `metadata` (the dynamic targets' mappings, read at capture) and non-dm layers
    /// (a device's `layer`: md arrays), which an older dmstack would take for leaves.
    /// 4 stores reverse maps compactly (`record_blocks`, `path_blocks`), which an older
    /// dmstack would not find; 1-3 still read.
    public static let currentVersion = 4
    public static let formatName = "dmstack-snapshot"

    // Property names avoid all-caps acronyms (`mountId`, `partUuid`): the file uses
    // snake_case keys, and `mountID` would not survive the round trip.
    public var format: String = Self.formatName
    public var version: Int = Self.currentVersion
    public var host: HostInfo
    /// Sorted by major, then minor.
    public var devices: [BlockDevice]
    public var mounts: [Mount]
    public var pmem: PmemInventory
    /// The reverse maps of the filesystems captured with them (the registered ones), so
    /// `simulate --snapshot` can name files and metadata offline.
    public var reverseMaps: [FilesystemReverseMap]?
    /// Every open descriptor and mapping of a file on those filesystems, at capture time.
    public var fileUses: [FileUse]?
    /// The mappings of the dynamic targets (thin pools, caches, snapshots, writecaches,
    /// integrity) as the live engine read them at capture, and why any could not be read.
    public var metadata: DynamicMappings?

    public init(host: HostInfo, devices: [BlockDevice], mounts: [Mount], pmem: PmemInventory,
                reverseMaps: [FilesystemReverseMap]? = nil, fileUses: [FileUse]? = nil) {
        self.host = host
        self.devices = devices.sorted { ($0.major, $0.minor) < ($1.major, $1.minor) }
        self.mounts = mounts
        self.pmem = pmem
        self.reverseMaps = reverseMaps
        self.fileUses = fileUses
    }
}

/// A mounted filesystem's whole reverse map as captured: every record of each of its
/// devices, the names of every inode in them, and how the map was read. Held as columns
/// (`ReverseMapColumns`) with a sorted index per role, so a map of millions of records
/// answers a range without a scan and without an object per record. Version 4 files store
/// it as blocks of delta-coded columns (`record_blocks`, `path_blocks`); versions 1-3 as
/// `records` and `paths`, which still read.
public struct FilesystemReverseMap: Codable, Sendable, Hashable {
    public var mountpoint: String
    /// major:minor of its data device (st_dev of its files).
    public var device: String
    public var type: String
    public var notes: [String]
    var columns: ReverseMapColumns
    /// Inode → every path, in the order the walk found them.
    var names: [UInt64: [String]]
    var index: [RoleIndex]
    /// Inode → file size in bytes, where the capture knew it (the FIEMAP walk stats each
    /// file): handed on with each record (`ReverseMapRecord.fileSize`) so lost ranges are
    /// clipped at the end of the file. JSON `file_sizes`, optional (older files lack it).
    public var sizes: [UInt64: UInt64] = [:]

    public init(mountpoint: String, device: String, type: String, records: [ReverseMapRecord], paths: [String: [String]], notes: [String]) {
        var columns = ReverseMapColumns()
        for r in records { columns.append(r) }
        var names: [UInt64: [String]] = [:]
        for (key, value) in paths { if let inode = UInt64(key) { names[inode] = value } }
        self.init(mountpoint: mountpoint, device: device, type: type, columns: columns, names: names, notes: notes)
        for r in records { if let inode = r.inode, let size = r.fileSize { sizes[inode] = size } }
    }

    init(mountpoint: String, device: String, type: String, columns: ReverseMapColumns, names: [UInt64: [String]], notes: [String]) {
        self.mountpoint = mountpoint
        self.device = device
        self.type = type
        self.columns = columns
        self.names = names
        self.notes = notes
        index = HolderRole.allCases.indices.map { RoleIndex(columns, role: UInt8($0)) }
    }

    /// Every record, in the order captured (each one built on the call: for tests and
    /// small maps; `forEachRecord` is how a large one is read).
    public var records: [ReverseMapRecord] { (0..<columns.count).map(columns.record) }

    /// How many records the map holds.
    public var recordCount: Int { columns.count }

    /// Inode (decimal) → every path, as version 3 files store them.
    public var paths: [String: [String]] { Dictionary(uniqueKeysWithValues: names.map { (String($0.key), $0.value) }) }

    /// The records of `role` that intersect `ranges` (bytes, sorted and disjoint), in the
    /// order they were captured, without collecting them.
    public func forEachRecord(role: HolderRole, overlapping ranges: [ByteRange], _ body: (ReverseMapRecord) throws -> Void) rethrows {
        guard let slot = HolderRole.allCases.firstIndex(of: role) else { return }
        let merged = ByteRange.merged(ranges)
        for i in index[slot].overlapping(merged, in: columns) {
            var r = columns.record(i)
            if let inode = r.inode, let size = sizes[inode] { r.fileSize = size }
            try body(r)
        }
    }

    /// Every captured name of `inode`, nil when the capture has none.
    public func paths(of inode: UInt64) -> [String]? { names[inode] }

    /// Every captured (inode, name), in no particular order.
    public func forEachPath(_ body: (UInt64, String) -> Void) {
        for (inode, ns) in names { for n in ns { body(inode, n) } }
    }

    /// The records of `role` intersecting `ranges`, with the names of their inodes: what
    /// `simulate --snapshot` asks instead of GETFSMAP.
    public func answer(role: HolderRole, ranges: [ByteRange]) -> ReverseMapAnswer {
        var hit: [ReverseMapRecord] = []
        forEachRecord(role: role, overlapping: ranges) { hit.append($0) }
        var found: [UInt64: [String]] = [:]
        for inode in Set(hit.compactMap(\.inode)) { found[inode] = names[inode] }
        return ReverseMapAnswer(records: hit, paths: found, notes: notes)
    }

    enum CodingKeys: String, CodingKey {
        case mountpoint, device, type, notes, records, paths, recordBlocks, pathBlocks, fileSizes
    }

    /// Either form: `record_blocks` and `path_blocks` (version 4), or `records` and `paths`
    /// (versions 1-3). A block whose arrays disagree is a corrupt snapshot naming the block.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let mountpoint = try c.decode(String.self, forKey: .mountpoint)
        let device = try c.decode(String.self, forKey: .device)
        let type = try c.decode(String.self, forKey: .type)
        let notes = try c.decode([String].self, forKey: .notes)
        if c.contains(.records) || c.contains(.paths) {
            let records = try c.decode([ReverseMapRecord].self, forKey: .records)
            // The v4 blocks check this while decoding; older records are checked here, before
            // the index adds physical and length.
            if let bad = records.firstIndex(where: { $0.physical.addingReportingOverflow($0.length).overflow || $0.offset.addingReportingOverflow($0.length).overflow }) {
                throw DecodingError.dataCorruptedError(forKey: .records, in: c, debugDescription: "corrupt snapshot: record \(bad) of \(mountpoint) runs past 2^64 bytes")
            }
            let paths = try c.decode([String: [String]].self, forKey: .paths)
            self.init(mountpoint: mountpoint, device: device, type: type, records: records, paths: paths, notes: notes)
            sizes = try FileSizes.decode(c.decodeIfPresent(FileSizes.self, forKey: .fileSizes), mountpoint: mountpoint)
            return
        }
        var columns = ReverseMapColumns()
        var blocks = try c.nestedUnkeyedContainer(forKey: .recordBlocks)
        var n = 0
        while !blocks.isAtEnd {
            let block = try blocks.decode(ReverseMapBlock.self)
            do { try block.decode(into: &columns) } catch {
                throw DecodingError.dataCorruptedError(forKey: .recordBlocks, in: c, debugDescription: "record block \(n) of \(mountpoint): \(error)")
            }
            n += 1
        }
        var names: [UInt64: [String]] = [:]
        var pathBlocks = try c.nestedUnkeyedContainer(forKey: .pathBlocks)
        n = 0
        while !pathBlocks.isAtEnd {
            let block = try pathBlocks.decode(PathBlock.self)
            do { try block.decode(into: &names) } catch {
                throw DecodingError.dataCorruptedError(forKey: .pathBlocks, in: c, debugDescription: "path block \(n) of \(mountpoint): \(error)")
            }
            n += 1
        }
        self.init(mountpoint: mountpoint, device: device, type: type, columns: columns, names: names, notes: notes)
        sizes = try FileSizes.decode(c.decodeIfPresent(FileSizes.self, forKey: .fileSizes), mountpoint: mountpoint)
    }

    /// Always the compact form (version 4).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mountpoint, forKey: .mountpoint)
        try c.encode(device, forKey: .device)
        try c.encode(type, forKey: .type)
        try c.encode(notes, forKey: .notes)
        var builder = ReverseMapBlockBuilder()
        var blocks: [ReverseMapBlock] = []
        for i in 0..<columns.count { if let full = builder.add(columns.record(i)) { blocks.append(full) } }
        if let last = builder.flush() { blocks.append(last) }
        try c.encode(blocks, forKey: .recordBlocks)
        try c.encode(PathBlock.encode(names), forKey: .pathBlocks)
        if !sizes.isEmpty { try c.encode(FileSizes(sizes), forKey: .fileSizes) }
    }
}

/// The `file_sizes` of a captured map: inodes ascending and each one's size, two arrays of
/// one length (a missing or short one is a corrupt snapshot naming the map).
public struct FileSizes: Codable, Sendable, Hashable {
    public var inode: [UInt64]
    public var size: [UInt64]

    public init(_ sizes: [UInt64: UInt64]) {
        let sorted = sizes.sorted { $0.key < $1.key }
        inode = sorted.map(\.key)
        size = sorted.map(\.value)
    }

    static func decode(_ value: FileSizes?, mountpoint: String) throws -> [UInt64: UInt64] {
        guard let value else { return [:] }
        guard value.inode.count == value.size.count else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "corrupt snapshot: file_sizes of \(mountpoint) has \(value.inode.count) inodes and \(value.size.count) sizes"))
        }
        var out: [UInt64: UInt64] = [:]
        for (i, s) in zip(value.inode, value.size) { out[i] = s }
        return out
    }
}

/// Where and when a snapshot was taken.
public struct HostInfo: Codable, Sendable, Hashable {
    public var hostname: String
    public var kernel: String
    /// ISO 8601, UTC.
    public var capturedAt: String
    public var dmstackVersion: String
    public var libdevmapperVersion: String?
    public var dmDriverVersion: String?

    public init(hostname: String, kernel: String, capturedAt: String, dmstackVersion: String,
                libdevmapperVersion: String? = nil, dmDriverVersion: String? = nil) {
        self.hostname = hostname
        self.kernel = kernel
        self.capturedAt = capturedAt
        self.dmstackVersion = dmstackVersion
        self.libdevmapperVersion = libdevmapperVersion
        self.dmDriverVersion = dmDriverVersion
    }
}

/// One block device as sysfs shows it (/sys/class/block/NAME), with what libdevmapper,
/// libblkid and the nd bus add.
public struct BlockDevice: Codable, Sendable, Hashable {
    /// Kernel name: `dm-3`, `pmem0`, `loop1`, `sda2`.
    public var kernelName: String
    public var major: UInt32
    public var minor: UInt32
    /// Size in 512-byte sectors (/sys/class/block/NAME/size is always in 512-byte units).
    public var size: UInt64
    public var readOnly: Bool
    public var removable: Bool
    public var logicalBlockSize: UInt32
    /// Kernel names of the devices that hold this one (sysfs `holders/`).
    public var holders: [String]
    /// Kernel names of the devices this one is built on (sysfs `slaves/`).
    public var slaves: [String]
    public var partition: PartitionInfo?
    public var dm: DeviceMapperInfo?
    /// A layer that is neither a dm table nor a partition (an md array): read by its
    /// kind's reader in discovery, translated like a dm table by its target type.
    public var layer: LayerInfo?
    public var filesystem: FilesystemInfo?
    /// Why the libblkid probe could not open the device (`Permission denied`), when it could
    /// not: then an absent `filesystem` means "not looked at", not "nothing there".
    public var probeError: String?
    /// The nd namespace behind a pmem block device.
    public var pmemNamespace: String?
    /// Known bad ranges (sysfs `badblocks`, 512-byte sectors).
    public var badblocks: [SectorRange]
    /// `loop` backing file, when the device is a loop device.
    public var loopBackingFile: String?

    public init(kernelName: String, major: UInt32, minor: UInt32, size: UInt64, readOnly: Bool = false,
                removable: Bool = false, logicalBlockSize: UInt32 = 512, holders: [String] = [], slaves: [String] = [],
                partition: PartitionInfo? = nil, dm: DeviceMapperInfo? = nil, filesystem: FilesystemInfo? = nil,
                pmemNamespace: String? = nil, badblocks: [SectorRange] = [], loopBackingFile: String? = nil) {
        self.kernelName = kernelName
        self.major = major
        self.minor = minor
        self.size = size
        self.readOnly = readOnly
        self.removable = removable
        self.logicalBlockSize = logicalBlockSize
        self.holders = holders
        self.slaves = slaves
        self.partition = partition
        self.dm = dm
        self.filesystem = filesystem
        self.pmemNamespace = pmemNamespace
        self.badblocks = badblocks
        self.loopBackingFile = loopBackingFile
    }

    public var majorMinor: String { "\(major):\(minor)" }
    /// The name people use: `vg/lv` (`vg/lv:rimage_1` for lvm's internal parts, `LvmVolume`)
    /// for a volume lvm activated, the dm name for other dm devices, the kernel name otherwise.
    public var displayName: String { dm.map { $0.lvm?.name ?? $0.name } ?? kernelName }
    public var path: String { dm.map { "/dev/mapper/\($0.name)" } ?? "/dev/\(kernelName)" }
}

/// A non-dm layer as discovery describes it: its kind (`tree`'s TYPE column) and its mapping
/// as table lines (`start length type args`) in the printed form of a registered target type,
/// with status lines in that type's status form. Describing every layer kind as table lines
/// keeps the snapshot format one shape for all of them: a new kind adds a target type and a
/// discovery reader, never a snapshot field.
public struct LayerInfo: Codable, Sendable, Hashable {
    public var kind: String
    public var table: [String]
    public var status: [String]
    public init(kind: String, table: [String], status: [String] = []) {
        self.kind = kind
        self.table = table
        self.status = status
    }
}

/// A partition's place on its disk (sysfs `partition`, `start`, `size`).
public struct PartitionInfo: Codable, Sendable, Hashable {
    public var number: Int
    public var start: UInt64
    /// Kernel name of the whole disk.
    public var parent: String
    public init(number: Int, start: UInt64, parent: String) {
        self.number = number
        self.start = start
        self.parent = parent
    }
}

/// What libdevmapper reports for a dm device (DM_DEVICE_INFO, _TABLE, _STATUS, _DEPS).
public struct DeviceMapperInfo: Codable, Sendable, Hashable {
    public var name: String
    public var uuid: String
    public var suspended: Bool
    public var openCount: Int32
    /// The live table, one line per target as `dmsetup table` prints it (members as major:minor).
    public var table: [String]
    /// One line per target as `dmsetup status` prints it.
    public var status: [String]
    /// major:minor of the devices the table uses.
    public var deps: [String]

    public init(name: String, uuid: String, suspended: Bool, openCount: Int32, table: [String], status: [String], deps: [String]) {
        self.name = name
        self.uuid = uuid
        self.suspended = suspended
        self.openCount = openCount
        self.table = table
        self.status = status
        self.deps = deps
    }
}

extension DeviceMapperInfo {
    /// The distinct target type words of the table, in table order: read from the lines
    /// themselves, so a table that does not parse still names its types.
    public var targetTypes: [String] {
        var out: [String] = []
        for line in table {
            if let t = line.split(separator: " ").dropFirst(2).first.map(String.init), !out.contains(t) { out.append(t) }
        }
        return out
    }
}

/// What libblkid found on a device (superblocks and partition-table entries).
public struct FilesystemInfo: Codable, Sendable, Hashable {
    public var type: String?
    public var uuid: String?
    public var label: String?
    public var partUuid: String?
    public var partitionTableType: String?
    public var version: String?
    public var blockSize: UInt32?

    public init(type: String? = nil, uuid: String? = nil, label: String? = nil, partUuid: String? = nil,
                partitionTableType: String? = nil, version: String? = nil, blockSize: UInt32? = nil) {
        self.type = type
        self.uuid = uuid
        self.label = label
        self.partUuid = partUuid
        self.partitionTableType = partitionTableType
        self.version = version
        self.blockSize = blockSize
    }
}

/// One line of /proc/self/mountinfo (proc(5)), with the XFS extra devices pulled out.
public struct Mount: Codable, Sendable, Hashable {
    public var mountId: Int
    public var major: UInt32
    public var minor: UInt32
    public var root: String
    public var mountpoint: String
    public var fsType: String
    public var source: String
    /// Per-mount options (`rw,relatime`).
    public var options: [String]
    /// Superblock options (`rw,attr2,inode64,logdev=/dev/pmem1,...`).
    public var superOptions: [String]

    public var majorMinor: String { "\(major):\(minor)" }
    public var dax: Bool { superOptions.contains { $0 == "dax" || $0 == "dax=always" } || options.contains("dax") }
    /// XFS external log device (`logdev=`), as given at mount.
    public var logDevice: String? { superOptions.first { $0.hasPrefix("logdev=") }.map { String($0.dropFirst(7)) } }
    /// XFS realtime device (`rtdev=`).
    public var realtimeDevice: String? { superOptions.first { $0.hasPrefix("rtdev=") }.map { String($0.dropFirst(6)) } }

    public init(mountId: Int, major: UInt32, minor: UInt32, root: String, mountpoint: String, fsType: String,
                source: String, options: [String], superOptions: [String]) {
        self.mountId = mountId
        self.major = major
        self.minor = minor
        self.root = root
        self.mountpoint = mountpoint
        self.fsType = fsType
        self.source = source
        self.options = options
        self.superOptions = superOptions
    }
}

/// The nd bus: persistent-memory regions and namespaces (/sys/bus/nd/devices).
public struct PmemInventory: Codable, Sendable, Hashable {
    public var regions: [PmemRegion]
    public var namespaces: [PmemNamespace]
    public init(regions: [PmemRegion] = [], namespaces: [PmemNamespace] = []) {
        self.regions = regions
        self.namespaces = namespaces
    }
}

/// An NVDIMM region as ndctl lists it (/sys/bus/nd/devices/regionN): its size and the bad
/// ranges the platform reported, which a pmem failure event starts from.
public struct PmemRegion: Codable, Sendable, Hashable {
    public var name: String
    public var size: UInt64
    /// Bad ranges of the region, 512-byte sectors from its start.
    public var badblocks: [SectorRange]
    public init(name: String, size: UInt64, badblocks: [SectorRange]) {
        self.name = name
        self.size = size
        self.badblocks = badblocks
    }
}

/// A namespace and the device that claims it: a pfn (fsdax), a dax device (devdax), a btt
/// (sector), or none (raw).
public struct PmemNamespace: Codable, Sendable, Hashable {
    public var name: String
    public var region: String
    /// `fsdax`, `devdax`, `sector` or `raw`, as ndctl names them.
    public var mode: String
    /// Bytes.
    public var size: UInt64
    public var uuid: String?
    /// The claiming device (`pfn0.1`, `dax0.1`, `btt0.1`), whose unbind removes the block device.
    public var claimedBy: String?
    /// Kernel name of the block device (`pmem0`, `pmem0s`), when there is one.
    public var blockDevice: String?

    public init(name: String, region: String, mode: String, size: UInt64, uuid: String?, claimedBy: String?, blockDevice: String?) {
        self.name = name
        self.region = region
        self.mode = mode
        self.size = size
        self.uuid = uuid
        self.claimedBy = claimedBy
        self.blockDevice = blockDevice
    }
}
