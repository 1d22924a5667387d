import StackModel
@testable import StackSystem
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The syscall seam: typed errors that name the operation and the path, EINTR retried in its
/// one loop (shown with the debug-build hook that interrupts calls before they reach the kernel).
@Suite("Syscall seam")
struct SyscallTests {
    /// A fresh directory under /tmp, removed by `cleanUp`.
    static func scratch() throws -> String {
        var template = Array("/tmp/dmstack-syscall-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError(path: "/tmp", operation: "make a directory in", errno: errno) }
        return String(cString: made)
    }

    static func cleanUp(_ dir: String) {
        for name in SysfsRoot().list(dir) { unlink("\(dir)/\(name)") }
        rmdir(dir)
    }

    @Test func openingAMissingFileNamesTheOperationAndThePath() throws {
        let dir = try Self.scratch()
        defer { Self.cleanUp(dir) }
        let missing = "\(dir)/missing"
        let error = #expect(throws: SystemError.self) { try Syscall.open(missing, O_RDONLY | O_CLOEXEC) }
        #expect(error?.operation == "open" && error?.path == missing && error?.errno == ENOENT)
        #expect(error?.description == "cannot open \(missing): No such file or directory")
        #expect(error?.reason == "No such file or directory")
        // The operation can say more than the call's name; the readers above keep their words.
        let wiping = #expect(throws: SystemError.self) { try Syscall.open(missing, O_RDWR, operation: "open for wiping") }
        #expect(wiping?.description == "cannot open for wiping \(missing): No such file or directory")
        let reader = #expect(throws: SystemError.self) { try SectorReader(path: missing) }
        #expect(reader?.description == "cannot open \(missing): No such file or directory")
    }

    @Test func errorsOfOtherCallsNameTheirOperation() throws {
        let dir = try Self.scratch()
        defer { Self.cleanUp(dir) }
        let file = "\(dir)/file"
        try AtomicFile.write(Array("x".utf8), to: file)
        let stat = #expect(throws: SystemError.self) { _ = try Syscall.stat("\(dir)/none") }
        #expect(stat?.description == "cannot stat \(dir)/none: No such file or directory")
        let link = #expect(throws: SystemError.self) { _ = try Syscall.readlink(file) }
        #expect(link?.description == "cannot read the link \(file): Invalid argument")
        // A failed create names the file asked for, not the temporary file beside it.
        let create = #expect(throws: SystemError.self) { try AtomicFile.write([1], to: "\(dir)/no/such/dir") }
        #expect(create?.description == "cannot create \(dir)/no/such/dir: No such file or directory")
        let kill = #expect(throws: SystemError.self) { try Syscall.kill(-999_999, 0) }
        #expect(kill?.description == "cannot signal pid -999999: No such process")
    }

    @Test func readlinkGivesTheTargetAsWritten() throws {
        let dir = try Self.scratch()
        defer { Self.cleanUp(dir) }
        #expect(symlink("../some/where", "\(dir)/link") == 0)
        #expect(try Syscall.readlink("\(dir)/link") == "../some/where")
        #expect(SysfsRoot(prefix: dir).linkComponents("/link") == ["..", "some", "where"])
    }

    @Test func theInodeNameWalkFindsEveryHardLink() throws {
        let dir = try Self.scratch()
        defer { Self.cleanUp(dir) }
        try AtomicFile.write(Array("data".utf8), to: "\(dir)/a")
        #expect(link("\(dir)/a", "\(dir)/b") == 0)
        let inode = UInt64(try Syscall.stat("\(dir)/a").st_ino)
        let found = ReverseMapReader().paths(root: dir, inodes: [inode])
        #expect(found[inode]?.sorted() == ["\(dir)/a", "\(dir)/b"])
        let refused = #expect(throws: SystemError.self) {
            _ = try ReverseMapReader().fsmap(mountpoint: "\(dir)/gone", device: 0, role: .data, ranges: [ByteRange(offset: 0, length: 512)])
        }
        #expect(refused?.description == "cannot open \(dir)/gone: No such file or directory")
    }

    #if DEBUG
    /// Counts the attempts the hook sees and interrupts the first `interrupts[name]` of each call.
    final class Interrupter: @unchecked Sendable {
        var interrupts: [String: Int]
        var seen: [String] = []
        init(_ interrupts: [String: Int]) { self.interrupts = interrupts }
        func attempt(_ name: String) -> Bool {
            seen.append(name)
            guard let left = interrupts[name], left > 0 else { return false }
            interrupts[name] = left - 1
            return true
        }
    }

    @Test func anInterruptedCallIsRetriedInTheSeam() throws {
        let dir = try Self.scratch()
        defer { Self.cleanUp(dir) }
        let text = String(repeating: "0123456789abcdef", count: 300)  // more than one 4 KiB read
        let hook = Interrupter(["open": 2, "write": 3, "fsync": 1, "rename": 1, "read": 2])
        let read: String? = try Syscall.$interrupt.withValue({ hook.attempt($0) }) {
            try AtomicFile.write(Array(text.utf8), to: "\(dir)/file")
            return SysfsRoot(prefix: dir).read("/file")
        }
        #expect(read == text)
        // Every interrupted attempt was made again; nothing failed because of EINTR.
        #expect(hook.interrupts.values.allSatisfy { $0 == 0 })
        #expect(hook.seen.filter { $0 == "open" }.count == 4)  // 2 interrupted + the temporary file + the read's
        #expect(hook.seen.filter { $0 == "write" }.count == 4)
        #expect(hook.seen.filter { $0 == "fsync" }.count == 2 && hook.seen.filter { $0 == "rename" }.count == 2)
        // Outside the scope nothing is interrupted.
        #expect(Syscall.interrupt == nil)
    }

    @Test func anInterruptedPreadStillReadsEverySector() throws {
        let dir = try Self.scratch()
        defer { Self.cleanUp(dir) }
        let bytes = (0..<2048).map { UInt8($0 & 0xff) }
        try AtomicFile.write(bytes, to: "\(dir)/disk")
        let hook = Interrupter(["pread": 5])
        let sectors = try Syscall.$interrupt.withValue({ hook.attempt($0) }) { try SectorReader(path: "\(dir)/disk").read(1, 2) }
        #expect(sectors == Array(bytes[512..<1536]))
        #expect(hook.seen.filter { $0 == "pread" }.count == 6)
    }
    #endif
}
