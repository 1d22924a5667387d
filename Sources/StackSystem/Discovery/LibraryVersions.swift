import CBlkid
import CDeviceMapper

/// Versions of the C libraries dmstack is linked against, for `dmstack --version` and bug
/// reports: libdevmapper (`dm_get_library_version`) and libblkid (`blkid_get_library_version`).
public enum LibraryVersions {
    public static var deviceMapper: String {
        var buffer = [CChar](repeating: 0, count: 64)
        guard dm_get_library_version(&buffer, buffer.count) != 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static var blkid: String {
        var version: UnsafePointer<CChar>?
        var date: UnsafePointer<CChar>?
        _ = blkid_get_library_version(&version, &date)
        return version.map { String(cString: $0) } ?? "unknown"
    }
}
