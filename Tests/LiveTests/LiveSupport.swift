import Foundation
import JSONSchemaCheck
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Shared plumbing for tests that need root and real devices: they skip, with the reason,
/// where they cannot run, and clean up what they create even when they fail.
enum Live {
    static var isRoot: Bool { geteuid() == 0 }
    static var hasLoop: Bool { isRoot && FileManager.default.fileExists(atPath: "/dev/loop-control") }
    /// The kernel's dm (its misc device is registered, /sys/class/misc/device-mapper), not only
    /// a /dev/mapper/control node: libdevmapper creates that node wherever a dm tool runs, even
    /// on a kernel without dm, and the VM suites must not then run on the host.
    static var hasDeviceMapper: Bool {
        isRoot && FileManager.default.fileExists(atPath: "/dev/mapper/control") && FileManager.default.fileExists(atPath: "/sys/class/misc/device-mapper")
    }
    static var hasPmem: Bool { FileManager.default.fileExists(atPath: "/sys/bus/nd/devices") }
    /// Inside the test VM (Tests/VM/guest.sh sets DMSTACK_VM).
    static var inVM: Bool { ProcessInfo.processInfo.environment["DMSTACK_VM"] == "1" }

    struct CommandError: Error, CustomStringConvertible {
        var command: String, status: Int32, output: String
        var description: String { "`\(command)` exited \(status): \(output)" }
    }

    /// Runs a shell command, returning stdout; throws with stderr on failure.
    @discardableResult
    static func sh(_ command: String) throws -> String {
        let result = try TestProcess.shell(command)
        guard result.status == 0 else {
            throw CommandError(command: command, status: result.status, output: result.stderr + result.stdout)
        }
        return result.stdout
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The dmstack under test: `DMSTACK_BIN` when set (the test VM runs a copy on its tmpfs,
    /// Tests/VM/guest.sh: executing it from the 9p root costs ~0.7 s a run under TCG), else
    /// the one built beside the test binary.
    static var dmstack: String {
        if let bin = ProcessInfo.processInfo.environment["DMSTACK_BIN"], FileManager.default.isExecutableFile(atPath: bin) { return bin }
        let beside = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent().appendingPathComponent("dmstack")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside.path }
        return packageRoot.appendingPathComponent(".build/debug/dmstack").path
    }

    /// `dmstack ARGS` parsed as JSON, checked against its schema in docs/json.
    static func json(_ arguments: String) throws -> [String: Any] {
        try document(try sh("\(dmstack) \(arguments)"))
    }

    /// A JSON document dmstack printed (or a sink received), checked against its schema in
    /// docs/json: every test reading dmstack's JSON also checks its documentation.
    static func document(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let (value, problems) = JSONSchemaCheck.parse(text)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))", sourceLocation: sourceLocation)
        return try #require(value as? [String: Any], sourceLocation: sourceLocation)
    }

    /// A loop device over a sparse file, detached (and its file removed) by `cleanup`.
    static func loop(size: String, partitioned: Bool = false, cleanup: inout [String]) throws -> String {
        let file = try sh("mktemp /tmp/dmstack-test-XXXXXX.img").trimmingCharacters(in: .whitespacesAndNewlines)
        cleanup.append("rm -f \(file)")
        try sh("truncate -s \(size) \(file)")
        let dev = try sh("losetup -f --show \(partitioned ? "-P " : "")\(file)").trimmingCharacters(in: .whitespacesAndNewlines)
        cleanup.append("losetup -d \(dev)")
        return dev
    }

    /// capture, then each `dmstack` command live and with --snapshot: byte-identical output.
    /// The live output is taken before and after the capture, so a machine that changed
    /// meanwhile (a loop device of an earlier test still being released) retries instead of
    /// comparing moving targets.
    /// `text` with where the kernel rules came from made the live machine's: offline, the
    /// same rules are chosen from the kernel the snapshot recorded, and simulate says so
    /// (`kernel_rules.source`); every other byte must be the same.
    static func asLive(_ text: String) -> String {
        text.replacingOccurrences(of: "from the kernel recorded in the snapshot", with: "from the running kernel")
            .replacingOccurrences(of: "\"source\" : \"snapshot\"", with: "\"source\" : \"running\"")
            .replacingOccurrences(of: "\"source\":\"snapshot\"", with: "\"source\":\"running\"")
    }

    static func expectSnapshotIdentical(_ commands: [String]) throws {
        let file = try sh("mktemp /tmp/dmstack-snap-XXXXXX.json").trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? sh("rm -f \(file)") }
        for _ in 1...3 {
            let before = try commands.map { try sh("\(dmstack) \($0)") }
            try sh("\(dmstack) capture -o \(file)")
            let offline = try commands.map { asLive(try sh("\(dmstack) \($0) --snapshot \(file)")) }
            let after = try commands.map { try sh("\(dmstack) \($0)") }
            guard before == after else { try sh("sleep 2"); continue }
            for (i, c) in commands.enumerated() { #expect(offline[i] == after[i], "\(c): live and --snapshot differ") }
            return
        }
        Issue.record("the system kept changing while capturing; live output never settled")
    }

    /// `mktemp [-d] TEMPLATE`, removed by `cleanup` (a directory with rmdir, so a test that
    /// left a mount on it fails loudly, unless `recursive`).
    static func temporary(_ template: String, directory: Bool = true, recursive: Bool = false, cleanup: inout [String]) throws -> String {
        let path = try sh("mktemp \(directory ? "-d " : "")\(template)").trimmed
        cleanup.append(directory && !recursive ? "rmdir \(path)" : "rm -rf \(path)")
        return path
    }

    /// python3 mapping `file` (one page touched), writing `signal` to `out` on SIGTERM; its pid.
    static func mapper(_ file: String, out: String, cleanup: inout [String]) throws -> Int32 {
        // Its output is the test runner's, so a Python traceback shows.
        let p = try TestProcess.start("/usr/bin/env", ["python3", "-c", """
            import mmap, signal, sys, time
            f = open('\(file)', 'rb'); m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ); m[4096]
            def on(s, _): open('\(out)', 'w').write(signal.Signals(s).name); sys.exit(0)
            signal.signal(signal.SIGTERM, on); signal.signal(signal.SIGBUS, on)
            # The test runner blocks SIGTERM; its children inherit the mask.
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGBUS])
            open('\(out).ready', 'w').close()
            while True: time.sleep(0.1)
            """], inheritOutput: true)
        cleanup.append("kill -KILL \(p.processIdentifier) 2>/dev/null || true")
        var waited = 0
        while !FileManager.default.fileExists(atPath: "\(out).ready") && waited < 100 { usleep(100_000); waited += 1 }
        return p.processIdentifier
    }

    /// Runs cleanup commands last-first, ignoring failures.
    static func clean(_ commands: [String]) {
        for c in commands.reversed() { _ = try? sh(c) }
    }
}

extension String {
    /// Without the blanks and newlines around it (a command's one-line output).
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
