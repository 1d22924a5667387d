import FoundationEssentials

/// One node of `dmstack tree`: a device, with what an admin wants to see on one line, and
/// the devices under it (top-down) or over it (`--inverse`).
public struct TreeNode: Codable, Sendable, Hashable {
    public var name: String
    public var kernelName: String
    public var majorMinor: String
    /// Bytes (like `lsblk -b`).
    public var size: UInt64
    /// `dm`, `part`, `disk`, `loop` or `pmem`.
    public var type: String
    /// A short description of the table (`striped 2×64KiB`, `raid5_ls 3 legs`, `linear 3 segs`).
    public var table: String?
    public var fsType: String?
    public var fsUUID: String?
    public var label: String?
    public var mountpoints: [String]
    /// `fsdax`, `devdax`, `sector` or `raw` for a pmem block device.
    public var pmemMode: String?
    /// `suspended`, `degraded`, `recovering`, `invalid`, `read-only`, `failed`, as status and sysfs say.
    public var state: [String]
    /// The lvm2 volume a dm device is (`LvmVolume`): its VG, the LV users know, and for an
    /// internal device the part of that LV it is. Absent for devices lvm did not activate.
    public var lvm: LvmVolume?
    /// True when this device and what is under it (or over it, inverse) were already drawn
    /// earlier in the same forest and the forest had reached `Inventory.treeNodeBudget`
    /// nodes: it is drawn once more without its children. Absent otherwise.
    public var repeated: Bool?
    public var children: [TreeNode]
}

/// Why the stacks cannot be drawn: the same refusals as `translate`'s, so the two commands
/// agree on a corrupt snapshot (a table that does not parse, devices that form a cycle).
public enum TreeError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownDevice(UnknownDeviceError)
    /// A device's table does not parse (as `Inventory.tableSet` reads it for translation).
    case table(TableParseError)
    /// Devices that form a cycle, in the tables or in the holders/slaves graph.
    case cycle(TopologyError)

    public var description: String {
        switch self {
        case .unknownDevice(let e): e.description
        case .table(let e): e.description
        case .cycle(let e): e.description
        }
    }
}

extension Inventory {
    /// Nodes a forest may hold before a device met again is drawn without its children
    /// (`TreeNode.repeated`): a stack where each layer sits on two copies of the one below
    /// doubles with every level, so drawing every path would be exponential. Below the
    /// budget every path is drawn, as lsblk draws them.
    public static let treeNodeBudget = 10_000

    /// The forest of every stack: top-down (each top device, then what it is built on) or
    /// inverse (each leaf, then what is built on it). `roots` limits it to those devices'
    /// trees; empty and RAM devices are left out unless `all`, as lsblk does. A table that
    /// does not parse and a cycle (in the tables, or in the holders/slaves graph that a
    /// corrupt snapshot may hold) are refused as `translate` refuses them.
    public func tree(roots names: [String] = [], inverse: Bool = false, all: Bool = false) throws(TreeError) -> [TreeNode] {
        func shown(_ d: BlockDevice) -> Bool { all || (d.size > 0 && d.major != 1) }
        let next: (BlockDevice) -> [BlockDevice] = inverse ? { self.above($0) } : { self.below($0) }
        let previous: (BlockDevice) -> [BlockDevice] = inverse ? { self.below($0) } : { self.above($0) }
        try checkStacks()
        var roots: [BlockDevice] = []
        if names.isEmpty {
            roots = devices.filter { shown($0) && previous($0).filter(shown).isEmpty }
        } else {
            for n in names {
                do { roots.append(try device(n)) } catch { throw .unknownDevice(error) }
            }
        }
        var expanded: Set<String> = []
        var count = 0
        return roots.map { build($0, next: { next($0).filter(shown) }, expanded: &expanded, count: &count) }
    }

    /// The checks `translate` makes before it answers (every table parses, the tables form
    /// no cycle), and the holders/slaves graph that `tree` and `show` walk has no cycle
    /// either, in either direction: sysfs cannot make one, a corrupt snapshot can.
    public func checkStacks() throws(TreeError) {
        do { _ = try tableSet() } catch { throw .table(error) }
        do { _ = try topology() } catch let error as TopologyError {
            if case .cycle = error { throw .cycle(error) }
        } catch {}
        try checkAcyclic { self.below($0) }
        try checkAcyclic { self.above($0) }
    }

    func checkAcyclic(_ next: (BlockDevice) -> [BlockDevice]) throws(TreeError) {
        // Depth-first with an explicit stack and three colours; a device met again while it
        // is on the path closes a cycle, named from that device down the path.
        var state: [String: Bool] = [:]  // false: on the path; true: done
        for start in devices where state[start.kernelName] == nil {
            var path: [(device: BlockDevice, pending: [BlockDevice])] = [(start, next(start).reversed())]
            state[start.kernelName] = false
            while !path.isEmpty {
                guard let child = path[path.count - 1].pending.popLast() else {
                    state[path.removeLast().device.kernelName] = true
                    continue
                }
                switch state[child.kernelName] {
                case .some(true): continue
                case .some(false):
                    let from = path.lastIndex { $0.device.kernelName == child.kernelName } ?? 0
                    throw .cycle(.cycle(path[from...].map(\.device.displayName)))
                case .none:
                    state[child.kernelName] = false
                    path.append((child, next(child).reversed()))
                }
            }
        }
    }

    /// One device's tree, built depth-first with an explicit stack rather than recursion: how
    /// deep a stack goes comes from the input (a snapshot may chain thousands of devices).
    /// `expanded` holds the devices already drawn with their children in this forest and
    /// `count` the nodes drawn so far: past `treeNodeBudget`, a device drawn before comes
    /// again without its children, marked `repeated`. A device already on the path is left
    /// out (`checkStacks` refused cycles before; this keeps the walk finite regardless).
    func build(_ root: BlockDevice, next: (BlockDevice) -> [BlockDevice], expanded: inout Set<String>, count: inout Int) -> TreeNode {
        struct Frame {
            var device: BlockDevice
            var pending: [BlockDevice]
            var repeated = false
            var children: [TreeNode] = []
        }
        func frame(_ d: BlockDevice) -> Frame {
            count += 1
            if !expanded.insert(d.kernelName).inserted && count > Self.treeNodeBudget {
                return Frame(device: d, pending: [], repeated: !next(d).isEmpty)
            }
            return Frame(device: d, pending: next(d).reversed())
        }
        var onPath: Set<String> = [root.kernelName]
        // Children are taken from the end of `pending`, so it is kept reversed.
        var stack = [frame(root)]
        while true {
            let top = stack.count - 1
            if let child = stack[top].pending.popLast() {
                guard onPath.insert(child.kernelName).inserted else { continue }
                stack.append(frame(child))
                continue
            }
            let done = stack.removeLast()
            onPath.remove(done.device.kernelName)
            var built = node(done.device, children: done.children)
            if done.repeated { built.repeated = true }
            if stack.isEmpty { return built }
            stack[stack.count - 1].children.append(built)
        }
    }

    func node(_ d: BlockDevice, children: [TreeNode]) -> TreeNode {
        TreeNode(name: d.displayName, kernelName: d.kernelName, majorMinor: d.majorMinor, size: d.size * sectorBytes,
                 type: deviceType(d), table: tableSummary(d), fsType: d.filesystem?.type, fsUUID: d.filesystem?.uuid,
                 label: d.filesystem?.label, mountpoints: mounts(of: d).map(\.mountpoint).sorted(),
                 pmemMode: namespace(of: d)?.mode, state: state(of: d), lvm: d.dm?.lvm, repeated: nil, children: children)
    }

    public func deviceType(_ d: BlockDevice) -> String {
        if d.dm != nil { return "dm" }
        if let layer = d.layer { return layer.kind }
        if d.partition != nil { return "part" }
        if d.loopBackingFile != nil || d.kernelName.hasPrefix("loop") { return "loop" }
        if d.pmemNamespace != nil || d.kernelName.hasPrefix("pmem") { return "pmem" }
        return "disk"
    }

    /// `linear 3 segs`, `striped 2×64KiB`, `raid5_ls 3 legs`, `crypt`, `thin id 1`; several
    /// target types are joined with `+`.
    public func tableSummary(_ d: BlockDevice) -> String? {
        guard let lines = d.dm?.table ?? d.layer?.table else { return nil }
        guard let table = table(of: d), !table.targets.isEmpty else { return lines.isEmpty ? "no table" : "unparsed" }
        var parts: [String] = []
        var i = 0
        let t = table.targets
        while i < t.count {
            var j = i
            while j < t.count && t[j].typeName == t[i].typeName { j += 1 }
            let count = j - i
            let base = t[i].kind.summary(segments: count)
            parts.append(base)
            i = j
        }
        return parts.joined(separator: "+")
    }

    /// The health of each target in a device's status lines (`<start> <length> <type> <args>`),
    /// read by that target type; lines of unknown types say nothing.
    static func health(_ d: BlockDevice) -> [TargetHealth] {
        (d.dm?.status ?? d.layer?.status ?? []).compactMap { line in
            let f = line.split(separator: " ").map(String.init)
            guard f.count >= 3, let type = TargetTypes.type(named: f[2]) else { return nil }
            return type.health(status: Array(f.dropFirst(3)))
        }
    }

    /// The leg health characters of each raid or mirror target in a device's status, with
    /// whether a leg is dead or absent.
    static func legHealth(_ d: BlockDevice) -> [(characters: String, failed: Bool)] {
        health(d).compactMap { h in h.legs.map { ($0, h.failed) } }
    }

    /// State from sysfs and `dmsetup status` lines: dm-raid and dm-raid1 health characters
    /// (`D` = dead leg), multipath failed paths (`F`), an invalid snapshot, a failed or
    /// read-only thin pool.
    public func state(of d: BlockDevice) -> [String] {
        var out: [String] = []
        if d.readOnly { out.append("read-only") }
        guard d.dm != nil || d.layer != nil else { return out }
        if d.dm?.suspended == true { out.append("suspended") }
        // Leg states first (raid, mirror), then the others, in status order.
        let health = Self.health(d)
        for h in health where h.legs != nil { out += h.states }
        for h in health where h.legs == nil { out += h.states }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }
}

/// `tree --json` written with an explicit stack instead of the encoder's recursion: a snapshot
/// may chain thousands of devices, and JSONEncoder nests a call per level. The writer prints
/// what `JSONOutputEncoder` prints (pretty, sorted snake_case keys; checked byte for byte by
/// the tests) while nesting stays within `indentedLevels`; deeper lines keep that indentation
/// (whitespace only: the same JSON), which keeps a chain of n devices O(n) bytes instead of
/// O(n²) spaces. Plain strings are written directly (an encoder call a node cost a third of
/// `tree --json` at 1,000 devices); strings that need escaping and the `lvm` object go
/// through the encoder.
public enum TreeJSON {
    /// Objects and arrays nested deeper than this are not indented further (a node is two
    /// levels: its object and its `children` array).
    public static let indentedLevels = 64

    /// `{"tree": [node...]}`, pretty-printed with sorted snake_case keys like every `--json`.
    public static func document(_ forest: [TreeNode]) throws -> String {
        enum Step {
            case node(TreeNode, level: Int, comma: Bool)
            case close(TreeNode, level: Int, comma: Bool)
        }
        var writer = Writer()
        writer.out = "{\n  \"tree\" : ["
        if forest.isEmpty { return writer.out + "\n\n  ]\n}" }
        writer.out += "\n"
        var steps: [Step] = forest.enumerated().reversed().map { .node($0.element, level: 2, comma: $0.offset < forest.count - 1) }
        while let step = steps.popLast() {
            switch step {
            case .close(let node, let level, let comma):
                try writer.close(node, level: level, comma: comma)
            case .node(let node, let level, let comma):
                writer.pad(level)
                writer.out += "{\n"
                writer.pad(level + 1)
                writer.out += "\"children\" : [\n"
                if node.children.isEmpty {
                    writer.out += "\n"
                    try writer.close(node, level: level, comma: comma)
                    continue
                }
                steps.append(.close(node, level: level, comma: comma))
                let kids = node.children
                for (i, child) in kids.enumerated().reversed() {
                    steps.append(.node(child, level: level + 2, comma: i < kids.count - 1))
                }
            }
        }
        return writer.out + "  ]\n}"
    }

    struct Writer {
        var out = ""
        let encoder = JSONOutputEncoder.make()

        /// The indentation of each level, made once.
        let pads = (0...TreeJSON.indentedLevels).map { String(repeating: " ", count: 2 * $0) }

        mutating func pad(_ level: Int) { out += pads[min(level, TreeJSON.indentedLevels)] }

        /// The end of a node at `level` once its children are written: the `children` array
        /// closed, then its other fields in key order.
        mutating func close(_ n: TreeNode, level: Int, comma: Bool) throws {
            pad(level + 1)
            out += "]"
            let inner = level + 1
            func key(_ k: String) { out += ",\n"; pad(inner); out += "\"\(k)\" : " }
            if let v = n.fsType { key("fs_type"); try string(v) }
            if let v = n.fsUUID { key("fs_uuid"); try string(v) }
            key("kernel_name"); try string(n.kernelName)
            if let v = n.label { key("label"); try string(v) }
            if let v = n.lvm { key("lvm"); try object(v, level: inner) }
            key("major_minor"); try string(n.majorMinor)
            key("mountpoints"); try strings(n.mountpoints, level: inner)
            key("name"); try string(n.name)
            if let v = n.pmemMode { key("pmem_mode"); try string(v) }
            if let v = n.repeated { key("repeated"); out += v ? "true" : "false" }
            key("size"); out += String(n.size)
            key("state"); try strings(n.state, level: inner)
            if let v = n.table { key("table"); try string(v) }
            key("type"); try string(n.type)
            out += "\n"
            pad(level)
            out += comma ? "},\n" : "}\n"
        }

        mutating func string(_ s: String) throws {
            if s.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
                out += "\""; out += s; out += "\""
            } else {
                out += String(decoding: try encoder.encode(s), as: UTF8.self)
            }
        }

        mutating func strings(_ list: [String], level: Int) throws {
            out += "["
            if list.isEmpty { out += "\n\n"; pad(level); out += "]"; return }
            for (i, s) in list.enumerated() {
                out += i == 0 ? "\n" : ",\n"
                pad(level + 1)
                try string(s)
            }
            out += "\n"; pad(level); out += "]"
        }

        /// A nested object through the encoder, its lines indented to `level`.
        mutating func object<T: Encodable>(_ value: T, level: Int) throws {
            let text = String(decoding: try encoder.encode(value), as: UTF8.self)
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if i > 0 { out += "\n"; if !line.isEmpty { pad(level) } }
                out += line
            }
        }
    }
}
