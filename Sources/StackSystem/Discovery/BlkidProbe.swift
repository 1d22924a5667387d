import CBlkid
#if canImport(Glibc)
import Glibc
#endif
import StackModel

/// Probes a device's superblock and partition entry with libblkid's low-level probe (the
/// interface `blkid -p` uses), without its cache, so what it says is what is on the device now.
public enum BlkidProbe {
    /// nil when the device cannot be opened (no permission, gone) or holds nothing known.
    /// `partitions`: also read the partition table (a disk's PTTYPE, a partition's PARTUUID);
    /// off for dm devices, where it only costs reads.
    public static func probe(path: String, partitions: Bool = true) -> FilesystemInfo? {
        (try? examine(path: path, partitions: partitions).get()) ?? nil
    }

    /// As `probe`, with a device that cannot be opened a failure saying why (EACCES as an
    /// unprivileged user, EPERM under a lockdown or an exclusive opener): "holds nothing" and
    /// "could not be looked at" are different answers.
    public static func examine(path: String, partitions: Bool = true) -> Result<FilesystemInfo?, SystemError> {
        errno = 0
        guard let pr = blkid_new_probe_from_filename(path) else {
            // libblkid opens the device itself (open(2) read-only); its errno is the reason.
            return .failure(SystemError(path: path, operation: "probe", errno: errno == 0 ? EIO : errno))
        }
        defer { blkid_free_probe(pr) }
        _ = blkid_probe_enable_superblocks(pr, 1)
        _ = blkid_probe_set_superblocks_flags(pr, Int32(BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE | BLKID_SUBLKS_VERSION))
        if partitions {
            _ = blkid_probe_enable_partitions(pr, 1)
            _ = blkid_probe_set_partitions_flags(pr, Int32(BLKID_PARTS_ENTRY_DETAILS))
        }
        guard blkid_do_safeprobe(pr) == 0 else { return .success(nil) }
        func value(_ name: String) -> String? {
            var data: UnsafePointer<CChar>? = nil
            guard blkid_probe_lookup_value(pr, name, &data, nil) == 0, let data else { return nil }
            return String(cString: data)
        }
        let info = FilesystemInfo(type: value("TYPE"), uuid: value("UUID"), label: value("LABEL"), partUuid: value("PART_ENTRY_UUID"),
                                  partitionTableType: value("PTTYPE"), version: value("VERSION"),
                                  blockSize: value("BLOCK_SIZE").flatMap { UInt32($0) })
        return .success(info == FilesystemInfo() ? nil : info)
    }
}
