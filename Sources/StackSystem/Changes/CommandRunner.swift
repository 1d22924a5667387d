import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program (mkfs.xfs, mkfs.ext4: tools with no library interface; a notification hook)
/// with posix_spawn, never through a shell: in its own process group, with a clean signal mask
/// and default dispositions (a caller's blocked SIGCHLD or ignored SIGPIPE is not inherited),
/// optional bytes on its stdin, and an optional timeout after which the whole group is killed.
public enum CommandRunner {
    /// How the program ended and what it said, for the caller's one-line error or a hook's
    /// delivery detail.
    public struct Result: Sendable {
        /// The exit status, or 128 + the signal that ended it.
        public var status: Int32
        /// Standard error (and standard output with `keepStdout`), at most the last 64 KiB.
        public var output: String
        /// Killed (SIGKILL to its process group) when the timeout passed.
        public var timedOut = false
    }

    static let outputLimit = 64 << 10

    /// `executable` runs (default: `arguments[0]` looked up in PATH), with `arguments` as its
    /// argv. Standard output is discarded unless `keepStdout`; standard error is kept.
    /// `environment` entries (`NAME=value`) are added to dmstack's own.
    public static func run(_ arguments: [String], executable: String? = nil, input: [UInt8] = [], environment: [String] = [], timeout: Double? = nil,
                           keepStdout: Bool = false) throws(SystemError) -> Result {
        var outFDs: [Int32] = [0, 0], inFDs: [Int32] = [0, 0]
        guard pipeClosedOnExec(&outFDs) else { throw SystemError(path: arguments[0], operation: "create a pipe for", errno: errno) }
        guard input.isEmpty || pipeClosedOnExec(&inFDs) else {
            Syscall.close(outFDs[0]); Syscall.close(outFDs[1])
            throw SystemError(path: arguments[0], operation: "create a pipe for", errno: errno)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input.isEmpty {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        } else {
            posix_spawn_file_actions_adddup2(&actions, inFDs[0], 0)
        }
        if keepStdout {
            posix_spawn_file_actions_adddup2(&actions, outFDs[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outFDs[1], 2)
        clinux_spawn_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGCHLD, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var cArgs = arguments.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var env: [UnsafeMutablePointer<CChar>?] = []
        // The variables given win over inherited ones of the same name (getenv takes the first).
        let given = Set(environment.compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        var p = environ
        while let e = p.pointee {
            let text = String(cString: e)
            if !given.contains(text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? text) { env.append(strdup(e)) }
            p += 1
        }
        env += environment.map { strdup($0) }
        env.append(nil)
        defer { for e in env { free(e) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, executable ?? arguments[0], &actions, &attributes, &cArgs, &env)
        Syscall.close(outFDs[1])
        if !input.isEmpty { Syscall.close(inFDs[0]) }
        guard rc == 0 else {
            Syscall.close(outFDs[0])
            if !input.isEmpty { Syscall.close(inFDs[1]) }
            throw SystemError(path: arguments[0], operation: "run", errno: rc)
        }
        // Feed stdin and drain the output together (either may fill its pipe), until both are
        // done or the deadline passes. A program that exits without reading gets EPIPE, not
        // a SIGPIPE for dmstack: MSG_NOSIGNAL does not exist for pipes, so SIGPIPE is ignored.
        if !input.isEmpty {
            signal(SIGPIPE, SIG_IGN)
            _ = fcntl(inFDs[1], F_SETFL, fcntl(inFDs[1], F_GETFL) | O_NONBLOCK)
        }
        var writeFD: Int32 = input.isEmpty ? -1 : inFDs[1]
        var written = 0
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        let deadline = timeout.map { Monotonic.seconds() + $0 }
        var timedOut = false
        var readOpen = true
        var status: Int32 = 0
        // With a deadline (a hook) the child's exit is watched too: one that exits while a
        // background child of its own keeps the output open is done, after a short drain.
        var exited = false, lost = false
        var drainUntil: Double?
        while readOpen || writeFD >= 0 {
            if let d = drainUntil, Monotonic.seconds() >= d { break }
            var fds: [pollfd] = []
            if readOpen { fds.append(pollfd(fd: outFDs[0], events: Int16(POLLIN), revents: 0)) }
            if writeFD >= 0 { fds.append(pollfd(fd: writeFD, events: Int16(POLLOUT), revents: 0)) }
            var wait: Int32 = -1
            if let deadline {
                let left = deadline - Monotonic.seconds()
                if left <= 0 { timedOut = true; break }
                wait = Int32(min(left * 1000 + 1, 100))
            }
            let n = poll(&fds, nfds_t(fds.count), wait)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { break }
            for f in fds where f.revents != 0 {
                if f.fd == writeFD {
                    let w: Int
                    do {
                        w = try Syscall.write(writeFD, input, from: written, path: arguments[0], operation: "write the input of")
                    } catch let e where e.errno == EAGAIN { continue } catch { w = 0 }
                    written += w
                    if w == 0 || written == input.count { Syscall.close(writeFD); writeFD = -1 }
                } else {
                    let r: Int
                    do {
                        r = try Syscall.read(outFDs[0], into: &buffer, path: arguments[0], operation: "read the output of")
                    } catch let e where e.errno == EAGAIN { continue } catch { r = 0 }
                    if r == 0 { readOpen = false; continue }
                    output += buffer[0..<r]
                    if output.count > 2 * outputLimit { output.removeFirst(output.count - outputLimit) }
                }
            }
            if deadline != nil && !exited {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid || (r < 0 && errno == ECHILD) {
                    exited = true
                    lost = r < 0
                    drainUntil = Monotonic.seconds() + 0.1
                    if writeFD >= 0 { Syscall.close(writeFD); writeFD = -1 }
                }
            }
        }
        if writeFD >= 0 { Syscall.close(writeFD) }
        Syscall.close(outFDs[0])
        if lost { return Result(status: -1, output: "the child process was lost (ECHILD)", timedOut: false) }
        if exited {
            // Reaped in the loop.
        } else if let deadline {
            // A program that closed its output may still run: it gets the rest of the deadline.
            if !timedOut && !reap(pid, &status, until: deadline) { timedOut = true }
            if timedOut {
                try? Syscall.kill(-pid, SIGKILL)
                // A program stuck in the kernel (a write to a frozen filesystem) dies only when
                // it returns; dmstack does not wait for that forever.
                if !reap(pid, &status, until: Monotonic.seconds() + 5) {
                    return Result(status: -1, output: String(decoding: output.suffix(outputLimit), as: UTF8.self) + "\n(not reaped 5 s after SIGKILL)", timedOut: true)
                }
            }
        } else {
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        // WIFEXITED / WEXITSTATUS, which Swift cannot import as macros.
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        if output.count > outputLimit { output.removeFirst(output.count - outputLimit) }
        return Result(status: code, output: String(decoding: output, as: UTF8.self), timedOut: timedOut)
    }

    /// waitpid without blocking past `deadline`; false if the process has not ended by then.
    static func reap(_ pid: pid_t, _ status: inout Int32, until deadline: Double) -> Bool {
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return true }
            if r < 0 && errno != EINTR { status = -1 << 8; return true }  // ECHILD: not a success
            if Monotonic.seconds() >= deadline { return false }
            usleep(10_000)
        }
    }

    /// pipe(2) with both ends close-on-exec (pipe2 is a GNU extension Swift does not see).
    static func pipeClosedOnExec(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }
}
