import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// What the monitor waits on: the kernel's block uevents (a disk or namespace removed or
/// changed) on a NETLINK_KOBJECT_UEVENT socket, and device-mapper events (a raid leg failing,
/// a mirror degrading) through DM_DEV_ARM_POLL on /dev/mapper/control. Either may be missing
/// (no permission, no dm): the monitor then relies on its periodic pass.
public final class KernelEventSource {
    let uevent: Int32
    let dmControl: Int32
    /// Why a source is not available, for the monitor's start-up line.
    public private(set) var notes: [String] = []

    /// A block uevent: its action (add, remove, change) and kernel name (DEVNAME).
    public struct BlockEvent: Sendable, Hashable {
        public var action: String
        public var name: String
    }

    /// What one wait saw: the block uevents, and whether any dm device raised an event (the
    /// event says only that some dm device changed, not which). A flood coalesces: `block`
    /// holds each (action, name) once and at most `maxPending` of them; the rest are counted
    /// in `coalesced`. A pass compares the whole machine with the registry, so one pass after
    /// a thousand uevents sees what a pass after each would have seen.
    public struct Wakeup: Sendable {
        public var block: [BlockEvent] = []
        public var deviceMapper = false
        /// Uevents of this wakeup not kept in `block`: repeats, and those past the bound.
        public var coalesced = 0
        /// Whether the kernel dropped uevents because the socket's buffer was full (ENOBUFS):
        /// nothing is known of them but that a pass is due.
        public var overrun = false
    }

    /// The most distinct block uevents one wakeup keeps.
    public static let maxPending = 64
    /// Uevents coalesced since this source was made, over all wakeups (for the monitor's log).
    public private(set) var coalescedTotal = 0
    /// Block uevents received since this source was made (kept or coalesced).
    public private(set) var receivedTotal = 0
    /// Socket overruns (ENOBUFS) since this source was made.
    public private(set) var overruns = 0
    /// One receive buffer for the life of the source: a flood allocates nothing per message.
    var buffer = [UInt8](repeating: 0, count: 16384)

    public init() {
        uevent = clinux_uevent_socket()
        if uevent < 0 { notes.append("no kernel uevents (\(String(cString: strerror(errno)))): removals are seen by the periodic pass only") }
        do {
            let control = try Syscall.open(Self.controlPath, O_RDWR | O_CLOEXEC)
            do {
                _ = try Syscall.ioctl("arm polling (DM_DEV_ARM_POLL)", path: Self.controlPath) { clinux_dm_arm_poll(control) }
                dmControl = control
            } catch {
                notes.append("no dm event polling (DM_DEV_ARM_POLL: \(error.reason)): degraded devices are seen by the periodic pass only")
                Syscall.close(control)
                dmControl = -1
            }
        } catch {
            notes.append("no /dev/mapper/control (\(error.reason)): no dm events")
            dmControl = -1
        }
    }

    /// The device-mapper control node (drivers/md/dm-ioctl.c), where DM_DEV_ARM_POLL is asked.
    static let controlPath = "/dev/mapper/control"

    deinit {
        if uevent >= 0 { Syscall.close(uevent) }
        if dmControl >= 0 { Syscall.close(dmControl) }
    }

    /// Waits up to `timeout` seconds for a block uevent or a dm event; after the first one,
    /// `settle` more seconds so that a burst (a stack coming down) is one wakeup.
    public func wait(timeout: Double, settle: Double = 0.2) -> Wakeup {
        var wakeup = Wakeup()
        var kept: Set<BlockEvent> = []
        var deadline = Monotonic.seconds() + timeout
        var settled = false
        waiting: while true {
            var fds: [pollfd] = []
            if uevent >= 0 { fds.append(pollfd(fd: uevent, events: Int16(POLLIN), revents: 0)) }
            if dmControl >= 0 { fds.append(pollfd(fd: dmControl, events: Int16(POLLIN), revents: 0)) }
            let left = deadline - Monotonic.seconds()
            if left <= 0 { break waiting }
            let n = poll(&fds, nfds_t(fds.count), Int32(min(left, 3600) * 1000) + 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { if n < 0 { usleep(100_000) }; if n == 0 { break waiting }; continue }
            var relevant = false
            for f in fds where f.revents != 0 {
                if f.fd == uevent {
                    drainUevents { e in
                        guard e.action == "remove" || e.action == "change" || e.action == "add" else { return }
                        relevant = true
                        if kept.count < Self.maxPending, kept.insert(e).inserted {
                            wakeup.block.append(e)
                        } else {
                            wakeup.coalesced += 1
                        }
                    } overrun: {
                        wakeup.overrun = true
                        relevant = true
                    }
                } else {
                    // Re-arm first: an event after this point wakes the next wait.
                    _ = try? Syscall.ioctl("arm polling (DM_DEV_ARM_POLL)", path: Self.controlPath) { clinux_dm_arm_poll(dmControl) }
                    wakeup.deviceMapper = true
                    relevant = true
                }
            }
            if relevant && !settled {
                settled = true
                deadline = Monotonic.seconds() + settle
            }
        }
        coalescedTotal += wakeup.coalesced
        receivedTotal += wakeup.block.count + wakeup.coalesced
        if wakeup.overrun { overruns += 1 }
        return wakeup
    }

    /// Every pending uevent of the block subsystem, each handed to `event` as it is read (none
    /// kept here). A message is `ACTION@DEVPATH` then NUL-separated KEY=VALUE pairs
    /// (lib/kobject_uevent.c). ENOBUFS (the kernel dropped messages: netlink_overrun in
    /// net/netlink/af_netlink.c) calls `overrun` and reading goes on.
    func drainUevents(_ event: (BlockEvent) -> Void, overrun: () -> Void) {
        while true {
            let n = recv(uevent, &buffer, buffer.count, 0)
            if n < 0 && errno == ENOBUFS { overrun(); continue }
            if n <= 0 { break }
            var fields: [String: String] = [:]
            for part in buffer[0..<n].split(separator: 0) {
                let text = String(decoding: part, as: UTF8.self)
                if let eq = text.firstIndex(of: "=") { fields[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
            }
            if fields["SUBSYSTEM"] == "block", let action = fields["ACTION"], let name = fields["DEVNAME"] {
                event(BlockEvent(action: action, name: name.hasPrefix("/dev/") ? String(name.dropFirst(5)) : name))
            }
        }
    }
}
