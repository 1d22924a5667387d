import StackModel

/// udev's record of a block device (/run/udev/data/bMAJOR:MINOR), where its blkid builtin
/// already stored what libblkid found. Read first, as lsblk does: it costs one small file,
/// where probing costs several reads of the device.
public struct UdevDatabase: Sendable {
    public let sysfs: SysfsRoot

    public init(sysfs: SysfsRoot) { self.sysfs = sysfs }

    /// Whether udev keeps a database here at all.
    public var isPresent: Bool { sysfs.exists("/run/udev/data") }

    /// The `E:KEY=VALUE` properties udev recorded for major:minor; nil when it has no record.
    public func properties(major: UInt32, minor: UInt32) -> [String: String]? {
        guard let text = sysfs.read("/run/udev/data/b\(major):\(minor)") else { return nil }
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("E:") {
            let kv = line.dropFirst(2)
            guard let eq = kv.firstIndex(of: "=") else { continue }
            out[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
        }
        return out
    }

    /// The filesystem and partition identity udev recorded; `.some(nil)` when udev has a
    /// record without a signature (nothing to probe), nil when it has no record.
    public func filesystem(major: UInt32, minor: UInt32) -> FilesystemInfo?? {
        guard let p = properties(major: major, minor: minor) else { return nil }
        let info = FilesystemInfo(type: p["ID_FS_TYPE"], uuid: p["ID_FS_UUID"], label: p["ID_FS_LABEL"],
                                  partUuid: p["ID_PART_ENTRY_UUID"], partitionTableType: p["ID_PART_TABLE_TYPE"],
                                  version: p["ID_FS_VERSION"], blockSize: nil)
        return .some(info == FilesystemInfo() ? nil : info)
    }
}
