#if canImport(Glibc)
import Glibc
#endif
import StackModel

/// Reads this machine's block devices into a `SystemSnapshot`: sysfs for devices, holders,
/// partitions and the nd bus; libdevmapper for dm tables, status and deps; libblkid for
/// filesystems; /proc/self/mountinfo for mounts.
public struct LiveDiscovery: Sendable {
    public let sysfs: SysfsRoot
    /// Probe devices with libblkid (needs read access to /dev; off in sysfs-only tests).
    public var probeFilesystems = true

    public init(sysfs: SysfsRoot = SysfsRoot()) { self.sysfs = sysfs }

    public func snapshot(dmstackVersion: String, capturedAt: String) throws -> SystemSnapshot {
        let dm = DeviceMapperClient()
        let driver = sysfs.exists("/sys/class/misc/device-mapper") || sysfs.exists("/dev/mapper/control") ? dm.driverVersion : nil
        var devices: [BlockDevice] = []
        let udev = UdevDatabase(sysfs: sysfs)
        let udevPresent = udev.isPresent
        let mounts = SystemParsers.mountinfo(sysfs.read("/proc/self/mountinfo") ?? "")
        let mounted = Set(mounts.map(\.majorMinor))
        for name in sysfs.list("/sys/class/block") {
            guard var d = device(name) else { continue }
            if d.kernelName.hasPrefix("dm-"), driver != nil {
                let info: (name: String, uuid: String, suspended: Bool, openCount: Int32, table: [String], status: [String], deps: [String])
                do { info = try dm.describe(major: d.major, minor: d.minor) } catch {
                    // Removed between the listing and the query: it is not part of the machine
                    // now. dm says so (ENXIO: no mapped device of that dev_t) while sysfs may
                    // still show the disk going (or a new device taking its minor): a storm of
                    // creates and removes failed whole monitor passes on this (VMSoakTests).
                    if !sysfs.exists("/sys/class/block/\(name)/dev") || error.errno == ENXIO || error.errno == ENODEV { continue }
                    throw error
                }
                d.dm = DeviceMapperInfo(name: info.name, uuid: info.uuid, suspended: info.suspended, openCount: info.openCount,
                                        table: info.table, status: info.status, deps: info.deps)
            } else if d.kernelName.hasPrefix("dm-") {
                // No libdevmapper answer: still name it from sysfs.
                d.dm = DeviceMapperInfo(name: sysfs.read("/sys/class/block/\(name)/dm/name") ?? name,
                                        uuid: sysfs.read("/sys/class/block/\(name)/dm/uuid") ?? "",
                                        suspended: sysfs.read("/sys/class/block/\(name)/dm/suspended") == "1",
                                        openCount: 0, table: [], status: [], deps: [])
            }
            // udev's record, unless it says "no filesystem" for a mounted device: a record
            // made before mkfs, whose change event udev has not handled yet (under load it
            // lags: apply's mkfs, mount and holder registration came before it, and the
            // registration said the volume held no filesystem).
            if udevPresent, let recorded = udev.filesystem(major: d.major, minor: d.minor),
               recorded != nil || !mounted.contains("\(d.major):\(d.minor)") {
                d.filesystem = recorded
            } else if probeFilesystems && d.size > 0 && !(d.dm?.suspended ?? false) {
                // Opening a suspended dm device for probing would block until it resumes.
                switch BlkidProbe.examine(path: sysfs.path("/dev/\(name)"), partitions: d.dm == nil) {
                case .success(let found): d.filesystem = found
                case .failure(let error): d.probeError = error.reason
                }
            }
            devices.append(d)
        }
        var uts = utsname()
        uname(&uts)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let host = HostInfo(hostname: field(uts.nodename), kernel: field(uts.release), capturedAt: capturedAt,
                            dmstackVersion: dmstackVersion, libdevmapperVersion: LibraryVersions.deviceMapper,
                            dmDriverVersion: driver)
        return SystemSnapshot(host: host, devices: devices, mounts: mounts, pmem: pmemInventory())
    }

    /// One block device from /sys/class/block/NAME.
    func device(_ name: String) -> BlockDevice? {
        let base = "/sys/class/block/\(name)"
        guard let dev = sysfs.read("\(base)/dev") else { return nil }
        let mm = dev.split(separator: ":")
        guard mm.count == 2, let major = UInt32(mm[0]), let minor = UInt32(mm[1]) else { return nil }
        var d = BlockDevice(kernelName: name, major: major, minor: minor, size: sysfs.readNumber("\(base)/size") ?? 0)
        // Every read is a syscall or three: only what exists for this kind of device is read.
        d.readOnly = sysfs.read("\(base)/ro") == "1"
        d.removable = sysfs.read("\(base)/removable") == "1"
        d.holders = sysfs.list("\(base)/holders")
        d.slaves = sysfs.list("\(base)/slaves")
        if !name.hasPrefix("dm-"), let number = sysfs.readNumber("\(base)/partition") {
            // A partition's sysfs directory sits inside its disk's.
            let parent = sysfs.linkParent("/sys/class/block/\(name)") ?? parentDisk(of: name)
            d.partition = PartitionInfo(number: Int(number), start: sysfs.readNumber("\(base)/start") ?? 0, parent: parent)
            d.logicalBlockSize = UInt32(sysfs.readNumber("/sys/class/block/\(parent)/queue/logical_block_size") ?? 512)
        } else {
            d.logicalBlockSize = UInt32(sysfs.readNumber("\(base)/queue/logical_block_size") ?? 512)
        }
        if !name.hasPrefix("dm-") {
            d.badblocks = SystemParsers.badblocks(sysfs.read("\(base)/badblocks") ?? "") + InjectedBadblocks.shared.ranges(of: name)
            d.layer = LayerReaders.layer(name: name, base: base, sysfs: sysfs)
        }
        if name.hasPrefix("loop") { d.loopBackingFile = sysfs.read("\(base)/loop/backing_file") }
        if name.hasPrefix("pmem"), let nd = sysfs.linkBasename("\(base)/device") {
            // fsdax and sector devices hang off a pfn or btt that claims the namespace.
            d.pmemNamespace = nd.hasPrefix("namespace") ? nd : sysfs.read("/sys/bus/nd/devices/\(nd)/namespace") ?? nd
        }
        return d
    }

    /// The disk holding partition `name`, from /sys/block (each disk lists its partitions).
    func parentDisk(of name: String) -> String {
        for disk in sysfs.list("/sys/block") where sysfs.exists("/sys/block/\(disk)/\(name)") { return disk }
        return ""
    }

    /// Regions and namespaces from /sys/bus/nd/devices (drivers/nvdimm: namespace `mode` is
    /// raw, safe (btt), memory (pfn) or dax; `holder` names the claiming device).
    func pmemInventory() -> PmemInventory {
        let base = "/sys/bus/nd/devices"
        var regions: [PmemRegion] = [], namespaces: [PmemNamespace] = []
        for name in sysfs.list(base) {
            if name.hasPrefix("region") {
                regions.append(PmemRegion(name: name, size: sysfs.readNumber("\(base)/\(name)/size") ?? 0,
                                          badblocks: SystemParsers.badblocks(sysfs.read("\(base)/\(name)/badblocks") ?? "")))
            } else if name.hasPrefix("namespace") {
                let dir = "\(base)/\(name)"
                let size = sysfs.readNumber("\(dir)/size") ?? 0
                let holder = sysfs.read("\(dir)/holder").flatMap { $0.isEmpty ? nil : $0 }
                let mode: String
                switch sysfs.read("\(dir)/mode") ?? "raw" {
                case "memory": mode = "fsdax"
                case "dax": mode = "devdax"
                case "safe": mode = "sector"
                default: mode = "raw"
                }
                let owner = holder ?? name
                let block = sysfs.list("\(base)/\(owner)/block").first
                let uuid = sysfs.read("\(dir)/uuid").flatMap { $0.isEmpty || $0 == "00000000-0000-0000-0000-000000000000" ? nil : $0 }
                namespaces.append(PmemNamespace(name: name, region: sysfs.linkParent(dir) ?? "", mode: mode, size: size,
                                                uuid: uuid, claimedBy: holder, blockDevice: block))
            }
        }
        return PmemInventory(regions: regions, namespaces: namespaces)
    }
}

/// A test hook, documented in the man page (monitor): `DMSTACK_BADBLOCKS=NAME:START+LENGTH,...`
/// (sectors) adds bad ranges to those devices' badblocks lists as discovery reads them, for
/// machines whose devices keep none (loop devices: the host tests of the damage ledger).
public struct InjectedBadblocks: Sendable {
    public static let shared = InjectedBadblocks(getenv("DMSTACK_BADBLOCKS").map { String(cString: $0) } ?? "")
    let byName: [String: [SectorRange]]

    init(_ spec: String) {
        var out: [String: [SectorRange]] = [:]
        for item in spec.split(separator: ",") {
            let parts = item.split(separator: ":")
            guard parts.count == 2 else { continue }
            let r = parts[1].split(separator: "+")
            guard r.count == 2, let start = UInt64(r[0]), let length = UInt64(r[1]), length > 0 else { continue }
            out[String(parts[0]), default: []].append(SectorRange(start: start, length: length))
        }
        byName = out
    }

    public func ranges(of name: String) -> [SectorRange] { byName[name] ?? [] }
}
