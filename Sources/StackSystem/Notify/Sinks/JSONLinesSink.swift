import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// `type: jsonl`: one JSON object per line, appended to a file (fsync'd) or written to stdout
/// (no `path`, or `path: -`); what a log shipper or a script reads.
public struct JSONLinesSink: NotificationSink {
    public static let type = "jsonl"
    /// The file appended to; nil is stdout.
    public var path: String?

    public init(path: String?) {
        self.path = path
    }

    public static func decode(_ map: inout SpecMap) throws(SpecError) -> JSONLinesSink {
        let path = try map.string("path")
        return JSONLinesSink(path: path == "-" ? nil : path)
    }

    public var writtenFiles: [String] { path.map { [$0] } ?? [] }

    /// One line per event, appended with a single write(2) on an O_APPEND file and fsync'd
    /// before it counts as delivered; stdout is written as it is.
    public func deliver(_ event: NotificationEvent, payload: String, attempt: Int, sink: String) -> SinkOutcome {
        let bytes = Array((payload + "\n").utf8)
        do {
            let fd = try path.map { (path) throws(SystemError) in try Syscall.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode: 0o600) } ?? 1
            defer { if path != nil { Syscall.close(fd) } }
            try Syscall.writeAll(fd, bytes, path: path ?? "stdout")
            if let path { try Syscall.fsync(fd, path: path, operation: "fsync") }
        } catch {
            return SinkOutcome(delivered: false, detail: error.description)
        }
        return SinkOutcome(delivered: true)
    }
}
