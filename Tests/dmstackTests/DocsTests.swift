import Foundation
import Testing

/// The committed man page and completions must match the CLI; regenerate with `make docs`.
@Suite("Generated docs are current")
struct DocsTests {
    @Test(arguments: [("bash", "completions/dmstack.bash"), ("zsh", "completions/_dmstack"), ("fish", "completions/dmstack.fish")])
    func completionsAreCurrent(shell: String, file: String) throws {
        let result = try CLITests.run(["--generate-completion-script", shell])
        let committed = try String(contentsOf: CLITests.packageRoot.appendingPathComponent(file), encoding: .utf8)
        #expect(result.stdout == committed, "\(file) is stale: run `make docs`")
    }

    /// Every subcommand, option and help text of the CLI appears in man/dmstack.8.
    @Test func manPageCoversTheCLI() throws {
        let man = try String(contentsOf: CLITests.packageRoot.appendingPathComponent("man/dmstack.8"), encoding: .utf8)
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
