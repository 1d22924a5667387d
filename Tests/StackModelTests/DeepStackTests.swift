import Foundation
import StackModel
import Testing

/// Stacks as deep as a snapshot or table file can make them: the inventory, the tree (built,
/// and written as JSON) and holder chains walk them without recursion, and a cycle in a
/// corrupt snapshot ends every walk.
@Suite("Deep stacks")
struct DeepStackTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// loop0 under a chain of `depth` linear dm devices c0 (on loop0) … c(depth-1) (the top,
    /// carrying an XFS); with `cycle`, c0 also claims the top as a member.
    static func chain(_ depth: Int, cycle: Bool = false) -> Inventory {
        var devices = [BlockDevice(kernelName: "loop0", major: 7, minor: 0, size: 8192, holders: ["dm-0"], loopBackingFile: "/img")]
        for i in 0..<depth {
            let lower = i == 0 ? "7:0" : "253:\(i - 1)"
            var slaves = [i == 0 ? "loop0" : "dm-\(i - 1)"]
            var holders = i + 1 < depth ? ["dm-\(i + 1)"] : []
            if cycle && i == 0 { slaves.append("dm-\(depth - 1)") }
            if cycle && i == depth - 1 { holders.append("dm-0") }
            devices.append(BlockDevice(kernelName: "dm-\(i)", major: 253, minor: UInt32(i), size: 8192, holders: holders, slaves: slaves,
                                       dm: DeviceMapperInfo(name: "c\(i)", uuid: "DMSTACK-t:c\(i)", suspended: false, openCount: 1,
                                                            table: ["0 8192 linear \(lower) 0"], status: [], deps: [lower]),
                                       filesystem: i == depth - 1 ? FilesystemInfo(type: "xfs", uuid: "X") : nil))
        }
        return Inventory(SystemSnapshot(host: HostInfo(hostname: "h", kernel: "6.12", capturedAt: "T0", dmstackVersion: "0"),
                                        devices: devices, mounts: [], pmem: PmemInventory()))
    }

    /// The names down the first child of each node, root first.
    static func spine(_ node: TreeNode) -> [String] {
        var out = [node.name], n = node
        while let first = n.children.first { out.append(first.name); n = first }
        return out
    }

    @Test func fiveThousandLayersBuildWholeBothWays() throws {
        let inventory = Self.chain(5000)
        let down = try inventory.tree()
        #expect(down.count == 1)
        #expect(Self.spine(down[0]) == (0..<5000).reversed().map { "c\($0)" } + ["loop0"])
        let up = try inventory.tree(inverse: true)
        #expect(Self.spine(up[0]) == ["loop0"] + (0..<5000).map { "c\($0)" })
        #expect(inventory.leaves(of: try inventory.device("c4999")).map(\.kernelName) == ["loop0"])
        #expect(inventory.report(try inventory.device("c4999")).leaves == ["loop0"])
        #expect(inventory.stack(of: ["c2500"]).count == 5001)
    }

    @Test func aCycleEndsTheWalks() throws {
        let inventory = Self.chain(4, cycle: true)
        // The tree refuses the cycle as translate does, whether or not roots are named (every
        // device has something above it: no roots), named down the slaves from the first
        // device of the snapshot on it.
        for (roots, inverse) in [([String](), false), (["c3"], false), ([], true)] {
            #expect(throws: TreeError.cycle(.cycle(["c0", "c3", "c2", "c1"]))) {
                try inventory.tree(roots: roots, inverse: inverse)
            }
        }
        #expect(throws: TreeError.self) { try inventory.checkStacks() }
        #expect(throws: Never.self) { try Self.chain(4).checkStacks() }
        #expect(inventory.leaves(of: try inventory.device("c3")).map(\.kernelName) == ["loop0"])
        #expect(throws: HolderError.self) {
            try inventory.holderRecord(name: nil, target: .filesystem("c3"), registeredBy: "test", context: HolderContext(now: "T1"))
        }
        do {
            _ = try inventory.holderRecord(name: nil, target: .filesystem("c3"), registeredBy: "test", context: HolderContext(now: "T1"))
        } catch {
            #expect(error.message.contains("or a loop"))
        }
    }

    /// loop0 under `depth` levels of two dm devices a_i and b_i, each a linear device over
    /// both devices of the level below (a0 and b0 over loop0), and `top` over a and b of the
    /// last level: a diamond at every level, 2^depth paths from the top to the leaf.
    static func diamond(_ depth: Int) -> Inventory {
        var devices = [BlockDevice(kernelName: "loop0", major: 7, minor: 0, size: 8192, holders: ["dm-0", "dm-1"], loopBackingFile: "/img")]
        func dm(_ n: Int, _ name: String, holders: [String], over lower: [(kernel: String, number: String)]) -> BlockDevice {
            let table = lower.count == 1 ? ["0 8192 linear \(lower[0].number) 0"]
                : ["0 4096 linear \(lower[0].number) 0", "4096 4096 linear \(lower[1].number) 4096"]
            return BlockDevice(kernelName: "dm-\(n)", major: 253, minor: UInt32(n), size: 8192, holders: holders, slaves: lower.map(\.kernel),
                               dm: DeviceMapperInfo(name: name, uuid: "DMSTACK-t:\(name)", suspended: false, openCount: 1,
                                                    table: table, status: [], deps: lower.map(\.number)))
        }
        for i in 0..<depth {
            let lower = i == 0 ? [("loop0", "7:0")] : [("dm-\(2 * i - 2)", "253:\(2 * i - 2)"), ("dm-\(2 * i - 1)", "253:\(2 * i - 1)")]
            let holders = i + 1 < depth ? ["dm-\(2 * i + 2)", "dm-\(2 * i + 3)"] : ["dm-\(2 * depth)"]
            devices.append(dm(2 * i, "a\(i)", holders: holders, over: lower))
            devices.append(dm(2 * i + 1, "b\(i)", holders: holders, over: lower))
        }
        devices.append(dm(2 * depth, "top", holders: [], over: [("dm-\(2 * depth - 2)", "253:\(2 * depth - 2)"), ("dm-\(2 * depth - 1)", "253:\(2 * depth - 1)")]))
        return Inventory(SystemSnapshot(host: HostInfo(hostname: "h", kernel: "6.12", capturedAt: "T0", dmstackVersion: "0"),
                                        devices: devices, mounts: [], pmem: PmemInventory()))
    }

    static func count(_ node: TreeNode) -> (nodes: Int, repeated: Int) {
        var nodes = 0, repeated = 0, todo = [node]
        while let n = todo.popLast() { nodes += 1; if n.repeated == true { repeated += 1 }; todo += n.children }
        return (nodes, repeated)
    }

    /// A small diamond is drawn path by path as lsblk draws it; a deep one (2^40 paths) stays
    /// within the node budget, the devices met again past it marked `repeated`.
    @Test func diamondsAreBoundedByTheNodeBudget() throws {
        // Level 0 is a0 over loop0 (2 nodes); each level above doubles the one below, plus one.
        let small = try Self.diamond(3).tree()
        #expect(small.map(\.name) == ["top"])
        #expect(Self.count(small[0]).nodes == 23 && Self.count(small[0]).repeated == 0)
        let deep = try Self.diamond(40).tree()
        let (nodes, repeated) = Self.count(deep[0])
        #expect(nodes > Inventory.treeNodeBudget && nodes <= Inventory.treeNodeBudget + 4 * 41, "\(nodes) nodes")
        #expect(repeated > 0)
        // The first path is drawn whole, down to the leaf.
        #expect(Self.spine(deep[0]) == ["top"] + (0..<40).reversed().map { "a\($0)" } + ["loop0"])
        #expect(try TreeJSON.document(deep).contains("\"repeated\" : true"))
        let up = try Self.diamond(40).tree(inverse: true)
        #expect(up.map(\.name) == ["loop0"] && Self.count(up[0]).nodes <= Inventory.treeNodeBudget + 4 * 41)
    }

    @Test func aHolderOnFiveThousandLayersRecordsItsWholeChain() throws {
        let inventory = Self.chain(5000)
        let record = try inventory.holderRecord(name: nil, target: .filesystem("c4999"), registeredBy: "test", context: HolderContext(now: "T1"))
        #expect(record.chains.count == 1)
        #expect(record.chains[0].path.count == 5001)
        #expect(record.chains[0].path.first == "loop:/img" && record.chains[0].path.last == "dm-uuid:DMSTACK-t:c4999")
        #expect(record.layers.count == 5001 && record.leaves.map(\.name) == ["loop0"])
        var trees = record.leafTrees()
        var depth = 0
        while trees.count == 1 { depth += 1; trees = trees[0].above }
        #expect(depth == 5001 && trees.isEmpty)
    }

    /// The writer's document is the encoder's byte for byte where the encoder's indentation
    /// fits, and the same JSON with indentation capped below.
    @Test func treeJSONIsTheEncodersDocument() throws {
        var forests: [[TreeNode]] = [[], try Self.chain(20).tree(), try Self.chain(20).tree(inverse: true)]
        for folder in ["examples", "Tests/Fixtures/lvm"] {
            let dir = Self.root.appendingPathComponent(folder)
            for file in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where file.hasSuffix(".json") {
                let inventory = Inventory(try SnapshotCodec.decode(Data(contentsOf: dir.appendingPathComponent(file)), file: file))
                forests += [try inventory.tree(all: true), try inventory.tree(inverse: true, all: true)]
            }
        }
        #expect(forests.count > 8 && forests.joined().contains { $0.lvm != nil || $0.children.contains { $0.lvm != nil } })
        // Strings that need escaping, and ones that do not but are not ASCII.
        var odd = try Self.chain(2).tree()
        odd[0].name = "a \"quoted\" \\ name\twith\u{1}controls"
        odd[0].label = "étiquette/ü"
        odd[0].mountpoints = ["/mnt/a b", "/mnt/\n"]
        odd[0].children[0].table = nil
        forests.append(odd)
        for forest in forests {
            let expected = String(decoding: try JSONOutputEncoder.make().encode(["tree": forest]), as: UTF8.self)
            #expect(try TreeJSON.document(forest) == expected)
        }
        // 100 layers nest 200 levels, past `indentedLevels`: only leading spaces differ.
        let deep = try Self.chain(100).tree()
        let expected = String(decoding: try JSONOutputEncoder.make().encode(["tree": deep]), as: UTF8.self)
        let written = try TreeJSON.document(deep)
        #expect(written != expected)
        func unindented(_ s: String) -> [Substring] { s.split(separator: "\n").map { $0.drop { $0 == " " } } }
        #expect(unindented(written) == unindented(expected))
        let longest = written.split(separator: "\n").map { (line: Substring) in line.prefix { $0 == " " }.count }.max() ?? 0
        #expect(longest == 2 * TreeJSON.indentedLevels)
    }
}
