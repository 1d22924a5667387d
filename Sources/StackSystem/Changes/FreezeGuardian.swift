import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// A child process that thaws the frozen filesystems if dmstack dies between freeze and thaw.
/// A freeze outlives the process that made it (FIFREEZE holds the superblock frozen until a
/// FITHAW, fs/super.c freeze_super), so a SIGKILL, an OOM kill or a crash in that window would
/// leave every writer hanging. The guardian holds its own copies of the filesystems'
/// descriptors and the read end of a pipe; the kernel closes dmstack's write end however
/// dmstack ends, and the guardian then thaws them all (clinux_guardian_spawn says why it is a
/// forked C child). `disarm()` after the thaw lets it go without touching anything.
struct FreezeGuardian {
    let pid: Int32
    let disarmFD: Int32

    /// Starts the guardian holding `descriptors`; it must run before the first freeze.
    static func start(holding descriptors: [Int32]) throws(SystemError) -> FreezeGuardian {
        var disarm: Int32 = -1
        let pid = descriptors.withUnsafeBufferPointer { clinux_guardian_spawn($0.baseAddress, Int32($0.count), &disarm) }
        guard pid > 0 else { throw SystemError(path: "(fork)", operation: "start the freeze guardian", errno: errno) }
        return FreezeGuardian(pid: pid, disarmFD: disarm)
    }

    /// Everything is thawed: the guardian exits without thawing, and is reaped.
    func disarm() {
        _ = clinux_guardian_disarm(pid, disarmFD)
    }
}
