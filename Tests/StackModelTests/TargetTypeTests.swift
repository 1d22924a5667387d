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

/// A layer that is neither dm nor a partition (what an md array will be): discovery gives it as
/// table lines of a registered type, and every answer treats it as a layer with no code of its
/// own: tree's type and table columns, its state from its status, translation through it.
@Suite("Non-dm layers")
struct NonDeviceMapperLayerTests {
    static func inventory(status: [String]) -> Inventory {
        var leg0 = BlockDevice(kernelName: "sda", major: 8, minor: 0, size: 4096)
        var leg1 = BlockDevice(kernelName: "sdb", major: 8, minor: 16, size: 4096)
        leg0.holders = ["md0"]; leg1.holders = ["md0"]
        var md = BlockDevice(kernelName: "md0", major: 9, minor: 0, size: 4096, slaves: ["sda", "sdb"])
        md.layer = LayerInfo(kind: "md", table: ["0 4096 mirror core 1 1024 2 8:0 0 8:16 0"], status: status)
        return Inventory(SystemSnapshot(host: HostInfo(hostname: "h", kernel: "k", capturedAt: "t", dmstackVersion: "0"),
                                        devices: [leg0, leg1, md], mounts: [], pmem: PmemInventory()))
    }

    @Test func aLayerFromDiscoveryIsTranslatedShownAndJudged() throws {
        let inv = Self.inventory(status: ["0 4096 mirror 2 8:0 8:16 4096/4096 1 AD"])
        let md = try inv.device("md0")
        #expect(inv.deviceType(md) == "md" && inv.tableSummary(md) == "mirror 2 legs")
        #expect(inv.state(of: md) == ["degraded"])
        let (topology, _) = try inv.topology()
        let rows = try Translator(topology).up(from: "sda", SectorRange(start: 100, length: 8))
        #expect(rows.map { "\($0.device) \($0.start)+\($0.length) \($0.outcome)" } == ["md0 100+8 degraded"])
        let healthy = Self.inventory(status: ["0 4096 mirror 2 8:0 8:16 4096/4096 1 AA"])
        #expect(healthy.state(of: try healthy.device("md0")).isEmpty)
    }
}
