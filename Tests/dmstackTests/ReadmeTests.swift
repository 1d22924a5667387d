import Foundation
import Testing
import TestSupport

/// README.md's tour is real: each `$ dmstack ...` line of a ```console block is run in the
/// package root and its output compared with the lines shown under it (trailing blanks aside).
@Suite("README")
struct ReadmeTests {
    struct Example: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        var expected: [String]
        var testDescription: String { "dmstack " + arguments.joined(separator: " ") }
    }

    /// `make demo`'s script (the README's first command) runs to its end on the bundled
    /// examples: a change of an exit status or an option that breaks it fails here.
    @Test func theDemoRunsToItsEnd() throws {
        let script = CLITests.packageRoot.appendingPathComponent("scripts/demo.sh")
        let result = try TestProcess.run(URL(fileURLWithPath: "/bin/bash"), [script.path, CLITests.binary.path], directory: CLITests.packageRoot)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("== The main job:") && result.stdout.contains("(exit status 2: the answer is incomplete"), "\(result.stdout.suffix(500))")
    }

    static var examples: [Example] {
        guard let text = try? DocsTests.file("README.md") else { return [] }
        var out: [Example] = []
        var inConsole = false
        for line in text.components(separatedBy: "\n") {
            if line.hasPrefix("```") {
                inConsole = line == "```console"
                continue
            }
            guard inConsole else { continue }
            if line.hasPrefix("$ dmstack ") {
                out.append(Example(arguments: line.dropFirst("$ dmstack ".count).split(separator: " ").map(String.init), expected: []))
            } else if !out.isEmpty {
                out[out.count - 1].expected.append(line)
            }
        }
        return out
    }

    @Test func theTourHasItsCommands() {
        let commands = Set(Self.examples.map { $0.arguments.first ?? "" })
        #expect(commands.isSuperset(of: ["tree", "translate", "simulate"]), "\(commands)")
    }

    @Test(arguments: examples)
    func tourOutputIsReal(_ example: Example) throws {
        let result = try CLITests.run(example.arguments, directory: CLITests.packageRoot)
        #expect(result.status == 0, "\(result.stderr)")
        func trimmed(_ lines: [String]) -> [String] {
            var l = lines.map { String($0.reversed().drop(while: { $0 == " " }).reversed()) }
            while l.last == "" { l.removeLast() }
            return l
        }
        let actual = trimmed(result.stdout.components(separatedBy: "\n"))
        #expect(actual == trimmed(example.expected), "README.md shows other output for \(example.testDescription):\n\(result.stdout)")
    }
}
