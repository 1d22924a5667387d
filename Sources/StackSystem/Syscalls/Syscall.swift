#if canImport(Glibc)
import Glibc
#endif

/// The system calls StackSystem makes on files and devices, in one place (swift-system's
/// Internals/Syscalls.swift): each wrapper retries EINTR here and nowhere else (a signal
/// whose handler was installed without SA_RESTART, or a stop and continue, interrupts a slow
/// call), and a failure is a `SystemError` naming the operation and the path, so no caller
/// reads errno or formats strerror itself. Descriptors stay plain `Int32`s inside the module.
public enum Syscall {
    #if DEBUG
    /// A test hook (swift-system's mocking driver): asked before every attempt of a call with
    /// the call's name ("open", "read", "ioctl"...); true makes that attempt fail with EINTR
    /// without reaching the kernel. Scoped with `$interrupt.withValue`, so tests running in
    /// parallel do not see each other's hook; debug builds only.
    @TaskLocal static var interrupt: (@Sendable (String) -> Bool)?
    #endif

    /// Runs `call` until it does not fail with EINTR, the one retry loop of the module; a
    /// negative result is the failure, thrown with errno. `name` is what the test hook sees.
    @inline(__always)
    static func retrying<Result: BinaryInteger>(_ name: String, _ operation: @autoclosure () -> String, _ path: @autoclosure () -> String,
                                                _ call: () -> Result) throws(SystemError) -> Result {
        while true {
            #if DEBUG
            if let interrupt, interrupt(name) { continue }
            #endif
            let result = call()
            if result >= 0 { return result }
            let code = Glibc.errno
            if code == EINTR { continue }
            throw SystemError(path: path(), operation: operation(), errno: code)
        }
    }

    // MARK: Opening and closing

    /// open(2); `operation` is what the error says was being done ("open for writing").
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0, operation: @autoclosure () -> String = "open") throws(SystemError) -> Int32 {
        try retrying("open", operation(), path) { Glibc.open(path, flags, mode) }
    }

    /// openat(2) of `name` relative to the directory `directory`; `path` (the whole path) is
    /// what an error names.
    public static func openat(_ directory: Int32, _ name: String, _ flags: Int32, path: @autoclosure () -> String) throws(SystemError) -> Int32 {
        try retrying("openat", "open", path()) { Glibc.openat(directory, name, flags) }
    }

    /// close(2), never retried: Linux releases the descriptor even when close reports EINTR,
    /// and a retry could close a descriptor another thread just opened (close(2), NOTES).
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    // MARK: Reading and writing

    /// read(2) into `buffer`: the bytes read, 0 at the end of the file.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: @autoclosure () -> String,
                            operation: @autoclosure () -> String = "read") throws(SystemError) -> Int {
        try retrying("read", operation(), path()) { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// pread(2) of `buffer.count` bytes at `offset`: the bytes read, fewer at the end of the file.
    public static func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: off_t, path: @autoclosure () -> String,
                             operation: @autoclosure () -> String = "read") throws(SystemError) -> Int {
        try retrying("pread", operation(), path()) { Glibc.pread(fd, buffer.baseAddress, buffer.count, offset) }
    }

    /// write(2) of `buffer`: the bytes written, perhaps fewer than asked.
    public static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: @autoclosure () -> String,
                             operation: @autoclosure () -> String = "write") throws(SystemError) -> Int {
        try retrying("write", operation(), path()) { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    /// pwrite(2) of `buffer` at `offset`: the bytes written, perhaps fewer than asked.
    public static func pwrite(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, at offset: off_t, path: @autoclosure () -> String,
                              operation: @autoclosure () -> String = "write") throws(SystemError) -> Int {
        try retrying("pwrite", operation(), path()) { Glibc.pwrite(fd, buffer.baseAddress, buffer.count, offset) }
    }

    /// write(2) of `bytes` from index `start` on: the bytes written, perhaps fewer than asked.
    public static func write(_ fd: Int32, _ bytes: [UInt8], from start: Int = 0, path: @autoclosure () -> String,
                             operation: @autoclosure () -> String = "write") throws(SystemError) -> Int {
        try bytes.withUnsafeBytes { all in
            Result { () throws(SystemError) in try write(fd, UnsafeRawBufferPointer(rebasing: all[start...]), path: path(), operation: operation()) }
        }.get()
    }

    /// pwrite(2) of all of `bytes` at `offset`: the bytes written, perhaps fewer than asked.
    public static func pwrite(_ fd: Int32, _ bytes: [UInt8], at offset: off_t, path: @autoclosure () -> String,
                              operation: @autoclosure () -> String = "write") throws(SystemError) -> Int {
        try bytes.withUnsafeBytes { all in
            Result { () throws(SystemError) in try pwrite(fd, all, at: offset, path: path(), operation: operation()) }
        }.get()
    }

    /// read(2) into `buffer` from index `start` on: the bytes read, 0 at the end of the file.
    public static func read(_ fd: Int32, into buffer: inout [UInt8], from start: Int = 0, path: @autoclosure () -> String,
                            operation: @autoclosure () -> String = "read") throws(SystemError) -> Int {
        try buffer.withUnsafeMutableBytes { all in
            Result { () throws(SystemError) in
                try read(fd, into: UnsafeMutableRawBufferPointer(rebasing: all[start...]), path: path(), operation: operation())
            }
        }.get()
    }

    /// pread(2) into `buffer` from index `start` on, at `offset`: the bytes read, fewer at the
    /// end of the file.
    public static func pread(_ fd: Int32, into buffer: inout [UInt8], from start: Int = 0, at offset: off_t, path: @autoclosure () -> String,
                             operation: @autoclosure () -> String = "read") throws(SystemError) -> Int {
        try buffer.withUnsafeMutableBytes { all in
            Result { () throws(SystemError) in
                try pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: all[start...]), at: offset, path: path(), operation: operation())
            }
        }.get()
    }

    /// write(2) until every byte of `bytes` is written; a write that takes nothing (a full
    /// device says ENOSPC instead, so this is not expected) fails as EIO rather than spinning.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: @autoclosure () -> String,
                                operation: @autoclosure () -> String = "write") throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let n = try write(fd, bytes, from: done, path: path(), operation: operation())
            guard n > 0 else { throw SystemError(path: path(), operation: operation(), errno: EIO) }
            done += n
        }
    }

    /// fsync(2): the data and metadata of `fd` on stable storage.
    public static func fsync(_ fd: Int32, path: @autoclosure () -> String, operation: @autoclosure () -> String = "sync") throws(SystemError) {
        _ = try retrying("fsync", operation(), path()) { Glibc.fsync(fd) }
    }

    // MARK: Control

    /// An ioctl(2) made by `call` (a CLinux shim such as `clinux_getfsmap`, or `Glibc.ioctl`
    /// with an integer argument): its non-negative result. `operation` names it in the error
    /// ("detach (LOOP_CLR_FD)"). Retrying is safe for the requests used here: on EINTR the
    /// kernel has changed nothing and the argument is as it was.
    public static func ioctl(_ operation: @autoclosure () -> String, path: @autoclosure () -> String, _ call: () -> Int32) throws(SystemError) -> Int32 {
        try retrying("ioctl", operation(), path(), call)
    }

    // MARK: Metadata

    /// stat(2), following links.
    public static func stat(_ path: String) throws(SystemError) -> Glibc.stat {
        var st = Glibc.stat()
        _ = try retrying("stat", "stat", path) { system_stat(path, &st) }
        return st
    }

    /// fstat(2) of an open descriptor; `path` is what an error names.
    public static func fstat(_ fd: Int32, path: @autoclosure () -> String) throws(SystemError) -> Glibc.stat {
        var st = Glibc.stat()
        _ = try retrying("fstat", "stat", path()) { Glibc.fstat(fd, &st) }
        return st
    }

    /// fstatat(2) of `name` in the directory `directory` (AT_SYMLINK_NOFOLLOW and the like in
    /// `flags`); `path` is what an error names.
    public static func fstatat(_ directory: Int32, _ name: String, flags: Int32, path: @autoclosure () -> String) throws(SystemError) -> Glibc.stat {
        var st = Glibc.stat()
        _ = try retrying("fstatat", "stat", path()) { Glibc.fstatat(directory, name, &st, flags) }
        return st
    }

    /// statvfs(3) of the filesystem holding `path`.
    public static func statvfs(_ path: String) throws(SystemError) -> Glibc.statvfs {
        var st = Glibc.statvfs()
        _ = try retrying("statvfs", "statvfs", path) { system_statvfs(path, &st) }
        return st
    }

    /// Whether `path` exists (access(2) with F_OK; a dangling symlink does not).
    public static func exists(_ path: String) -> Bool {
        Glibc.access(path, F_OK) == 0
    }

    /// realpath(3): `path` with every symlink, `.` and `..` resolved; nil if some component
    /// does not exist.
    public static func realpath(_ path: String) -> String? {
        guard let resolved = Glibc.realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// readlink(2): a symlink's target as written in the link (not resolved), as UTF-8.
    public static func readlink(_ path: String) throws(SystemError) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = try retrying("readlink", "read the link", path) { Glibc.readlink(path, &buffer, buffer.count - 1) }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Processes

    /// kill(2): `signal` to the process `pid`; the error names "pid N".
    public static func kill(_ pid: pid_t, _ signal: Int32) throws(SystemError) {
        _ = try retrying("kill", "signal", "pid \(pid)") { Glibc.kill(pid, signal) }
    }

    // MARK: Directories and names

    /// mkdir(2) with `mode` (less the umask).
    public static func mkdir(_ path: String, _ mode: mode_t) throws(SystemError) {
        _ = try retrying("mkdir", "create", path) { Glibc.mkdir(path, mode) }
    }

    /// rename(2): `from` replaces `to` in one step; the error names `to`.
    public static func rename(_ from: String, to: String) throws(SystemError) {
        _ = try retrying("rename", "replace", to) { Glibc.rename(from, to) }
    }

    /// chmod(2): the permission bits of `path`.
    public static func chmod(_ path: String, _ mode: mode_t) throws(SystemError) {
        _ = try retrying("chmod", "change the mode of", path) { Glibc.chmod(path, mode) }
    }

    // MARK: Mounts

    /// mount(2) of `source` on `target` as `type`, with MS_* `flags` and the filesystem's
    /// option string `data` (none if empty).
    public static func mount(_ source: String, on target: String, type: String, flags: UInt, data: String) throws(SystemError) {
        _ = try retrying("mount", "mount \(source) on", target) { Glibc.mount(source, target, type, flags, data.isEmpty ? nil : data) }
    }

    /// umount2(2) with no flags.
    public static func unmount(_ path: String) throws(SystemError) {
        _ = try retrying("umount2", "unmount", path) { Glibc.umount2(path, 0) }
    }
}

// stat(2) and statvfs(3) share their names with their structs, which a call inside `Syscall`
// (whose methods have the same names) cannot tell apart; at file scope Swift can.
private func system_stat(_ path: String, _ st: inout stat) -> Int32 { stat(path, &st) }
private func system_statvfs(_ path: String, _ st: inout statvfs) -> Int32 { statvfs(path, &st) }
