import ArgumentParser
import StackEngine
import StackModel

/// The documented exit statuses: one per kind of failure, the same in every command. This
/// file is the single source of the man page's EXIT STATUS: scripts/gen-docs.sh prints each
/// case's doc comment as its entry there (plain text, one paragraph), and `summary` is the
/// short form in `dmstack --help`.
enum ExitStatus: Int32, CaseIterable {
    /// Success. An empty result is a success too: with --json an empty list, with
    /// --noheadings or --raw nothing on standard output.
    case success = 0
    /// A run-time failure: a device or holder that does not exist on this system, a kernel,
    /// I/O or permission error, an input file (snapshot, spec, table, metadata dump,
    /// configuration) that does not exist or cannot be read, a step of remove or teardown
    /// that failed (what was done before it is said; frozen filesystems are thawed).
    case failure = 1
    /// Partial success: some of the work was done, some not, or the answer is incomplete.
    /// apply built the volumes but could not register their holders, or a rollback left
    /// something behind; events retry and events test left deliveries in the outbox;
    /// simulate, remove and monitor --once gave an incomplete answer: some filesystem's
    /// owners or some layer's outcome is unknown (reverse map unreadable or not in the
    /// snapshot, owners not reported, a dynamic layer's metadata missing or unreadable,
    /// permission), said by UNKNOWN lines in the text and unknown entries with a reason code
    /// in the JSON; translate gave rows of unknown outcome (each with a reason_code in the
    /// JSON, one line on stderr); everything known is still printed, and remove still goes on.
    case partial = 2
    /// Refused for safety, nothing changed: a device not created by dmstack (uuid prefix
    /// DMSTACK-) without --force, a member or volume in use (the holder is named), a change
    /// apply cannot make in place, remove without a terminal to confirm on and without --yes,
    /// or with its own outbox or output on a filesystem it would freeze.
    case refused = 3
    /// Usage error: an unknown option or subcommand, a missing or malformed argument or
    /// column name, a negative number, a range that is malformed or outside the device, a
    /// device argument that is not in the stack (the same in translate, simulate, show and
    /// tree). The message is followed by a line pointing to the command's --help when the
    /// command line itself could not be read.
    case usage = 64
    /// Malformed input file: a table, spec, snapshot, configuration or metadata dump that
    /// was read but is not valid as one, including a table set or device graph with a cycle
    /// (the message names the file and, where it can, the line or the first bad element).
    case dataError = 65

    /// The short form in `dmstack --help` (`64 usage error`).
    var summary: String {
        switch self {
        case .success: "success"
        case .failure: "runtime failure (also a missing or unreadable input file)"
        case .partial: "partial success"
        case .refused: "refused for safety"
        case .usage: "usage error (bad arguments, range or column)"
        case .dataError: "malformed input file (table, spec, snapshot, dump, config)"
        }
    }

    /// Every status with its summary, for `dmstack --help`.
    static var helpText: String {
        "Exit status: " + allCases.map { "\($0.rawValue) \($0.summary)" }.joined(separator: ", ") + "; see the man page's EXIT STATUS."
    }
}

extension ExitStatus {
    /// The status an engine or use-case failure documents.
    init(_ kind: EngineError.Kind) {
        self = switch kind {
        case .usage: .usage
        case .dataError: .dataError
        case .refused: .refused
        case .failure: .failure
        case .partial: .partial
        }
    }
}

/// An error that ends the command with a one-line message on stderr and a documented status.
struct CommandFailure: Error, CustomStringConvertible {
    var status: ExitStatus
    var message: String
    var description: String { message }
}

extension ParsableCommand {
    /// Runs `body`, turning a `CommandFailure` into its message on stderr and its exit status.
    func reportingFailures(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as CommandFailure {
            var stderr = StandardError()
            print("dmstack: \(failure.message)", to: &stderr)
            throw ExitCode(failure.status.rawValue)
        } catch let error as EngineError {
            var stderr = StandardError()
            print("dmstack: \(error.message)", to: &stderr)
            throw ExitCode(ExitStatus(error.kind).rawValue)
        }
    }
}

extension ParsableCommand {
    /// As above, for a body that ends with a status of its own (0 or 2, say): a status other
    /// than success ends the command with it.
    func reportingStatus(_ body: () throws -> ExitStatus) throws {
        var status = ExitStatus.success
        try reportingFailures { status = try body() }
        if status != .success { throw ExitCode(status.rawValue) }
    }
}

/// How a failure that reached `main` is told: ArgumentParser's own errors (an unknown option,
/// a missing argument, a `validate()` refusal) and any error a command let through become
/// `dmstack: MESSAGE` on one line, a usage error with a second line naming the command's
/// --help, as coreutils and lvm do, instead of ArgumentParser's `Error:` and usage block.
enum MainFailure {
    /// The lines for stderr and the status, or nil when ArgumentParser's own handling is
    /// right: help, version, completion scripts and an `ExitCode` a command already explained.
    static func lines(for error: Error, root: Dmstack.Type) -> (text: String, status: Int32)? {
        if error is ExitCode { return nil }
        let code = root.exitCode(for: error)
        if code == .success { return nil }
        let message = root.message(for: error).split(whereSeparator: \.isNewline).map { String($0).trimmed(" ") }.filter { !$0.isEmpty }.joined(separator: "; ")
        guard code == .validationFailure else { return ("dmstack: \(message)", ExitStatus.failure.rawValue) }
        // ArgumentParser's full message ends `  See 'dmstack translate --help' for more information.`
        let full = root.fullMessage(for: error, columns: 10_000)
        var help = "dmstack --help"
        if let line = full.split(separator: "\n").last(where: { String($0).trimmed(" ").hasPrefix("See '") }) {
            let quoted = line.split(separator: "'", omittingEmptySubsequences: false)
            if quoted.count >= 3 { help = String(quoted[1]) }
        }
        return ("dmstack: \(message)\nTry '\(help)' for more information.", ExitStatus.usage.rawValue)
    }
}
