import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// The process's own streams and surroundings, for the CLI: whether a stream is a terminal
/// (progress and confirmation only there), writes to standard error that survive a short
/// write, the output flushed per event line, the host name and the environment.
public enum Terminal {
    /// Whether `descriptor` (0 stdin, 1 stdout, 2 stderr) is a terminal.
    public static func isTerminal(_ descriptor: Int32) -> Bool { isatty(descriptor) == 1 }

    /// The width of the terminal on `descriptor`, nil when it is not one or does not say.
    public static func width(_ descriptor: Int32) -> Int? {
        var size = winsize()
        guard ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// Whether text may use UTF-8: the character set of the locale as setlocale(3) would
    /// choose it (LC_ALL, else LC_CTYPE, else LANG; unset is the C locale, which is ASCII),
    /// the same variables lsblk's nl_langinfo(CODESET) reflects.
    public static var localeIsUTF8: Bool {
        let name = ["LC_ALL", "LC_CTYPE", "LANG"].lazy.compactMap { environment($0) }.first { !$0.isEmpty } ?? "C"
        let lower = name.lowercased()
        return lower.contains("utf-8") || lower.contains("utf8")
    }

    /// Writes all of `string` to standard error, stopping quietly if it is closed.
    public static func writeStandardError(_ string: String) {
        // Through the seam: EINTR is retried there; any other failure has nowhere to be told.
        try? Syscall.writeAll(2, Array(string.utf8), path: "standard error")
    }

    /// Flushes standard output: a line per event as it happens, also into a pipe or a file.
    public static func flushOutput() { fflush(nil) }

    /// Gives the heap's free pages back to the kernel (malloc_trim(3)): a process that runs
    /// for months (`monitor`) calls it after each pass, so that its resident memory is what it
    /// holds, not the high-water mark of its largest pass.
    public static func releaseFreeMemory() { _ = clinux_malloc_trim() }

    /// Bytes of the heap in use (mallinfo2(3)): allocated and not yet freed.
    public static var heapInUse: Int { Int(clinux_heap_in_use()) }

    /// An environment variable, nil when unset.
    public static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    /// The local host name, for events ("localhost" if it cannot be read).
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(filledBuffer: buffer)
    }

    /// This process's id, for a key that must be new each time.
    public static var processID: Int32 { getpid() }
}
