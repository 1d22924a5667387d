import Foundation
import StackModel
import StackSystem
import Testing

/// Spec reading (libyaml + the strict decoder) and apply planning against captured machines:
/// every error names the file, the line and the key; plans are checked word for word.
@Suite("spec and apply plan")
struct SpecTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let example = root.appendingPathComponent("examples/stack.yaml").path

    static func spec(_ yaml: String) throws(SpecError) -> StackSpec {
        try StackSpec.decode(try SpecLoader.parse(Array(yaml.utf8), file: "t.yaml"), file: "t.yaml", defaultName: "t")
    }

    static func specError(_ yaml: String) -> SpecError? {
        do { _ = try spec(yaml); return nil } catch { return error }
    }

    static func inventory(_ name: String = "crypt-over-linear.json") throws -> Inventory {
        let data = try Data(contentsOf: root.appendingPathComponent("examples/\(name)"))
        return Inventory(try SnapshotCodec.decode(data, file: name))
    }

    static func plan(_ spec: StackSpec, _ inventory: Inventory) throws(PlanError) -> ApplyPlan {
        try ApplyPlanner(spec: spec, inventory: inventory, resolvePath: { $0.hasPrefix("/dev/") ? String($0.dropFirst(5)) : nil },
                         key: { _ in .success(String(repeating: "ab", count: 32)) }).plan()
    }

    static func planError(_ yaml: String, _ inventory: Inventory) throws -> PlanError? {
        do { _ = try plan(try spec(yaml), inventory); return nil } catch let e as PlanError { return e }
    }

    @Test func exampleSpecPlansOnTheCapturedMachine() throws {
        let s = try SpecLoader.load(file: Self.example)
        #expect(s.name == "demo")
        #expect(try s.dependencyOrder().map(\.name) == ["fast", "meta", "pooldata", "pool", "thin1"])
        let p = try Self.plan(s, try Self.inventory())
        #expect(p.volumes.map(\.table) == [
            ["0 819200 striped 2 128 259:0 0 259:1 0"],
            ["0 32768 linear 259:0 409600"],
            ["0 524288 linear 259:1 409600"],
            ["0 524288 thin-pool {meta} {pooldata} 128 0 0"],
            ["0 2097152 thin {pool} 1"],
        ])
        #expect(p.steps.contains(.createThin(pool: "pool", id: 1, volume: "thin1")))
        #expect(p.steps.contains(.prepareMetadata(volume: "pool", device: "{meta}", format: .thin)))
        #expect(p.volumes.allSatisfy { $0.uuid == "DMSTACK-demo:\($0.name)" })
    }

    @Test(arguments: [
        ("volumes:\n  a:\n    targets:\n      - type: linear\n        members: [/dev/pmem0]\n        chunk: 4K\n", 6, "volumes.a.targets[0].chunk", "unknown key"),
        ("volumes:\n  a:\n    targets:\n      - type: striped\n        chunk: 64\n        members: [/dev/pmem0]\n", 5, "volumes.a.targets[0].chunk", "has no unit"),
        ("volumes:\n  a:\n    targets: []\n    targets: []\n", 4, "volumes.a.targets", "repeated key"),
        ("volumes:\n  a:\n    targets:\n      - type: linear\n        members: [VOLUME=b]\n", 5, "volumes.a.targets[0].members[0]", "no volume 'b'"),
        ("volumes:\n  a:\n    targets:\n      - {type: linear, members: [VOLUME=b]}\n  b:\n    targets:\n      - {type: linear, members: [VOLUME=a]}\n", 2, "volumes.a", "cycle"),
        ("volumes:\n  a:\n    targets:\n      - {type: striped, chunk: 48K, members: [/dev/pmem0]}\n", 4, "volumes.a.targets[0].chunk", "not a power of two"),
        ("volumes:\n  a:\n    targets:\n      - {type: raid5, members: [/dev/a, /dev/b]}\n", 4, "volumes.a.targets[0].members", "at least 3"),
        ("volumes:\n  a:\n    targets:\n      - {type: thin, pool: VOLUME=a, id: 16777216, size: 1G}\n", 4, "volumes.a.targets[0].id", "whole number up to"),
        ("volumes:\n  a:\n    targets:\n      - {type: linear, members: [pmem0]}\n", 4, "volumes.a.targets[0].members[0]", "is not a member"),
        ("volumes:\n  a:\n    targets:\n      - {type: linear, members: [/dev/x]}\n    filesystem: {type: btrfs}\n", 5, "volumes.a.filesystem.type", "xfs or ext4"),
        ("volumes:\n  a:\n    targets:\n      - {type: lineer, members: [/dev/x]}\n", 4, "volumes.a.targets[0].type", "unknown target type"),
        ("volumes:\n  a:\n    targets:\n      - {type: linear, members: [/dev/x]\n", 5, "", "not valid YAML"),
        ("name: 'a:b'\nvolumes: {}\n", 1, "name", "not a valid stack name"),
        ("volumes:\n  a:\n    targets: [{type: zero, size: 1M}]\n    filesystem: {type: xfs}\n  b:\n    targets: [{type: linear, members: [VOLUME=a]}]\n", 6, "volumes.b.targets[0].members[0]", "has a filesystem"),
        ("volumes:\n  a:\n    targets:\n      - {type: crypt, device: /dev/x}\n", 4, "volumes.a.targets[0].key_file", "missing"),
        ("volumes:\n  a:\n    targets:\n      - {type: linear, members: [/dev/x]}\n    filesystem: {type: xfs, mountpoint: rel/dir}\n", 5, "volumes.a.filesystem.mountpoint", "absolute"),
    ] as [(String, Int, String, String)])
    func badSpecsNameLineAndKey(yaml: String, line: Int, key: String, message: String) {
        let e = Self.specError(yaml)
        #expect(e != nil, "accepted: \(yaml)")
        #expect(e?.line == line, "\(String(describing: e))")
        #expect(e?.key == key, "\(String(describing: e))")
        #expect(e?.message.contains(message) == true, "\(String(describing: e))")
        #expect(e?.description.hasPrefix("t.yaml:\(line): ") == true)
    }

    @Test func aliasBombIsRefused() {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...8 { yaml += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let e = Self.specError(yaml)
        #expect(e?.message.contains("too deeply nested or too large") == true, "\(String(describing: e))")
    }

    @Test func membersAreCheckedForSizeUseAndOverlap() throws {
        let inv = try Self.inventory()
        let tooSmall = try Self.planError("volumes:\n  a:\n    targets:\n      - type: linear\n        members:\n          - {device: /dev/pmem0, size: 600M}\n", inv)
        #expect(tooSmall?.category == .size)
        #expect(tooSmall?.message.hasPrefix("t.yaml:6: volumes.a.targets[0].members[0]: member /dev/pmem0 is too small") == true, "\(String(describing: tooSmall))")
        let missing = try Self.planError("volumes:\n  a:\n    targets:\n      - {type: linear, members: [/dev/nothere]}\n", inv)
        #expect(missing?.category == .missing)
        let inUse = try Self.planError("volumes:\n  a:\n    targets:\n      - {type: linear, members: [/dev/loop0]}\n", inv)
        #expect(inUse?.category == .inUse)
        #expect(inUse?.message.contains("held by lin") == true, "\(String(describing: inUse))")
        let overlap = try Self.planError("volumes:\n  a:\n    targets:\n      - {type: linear, members: [{device: /dev/pmem0, size: 10M}]}\n  b:\n    targets:\n      - {type: linear, members: [{device: /dev/pmem0, offset: 5M, size: 10M}]}\n", inv)
        #expect(overlap?.category == .size)
        #expect(overlap?.message.contains("also used by volume a") == true, "\(String(describing: overlap))")
        let ns = try Self.planError("volumes:\n  a:\n    targets:\n      - {type: linear, members: [NAMESPACE=namespace9.0]}\n", inv)
        #expect(ns?.message.contains("no pmem namespace namespace9.0") == true)
        let striped = try Self.planError("volumes:\n  a:\n    targets:\n      - {type: striped, chunk: 64K, size: 100M, members: [/dev/pmem0, /dev/pmem1, {device: /dev/pmem0, offset: 300M}]}\n", inv)
        #expect(striped?.message.contains("is not a multiple of 3 stripes") == true, "\(String(describing: striped))")
    }

    /// The machine with `extra` dm devices added on pmem0, as a later `apply` would see it.
    static func withVolume(_ name: String, uuid: String, table: [String]) throws -> Inventory {
        var snap = try inventory().snapshot
        snap.devices.append(BlockDevice(kernelName: "dm-9", major: 254, minor: 9, size: 2048, slaves: ["pmem0"],
                                        dm: DeviceMapperInfo(name: name, uuid: uuid, suspended: false, openCount: 0, table: table, status: [], deps: ["259:0"])))
        if let i = snap.devices.firstIndex(where: { $0.kernelName == "pmem0" }) { snap.devices[i].holders = ["dm-9"] }
        return Inventory(snap)
    }

    @Test func reapplyIsUnchangedGrowsOrRefuses() throws {
        let yaml = "name: s\nvolumes:\n  v:\n    targets:\n      - type: linear\n        members: [{device: /dev/pmem0, size: 1M}]\n"
        let same = try Self.plan(try Self.spec(yaml), try Self.withVolume("v", uuid: "DMSTACK-s:v", table: ["0 2048 linear 259:0 0"]))
        #expect(same.steps == [.unchanged(volume: "v")])
        #expect(!same.changes)
        let grown = try Self.plan(try Self.spec(yaml.replacingOccurrences(of: "1M", with: "2M")), try Self.withVolume("v", uuid: "DMSTACK-s:v", table: ["0 2048 linear 259:0 0"]))
        guard case .reload(_, _, let to, let reason) = grown.steps.first else { Issue.record("\(grown.steps)"); return }
        #expect(to == ["0 4096 linear 259:0 0"])
        #expect(reason.contains("grows from 1 MiB to 2 MiB"))
        let moved = try Self.planError(yaml.replacingOccurrences(of: "size: 1M", with: "offset: 1M, size: 1M"), try Self.withVolume("v", uuid: "DMSTACK-s:v", table: ["0 2048 linear 259:0 0"]))
        #expect(moved?.category == .unsupportedChange)
        let foreign = try Self.planError(yaml, try Self.withVolume("v", uuid: "LVM-xyz", table: ["0 2048 linear 259:0 0"]))
        #expect(foreign?.category == .inUse)
        #expect(foreign?.message.contains("is not dmstack's") == true)
        let otherStack = try Self.planError(yaml, try Self.withVolume("v", uuid: "DMSTACK-other:v", table: ["0 2048 linear 259:0 0"]))
        #expect(otherStack?.message.contains("belongs to dmstack stack 'other'") == true)
    }

    @Test func growthRule() {
        #expect(ApplyPlanner.growable(from: ["0 8 linear 7:0 0"], to: ["0 16 linear 7:0 0"]) != nil)
        #expect(ApplyPlanner.growable(from: ["0 8 linear 7:0 0"], to: ["0 8 linear 7:0 0", "8 8 linear 7:1 0"]) != nil)
        #expect(ApplyPlanner.growable(from: ["0 16 linear 7:0 0"], to: ["0 8 linear 7:0 0"]) == nil)
        #expect(ApplyPlanner.growable(from: ["0 8 striped 2 4 7:0 0 7:1 0"], to: ["0 16 striped 2 4 7:0 0 7:1 0"]) == nil)
        #expect(ApplyPlanner.growable(from: ["0 8 linear 7:0 0", "8 8 linear 7:1 0"], to: ["0 16 linear 7:0 0", "16 8 linear 7:1 0"]) == nil)
        #expect(ApplyPlanner.growable(from: ["0 8 linear 7:0 0"], to: ["0 8 linear 7:0 0"]) == nil)
    }

    @Test func teardownSelectionIsTopDownAndOwnedOnly() throws {
        var snap = try Self.inventory().snapshot
        for i in snap.devices.indices where snap.devices[i].dm != nil {
            snap.devices[i].dm!.uuid = "DMSTACK-x:\(snap.devices[i].dm!.name)"
        }
        let inv = Inventory(snap)
        #expect(try inv.teardown("x", force: false).map(\.name) == ["secret", "lin"])
        #expect(try inv.teardown("lin", force: false).map(\.name) == ["secret", "lin"])
        #expect(try inv.teardown("secret", force: false).map(\.name) == ["secret"])
        #expect(throws: TeardownError.self) { try inv.teardown("nope", force: false) }
        let foreign = try Self.inventory()
        #expect(throws: TeardownError.self) { try foreign.teardown("lin", force: false) }
        #expect(try foreign.teardown("lin", force: true).map(\.name) == ["secret", "lin"])
        #expect(inv.ownedVolumes().map(\.name) == ["lin", "secret"])
        #expect(foreign.ownedVolumes().isEmpty)
    }
}
