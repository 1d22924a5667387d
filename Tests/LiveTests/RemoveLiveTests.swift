import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `dmstack remove` on a loop device under a mounted XFS (no dm on the host; the VM runs the
/// dm stacks): the safe order end to end with a process mapping a file, the refusals, and a
/// stop in the middle that thaws. Root and loop devices; host and VM.
@Suite("Live: remove", .serialized, .enabled(if: Live.hasLoop, "needs root and /dev/loop-control"))
struct RemoveLiveTests {
    /// An XFS on a new loop device, mounted, with two files; a state dir and config whose JSON
    /// lines go to `events.jsonl` (all outside the filesystem).
    func setUp(_ cleanup: inout [String]) throws -> (loop: String, mnt: String, dir: String, options: String) {
        let dir = try Live.temporary("/tmp/dmstack-remove-XXXXXX", recursive: true, cleanup: &cleanup)
        let loop = try Live.loop(size: "400M", cleanup: &cleanup)
        let mnt = "\(dir)/mnt"
        try Live.sh("mkdir \(mnt) && mkfs.xfs -q -f -m rmapbt=1,reflink=1 \(loop) && mount \(loop) \(mnt)")
        cleanup.append("umount \(mnt)")
        try Live.sh("head -c 1048576 /dev/urandom > \(mnt)/mapped && head -c 65536 /dev/urandom > \(mnt)/other && sync")
        try "sinks:\n  - {type: jsonl, path: \(dir)/events.jsonl}\n".write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        return (loop, mnt, dir, "--config \(dir)/config.yaml --state-dir \(dir)/state")
    }

    func failing(_ arguments: String) -> (Int32, String) {
        do { _ = try Live.sh("\(Live.dmstack) \(arguments) </dev/null"); return (0, "") } catch let e as Live.CommandError {
            return (e.status, e.output)
        } catch { return (-1, "\(error)") }
    }

    @Test(arguments: ["term", "bus"])
    func removesInTheSafeOrderAndSignalsTheMapper(kill: String) throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (loop, mnt, dir, options) = try setUp(&cleanup)
        let name = String(loop.dropFirst(5))
        let pid = try Live.mapper("\(mnt)/mapped", out: "\(dir)/signal", cleanup: &cleanup)
        // Dry run: the plan, nothing changed, nothing sent.
        let dry = try Live.json("remove \(name) --dry-run --json \(options)")["remove"] as! [String: Any]
        let plan = dry["plan"] as! [String: Any]
        #expect(plan["freeze"] as? [String] == [mnt] && plan["unmount"] as? [String] == [mnt])
        #expect((plan["processes"] as! [[String: Any]]).map { $0["pid"] as? Int } == [Int(pid)])
        #expect(dry["detach"] as? String == "detach \(loop)")
        #expect((dry["steps"] as? [Any])?.isEmpty == true && dry["event"] == nil)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/events.jsonl"))
        // No terminal and no --yes: refused, nothing changed.
        let (status, message) = failing("remove \(name) \(options)")
        #expect(status == 3 && message.contains("dmstack: remove \(name) refused: no terminal to confirm on; --yes"))
        #expect(try Live.sh("findmnt -n -o SOURCE \(mnt)").trimmed == loop)

        let report = try Live.json("remove \(name) --yes --kill \(kill) --json \(options)")["remove"] as! [String: Any]
        let steps = (report["steps"] as! [[String: Any]]).map { "\($0["step"]!) \($0["outcome"]!)" }
        #expect(steps == ["freeze done", "dispatch done", "signal done", "invalidate done", "thaw done", "unmount done", "detach done"])
        #expect(report["stopped_at"] == nil)
        // The process got the signal, the filesystem is gone, the loop device detached.
        var waited = 0
        while !FileManager.default.fileExists(atPath: "\(dir)/signal") && waited < 50 { usleep(100_000); waited += 1 }
        #expect(try String(contentsOfFile: "\(dir)/signal", encoding: .utf8) == "SIG\(kill.uppercased())")
        #expect((try? Live.sh("findmnt -n \(mnt)")) == nil)
        #expect(try Live.sh("losetup -n -O BACK-FILE \(loop) 2>/dev/null || true").trimmed.isEmpty)
        // The event was delivered, naming the mapped file and the pid, with its key.
        let line = try String(contentsOfFile: "\(dir)/events.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(line.count == 1)
        let event = try Live.document(String(line[0]))
        #expect(event["key"] as? String == report["event"] as? String && event["kind"] as? String == "remove" && event["severity"] as? String == "critical")
        let fs = (event["filesystems"] as! [[String: Any]])[0]
        #expect((fs["files"] as! [String]).contains("\(mnt)/mapped"))
        #expect((fs["processes"] as! [[String: Any]]).contains { $0["pid"] as? Int == Int(pid) })
        let outbox = try Live.json("events list --json --state-dir \(dir)/state")["events"] as! [[String: Any]]
        #expect(outbox.count == 1 && (outbox[0]["deliveries"] as! [[String: Any]])[0]["state"] as? String == "delivered")
    }

    @Test func aStepThatFailsStopsAndThaws() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (loop, mnt, dir, options) = try setUp(&cleanup)
        let name = String(loop.dropFirst(5))
        let pid = try Live.mapper("\(mnt)/mapped", out: "\(dir)/signal", cleanup: &cleanup)
        // --kill none: the mapper keeps the filesystem busy, the unmount fails after --wait.
        let (status, message) = failing("remove \(name) --yes --kill none --wait 1 \(options)")
        #expect(status == 1)
        #expect(message.contains("dmstack: remove \(name) stopped at unmount \(mnt): Device or resource busy; still used by "))
        #expect(message.contains("pid \(pid)"))
        // Thawed and still mounted: a write goes through at once; the process was not signalled.
        try Live.sh("timeout 10 sh -c 'echo x > \(mnt)/after && sync'")
        #expect(try Live.sh("findmnt -n -o SOURCE \(mnt)").trimmed == loop)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/signal"))
        #expect(kill(pid, 0) == 0)
    }

    /// SIGKILL while frozen (DMSTACK_FAULT=pause-frozen holds `remove` there, its event in the
    /// outbox): the guardian thaws the filesystem, so a writer that blocked on the freeze goes
    /// through, and the event is still in the outbox for `events retry`.
    @Test func aKilledRemovalLeavesNothingFrozen() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (loop, mnt, dir, options) = try setUp(&cleanup)
        let name = String(loop.dropFirst(5))
        let remove = try TestProcess.start("/bin/sh", ["-c", "DMSTACK_FAULT=pause-frozen exec \(Live.dmstack) remove \(name) --yes --kill none \(options) </dev/null >\(dir)/out 2>\(dir)/err"])
        cleanup.append("kill -KILL \(remove.processIdentifier) 2>/dev/null || true")
        func poll(_ what: () -> Bool) -> Bool {
            for _ in 0..<600 where !what() { usleep(50_000) }
            return what()
        }
        let paused = poll { ((try? String(contentsOfFile: "\(dir)/err", encoding: .utf8)) ?? "").contains("DMSTACK_FAULT=pause-frozen: frozen") }
        try #require(paused, "remove never reached the frozen pause: \((try? String(contentsOfFile: "\(dir)/err", encoding: .utf8)) ?? "")")
        // A writer blocks on the frozen filesystem (uninterruptible sleep in sb_start_write).
        let writer = try TestProcess.start("/bin/sh", ["-c", "echo written > \(mnt)/after"])
        cleanup.append("kill -KILL \(writer.processIdentifier) 2>/dev/null || true")
        func state(_ pid: Int32) -> Character? {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
            return stat[stat.index(close, offsetBy: 2)...].first
        }
        #expect(poll { state(writer.processIdentifier) == "D" }, "the writer never blocked: the filesystem was not frozen")
        #expect(writer.isRunning)

        let killed = Date()
        #expect(kill(remove.processIdentifier, SIGKILL) == 0)
        #expect(poll { !writer.isRunning }, "still frozen 30 s after the SIGKILL")
        let seconds = Date().timeIntervalSince(killed)
        // The figure is printed, not asserted (no timing assertions: a busy 2-core machine
        // is slow); the poll's 30 s is the bound on a filesystem left frozen.
        print("remove SIGKILLed while frozen: the blocked writer went through \(String(format: "%.3f", seconds)) s later")
        writer.waitUntilExit()
        #expect(writer.terminationStatus == 0)
        #expect(try String(contentsOfFile: "\(mnt)/after", encoding: .utf8) == "written\n")
        // The event stayed in the outbox; the filesystem is still mounted, and nothing of the
        // guardian holds it (it unmounts).
        let outbox = try Live.json("events list --json --state-dir \(dir)/state")["events"] as! [[String: Any]]
        #expect(outbox.count == 1 && outbox.first?["kind"] as? String == "remove")
        #expect(try Live.sh("findmnt -n -o SOURCE \(mnt)").trimmed == loop)
        try Live.sh("umount \(mnt)")
    }

    @Test func refusals() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (loop, mnt, dir, _) = try setUp(&cleanup)
        let name = String(loop.dropFirst(5))
        // The outbox on the filesystem the removal would freeze: refused before anything.
        var (status, message) = failing("remove \(name) --yes --config \(dir)/config.yaml --state-dir \(mnt)/state")
        #expect(status == 3 && message == "dmstack: remove \(name) refused: \(mnt)/state is on \(mnt), which the removal freezes; move it (--state-dir, the configuration) off that filesystem\n")
        (status, message) = failing("remove nosuchdevice --dry-run")
        #expect(status == 64 && message.hasPrefix("dmstack: ") && message.split(separator: "\n").count == 1)
        (status, message) = failing("remove \(name) --kill hup --dry-run")
        #expect(status == 64)
        // A configuration every user may write (issue 18 point 6): refused, 65, naming it,
        // before anything is frozen or signalled; its hook never runs.
        try "sinks:\n  - type: exec\n    argv: [\"/bin/sh\", \"-c\", \"id > \(dir)/owned\"]\n".write(toFile: "\(dir)/open.yaml", atomically: true, encoding: .utf8)
        chmod("\(dir)/open.yaml", 0o666)
        (status, message) = failing("remove \(name) --yes --config \(dir)/open.yaml --state-dir \(dir)/state")
        #expect(status == 65 && message.hasPrefix("dmstack: notification configuration \(dir)/open.yaml is writable by every user (mode 0666") && message.split(separator: "\n").count == 1, "\(message)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/owned"))
        #expect(try Live.sh("findmnt -n -o SOURCE \(mnt)").trimmed == loop)
        #expect(try Live.sh("touch \(mnt)/writable && echo ok").trimmed == "ok", "the filesystem was left frozen")
    }
    /// Issue 18 point 1 for remove: a filesystem whose owners dmstack cannot learn (squashfs:
    /// no GETFSMAP, no FIEMAP, no freeze) is still taken away (the device goes either way), but the
    /// answer says UNKNOWN, the JSON carries the unknown lines, the event is delivered with
    /// them, and the status is 2, never 0 as if nothing were lost.
    /// mksquashfs comes with `scripts/setup.sh test` (squashfs-tools).
    @Test func aRemovalWhoseOwnersAreUnknownIsPartial() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let dir = try Live.temporary("/tmp/dmstack-remove-XXXXXX", recursive: true, cleanup: &cleanup)
        try Live.sh("mkdir \(dir)/src \(dir)/mnt && head -c 65536 /dev/urandom > \(dir)/src/data && mksquashfs \(dir)/src \(dir)/sq.img -noappend -quiet >/dev/null && truncate -s 4M \(dir)/sq.img")
        let loop = try Live.sh("losetup -f --show \(dir)/sq.img").trimmed
        cleanup.append("losetup -d \(loop) 2>/dev/null || true")
        try Live.sh("mount -t squashfs -o ro \(loop) \(dir)/mnt"); cleanup.append("umount \(dir)/mnt 2>/dev/null || true")
        try "sinks:\n  - {type: jsonl, path: \(dir)/events.jsonl}\n".write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        let name = String(loop.dropFirst(5))
        let run = try TestProcess.shell("\(Live.dmstack) remove \(name) --yes --kill none --json --config \(dir)/config.yaml --state-dir \(dir)/state </dev/null")
        #expect(run.status == 2, "\(run.stderr)")
        let report = try Live.document(run.stdout)["remove"] as! [String: Any]
        let unknown = report["unknown"] as? [String] ?? []
        #expect(unknown.count == 1 && unknown[0].contains("\(dir)/mnt") && unknown[0].contains("[owner-not-reported]"), "\(unknown)")
        let steps = (report["steps"] as! [[String: Any]]).map { "\($0["step"]!) \($0["outcome"]!)" }
        // squashfs has no freeze_fs: FIFREEZE says EOPNOTSUPP, the freeze is skipped (said),
        // and the removal goes on; nothing is thawed that was not frozen.
        #expect(steps == ["freeze skipped", "dispatch done", "unmount done", "detach done"] && report["stopped_at"] == nil, "\(steps)")
        #expect((try? Live.sh("findmnt -n \(dir)/mnt")) == nil)
        let line = try String(contentsOfFile: "\(dir)/events.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(line.count == 1 && line[0].contains("UNKNOWN"), "\(line)")
    }
}
