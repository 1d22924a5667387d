import Foundation
@testable import StackSystem
import Testing

/// The spill file: what is appended reads back at the offsets returned; it is never on a
/// filesystem it must avoid, and says where it looked when every one is to be avoided.
@Suite struct TemporarySpillFileTests {
    static func majorMinor(_ path: String) throws -> String {
        let st = try Syscall.stat(path)
        return "\(st.st_dev >> 8 & 0xfff | st.st_dev >> 32 & ~0xfff):\(st.st_dev & 0xff | st.st_dev >> 12 & ~0xff)"
    }

    @Test func whatIsAppendedReadsBack() throws {
        let file = try TemporarySpillFile(avoiding: [])
        var offsets: [UInt64] = []
        var expected: [UInt8] = []
        for n in [0, 1, 4095, 70_000, 3] {
            let chunk = (0..<n).map { UInt8(truncatingIfNeeded: $0 * 7 + n) }
            offsets.append(try chunk.withUnsafeBytes { try file.append($0) })
            expected += chunk
        }
        #expect(offsets == [0, 0, 1, 4096, 74_096])
        var back = [UInt8](repeating: 0, count: expected.count + 10)
        var got = 0
        while got < back.count {
            let n = try back.withUnsafeMutableBytes { try file.read(at: UInt64(got), into: UnsafeMutableRawBufferPointer(rebasing: $0[got...])) }
            if n == 0 { break }
            got += n
        }
        #expect(got == expected.count && Array(back.prefix(got)) == expected)
    }

    @Test func aFilesystemToAvoidIsAvoided() throws {
        let all = try TemporarySpillFile.candidates.filter { FileManager.default.fileExists(atPath: $0) }.map(Self.majorMinor)
        #expect(!all.isEmpty)
        let dirs = TemporarySpillFile.candidates.filter { FileManager.default.fileExists(atPath: $0) }
        if Set(all).count > 1 {
            // The first directory's filesystem avoided: the file is in one on another.
            let file = try TemporarySpillFile(avoiding: [all[0]])
            let dir = try #require(dirs.first { file.place == "a temporary file in \($0)" })
            #expect(try Self.majorMinor(dir) != all[0])
        }
        #expect { try TemporarySpillFile(avoiding: all) } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("no temporary directory away from the filesystem: ") && text.contains("/var/tmp (on a filesystem the event hits)")
        }
    }
}
