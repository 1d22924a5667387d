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

    /// Info, live table, status and deps of the dm device major:minor.
    public func describe(major: UInt32, minor: UInt32) throws(DeviceMapperError) -> (name: String, uuid: String, suspended: Bool, openCount: Int32, table: [String], status: [String], deps: [String]) {
        let table = try run(DM_DEVICE_TABLE, major: major, minor: minor, what: "read the table of")
        // A suspended device still answers status (no I/O is issued for it).
        let status = try run(DM_DEVICE_STATUS, major: major, minor: minor, what: "read the status of")
        let deps = try run(DM_DEVICE_DEPS, major: major, minor: minor, what: "read the dependencies of")
        return (table.name, table.uuid, table.info.suspended != 0, table.info.open_count, table.lines, status.lines, deps.lines)
    }

    // MARK: - Changing devices

    /// Runs one task on the device `name`: `prepare` adds targets or a message; `udev` sets a
    /// cookie and waits for udev (or libdevmapper's own node fallback when udev is not
    /// running), so /dev/mapper/NAME exists or is gone when this returns.
    @discardableResult
    func change(_ type: Int, name: String, uuid: String? = nil, what: String, udev: Bool = false,
                prepare: (OpaquePointer) -> Bool = { _ in true }) throws(DeviceMapperError) -> (info: dm_info, errno: Int32) {
        clinux_dm_clear_error()
        if let fault = FaultInjection.shared.fire(what) {
            throw DeviceMapperError(operation: what, device: name, message: fault)
        }
        guard let task = dm_task_create(Int32(type)) else {
            throw DeviceMapperError(operation: what, device: name, message: "dm_task_create failed")
        }
        defer { dm_task_destroy(task) }
        guard dm_task_set_name(task, name) != 0 else {
            throw DeviceMapperError(operation: what, device: name, message: "invalid dm name")
        }
        if let uuid, dm_task_set_uuid(task, uuid) == 0 {
            throw DeviceMapperError(operation: what, device: name, message: "invalid dm uuid '\(uuid)'")
        }
        guard prepare(task) else {
            throw DeviceMapperError(operation: what, device: name, message: String(cString: clinux_dm_last_error()))
        }
        var cookie: UInt32 = 0
        if udev { _ = dm_task_set_cookie(task, &cookie, 0) }
        let ok = dm_task_run(task) != 0
        let errno = dm_task_get_errno(task)
        if udev { _ = dm_udev_wait(cookie) }
        guard ok else {
            let message = String(cString: clinux_dm_last_error())
            throw DeviceMapperError(operation: what, device: name, message: message.isEmpty ? "the kernel refused (errno \(errno))" : message, errno: errno)
        }
        var info = dm_info()
        _ = dm_task_get_info(task, &info)
        return (info, errno)
    }

    /// DM_DEVICE_CREATE without a table: the device exists, with no live table, until
    /// `load` and `resume` (the order lvm2 uses, so a refused table leaves nothing half-made).
    public func create(name: String, uuid: String) throws(DeviceMapperError) -> (major: UInt32, minor: UInt32) {
        let r = try change(Int(DM_DEVICE_CREATE), name: name, uuid: uuid, what: "create")
        return (r.info.major, r.info.minor)
    }

    /// DM_DEVICE_RELOAD: loads `lines` (`start length target args`) as the inactive table.
    public func load(name: String, table lines: [String]) throws(DeviceMapperError) {
        var bad: String? = nil
        do {
            try change(Int(DM_DEVICE_RELOAD), name: name, what: "load a table into") { task in
                for line in lines {
                    let w = line.split(separator: " ", maxSplits: 3).map(String.init)
                    guard w.count >= 3, let start = UInt64(w[0]), let length = UInt64(w[1]) else { bad = line; return false }
                    guard dm_task_add_target(task, start, length, w[2], w.count > 3 ? w[3] : "") != 0 else { return false }
                }
                return true
            }
        } catch {
            if let bad { throw DeviceMapperError(operation: "load a table into", device: name, message: "malformed table line '\(TableSecrets.mask(bad))'") }
            throw error
        }
    }

    /// DM_DEVICE_RESUME: makes the loaded table live (suspending first if a table was live).
    public func resume(name: String) throws(DeviceMapperError) {
        try change(Int(DM_DEVICE_RESUME), name: name, what: "resume", udev: true)
    }

    /// DM_DEVICE_REMOVE; the kernel refuses (EBUSY) while the device is open. A device just
    /// written or probed can be held for a moment by whoever probes it next (udev's watch,
    /// blkid): libdevmapper's retry_remove retries EBUSY for a few seconds, as lvm2 does.
    public func remove(name: String) throws(DeviceMapperError) {
        try change(Int(DM_DEVICE_REMOVE), name: name, what: "remove", udev: true) { task in
            dm_task_retry_remove(task) != 0
        }
    }

    /// DM_DEVICE_CLEAR: drops an inactive table loaded by a failed step.
    public func clearInactive(name: String) throws(DeviceMapperError) {
        try change(Int(DM_DEVICE_CLEAR), name: name, what: "clear the inactive table of")
    }

    /// DM_DEVICE_TARGET_MSG to sector 0 (`dmsetup message NAME 0 TEXT`).
    public func message(name: String, _ text: String) throws(DeviceMapperError) {
        try change(Int(DM_DEVICE_TARGET_MSG), name: name, what: "send '\(text)' to") { task in
            dm_task_set_sector(task, 0) != 0 && dm_task_set_message(task, text) != 0
        }
    }
}

/// A test hook, documented in the man page: `DMSTACK_FAULT=OPERATION:N` makes the N-th
/// libdevmapper change of that kind (`create`, `load`, `resume`, `remove`, `send`) fail
/// before it reaches the kernel, so tests can show that a failure midway rolls back.
public final class FaultInjection: @unchecked Sendable {
    public static let shared = FaultInjection(spec: getenv("DMSTACK_FAULT").map { String(cString: $0) })
    let operation: String?
    let target: Int
    var count = 0

    init(spec: String?) {
        let parts = spec?.split(separator: ":") ?? []
        operation = parts.first.map(String.init)
        target = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
    }

    /// The injected error for this call, if it is the one to fail.
    func fire(_ what: String) -> String? {
        guard let operation, what.hasPrefix(operation) else { return nil }
        count += 1
        return count == target ? "injected failure (DMSTACK_FAULT=\(operation):\(target))" : nil
    }
}
