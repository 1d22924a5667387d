import CDeviceMapper
#if canImport(Glibc)
import Glibc
#endif
import CLinux
import StackModel

/// A libdevmapper call failed; carries the operation, the device and libdevmapper's message.
public struct DeviceMapperError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var device: String
    public var message: String
    /// The ioctl's errno where the kernel refused (EBUSY, EEXIST, EINVAL...), else 0.
    public var errno: Int32 = 0
    public var description: String {
        "cannot \(operation) dm device \(device)" + (message.isEmpty ? "" : ": \(message)")
    }
}

/// Reads device-mapper state through libdevmapper's task API (the DM_DEVICE_* ioctls), not by
/// running dmsetup: info, live table, status and deps of one device.
public struct DeviceMapperClient: Sendable {
    public init() {
        clinux_dm_capture_log()
    }

    /// Whether the kernel has device-mapper at all (/dev/mapper/control answers).
    public var driverVersion: String? {
        var buffer = [CChar](repeating: 0, count: 64)
        guard dm_driver_version(&buffer, buffer.count) != 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    struct Lines {
        var info: dm_info
        var name: String
        var uuid: String
        var lines: [String]
    }

    /// Runs one task of `type` on major:minor, collecting target lines as `dmsetup` prints them.
    func run(_ type: Int, major: UInt32, minor: UInt32, what: String) throws(DeviceMapperError) -> Lines {
        let device = "\(major):\(minor)"
        clinux_dm_clear_error()
        guard let task = dm_task_create(Int32(type)) else {
            throw DeviceMapperError(operation: what, device: device, message: "dm_task_create failed")
        }
        defer { dm_task_destroy(task) }
        _ = dm_task_set_major_minor(task, Int32(major), Int32(minor), 0)
        _ = dm_task_no_open_count(task)
        guard dm_task_run(task) != 0 else {
            throw DeviceMapperError(operation: what, device: device, message: String(cString: clinux_dm_last_error()))
        }
        var info = dm_info()
        _ = dm_task_get_info(task, &info)
        let name = dm_task_get_name(task).map { String(cString: $0) } ?? ""
        let uuid = dm_task_get_uuid(task).map { String(cString: $0) } ?? ""
        var lines: [String] = []
        if type == DM_DEVICE_DEPS {
            if let deps = dm_task_get_deps(task) {
                let raw = UnsafeRawPointer(deps)
                for i in 0..<clinux_dm_deps_count(raw) {
                    let dev = clinux_dm_deps_device(raw, i)
                    lines.append("\(clinux_major(dev)):\(clinux_minor(dev))")
                }
            }
        } else {
            var next: UnsafeMutableRawPointer? = nil
            repeat {
                var start: UInt64 = 0, length: UInt64 = 0
                var targetType: UnsafeMutablePointer<CChar>? = nil
                var params: UnsafeMutablePointer<CChar>? = nil
                next = dm_get_next_target(task, next, &start, &length, &targetType, &params)
                if let targetType {
                    let p = params.map { String(cString: $0) } ?? ""
                    let line = "\(start) \(length) \(String(cString: targetType))" + (p.isEmpty ? "" : " \(p)")
                    lines.append(type == DM_DEVICE_TABLE ? TableSecrets.mask(line) : line)
                }
            } while next != nil
        }
        return Lines(info: info, name: name, uuid: uuid, lines: lines)
    }

    /// Info, live table, status and deps of the dm device major:minor: two ioctls
    /// (DM_TABLE_STATUS for the table, then for the status). The deps come with the table:
    /// DM_TABLE_DEPS lists the devices the table's targets opened (dm-table.c
    /// `dm_get_device`), and a kernel table names each of them as major:minor, so the parsed
    /// table's members are that list. Only a table with a line of a type dmstack does not
    /// know (whose members it cannot name) costs the third ioctl.
    public func describe(major: UInt32, minor: UInt32) throws(DeviceMapperError) -> (name: String, uuid: String, suspended: Bool, openCount: Int32, table: [String], status: [String], deps: [String]) {
        let table = try run(DM_DEVICE_TABLE, major: major, minor: minor, what: "read the table of")
        // A suspended device still answers status (no I/O is issued for it).
        let status = try run(DM_DEVICE_STATUS, major: major, minor: minor, what: "read the status of")
        let deps: [String]
        if let named = DeviceMapperInfo.deps(ofTable: table.lines) { deps = named } else {
            deps = try run(DM_DEVICE_DEPS, major: major, minor: minor, what: "read the dependencies of").lines
        }
        return (table.name, table.uuid, table.info.suspended != 0, table.info.open_count, table.lines, status.lines, deps)
    }
}
