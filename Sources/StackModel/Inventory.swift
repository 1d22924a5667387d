/// A device named on the command line was not found in the snapshot or on the system.
public struct UnknownDeviceError: Error, Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var description: String { "no block device '\(name)' (give a kernel name, a dm name, an lvm vg/lv, a /dev path or major:minor)" }
}

/// Questions about one `SystemSnapshot`: finding devices by any of their names, what is above
/// and below each, its mounts and namespace, and the translation topology of its tables.
/// Pure: the same answers live and offline.
public struct Inventory: Sendable {
    public let snapshot: SystemSnapshot
    let byKernelName: [String: Int]
    let byAlias: [String: Int]
    /// Partitions by the kernel name of their disk, and mounts by major:minor, built once:
    /// `tree` asks for every device's.
    let partitionsByDisk: [String: [Int]]
    let mountsByDevice: [String: [Int]]
    /// pmem namespaces by name (the first of a name), so that a device's namespace is one lookup.
    let namespacesByName: [String: Int]
    /// Every table parsed once: the whole set for translation (or why it does not parse), and
    /// each dm device's own table by kernel name (those that parse, when one does not).
    let parsedTables: Result<TableSet, TableParseError>
    let deviceTables: [String: DeviceTable]

    public init(_ snapshot: SystemSnapshot) {
        self.snapshot = snapshot
        var k: [String: Int] = [:], a: [String: Int] = [:]
        for (i, d) in snapshot.devices.enumerated() {
            k[d.kernelName] = i
            a[d.kernelName] = i
            a["/dev/\(d.kernelName)"] = i
            a[d.majorMinor] = i
            if let dm = d.dm {
                a[dm.name] = i; a["/dev/mapper/\(dm.name)"] = i
                // lvm's names: vg/lv (and vg/lv:part), and /dev/vg/lv as lvm links it.
                if let lv = dm.lvm { a[lv.name] = i; a["/dev/\(lv.name)"] = i }
            }
        }
        byKernelName = k
        byAlias = a
        var parts: [String: [Int]] = [:]
        for (i, d) in snapshot.devices.enumerated() { if let p = d.partition { parts[p.parent, default: []].append(i) } }
        partitionsByDisk = parts
        var mounts: [String: [Int]] = [:]
        for (i, m) in snapshot.mounts.enumerated() { mounts[m.majorMinor, default: []].append(i) }
        mountsByDevice = mounts
        var namespaces: [String: Int] = [:]
        for (i, n) in snapshot.pmem.namespaces.enumerated() where namespaces[n.name] == nil { namespaces[n.name] = i }
        namespacesByName = namespaces
        var lines: [String] = []
        for d in snapshot.devices {
            if let table = d.dm?.table ?? d.layer?.table {
                for line in table { lines.append("\(d.displayName): \(line)") }
            } else if let p = d.partition, let i = k[p.parent], d.size > 0 {
                let layer = Target(start: 0, length: d.size, kind: PartitionLayer(parent: snapshot.devices[i].displayName, start: p.start))
                lines.append("\(d.displayName): \(layer.line)")
            }
        }
        let text = lines.joined(separator: "\n")
        parsedTables = Result { () throws(TableParseError) in try TableSet.parse(text) }
        var own: [String: DeviceTable] = [:]
        for d in snapshot.devices {
            guard let table = d.dm?.table ?? d.layer?.table, !table.isEmpty else { continue }
            if case .success(let set) = parsedTables { own[d.kernelName] = set.tables[d.displayName] }
            else { own[d.kernelName] = try? TableSet.parse(table.joined(separator: "\n")).tables[TableSet.unnamedDevice] }
        }
        deviceTables = own
    }

    public var devices: [BlockDevice] { snapshot.devices }

    /// A device by kernel name, dm name, lvm name (`vg/lv`, `vg/lv:rimage_1`, `LvmVolume`),
    /// `/dev/...` path (`/dev/vg/lv` too), `/dev/mapper/...` path or major:minor.
    public func device(_ name: String) throws(UnknownDeviceError) -> BlockDevice {
        if let i = byAlias[name] { return snapshot.devices[i] }
        throw UnknownDeviceError(name: name)
    }

    public func device(kernelName: String) -> BlockDevice? { byKernelName[kernelName].map { snapshot.devices[$0] } }

    /// Devices built directly on `d`: its holders, and for a whole disk its partitions.
    public func above(_ d: BlockDevice) -> [BlockDevice] {
        var out = d.holders.compactMap { device(kernelName: $0) }
        out += (partitionsByDisk[d.kernelName] ?? []).map { snapshot.devices[$0] }
        return out.sorted { ($0.major, $0.minor) < ($1.major, $1.minor) }
    }

    /// Devices `d` is built on directly: its slaves, and for a partition its disk.
    public func below(_ d: BlockDevice) -> [BlockDevice] {
        var out = d.slaves.compactMap { device(kernelName: $0) }
        if let p = d.partition, let disk = device(kernelName: p.parent) { out.append(disk) }
        return out.sorted { ($0.major, $0.minor) < ($1.major, $1.minor) }
    }

    /// The leaves under `d` (itself if it is one).
    /// An explicit work list, not recursion: the depth of a stack comes from the input (a
    /// snapshot or table file may chain thousands of devices), and each device is visited
    /// once, so a cycle in a corrupt snapshot ends the walk too.
    public func leaves(of d: BlockDevice) -> [BlockDevice] {
        var seen = Set<String>(), out: [BlockDevice] = [], todo = [d]
        while let x = todo.popLast() {
            guard seen.insert(x.kernelName).inserted else { continue }
            let b = below(x)
            if b.isEmpty { out.append(x) } else { todo += b }
        }
        return out.sorted { ($0.major, $0.minor) < ($1.major, $1.minor) }
    }

    /// The display names of every device of the stacks `names` belong to: all that is built
    /// on them or they are built on, transitively both ways (a thin device, its pool, the
    /// pool's other thin devices). Dynamic metadata is read for these only.
    public func stack(of names: [String]) -> Set<String> {
        var seen = Set<String>(), out = Set<String>(), todo = names.compactMap { try? device($0) }
        while let d = todo.popLast() {
            guard seen.insert(d.kernelName).inserted else { continue }
            out.insert(d.displayName)
            todo += above(d) + below(d)
        }
        return out
    }

    public func mounts(of d: BlockDevice) -> [Mount] {
        (mountsByDevice[d.majorMinor] ?? []).map { snapshot.mounts[$0] }
    }

    public func namespace(of d: BlockDevice) -> PmemNamespace? {
        d.pmemNamespace.flatMap { n in namespacesByName[n].map { snapshot.pmem.namespaces[$0] } }
    }

    /// The device's table parsed, or nil for a device without one (or whose table does not parse).
    public func table(of d: BlockDevice) -> DeviceTable? { deviceTables[d.kernelName] }

    /// Every dm table and partition of the snapshot as one table set, members resolved to
    /// display names, for translation.
    public func tableSet() throws(TableParseError) -> TableSet { try parsedTables.get() }

    /// The translation topology of the snapshot: every table, partitions as layers, device
    /// sizes, and every spelling of a device (major:minor, dm-N, /dev paths) as an alias.
    public func topology(mappings: DynamicMappings = DynamicMappings()) throws -> (Topology, warnings: [String]) {
        let tables = try tableSet()
        var aliases: [String: String] = [:], sizes: [String: UInt64] = [:]
        for d in snapshot.devices {
            aliases[d.majorMinor] = d.displayName
            aliases[d.kernelName] = d.displayName
            aliases["/dev/\(d.kernelName)"] = d.displayName
            if let dm = d.dm, dm.name != d.displayName {
                aliases[dm.name] = d.displayName
                aliases["/dev/mapper/\(dm.name)"] = d.displayName
            }
            sizes[d.displayName] = d.size
        }
        return (try Topology(tables: tables, mappings: mappings, sizes: sizes, aliases: aliases), tables.warnings)
    }
}

extension DeviceMapperInfo {
    /// The major:minor of every device a kernel-printed table names, each once, in table
    /// order: what DM_TABLE_DEPS answers (the devices the targets opened, dm-table.c
    /// `dm_get_device`; a kernel table prints each as major:minor), so discovery need not ask.
    /// Nil when a line does not parse or is of a type dmstack does not know (its members are
    /// unknown: ask the kernel).
    public static func deps(ofTable lines: [String]) -> [String]? {
        guard !lines.isEmpty else { return [] }
        guard let table = try? TableSet.parse(lines.joined(separator: "\n")).tables[TableSet.unnamedDevice],
              table.targets.count == lines.count else { return nil }
        var seen = Set<String>(), out: [String] = []
        for target in table.targets {
            guard TargetTypes.type(named: target.typeName) != nil else { return nil }
            for member in target.kind.members where isDeviceNumber(member.device) && seen.insert(member.device).inserted {
                out.append(member.device)
            }
        }
        return out
    }

    /// `MAJOR:MINOR`, as the kernel prints a table's devices (`-` is a raid slot without one).
    static func isDeviceNumber(_ word: String) -> Bool {
        let parts = word.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }
}
