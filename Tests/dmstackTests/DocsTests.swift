import Foundation
import TestSupport
import Testing

/// The committed man page and completions must match the CLI; regenerate with `make docs`.
@Suite("Generated docs are current")
struct DocsTests {
    static func file(_ path: String) throws -> String {
        try String(contentsOf: CLITests.packageRoot.appendingPathComponent(path), encoding: .utf8)
    }

    /// Runs a shell command in the package root: its stdout, stderr and status.
    static func shell(_ command: String) throws -> CLITests.Result {
        try TestProcess.shell(command, directory: CLITests.packageRoot)
    }

    /// The page was made from this CLI and these hand-written sections: its first line holds
    /// the SHA-256 of `--experimental-dump-help` (every command, option and help text) and of
    /// man/sections.mdoc, as scripts/gen-docs.sh wrote it.
    @Test func manPageIsCurrent() throws {
        let man = try Self.file("man/dmstack.8")
        let digest = try Self.shell("{ '\(CLITests.binary.path)' --experimental-dump-help; cat man/sections.mdoc Sources/dmstack/ExitStatus.swift; } | sha256sum | cut -d' ' -f1")
        #expect(digest.status == 0, "\(digest.stderr)")
        let first = man.prefix(while: { $0 != "\n" })
        #expect(first.hasPrefix(".\\\" dmstack-sources-sha256: \(digest.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) "),
                "man/dmstack.8 is stale against the CLI or man/sections.mdoc: run `make docs`")
        // The sections as they are, with EXIT STATUS's list generated after its marker line.
        let sections = try Self.file("man/sections.mdoc")
        let marker = ".\\\" The list below is generated from Sources/dmstack/ExitStatus.swift by scripts/gen-docs.sh.\n"
        let parts = sections.components(separatedBy: marker)
        #expect(parts.count == 2, "man/sections.mdoc lacks the EXIT STATUS marker line")
        for part in parts { #expect(man.contains(part), "man/dmstack.8 lacks man/sections.mdoc as it is: run `make docs`") }
    }

    /// The sections the issue asks for, the pages it refers to, and a page groff reads
    /// without a warning.
    @Test func manPageHasItsSectionsAndRendersCleanly() throws {
        let man = try Self.file("man/dmstack.8")
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "ENVIRONMENT", "FILES", "\"EXIT STATUS\"", "EXAMPLES", "\"SEE ALSO\""] {
            #expect(man.contains("\n.Sh \(section)\n"), "man/dmstack.8 lacks section \(section)")
        }
        let seeAlso = man.components(separatedBy: ".Sh \"SEE ALSO\"").last ?? ""
        for page in ["dmsetup 8", "lsblk 8", "ndctl 1", "xfs_io 8", "lvm 8"] {
            #expect(seeAlso.contains(".Xr \(page)"), "SEE ALSO lacks \(page)")
        }
        let groff = try Self.shell("groff -mdoc -Tutf8 -ww -z man/dmstack.8")
        #expect(groff.status == 0 && groff.stderr.isEmpty, "groff: \(groff.stderr)")
    }
    @Test(arguments: [("bash", "completions/dmstack.bash"), ("zsh", "completions/_dmstack"), ("fish", "completions/dmstack.fish")])
    func completionsAreCurrent(shell: String, file: String) throws {
        let result = try CLITests.run(["--generate-completion-script", shell])
        let committed = try Self.file(file)
        #expect(result.stdout == committed, "\(file) is stale: run `make docs`")
    }

    /// The man page's examples of read commands run on the example machine (whose volumes are
    /// named as in the examples), so a renamed option or a wrong device name fails here.
    @Test func manPageExamplesRun() throws {
        let man = try Self.file("man/sections.mdoc")
        let lines = man.components(separatedBy: "\n").filter { $0.hasPrefix("dmstack ") }
        #expect(lines.count >= 15)
        let snapshot = "\(CLITests.packageRoot.path)/examples/pmem-linear-striped.json"
        var ran = 0
        for line in lines {
            let words = line.split(separator: " ").dropFirst().map(String.init)
            guard ["tree", "show", "translate", "simulate"].contains(words[0]), !words.contains("--snapshot"), !words.contains("--table") else { continue }
            let result = try CLITests.run(words + ["--snapshot", snapshot])
            #expect(result.status == 0, "man EXAMPLES: \(line): \(result.stderr)")
            ran += 1
        }
        #expect(ran >= 7)
    }

    /// Every subcommand, option and help text of the CLI appears in man/dmstack.8.
    @Test func manPageCoversTheCLI() throws {
        let man = try Self.file("man/dmstack.8")
        let dump = try CLITests.run(["--experimental-dump-help"])
        let info = try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as! [String: Any]
        func check(_ command: [String: Any], path: [String]) {
            let name = command["commandName"] as! String
            if !path.isEmpty { #expect(man.contains(".It Em \(name)"), "man/dmstack.8 lacks subcommand \(name): run `make docs`") }
            if let abstract = command["abstract"] as? String { #expect(man.contains(abstract), "man/dmstack.8 lacks '\(abstract)': run `make docs`") }
            for argument in command["arguments"] as? [[String: Any]] ?? [] {
                if let abstract = argument["abstract"] as? String, !abstract.isEmpty {
                    #expect(man.contains(abstract), "man/dmstack.8 lacks '\(abstract)' (\(name)): run `make docs`")
                }
                for n in argument["names"] as? [[String: String]] ?? [] where n["kind"] == "long" {
                    #expect(man.contains("Fl -\(n["name"]!)") || man.contains(", -\(n["name"]!)"), "man/dmstack.8 lacks --\(n["name"]!) (\(name)): run `make docs`")
                }
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] { check(sub, path: path + [name]) }
        }
        check(info["command"] as! [String: Any], path: [])
    }
}
