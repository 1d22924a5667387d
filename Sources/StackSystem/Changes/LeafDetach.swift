import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// How a leaf is taken away once nothing is built on it any more.
public enum LeafDetach: Sendable, Hashable, CustomStringConvertible {
    /// An nvdimm bus device (pfnN.M, namespaceN.M, bttN.M): its name written to its driver's
    /// `unbind` (drivers/nvdimm/bus.c), which deletes the pmem disk.
    case nvdimm(device: String, driver: String)
    /// A SCSI disk: `1` written to its device's `delete` attribute (drivers/scsi/scsi_sysfs.c).
    case scsi(delete: String)
    /// A loop device: LOOP_CLR_FD (drivers/block/loop.c); with no holder left it detaches at once.
    case loop(path: String)

    public var description: String {
        switch self {
        case .nvdimm(let device, let driver): "unbind \(device) from \(driver.split(separator: "/").last ?? "")"
        case .scsi(let delete): "echo 1 > \(delete)"
        case .loop(let path): "detach \(path)"
        }
    }

    /// How `kernelName` can be taken away, from sysfs; a device none of these fits is refused.
    public static func of(_ kernelName: String, sysfs: String = "/sys") throws(RemovalError) -> LeafDetach {
        let base = "\(sysfs)/class/block/\(kernelName)"
        guard Syscall.exists(base) else { throw RemovalError(category: .notALeaf, message: "\(kernelName) is not on the live system (\(base) is missing)") }
        if Syscall.exists("\(base)/loop") { return .loop(path: "/dev/\(kernelName)") }
        if Syscall.exists("\(base)/device/delete") && Syscall.exists("\(base)/device/scsi_disk") {
            return .scsi(delete: "\(base)/device/delete")
        }
        if let device = Syscall.realpath("\(base)/device"), device.contains("/ndbus"), let driver = Syscall.realpath("\(base)/device/driver") {
            return .nvdimm(device: String(device.split(separator: "/").last ?? ""), driver: driver)
        }
        throw RemovalError(category: .notALeaf, message: "\(kernelName) cannot be taken away by dmstack: it unbinds pmem namespaces, deletes SCSI disks and detaches loop devices")
    }

    /// Takes the leaf away.
    public func perform() throws(SystemError) {
        switch self {
        case .nvdimm(let device, let driver): try Self.write("\(driver)/unbind", device)
        case .scsi(let delete): try Self.write(delete, "1")
        case .loop(let path):
            let fd = try Syscall.open(path, O_RDONLY | O_CLOEXEC)
            defer { Syscall.close(fd) }
            _ = try Syscall.ioctl("detach (LOOP_CLR_FD)", path: path) { Glibc.ioctl(fd, 0x4C01 /* LOOP_CLR_FD */, 0) }
        }
    }

    static func write(_ path: String, _ text: String) throws(SystemError) {
        let fd = try Syscall.open(path, O_WRONLY | O_CLOEXEC)
        defer { Syscall.close(fd) }
        // One write: a sysfs store takes the whole value at once or refuses it.
        let bytes = Array(text.utf8)
        let n = try Syscall.write(fd, bytes, path: path, operation: "write '\(text)' to")
        guard n == bytes.count else { throw SystemError(path: path, operation: "write '\(text)' to", errno: EIO) }
    }
}
