import Foundation
import StackSystem
import Testing

/// Whole-file inputs with a limit: a stream without a size (a character device, a pipe) stops
/// as it passes the limit, a regular file is refused from its size, `check` refuses at the
/// first bytes, and a file within the limit is read whole.
@Suite struct BoundedInputTests {
    @Test func aStreamStopsAtTheLimit() throws {
        #expect { try BoundedInput.read("/dev/zero", limit: 3 << 20, what: "the dump") } throws: { error in
            (error as? BoundedInput.Refused)?.description == "/dev/zero: the dump is larger than the limit of 3 MiB"
        }
    }

    @Test func checkRefusesAtTheFirstBytes() throws {
        #expect { try BoundedInput.read("/dev/zero", limit: 1 << 40, what: "x") { $0.first == 0 ? "zeros" : nil } } throws: { error in
            (error as? BoundedInput.Refused)?.description == "/dev/zero: zeros"
        }
    }

    @Test func aFileWithinTheLimitIsReadWhole() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bounded-\(UUID().uuidString)").path
        defer { unlink(file) }
        let bytes = (0..<300_000).map { UInt8($0 % 251) }
        #expect(FileManager.default.createFile(atPath: file, contents: Data(bytes)))
        #expect(try BoundedInput.read(file, limit: 300_000, what: "x") == bytes)
        #expect { try BoundedInput.read(file, limit: 299_999, what: "the table file") } throws: { error in
            (error as? BoundedInput.Refused)?.description == "\(file): the table file is 300000 bytes, more than the limit of 299999 bytes"
        }
        #expect(throws: SystemError.self) { try BoundedInput.read(file + ".missing", limit: 10, what: "x") }
    }
}
