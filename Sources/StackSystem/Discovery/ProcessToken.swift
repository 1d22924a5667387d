#if canImport(Glibc)
import Glibc
#endif

/// A process named so that its pid cannot be mistaken for a later process's: `pid:start`,
/// the start time in clock ticks since boot (/proc/PID/stat field 22, proc(5)).
public enum ProcessToken {
    public static var current: String { "\(getpid()):\(startTime(getpid()) ?? 0)" }

    /// The token of another process, nil if it does not run.
    public static func of(_ pid: pid_t) -> String? { startTime(pid).map { "\(pid):\($0)" } }

    static func startTime(_ pid: pid_t) -> UInt64? {
        guard let bytes = try? SectorReader.contents(of: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        // The command (field 2) is in parentheses and may hold anything: count after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 is fields[19].
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// Whether the process of `token` still runs (same pid, same start time).
    public static func isAlive(_ token: String) -> Bool {
        let parts = token.split(separator: ":")
        guard parts.count == 2, let pid = pid_t(parts[0]), let start = UInt64(parts[1]) else { return false }
        return startTime(pid) == start
    }
}
