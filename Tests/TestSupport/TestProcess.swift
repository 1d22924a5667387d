import Foundation

/// Programs run by tests: the CLI tests' `dmstack` against fixtures, the live tests' shell
/// commands, and the background processes live tests signal or kill.
public enum TestProcess {
    /// How a program that ran to its end went.
    public struct Result: Sendable, Hashable {
        public var status: Int32
        public var stdout: String
        public var stderr: String

        public init(status: Int32, stdout: String, stderr: String) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    /// Runs `executable` with `arguments` (in `directory`, else the current one) and waits for
    /// it: its exit status and everything it wrote to stdout and stderr. The two pipes are
    /// drained at once, so a program that fills one while the other is read does not stall.
    public static func run(_ executable: URL, _ arguments: [String], directory: URL? = nil) throws -> Result {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        if let directory { p.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let stderr = Drained(err.fileHandleForReading)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = stderr.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// `/bin/sh -c command`, waited for.
    public static func shell(_ command: String, directory: URL? = nil) throws -> Result {
        try run(URL(fileURLWithPath: "/bin/sh"), ["-c", command], directory: directory)
    }

    /// Starts `executable` in the background and returns at once, for a test that signals,
    /// kills or waits for it itself. Started directly, not through a shell whose output pipe
    /// it would inherit; stdin, stdout and stderr are /dev/null unless `inheritOutput`
    /// (then stdin, stdout and stderr are the test runner's).
    public static func start(_ executable: String, _ arguments: [String], directory: String? = nil,
                             inheritOutput: Bool = false) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if !inheritOutput {
            p.standardInput = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
        }
        try p.run()
        return p
    }

    /// A pipe read to its end on a thread of its own.
    final class Drained: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        // Written once by the reading thread before `done` is signalled, read after.
        private var data = Data()

        init(_ handle: FileHandle) {
            Thread.detachNewThread { [self] in
                data = handle.readDataToEndOfFile()
                done.signal()
            }
        }

        func wait() -> Data {
            done.wait()
            return data
        }
    }
}
