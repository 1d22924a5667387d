import CLinux
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// Which signal the processes that map or hold a lost file get: none, SIGTERM, or SIGBUS (what
/// the kernel's kill_proc sends; from user space it arrives as SI_USER, without the faulting
/// address the kernel's BUS_MCEERR_AR/AO would carry).
public enum KillPolicy: String, Sendable, CaseIterable {
    case none, term, bus
}

/// One step of a removal and how it went.
public struct RemovalStep: Encodable, Sendable, Hashable {
    /// What a step does, in the order `RemovalRunner` takes them (the kernel's pre-remove path,
    /// then the teardown). A closed set that the command and the tests match on, so a misspelt
    /// step fails to compile instead of never matching; the JSON and text print the raw value.
    public enum Kind: String, Encodable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case freeze, dispatch, signal, invalidate, thaw, unmount, remove, detach
        public var description: String { rawValue }
    }

    /// How a step went: `failed` stops the removal (after the thaw), `skipped` does not (a
    /// process already gone, pid 1, `--kill none`). The JSON and text print the raw value.
    public enum Outcome: String, Encodable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case done, failed, skipped
        public var description: String { rawValue }
    }

    public var step: Kind
    public var target: String
    public var outcome: Outcome
    public var detail: String?

    public init(_ step: Kind, _ target: String, _ outcome: Outcome, _ detail: String? = nil) {
        self.step = step
        self.target = target
        self.outcome = outcome
        self.detail = detail
    }
}

/// Carries out a `RemovalPlan` on the live system in its order, recording every step; the first
/// step that fails stops it, and whatever it froze is thawed before it returns.
public struct RemovalRunner {
    public var plan: RemovalPlan
    public var detach: LeafDetach
    public var kill: KillPolicy
    /// How long an unmount keeps retrying while the signalled processes let go.
    public var unmountWait: Double = 10
    /// Delivers the recorded notifications (while the filesystems are frozen); its line goes
    /// into the dispatch step. Delivery failures do not stop a removal: the events are in the
    /// outbox and are retried.
    public var dispatch: () -> String
    /// `ProcessToken` of each pid when the plan was made: a pid that names another process by
    /// the time of the signal (the plan waited for a confirmation) is not signalled.
    public var tokens: [Int32: String] = [:]
    let dm = DeviceMapperClient()

    public init(plan: RemovalPlan, detach: LeafDetach, kill: KillPolicy, dispatch: @escaping () -> String) {
        self.plan = plan
        self.detach = detach
        self.kill = kill
        self.dispatch = dispatch
    }

    /// The steps done, and the one it stopped at (nil when every step was done).
    public func run(log: (RemovalStep) -> Void = { _ in }) -> (steps: [RemovalStep], stopped: RemovalStep?) {
        var steps: [RemovalStep] = []
        var opened: [(String, Int32)] = []
        /// The ones FIFREEZE froze (a filesystem without freeze support is not among them).
        var frozen: [(String, Int32)] = []
        var guardian: FreezeGuardian?
        func record(_ s: RemovalStep) { steps.append(s); log(s) }
        // A freeze outlives the process: from the first freeze to the last thaw, the signals
        // a terminal or a service manager sends (^C, ^Z, SIGTERM, SIGHUP) wait, and a guardian
        // child thaws the filesystems if dmstack dies anyway (SIGKILL, the OOM killer).
        var held = sigset_t(), previous = sigset_t()
        sigemptyset(&held)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP] { sigaddset(&held, sig) }
        var holding = false
        func thawAll() -> RemovalStep? {
            var failed: RemovalStep?
            for (mp, fd) in frozen.reversed() {
                do {
                    _ = try Syscall.ioctl("thaw (FITHAW)", path: mp) { clinux_thaw(fd) }
                    record(RemovalStep(.thaw, mp, .done))
                } catch {
                    let s = RemovalStep(.thaw, mp, .failed, "FITHAW: \(error.reason); `fsfreeze -u \(mp)` thaws it")
                    record(s)
                    failed = failed ?? s
                }
            }
            for (_, fd) in opened { Syscall.close(fd) }
            opened = []
            frozen = []
            guardian?.disarm()
            guardian = nil
            if holding { pthread_sigmask(SIG_SETMASK, &previous, nil); holding = false }
            return failed
        }
        func stop(_ s: RemovalStep) -> (steps: [RemovalStep], stopped: RemovalStep?) {
            record(s)
            _ = thawAll()
            return (steps, s)
        }
        if !plan.freeze.isEmpty {
            pthread_sigmask(SIG_BLOCK, &held, &previous)
            holding = true
        }

        // Freeze: the filesystems stop changing while their users are told and signalled.
        // Every one is opened first, so the guardian holds them all before the first freeze.
        for mp in plan.freeze {
            do { opened.append((mp, try Syscall.open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC))) } catch {
                return stop(RemovalStep(.freeze, mp, .failed, "open: \(error.reason)"))
            }
        }
        if let first = plan.freeze.first {
            do { guardian = try FreezeGuardian.start(holding: opened.map(\.1)) } catch {
                return stop(RemovalStep(.freeze, first, .failed, "no freeze without a guardian to thaw it: \(error)"))
            }
        }
        for (mp, fd) in opened {
            do { _ = try Syscall.ioctl("freeze (FIFREEZE)", path: mp) { clinux_freeze(fd) } } catch {
                // A filesystem without freeze support (squashfs, vfat: fs/ioctl.c
                // ioctl_fsfreeze gives EOPNOTSUPP when the superblock has no freeze_fs) cannot
                // be quiesced: the removal goes on without it (the device goes either way).
                if error.errno == EOPNOTSUPP {
                    record(RemovalStep(.freeze, mp, .skipped, "FIFREEZE: \(error.reason): this filesystem cannot be frozen; it keeps accepting writes until it is unmounted"))
                    continue
                }
                return stop(RemovalStep(.freeze, mp, .failed, "FIFREEZE: \(error.reason)" + (error.errno == EBUSY ? " (already frozen?)" : "")))
            }
            frozen.append((mp, fd))
            record(RemovalStep(.freeze, mp, .done))
        }

        record(RemovalStep(.dispatch, plan.leaf, .done, dispatch()))
        if !frozen.isEmpty { FaultInjection.shared.pauseWhileFrozen() }

        // Signal every process that maps or holds open a lost file (pre-remove takes them all).
        let me = getpid()
        for p in plan.processes where p.pid != me {
            if p.pid <= 1 {
                record(RemovalStep(.signal, "pid \(p.pid)", .skipped, "pid 1 is never signalled"))
                continue
            }
            if let token = tokens[p.pid], ProcessToken.of(p.pid) != token {
                record(RemovalStep(.signal, "pid \(p.pid)", .skipped, "exited since the plan (the pid may name another process now)"))
                continue
            }
            let who = "pid \(p.pid) (\(p.command.split(separator: " ").first.map { String($0.split(separator: "/").last ?? $0) } ?? p.command))"
            guard kill != .none else { record(RemovalStep(.signal, who, .skipped, "--kill none")); continue }
            let signal = kill == .term ? SIGTERM : SIGBUS
            do {
                try Syscall.kill(p.pid, signal)
                record(RemovalStep(.signal, who, .done, "\(kill == .term ? "SIGTERM" : "SIGBUS"), \(p.how) \(p.path)"))
            } catch let e where e.errno == ESRCH {
                record(RemovalStep(.signal, who, .skipped, "already gone"))
            } catch {
                return stop(RemovalStep(.signal, who, .failed, error.reason))
            }
        }

        // Drop the cached pages of the lost files (the kernel's invalidate_inode_pages2_range;
        // advisory there too: a page that cannot go is left). DAX files have none.
        if !plan.invalidate.isEmpty {
            var dropped = 0, missing = 0
            var unread: (any Error)?
            do {
                try plan.invalidate.forEach(throwing: { f in
                    guard let fd = try? Syscall.open(f.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) else { missing += 1; return }
                    for r in f.ranges { _ = posix_fadvise(fd, off_t(r.offset), off_t(r.length), POSIX_FADV_DONTNEED) }
                    Syscall.close(fd)
                    dropped += 1
                })
            } catch { unread = error }
            let detail = "POSIX_FADV_DONTNEED on the lost ranges of \(dropped) files" + (missing > 0 ? "; \(missing) could not be opened (gone meanwhile)" : "")
            // A file list that could not be read to its end: the rest were not dropped (the
            // removal goes on; thawing comes next).
            record(RemovalStep(.invalidate, "\(plan.invalidate.count) files", unread == nil ? .done : .failed,
                               detail + (unread.map { "; the file list could not be read to its end (\($0)): the other files' pages were not dropped" } ?? "")))
        }

        if let failed = thawAll() { return (steps, failed) }

        // Unmount what loses data, waiting for the signalled processes to let go.
        for mp in plan.unmount {
            let deadline = Monotonic.seconds() + unmountWait
            while true {
                let e: SystemError
                do { try Syscall.unmount(mp); break } catch { e = error }
                if e.errno == EINVAL || e.errno == ENOENT { break }  // not mounted (any more)
                if e.errno == EBUSY && Monotonic.seconds() < deadline { usleep(100_000); continue }
                let users = (try? Syscall.stat(mp)).map { st in ProcessScanner.users(of: ["\(clinux_major(UInt64(st.st_dev))):\(clinux_minor(UInt64(st.st_dev)))"]) } ?? []
                return stop(RemovalStep(.unmount, mp, .failed, e.reason
                    + (users.isEmpty ? "" : "; still used by " + users.map(\.description).joined(separator: ", ") + (kill == .none ? " (--kill term signals them)" : ""))))
            }
            record(RemovalStep(.unmount, mp, .done))
        }

        for item in plan.layers {
            do { try dm.remove(name: item.name) } catch {
                return stop(RemovalStep(.remove, item.name, .failed, error.description))
            }
            record(RemovalStep(.remove, item.name, .done, item.majorMinor))
        }

        do { try detach.perform() } catch {
            return stop(RemovalStep(.detach, plan.leaf, .failed, error.description))
        }
        record(RemovalStep(.detach, plan.leaf, .done, detach.description))
        return (steps, nil)
    }
}
