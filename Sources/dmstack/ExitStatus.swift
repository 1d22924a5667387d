import ArgumentParser
import StackEngine

/// The documented exit statuses (see `dmstack --help` and the man page's EXIT STATUS).
enum ExitStatus: Int32 {
    case success = 0
    /// Something failed at run time: a device missing, an I/O or kernel error.
    case failure = 1
    /// Some devices were handled, some failed.
    case partial = 2
    /// Refused for safety: a device not owned by dmstack, no confirmation.
    case refused = 3
    /// Bad arguments or a malformed range (EX_USAGE, as swift-argument-parser uses).
    case usage = 64
    /// A malformed input file: table, spec or snapshot (EX_DATAERR).
    case dataError = 65
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
