import Foundation
import StackModel
import StackSystem
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A notification configuration and its exec hooks are refused when anyone but root (or the
/// invoking user) could change them, as sshd and sudo refuse theirs (issue 18 point 6). Each
/// case builds a private directory under /tmp (sticky, so accepted), then opens one hole.
@Suite("Trusted configuration", .serialized)
struct TrustedConfigTests {
    /// A fresh 0700 directory holding `config.yaml` (0644) with `yaml`, and `hook` (0755).
    func scratch(_ yaml: String = "sinks:\n  - {type: journal}\n") throws -> String {
        var template = Array("/tmp/dmstack-trust-XXXXXX".utf8CString)
        let dir = try #require(mkdtemp(&template).map { String(cString: $0) })
        try yaml.replacingOccurrences(of: "DIR", with: dir).write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        chmod("\(dir)/config.yaml", 0o644)
        try "#!/bin/sh\nexit 0\n".write(toFile: "\(dir)/hook", atomically: true, encoding: .utf8)
        chmod("\(dir)/hook", 0o755)
        return dir
    }

    func refusal(_ file: String) -> ConfigError? {
        do { _ = try ConfigLoader.load(option: file); return nil } catch { return error }
    }

    static let nobody: uid_t = 65534

    enum Hole: String, CaseIterable {
        case fileWorldWritable, fileGroupWritable, fileOwnedByNobody, directoryWorldWritable, directoryOwnedByNobody
        case hookWorldWritable, hookOwnedByNobody, hookDirectoryWorldWritable
    }

    /// Each hole is refused as untrusted (exit 65 in the CLI), naming the path, mode and owner.
    @Test(arguments: Hole.allCases)
    func aWritableConfigOrHookIsRefused(_ hole: Hole) throws {
        let isRoot = geteuid() == 0
        let needsRoot: Set<Hole> = [.fileOwnedByNobody, .directoryOwnedByNobody, .hookOwnedByNobody]
        guard isRoot || !needsRoot.contains(hole) else { return }    // chown needs root
        let hookInSub = hole == .hookDirectoryWorldWritable
        let dir = try scratch("sinks:\n  - type: exec\n    argv: [DIR/\(hookInSub ? "bin/" : "")hook, --flag]\n")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = "\(dir)/config.yaml"
        if hookInSub {
            mkdir("\(dir)/bin", 0o755)
            rename("\(dir)/hook", "\(dir)/bin/hook")
        }
        // Without a hole it loads: the scratch set-up itself is trusted.
        #expect(refusal(file) == nil, "\(refusal(file).map(\.message) ?? "")")
        let expected: String
        switch hole {
        case .fileWorldWritable:
            chmod(file, 0o666)
            expected = "notification configuration \(file) is writable by every user (mode 0666, owner "
        case .fileGroupWritable:
            chmod(file, 0o664)
            chown(file, geteuid(), 100)
            expected = "notification configuration \(file) is writable by group "
        case .fileOwnedByNobody:
            chown(file, Self.nobody, Self.nobody)
            expected = "notification configuration \(file) is owned by "
        case .directoryWorldWritable:
            chmod(dir, 0o777)
            expected = "notification configuration \(file): directory \(dir) above it is writable by every user (mode 0777"
        case .directoryOwnedByNobody:
            chown(dir, Self.nobody, Self.nobody)
            expected = "notification configuration \(file): directory \(dir) above it is owned by "
        case .hookWorldWritable:
            chmod("\(dir)/hook", 0o777)
            expected = "\(file):3: sinks[0].argv: exec hook program \(dir)/hook is writable by every user (mode 0777"
        case .hookOwnedByNobody:
            chown("\(dir)/hook", Self.nobody, Self.nobody)
            expected = "\(file):3: sinks[0].argv: exec hook program \(dir)/hook is owned by "
        case .hookDirectoryWorldWritable:
            chmod("\(dir)/bin", 0o777)
            expected = "\(file):3: sinks[0].argv: exec hook program \(dir)/bin/hook: directory \(dir)/bin above it is writable by every user (mode 0777"
        }
        let error = try #require(refusal(file))
        #expect(error.message.hasPrefix(expected), "\(error.message)")
        #expect(error.kind == (hole.rawValue.hasPrefix("hook") ? .invalid : .untrusted))
        #expect(error.message.contains("it must be writable only by root"), "\(error.message)")
        #expect(!error.message.contains("\n"))
    }

    /// A world-writable directory with the sticky bit (/tmp) cannot have its entries swapped
    /// by others, so it is accepted; the same directory without the bit is not.
    @Test func aStickyDirectoryIsAccepted() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        mkdir("\(dir)/shared", 0o755)
        chmod("\(dir)/shared", 0o1777)
        mkdir("\(dir)/shared/mine", 0o700)
        rename("\(dir)/config.yaml", "\(dir)/shared/mine/config.yaml")
        #expect(refusal("\(dir)/shared/mine/config.yaml") == nil)
        chmod("\(dir)/shared", 0o777)
        #expect(refusal("\(dir)/shared/mine/config.yaml")?.kind == .untrusted)
    }

    /// A symlink is judged by where it points too: a private link to a world-writable file is
    /// refused naming the file it resolves to.
    @Test func aSymlinkIsCheckedWhereItPoints() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        mkdir("\(dir)/open", 0o777)
        chmod("\(dir)/open", 0o777)
        rename("\(dir)/config.yaml", "\(dir)/open/config.yaml")
        symlink("\(dir)/open/config.yaml", "\(dir)/link.yaml")
        let error = try #require(refusal("\(dir)/link.yaml"))
        #expect(error.message.contains("directory \(dir)/open above it is writable by every user"), "\(error.message)")
    }

    /// The issue's case: a mode-0666 configuration whose hook would write `id` to a file.
    /// Loading refuses it, so no delivery can run the hook (the CLI test runs it end to end).
    @Test func theIssuesHookNeverLoads() throws {
        let dir = try scratch("sinks:\n  - type: exec\n    argv: [\"/bin/sh\", \"-c\", \"id > DIR/owned\"]\n")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod("\(dir)/config.yaml", 0o666)
        #expect(refusal("\(dir)/config.yaml")?.kind == .untrusted)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/owned"))
    }

    /// A program changed after the configuration was loaded is not run at delivery.
    @Test func aHookMadeWritableAfterLoadIsNotRun() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "#!/bin/sh\ntouch \(dir)/ran\n".write(toFile: "\(dir)/hook", atomically: true, encoding: .utf8)
        chmod("\(dir)/hook", 0o755)
        let sink = ExecSink(argv: ["\(dir)/hook"], timeout: 10)
        let event = NotificationEvent(key: "k", kind: .test, severity: .info, at: "T", origin: "test", host: "h", leaf: "pmem0", range: "0+8", summary: "s")
        #expect(sink.deliver(event, payload: "{}", attempt: 1, sink: "hook").delivered)
        #expect(FileManager.default.fileExists(atPath: "\(dir)/ran"))
        unlink("\(dir)/ran")
        chmod("\(dir)/hook", 0o757)
        let outcome = sink.deliver(event, payload: "{}", attempt: 1, sink: "hook")
        #expect(!outcome.delivered && outcome.detail?.hasPrefix("not run: exec hook program \(dir)/hook is writable by every user") == true, "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/ran"))
    }
}
