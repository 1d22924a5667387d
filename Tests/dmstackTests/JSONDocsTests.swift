import Foundation
import JSONSchemaCheck
import Testing

/// The JSON of every command is documented by a schema in docs/json, and real output of the
/// bundled examples conforms to it. (The live suites, on the host and in the VM, check every
/// JSON document they read the same way: see Live.document.)
@Suite("JSON output is documented")
struct JSONDocsTests {
    /// Which schema documents each command's --json (monitor prints one event per line).
    static let schemaOfCommand: [String: String] = [
        "tree": "tree", "show": "show", "translate": "translate", "simulate": "simulate",
        "apply": "apply", "teardown": "teardown", "list": "list", "remove": "remove",
        "holders register": "holder", "holders show": "holder", "holders list": "holders",
        "holders refresh": "holders-refresh", "monitor": "event", "events list": "events", "damage list": "damage",
    ]
    /// capture writes a snapshot, with or without -o.
    static let allSchemas = Set(schemaOfCommand.values).union(["snapshot"])

    static let examples = ["crypt-over-linear", "pmem-linear-striped", "raid1-raid5-loop", "thin-pool", "xfs-external-log"]
        .map { "\(CLITests.packageRoot.path)/examples/\($0).json" }

    /// Every command with a --json flag, from the CLI itself, has a schema, and every schema
    /// is valid documentation (each property described, nothing undocumented accepted).
    @Test func everyJSONCommandHasADocumentedSchema() throws {
        let dump = try CLITests.run(["--experimental-dump-help"])
        let info = try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as! [String: Any]
        var withJSON: [String] = []
        func walk(_ command: [String: Any], _ path: [String]) {
            let arguments = command["arguments"] as? [[String: Any]] ?? []
            if arguments.contains(where: { ($0["names"] as? [[String: String]] ?? []).contains { $0["name"] == "json" } }) {
                withJSON.append(path.joined(separator: " "))
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] { walk(sub, path + [sub["commandName"] as! String]) }
        }
        walk(info["command"] as! [String: Any], [])
        #expect(Set(withJSON) == Set(Self.schemaOfCommand.keys), "commands with --json: \(withJSON.sorted())")
        let index = try DocsTests.file("docs/json/README.md")
        for name in Self.allSchemas.sorted() {
            #expect(try JSONSchemaCheck.lint(name) == [], "docs/json/\(name).schema.json")
            #expect(index.contains("(\(name).schema.json)"), "docs/json/README.md does not list \(name).schema.json")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: JSONSchemaCheck.directory.path).filter { $0.hasSuffix(".schema.json") }
        #expect(Set(files) == Set(Self.allSchemas.map { "\($0).schema.json" }), "schemas no command prints")
    }

    /// Offline invocations over every example machine and table file.
    static var invocations: [[String]] {
        var all: [[String]] = []
        let tables = "\(CLITests.packageRoot.path)/examples/tables"
        for snapshot in examples {
            all.append(["tree", "--json", "--snapshot", snapshot])
            all.append(["tree", "--json", "--inverse", "--all", "--snapshot", snapshot])
            all.append(["list", "--json", "--snapshot", snapshot])
        }
        let pmem = examples[1], raid = examples[2], thin = examples[3], xlog = examples[4], crypt = examples[0]
        for device in ["pmem1", "stripe", "concat"] { all.append(["show", "--json", "--snapshot", pmem, device]) }
        for device in ["loop0", "dm-0", "parity"] { all.append(["show", "--json", "--snapshot", raid, device]) }
        all.append(["show", "--json", "--snapshot", thin, "pool"])
        all.append(["show", "--json", "--snapshot", xlog, "pmem1"])
        all.append(["show", "--json", "--snapshot", crypt, "secret"])
        all += [
            ["translate", "--json", "--snapshot", pmem, "/dev/pmem1", "300MiB+4KiB"],
            ["translate", "--json", "--snapshot", pmem, "--down", "stripe", "0+256KiB"],
            ["translate", "--json", "--snapshot", raid, "/dev/loop3", "0+384"],
            ["translate", "--json", "--snapshot", thin, "--down", "thin1", "0+8"],
            ["translate", "--json", "--table", "\(tables)/raid.table", "/dev/loop5", "0-409600"],
            ["simulate", "--json", "--snapshot", pmem, "pmem1", "--range", "517248+8"],
            ["simulate", "--json", "--snapshot", pmem, "pmem1", "--event", "remove"],
            ["simulate", "--json", "--snapshot", pmem, "pmem0"],
            ["simulate", "--json", "--snapshot", xlog, "pmem1", "--range", "0+8"],
            ["simulate", "--json", "--snapshot", raid, "loop0", "--range", "4096+8"],
            ["simulate", "--json", "--snapshot", raid, "loop3", "--event", "remove"],
            ["simulate", "--json", "--snapshot", thin, "loop1"],
            ["simulate", "--json", "--snapshot", crypt, "loop0"],
            ["apply", "--json", "--dry-run", "--snapshot", crypt, "\(CLITests.packageRoot.path)/examples/stack.yaml"],
        ]
        return all
    }

    @Test(arguments: invocations)
    func outputConforms(arguments: [String]) throws {
        let result = try CLITests.run(arguments)
        // The thin example has no pool mapping: its answer is partial (unknown outcomes), 2.
        let partial = ["simulate", "translate"].contains(arguments.first ?? "") && arguments.contains { $0.hasSuffix("/thin-pool.json") }
        #expect(result.status == (partial ? 2 : 0), "dmstack \(arguments.joined(separator: " ")): \(result.stderr)")
        let (_, problems) = JSONSchemaCheck.parse(result.stdout)
        #expect(problems.isEmpty, "dmstack \(arguments.joined(separator: " ")):\n\(problems.prefix(10).joined(separator: "\n"))")
    }

    /// The bundled snapshots are what `capture` writes.
    @Test(arguments: examples + ["\(CLITests.fixtures.path)/minimal.json"])
    func snapshotConforms(file: String) throws {
        let (_, problems) = JSONSchemaCheck.parse(try String(contentsOfFile: file, encoding: .utf8))
        #expect(problems.isEmpty, "\(file):\n\(problems.prefix(10).joined(separator: "\n"))")
    }

    /// The checker itself: an undocumented key, a missing required one, a wrong type and a
    /// value outside an enum are each found (a check that cannot fail checks nothing).
    @Test func checkerFindsDrift() throws {
        let good = try CLITests.run(["translate", "--json", "--table", "\(CLITests.packageRoot.path)/examples/tables/raid.table", "/dev/loop0", "2048+8"]).stdout
        #expect(JSONSchemaCheck.parse(good).1 == [])
        var doc = try JSONSerialization.jsonObject(with: Data(good.utf8)) as! [String: Any]
        var rows = doc["translations"] as! [[String: Any]]
        rows[0]["surprise"] = 1
        rows[0]["outcome"] = "maybe"
        rows[0]["start"] = "0"
        rows[0].removeValue(forKey: "device")
        doc["translations"] = rows
        let problems = JSONSchemaCheck.errors(in: doc)
        #expect(problems.contains { $0.contains("undocumented key surprise") }, "\(problems)")
        #expect(problems.contains { $0.contains("missing required device") }, "\(problems)")
        #expect(problems.contains { $0.contains("$.translations[0].start: string, expected integer") }, "\(problems)")
        #expect(problems.contains { $0.contains("\"maybe\" is not one of") }, "\(problems)")
        #expect(JSONSchemaCheck.errors(in: ["nothing": 1]).first?.contains("no schema") == true)
    }
}
