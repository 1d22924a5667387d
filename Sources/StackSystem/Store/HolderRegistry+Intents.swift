import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A change (`apply` or `teardown`) that was written down before it started and has not been
/// marked finished: either it is running now, or it was killed (SIGKILL, a power cut, the OOM
/// killer) after `done` of its steps. `list` shows it; the next `apply` of the same spec
/// converges to the full stack and `teardown` removes what is there.
public struct ChangeIntent: Sendable, Hashable, Codable {
    public var stack: String
    public var command: String
    public var startedAt: String
    /// Every step of the plan, as `apply --dry-run` prints it.
    public var steps: [String]
    /// How many of them were done (and recorded) when it stopped.
    public var done: Int
    /// The process that made the change; it is still running only while `running` is true.
    public var pid: Int32
    /// Whether that process still runs (a recycled pid may make this true wrongly, never false).
    public var running: Bool

    /// The step it stopped after ("none" before the first), and the one it did not finish.
    public var lastDone: String? { done > 0 && done <= steps.count ? steps[done - 1] : nil }
    public var next: String? { done < steps.count ? steps[done] : nil }
}

extension HolderRegistry {
    /// Writes down that `command` is about to carry out `steps` on `stack` (replacing an older
    /// intent of the stack, which this change supersedes). It is committed before the first
    /// step, so a kill at any later point leaves it behind.
    public func beginChange(stack: String, command: String, steps: [String], at: String) throws(RegistryError) {
        try using {
            let json = String(decoding: try JSONEncoder().encode(steps), as: UTF8.self)
            try db.query("""
                INSERT INTO intents (stack, command, started_at, steps, done, pid) VALUES (?, ?, ?, ?, 0, ?)
                ON CONFLICT (stack) DO UPDATE SET command = excluded.command, started_at = excluded.started_at,
                    steps = excluded.steps, done = 0, pid = excluded.pid
                """, [.text(stack), .text(command), .text(at), .text(json), .integer(Int64(getpid()))])
        }
    }

    /// Records that the first `done` steps of the stack's change are done.
    public func changeProgress(stack: String, done: Int) throws(RegistryError) {
        try using { try db.query("UPDATE intents SET done = ? WHERE stack = ?", [.integer(Int64(done)), .text(stack)]) }
    }

    /// The change finished (or failed and was rolled back): nothing is left half-done.
    public func endChange(stack: String) throws(RegistryError) {
        try using { try db.query("DELETE FROM intents WHERE stack = ?", [.text(stack)]) }
    }

    /// Every change written down and not finished, by stack.
    public func unfinishedChanges() throws(RegistryError) -> [ChangeIntent] {
        try using {
            try db.rows("SELECT stack, command, started_at, steps, done, pid FROM intents ORDER BY stack") { row in
                let steps = (try? JSONDecoder().decode([String].self, from: Data((row.text(3) ?? "[]").utf8))) ?? []
                let pid = Int32(truncatingIfNeeded: row.integer(5))
                return ChangeIntent(stack: row.text(0) ?? "", command: row.text(1) ?? "", startedAt: row.text(2) ?? "",
                                    steps: steps, done: row.integer(4), pid: pid,
                                    running: pid > 0 && pid != getpid() && kill(pid, 0) == 0)
            }
        }
    }
}
