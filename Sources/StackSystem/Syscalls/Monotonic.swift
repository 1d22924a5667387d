#if canImport(Glibc)
import Glibc
#endif

/// CLOCK_MONOTONIC, the one clock for deadlines and timings (hook timeouts, unmount retries,
/// the monitor's waits, simulate's DMSTACK_TIMING): wall-clock steps do not move it.
public enum Monotonic {
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    public static func seconds() -> Double { Double(nanoseconds()) / 1e9 }
}
