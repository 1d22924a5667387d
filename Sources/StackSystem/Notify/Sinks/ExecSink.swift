#if canImport(Glibc)
import Glibc
#endif
import StackModel

/// `type: exec`: a program run with `argv` (no shell), the event JSON on stdin, the key fields
/// in DMSTACK_* environment variables; killed after `timeout` seconds; exit 0 = delivered.
/// The hook for anything dmstack has no sink for (a pager, a ticket).
public struct ExecSink: NotificationSink {
    public static let type = "exec"
    public var argv: [String]
    /// Seconds before the program is killed and the attempt counts as failed.
    public var timeout: Double

    public init(argv: [String], timeout: Double) {
        self.argv = argv
        self.timeout = timeout
    }

    /// `argv` must be a YAML list: a single string would be split on commas, which no shell
    /// or reader expects (`argv: "/bin/sh -c id"` is one program name with spaces). The program
    /// must be writable only by root or the invoking user, as must the directories above it
    /// (`TrustedPath`): it runs with dmstack's privileges. A program that does not exist, or is
    /// not executable, fails the load.
    public static func decode(_ map: inout SpecMap) throws(SpecError) -> ExecSink {
        guard let node = map.node("argv") else { throw map.fail("argv", "missing (required): the program and its arguments, as a list") }
        switch node.value {
        case .sequence: break
        case .mapping: throw map.fail("argv", "expected a list (argv: [/path/to/program, arg, ...]), found a mapping")
        case .scalar: throw map.fail("argv", "expected a list (argv: [/path/to/program, arg, ...]), found one value")
        }
        guard let argv = try map.words("argv"), !argv.isEmpty else { throw map.fail("argv", "is an empty list: the program and its arguments, as a list") }
        // A program that is not there fails at load (issue 18 point 10), not at the first
        // delivery of an event months later.
        guard let file = TrustedPath.program(argv[0]), Syscall.exists(file) else {
            throw map.fail("argv", argv[0].contains("/") ? "\(argv[0]) does not exist" : "\(argv[0]) is not an executable in $PATH")
        }
        guard access(file, X_OK) == 0 else { throw map.fail("argv", "\(file) is not executable") }
        if let problem = TrustedPath.problem(with: file, what: "exec hook program") { throw map.fail("argv", problem) }
        return ExecSink(argv: argv, timeout: try map.positiveDuration("timeout") ?? 30)
    }

    /// argv as configured (no shell), the event JSON on stdin, the key fields in DMSTACK_*
    /// variables; delivered when it exits 0 within `timeout`.
    public func deliver(_ event: NotificationEvent, payload: String, attempt: Int, sink: String) -> SinkOutcome {
        // Checked again at each run: the program may have changed since the file was loaded.
        // The file checked is the file run: found in $PATH once, spawned by that path.
        guard let file = TrustedPath.program(argv[0]), Syscall.exists(file) else {
            return SinkOutcome(delivered: false, detail: "not run: \(argv[0]) " + (argv[0].contains("/") ? "does not exist" : "is not an executable in $PATH"))
        }
        if let problem = TrustedPath.problem(with: file, what: "exec hook program") { return SinkOutcome(delivered: false, detail: "not run: \(problem)") }
        let environment = Sinks.fields(event, attempt: attempt, sink: sink).map { "\($0.0)=\($0.1)" }
        let result: CommandRunner.Result
        do {
            result = try CommandRunner.run(argv, executable: file, input: Array(payload.utf8), environment: environment, timeout: timeout, keepStdout: true)
        } catch {
            return SinkOutcome(delivered: false, detail: "\(error)")
        }
        if result.timedOut {
            return SinkOutcome(delivered: false, status: Int(result.status), detail: "\(argv[0]) timed out after \(timeout) s and was killed")
        }
        let last = result.output.split(whereSeparator: \.isNewline).last.map(String.init)
        if result.status == 0 { return SinkOutcome(delivered: true, status: 0) }
        return SinkOutcome(delivered: false, status: Int(result.status), detail: "\(argv[0]) exited with status \(result.status)" + (last.map { ": \($0)" } ?? ""))
    }
}
