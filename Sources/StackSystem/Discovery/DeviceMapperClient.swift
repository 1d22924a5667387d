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
            throw DeviceMapperError(operation: what, device: device, message: String(cString: clinux_dm_last_error()), errno: dm_task_get_errno(task))
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

    /// Every dm device by name (DM_DEVICE_LIST), with its uuid and whether it has a live
    /// table (DM_DEVICE_INFO by name). Unlike /sys/block this lists a device that has no
    /// table yet: dm adds the disk only at the first table load (drivers/md/dm.c
    /// `dm_setup_md_queue` from `table_load`), so a `create` killed before its load leaves a
    /// device sysfs does not show.
    public func listDevices() throws(DeviceMapperError) -> [(name: String, uuid: String, liveTable: Bool)] {
        clinux_dm_clear_error()
        var size = 4096
        var bytes: [CChar] = []
        while true {
            bytes = [CChar](repeating: 0, count: size)
            let need = clinux_dm_list_names(&bytes, size)
            guard need >= 0 else { throw DeviceMapperError(operation: "list", device: "every", message: String(cString: clinux_dm_last_error())) }
            if need <= size { bytes = Array(bytes.prefix(need)); break }
            // Devices made meanwhile: at most a few rounds.
            guard size < 64 << 20 else { throw DeviceMapperError(operation: "list", device: "every", message: "the list of names passes 64 MiB") }
            size = need
        }
        var out: [(String, String, Bool)] = []
        for raw in bytes.split(separator: 0) {
            let name = String(decoding: raw.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard let task = dm_task_create(Int32(DM_DEVICE_INFO)) else { continue }
            defer { dm_task_destroy(task) }
            guard dm_task_set_name(task, name) != 0, dm_task_run(task) != 0 else { continue }
            var info = dm_info()
            // Gone between the list and the info: not listed.
            guard dm_task_get_info(task, &info) != 0, info.exists != 0 else { continue }
            out.append((name, dm_task_get_uuid(task).map { String(cString: $0) } ?? "", info.live_table != 0))
        }
        return out
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
