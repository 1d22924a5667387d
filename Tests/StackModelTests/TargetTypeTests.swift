import Foundation
import StackModel
import Testing

/// The layer-type registry: every type found by its names, and every table a real kernel
/// printed (the bundled snapshots were captured in the test VM) printed back word for word.
@Suite("Target types")
struct TargetTypeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func everyNameIsRegisteredOnce() {
        var seen: [String: String] = [:]
        for type in TargetTypes.all {
            for name in type.names {
                #expect(seen[name] == nil, "\(name) registered by \(seen[name] ?? "") and \(type)")
                seen[name] = "\(type)"
                #expect(TargetTypes.type(named: name) == type)
            }
        }
        #expect(TargetTypes.type(named: "era") == nil)
        #expect(TargetTypes.effect(of: "era") == .dynamic && TargetTypes.effect(of: "no-such") == .passThrough)
        #expect(TargetTypes.effect(of: "raid") == .keepsRedundancy && TargetTypes.effect(of: "linear") == .passThrough)
    }

    @Test func kernelPrintedTablesOfTheExamplesPrintBack() throws {
        var lines = 0
        let dir = Self.root.appendingPathComponent("examples")
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) where file.hasSuffix(".json") {
            let snapshot = try SnapshotCodec.decode(Data(contentsOf: dir.appendingPathComponent(file)), file: file)
            for d in snapshot.devices {
                guard let table = d.dm?.table, !table.isEmpty else { continue }
                let targets = try TableSet.parse(table.joined(separator: "\n")).tables["top"]!.targets
                for (line, t) in zip(table, targets) {
                    #expect(t.line == line.split(separator: " ").joined(separator: " "), "\(file) \(d.kernelName)")
                    lines += 1
                }
            }
        }
        #expect(lines >= 9)
    }

    @Test func typedValuesCompareAcrossTheExistential() throws {
        let a = try TableSet.parse("0 8 linear 7:0 0").tables["top"]!.targets[0]
        let b = try TableSet.parse("0  8 linear 7:0   0").tables["top"]!.targets[0]
        let c = try TableSet.parse("0 8 linear 7:0 8").tables["top"]!.targets[0]
        let d = try TableSet.parse("0 8 flakey 7:0 0 1 1").tables["top"]!.targets[0]
        #expect(a == b && a != c && a != d && Set([a, b, c, d]).count == 3)
    }
}
