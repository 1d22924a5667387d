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
    public var children: [TreeNode]
}

extension Inventory {
    /// The forest of every stack: top-down (each top device, then what it is built on) or
    /// inverse (each leaf, then what is built on it). `roots` limits it to those devices'
    /// trees; empty and RAM devices are left out unless `all`, as lsblk does.
    public func tree(roots names: [String] = [], inverse: Bool = false, all: Bool = false) throws(UnknownDeviceError) -> [TreeNode] {
        func shown(_ d: BlockDevice) -> Bool { all || (d.size > 0 && d.major != 1) }
        let next: (BlockDevice) -> [BlockDevice] = inverse ? { self.above($0) } : { self.below($0) }
        let previous: (BlockDevice) -> [BlockDevice] = inverse ? { self.below($0) } : { self.above($0) }
        var roots: [BlockDevice] = []
        if names.isEmpty {
            roots = devices.filter { shown($0) && previous($0).filter(shown).isEmpty }
        } else {
            for n in names { roots.append(try device(n)) }
        }
        func build(_ d: BlockDevice, _ depth: Int) -> TreeNode {
            // A stack is a DAG; a cycle cannot come from sysfs, but a corrupt snapshot may.
            let kids = depth > 64 ? [] : next(d).filter(shown).map { build($0, depth + 1) }
            return node(d, children: kids)
        }
        return roots.map { build($0, 0) }
    }

    func node(_ d: BlockDevice, children: [TreeNode]) -> TreeNode {
        TreeNode(name: d.displayName, kernelName: d.kernelName, majorMinor: d.majorMinor, size: d.size * sectorBytes,
                 type: deviceType(d), table: tableSummary(d), fsType: d.filesystem?.type, fsUUID: d.filesystem?.uuid,
                 label: d.filesystem?.label, mountpoints: mounts(of: d).map(\.mountpoint).sorted(),
                 pmemMode: namespace(of: d)?.mode, state: state(of: d), lvm: d.dm?.lvm, children: children)
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
