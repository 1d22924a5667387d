import Foundation
import StackModel
import Testing

/// The real binary on a snapshot of a 5,000-deep chain of linear devices: `tree` (text and
/// JSON, both ways) and `show` answer whole, with no stack overflow and nothing cut off.
@Suite("dmstack on a 5,000-deep stack")
struct DeepStackCLITests {
    static let depth = 5000

    /// A snapshot file of loop0 under c0 … c4999, each a linear dm device on the one before.
    static func snapshotFile() throws -> URL {
        var devices = [BlockDevice(kernelName: "loop0", major: 7, minor: 0, size: 8192, holders: ["dm-0"], loopBackingFile: "/img")]
        for i in 0..<depth {
            let lower = i == 0 ? "7:0" : "253:\(i - 1)"
            devices.append(BlockDevice(kernelName: "dm-\(i)", major: 253, minor: UInt32(i), size: 8192,
                                       holders: i + 1 < depth ? ["dm-\(i + 1)"] : [], slaves: [i == 0 ? "loop0" : "dm-\(i - 1)"],
                                       dm: DeviceMapperInfo(name: "c\(i)", uuid: "", suspended: false, openCount: 1,
                                                            table: ["0 8192 linear \(lower) 0"], status: ["0 8192 linear"], deps: [lower])))
        }
        let snapshot = SystemSnapshot(host: HostInfo(hostname: "h", kernel: "6.12", capturedAt: "T0", dmstackVersion: "0"),
                                      devices: devices, mounts: [], pmem: PmemInventory())
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-deep-\(getpid()).json")
        try SnapshotCodec.encode(snapshot).write(to: url)
        return url
    }

    /// How deep objects nest in a JSON text and how many `"name"` keys it has, read with a
    /// loop (the parsers at hand recurse, or stop at 512 levels).
    static func shape(_ json: String) -> (depth: Int, names: [String]) {
        var depth = 0, deepest = 0, inString = false, escaped = false
        var names: [String] = []
        var current = "", previous = ""
        for c in json {
            if inString {
                if escaped { escaped = false; current.append(c) } else if c == "\\" { escaped = true } else if c == "\"" { inString = false } else { current.append(c) }
                continue
            }
            switch c {
            case "\"": inString = true; previous = current; current = ""
            case "{": depth += 1; deepest = max(deepest, depth)
            case "}", ",", "]":
                if c == "}" { depth -= 1 }
                if previous == "name" { names.append(current) }
                previous = ""
            default: break
            }
        }
        return (deepest, names)
    }

    @Test func treeAndShowAnswerWhole() throws {
        let file = try Self.snapshotFile()
        defer { try? FileManager.default.removeItem(at: file) }
        let text = try CLITests.run(["tree", "--snapshot", file.path])
        #expect(text.status == 0, "\(text.stderr)")
        let rows = text.stdout.split(separator: "\n")
        #expect(rows.count == Self.depth + 2)
        #expect(rows.dropFirst().first?.hasPrefix("c\(Self.depth - 1) ") == true)
        #expect(rows.last?.trimmingCharacters(in: .whitespaces).hasPrefix("└─[\(Self.depth)] loop0") == true, "\(rows.last ?? "")")
        // Branches stop moving right past 32 levels: the table stays linear in the depth.
        #expect(rows.map(\.count).max() ?? 0 < 200)

        for inverse in [false, true] {
            let json = try CLITests.run(["tree", "--json", "--snapshot", file.path] + (inverse ? ["--inverse"] : []))
            #expect(json.status == 0, "\(json.stderr)")
            let (depth, names) = Self.shape(json.stdout)
            // The document's own object, then one per device.
            #expect(depth == Self.depth + 2)
            // Sorted keys put `children` before `name`: the deepest node's name comes first.
            let chain = (0..<Self.depth).map { "c\($0)" }
            let expected = inverse ? chain.reversed() + ["loop0"] : ["loop0"] + chain
            #expect(names == expected, "\(names.count) names, first \(names.prefix(3)), last \(names.suffix(3))")
        }

        let show = try CLITests.run(["show", "--json", "--snapshot", file.path, "c\(Self.depth - 1)"])
        #expect(show.status == 0, "\(show.stderr)")
        let device = try #require(try CLITests.document(show.stdout)["device"] as? [String: Any])
        #expect(device["leaves"] as? [String] == ["loop0"])
        #expect(device["below"] as? [String] == ["c\(Self.depth - 2)"])
        let plain = try CLITests.run(["show", "--snapshot", file.path, "c0"])
        #expect(plain.status == 0 && plain.stdout.contains("above          c1"), "\(plain.stdout)")
    }
}
