import CDeviceMapper
import CLinux
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// The changing half of the libdevmapper client: DM_DEVICE_CREATE, RELOAD, RESUME, REMOVE,
/// CLEAR and TARGET_MSG, each one task, with the test hook that makes one fail.
extension DeviceMapperClient {
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
        FaultInjection.shared.created()
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
/// `DMSTACK_FAULT=kill@K` makes `apply` or `teardown` SIGKILL itself once its K-th step is
/// done and recorded (what a power cut or the OOM killer does: no rollback runs),
/// `DMSTACK_FAULT=kill-after-create@N` right after its N-th DM_DEVICE_CREATE, before that
/// device's table is loaded (a device with no table, which sysfs does not show), and
/// `DMSTACK_FAULT=pause-frozen` makes `remove` wait, its filesystems frozen and its event in
/// the outbox, until it is killed: the tests of what survives a kill.
public final class FaultInjection: @unchecked Sendable {
    public static let shared = FaultInjection(spec: getenv("DMSTACK_FAULT").map { String(cString: $0) })
    let operation: String?
    let target: Int
    /// The step after which `kill@K` kills, or nil.
    let killStep: Int?
    /// The create after which `kill-after-create@N` kills, or nil.
    let killCreate: Int?
    let pauseFrozen: Bool
    var count = 0
    var creates = 0

    init(spec: String?) {
        killCreate = spec.flatMap { $0.hasPrefix("kill-after-create@") ? Int($0.dropFirst(18)) : nil }
        if let spec, spec.hasPrefix("kill@") || killCreate != nil {
            killStep = spec.hasPrefix("kill@") ? Int(spec.dropFirst(5)) : nil
            operation = nil
            target = 1
            pauseFrozen = false
            return
        }
        killStep = nil
        pauseFrozen = spec == "pause-frozen"
        let parts = pauseFrozen ? [] : spec?.split(separator: ":") ?? []
        operation = parts.first.map(String.init)
        target = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
    }

    /// The injected error for this call, if it is the one to fail.
    func fire(_ what: String) -> String? {
        guard let operation, what.hasPrefix(operation) else { return nil }
        count += 1
        return count == target ? "injected failure (DMSTACK_FAULT=\(operation):\(target))" : nil
    }

    /// Called once step `step` (counted from 1) of an apply or teardown is done and recorded.
    public func stepDone(_ step: Int) {
        guard step == killStep else { return }
        kill(getpid(), SIGKILL)
    }

    /// Called after each DM_DEVICE_CREATE that succeeded.
    func created() {
        creates += 1
        if creates == killCreate { kill(getpid(), SIGKILL) }
    }

    /// Called by `remove` with its filesystems frozen and its event recorded.
    func pauseWhileFrozen() {
        guard pauseFrozen else { return }
        let line = Array("dmstack: DMSTACK_FAULT=pause-frozen: frozen; waiting to be killed\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        while true { pause() }
    }
}
