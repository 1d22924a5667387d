/// Everything `dmstack show` says about one device; its JSON form is the `device` object.
public struct DeviceReport: Codable, Sendable, Hashable {
    public struct MountReport: Codable, Sendable, Hashable {
        public var mountpoint: String
        public var fsType: String
        public var source: String
        public var options: [String]
        public var superOptions: [String]
        public var dax: Bool
        public var logDevice: String?
        public var realtimeDevice: String?
    }

    public var name: String
    public var kernelName: String
    public var majorMinor: String
    public var path: String
    /// Bytes.
    public var size: UInt64
    public var sectors: UInt64
    public var type: String
    public var readOnly: Bool
    public var logicalBlockSize: UInt32
    public var partition: PartitionInfo?
    public var dm: DeviceMapperInfo?
    /// The lvm2 volume a dm device is (`LvmVolume`), for a device lvm activated.
    public var lvm: LvmVolume?
    public var tableSummary: String?
    public var state: [String]
    /// Display names of the devices built directly on this one.
    public var above: [String]
    /// Display names of the devices this one is built on directly.
    public var below: [String]
    public var leaves: [String]
    public var filesystem: FilesystemInfo?
    public var mounts: [MountReport]
    /// Mounted filesystems this device serves as an extra device: `external log of /mnt/x`,
    /// `realtime device of /mnt/x` (XFS `logdev=`, `rtdev=`).
    public var servesAs: [String]
    public var pmemNamespace: PmemNamespace?
    public var badblocks: [SectorRange]
    public var loopBackingFile: String?
}

extension Inventory {
    public func report(_ d: BlockDevice) -> DeviceReport {
        DeviceReport(
            name: d.displayName, kernelName: d.kernelName, majorMinor: d.majorMinor, path: d.path, size: d.size * sectorBytes,
            sectors: d.size, type: deviceType(d), readOnly: d.readOnly, logicalBlockSize: d.logicalBlockSize, partition: d.partition,
            dm: d.dm, lvm: d.dm?.lvm, tableSummary: tableSummary(d), state: state(of: d), above: above(d).map(\.displayName),
            below: below(d).map(\.displayName), leaves: leaves(of: d).filter { $0.kernelName != d.kernelName }.map(\.displayName),
            filesystem: d.filesystem,
            mounts: mounts(of: d).map { m in
                DeviceReport.MountReport(mountpoint: m.mountpoint, fsType: m.fsType, source: m.source, options: m.options,
                                         superOptions: m.superOptions, dax: m.dax, logDevice: m.logDevice, realtimeDevice: m.realtimeDevice)
            },
            servesAs: servesAs(d),
            pmemNamespace: namespace(of: d), badblocks: d.badblocks, loopBackingFile: d.loopBackingFile)
    }
}

extension Inventory {
    /// The mounts that name `d` as their XFS external log or realtime device.
    public func servesAs(_ d: BlockDevice) -> [String] {
        var out: [String] = []
        for m in snapshot.mounts {
            if let log = m.logDevice, (try? device(log))?.kernelName == d.kernelName { out.append("external log of \(m.mountpoint)") }
            if let rt = m.realtimeDevice, (try? device(rt))?.kernelName == d.kernelName { out.append("realtime device of \(m.mountpoint)") }
        }
        return out
    }
}

/// Sizes in the units an admin reads in `tree`: the largest binary unit that divides exactly.
public enum SectorFormat {
    /// `64KiB`, `1GiB`, or `24s` when no unit divides the size.
    public static func size(_ sectors: UInt64) -> String {
        let bytes = sectors * sectorBytes
        for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(unit)"
        }
        return "\(sectors)s"
    }
}
