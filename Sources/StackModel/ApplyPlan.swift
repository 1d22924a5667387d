/// Why a spec cannot be applied as it stands; the category decides the exit status.
public struct PlanError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Category: String, Sendable, Hashable {
        /// A member that does not exist (or a key file that cannot be read).
        case missing
        /// A member smaller than what the spec asks of it, or a size the target cannot take.
        case size
        /// A member mounted, held by something outside the spec, or a dm name owned by
        /// someone else: refused for safety.
        case inUse
        /// The live device differs from the spec in a way the kernel cannot change in place.
        case unsupportedChange
    }
    public var category: Category
    public var message: String
    public var description: String { message }

    init(_ category: Category, _ spec: StackSpec, line: Int, key: String, _ message: String) {
        self.category = category
        self.message = "\(spec.file):\(line): \(key): \(message)"
    }
}

/// A crypt key file that cannot be used (missing, unreadable, empty, too long).
public struct KeyFileError: Error, Hashable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// One step of applying a spec, in the order it runs. Tables name volumes created in the same
/// run as `{name}`, filled in with their major:minor once they exist.
public enum ApplyStep: Sendable, Hashable {
    /// Thin-pool or cache metadata, or a writecache cache device: zeroed in its first 4 KiB
    /// only when it holds neither that target's superblock nor any other signature, so the
    /// kernel formats it (dm-thin-metadata.c / dm-cache-metadata.c `__superblock_all_zeroes`,
    /// dm-writecache.c `writecache_ctr`) and a re-apply keeps what it holds.
    case prepareMetadata(volume: String, device: String, format: MetadataFormat)
    case create(volume: String, uuid: String, table: [String])
    /// dm-thin.c `pool_message` `create_thin <id>`; an id that exists already is kept.
    case createThin(pool: String, id: UInt64, volume: String)
    case reload(volume: String, from: [String], to: [String], reason: String)
    case unchanged(volume: String)
    /// mkfs only when blkid finds no filesystem on the volume; the same type found is kept.
    case makeFilesystem(volume: String, filesystem: FilesystemSpec)
    case mount(volume: String, mountpoint: String, type: FilesystemSpec.Kind, options: [String])
}

/// Which superblock a metadata device carries when it is already formatted.
public enum MetadataFormat: String, Sendable, Hashable {
    case thin, cache, writecache

    /// Where the magic number sits and its little-endian value: dm-thin-metadata.c
    /// THIN_SUPERBLOCK_MAGIC 27022010 and dm-cache-metadata.c CACHE_SUPERBLOCK_MAGIC 06142003
    /// at byte 32 (after csum, flags, blocknr, uuid[16]) as a __le64; dm-writecache.c
    /// MEMORY_SUPERBLOCK_MAGIC 0x23489321 at byte 0 as a __le32.
    public var magic: (offset: Int, bytes: [UInt8]) {
        func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        switch self {
        case .thin: return (32, le(27_022_010, 8))
        case .cache: return (32, le(6_142_003, 8))
        case .writecache: return (0, le(0x2348_9321, 4))
        }
    }

    /// Whether `block` (the device's first bytes) carries this format's superblock.
    public func isFormatted(_ block: [UInt8]) -> Bool {
        let m = magic
        return block.count >= m.offset + m.bytes.count && Array(block[m.offset..<m.offset + m.bytes.count]) == m.bytes
    }
}

/// What `apply` will do, volume by volume, in dependency order.
public struct ApplyPlan: Sendable, Hashable {
    public var stack: String
    public var steps: [ApplyStep]
    /// Volumes of this stack that exist but are no longer in the spec: left alone.
    public var strays: [String]
    /// Per volume: size in sectors and its table as planned (for display and `--json`).
    public var volumes: [PlannedVolume]

    public var changes: Bool {
        steps.contains { if case .unchanged = $0 { return false } else { return true } }
    }
}

public struct PlannedVolume: Sendable, Hashable, Codable {
    public var name: String
    public var uuid: String
    public var size: UInt64
    public var table: [String]
    public var action: Action

    /// What apply does to the volume (stratisd's `CreateAction`: results say whether anything
    /// changed).
    public enum Action: String, Codable, Sendable, Hashable, CustomStringConvertible {
        case create, reload, unchanged
        public var description: String { rawValue }
    }
}

/// Resolves members and turns a spec into tables and steps against what exists. Pure: the
/// live machine comes in as an `Inventory`, /dev paths through `resolvePath` (symlinks to
/// kernel names) and crypt keys through `key`.
public struct ApplyPlanner {
    public var spec: StackSpec
    public var inventory: Inventory
    /// `/dev/...` → the kernel name of the node it leads to, nil if none.
    public var resolvePath: (String) -> String?
    /// key_file → the key as hex, or why it cannot be read.
    public var key: (String) -> Result<String, KeyFileError>
    /// Reload or adopt dm devices whose uuid lacks the `DMSTACK-` prefix.
    public var force: Bool

    public init(spec: StackSpec, inventory: Inventory, force: Bool = false,
                resolvePath: @escaping (String) -> String?, key: @escaping (String) -> Result<String, KeyFileError>) {
        self.spec = spec
        self.inventory = inventory
        self.force = force
        self.resolvePath = resolvePath
        self.key = key
    }

    func fail(_ c: PlanError.Category, _ m: MemberSpec, _ message: String) -> PlanError {
        PlanError(c, spec, line: m.line, key: m.key, message)
    }

    /// The device a reference names, or why not.
    func device(_ m: MemberSpec) throws(PlanError) -> BlockDevice {
        let d = inventory.snapshot.devices
        switch m.ref {
        case .path(let p):
            guard let k = resolvePath(p), let dev = inventory.device(kernelName: k) ?? (try? inventory.device(k)) else {
                throw fail(.missing, m, "member \(p) does not exist")
            }
            return dev
        case .tag(let name, let value):
            let hits = d.filter {
                switch name {
                case "UUID": $0.filesystem?.uuid == value
                case "PARTUUID": $0.filesystem?.partUuid?.lowercased() == value.lowercased()
                default: $0.filesystem?.label == value
                }
            }
            // A stacked device shows its lower device's superblock too (a linear over the
            // whole disk): the lowest one is the member meant.
            let lowest = hits.filter { h in !h.slaves.contains { s in hits.contains { $0.kernelName == s } } }
            guard !lowest.isEmpty else { throw fail(.missing, m, "no device has \(name)=\(value)") }
            guard lowest.count == 1 else {
                throw fail(.missing, m, "\(name)=\(value) is on \(lowest.map(\.kernelName).joined(separator: " and ")); name one by path")
            }
            return lowest[0]
        case .namespace(let n):
            guard let ns = inventory.snapshot.pmem.namespaces.first(where: { $0.name == n || $0.uuid == n }) else {
                throw fail(.missing, m, "no pmem namespace \(n)")
            }
            guard let b = ns.blockDevice, let dev = inventory.device(kernelName: b) else {
                throw fail(.missing, m, "pmem namespace \(ns.name) (\(ns.mode)) has no block device; fsdax or sector mode gives one")
            }
            return dev
        case .volume:
            preconditionFailure("volumes are resolved by the planner")
        }
    }

    public func plan() throws(PlanError) -> ApplyPlan {
        let order: [VolumeSpec]
        do { order = try spec.dependencyOrder() } catch { throw PlanError(.size, spec, line: error.line, key: error.key, error.message) }
        let names = Set(spec.volumes.map(\.name))
        // Existing dm devices by name.
        var existing: [String: BlockDevice] = [:]
        for d in inventory.devices { if let dm = d.dm { existing[dm.name] = d } }
        var sizes: [String: UInt64] = [:]
        var steps: [ApplyStep] = [], planned: [PlannedVolume] = []
        var uses: [String: [(range: SectorRange, volume: String, shared: Bool, member: MemberSpec)]] = [:]
        var createdNow = Set<String>()

        for volume in order {
            let uuid = spec.uuid(of: volume.name)
            let live = existing[volume.name]
            // Ownership first: never touch a device someone else made.
            if let live, let dm = live.dm {
                if let owner = StackSpec.owner(ofUUID: dm.uuid) {
                    if owner.stack != spec.name || owner.volume != volume.name {
                        throw PlanError(.inUse, spec, line: volume.line, key: "volumes.\(volume.name)", "dm device \(volume.name) exists and belongs to dmstack stack '\(owner.stack)' (uuid \(dm.uuid))")
                    }
                } else if !force {
                    throw PlanError(.inUse, spec, line: volume.line, key: "volumes.\(volume.name)", "dm device \(volume.name) exists and is not dmstack's (uuid '\(dm.uuid)'); --force to adopt it")
                }
            } else if let live {
                throw PlanError(.inUse, spec, line: volume.line, key: "volumes.\(volume.name)", "\(volume.name) is the name of \(live.path), not a dm device")
            }

            var table: [String] = []
            var start: UInt64 = 0
            for target in volume.targets {
                let member = { (m: MemberSpec) throws(PlanError) -> ResolvedMember in
                    if case .volume(let v) = m.ref {
                        let total = sizes[v] ?? 0
                        guard m.offset < total else { throw fail(.size, m, "offset \(SpecSize.describe(m.offset)) is past the end of volume \(v) (\(SpecSize.describe(total)))") }
                        let word = createdNow.contains(v) ? "{\(v)}" : (existing[v]?.majorMinor ?? "{\(v)}")
                        return ResolvedMember(word: word, available: total - m.offset, identity: "{\(v)}")
                    }
                    let dev = try device(m)
                    guard m.offset < dev.size else {
                        throw fail(.size, m, "offset \(SpecSize.describe(m.offset)) is past the end of \(m.ref) (\(dev.path), \(SpecSize.describe(dev.size)))")
                    }
                    try checkFree(dev, m, volumeNames: names)
                    return ResolvedMember(word: dev.majorMinor, available: dev.size - m.offset, identity: dev.kernelName)
                }
                var planning = TargetPlanning(spec: spec, target: target, volume: volume.name, volumeExists: live != nil, resolve: member, key: key)
                let planned = try target.kind.plan(&planning)
                steps += planning.steps
                for u in planning.uses { uses[u.identity, default: []].append((u.range, volume.name, u.shared, u.member)) }
                let lines = planned.map { (length: $0.length, text: ([$0.target.typeName] + $0.target.tableArguments).joined(separator: " ")) }
                for l in lines {
                    table.append("\(start) \(l.length) \(l.text)")
                    start += l.length
                }
            }
            sizes[volume.name] = start
            let rendered = table.map(TableSecrets.mask)

            if let live, let dm = live.dm {
                // The kernel prints some tables with a trailing blank (dm-thin's pool_status):
                // compare words, not spacing.
                let liveTable = dm.table.map { $0.split(separator: " ").joined(separator: " ") }
                if let now = Self.targets(liveTable), let wanted = Self.targets(rendered), now == wanted {
                    // Steps queued for this volume (metadata, thin ids) only matter on creation.
                    steps.removeAll { if case .prepareMetadata(let v, _, _) = $0 { v == volume.name } else { false } }
                    steps.append(.unchanged(volume: volume.name))
                    planned.append(PlannedVolume(name: volume.name, uuid: uuid, size: start, table: rendered, action: .unchanged))
                } else if let reason = Self.growable(from: liveTable, to: rendered) {
                    steps.removeAll { if case .prepareMetadata(let v, _, _) = $0 { v == volume.name } else { false } }
                    steps.append(.reload(volume: volume.name, from: liveTable, to: table, reason: reason))
                    planned.append(PlannedVolume(name: volume.name, uuid: uuid, size: start, table: rendered, action: .reload))
                } else {
                    throw PlanError(.unsupportedChange, spec, line: volume.line, key: "volumes.\(volume.name)",
                                    "live table differs and cannot be changed in place (only appending to the end, or growing a last linear, thin, zero or error target, keeps existing data where it is); live: \(liveTable.joined(separator: " | ")); spec: \(rendered.joined(separator: " | "))")
                }
            } else {
                steps.append(.create(volume: volume.name, uuid: uuid, table: table))
                createdNow.insert(volume.name)
                planned.append(PlannedVolume(name: volume.name, uuid: uuid, size: start, table: rendered, action: .create))
            }
            if let fs = volume.filesystem {
                // An existing volume that already holds this filesystem, mounted where the
                // spec says, needs nothing: that is what makes a re-apply `unchanged`.
                if live?.filesystem?.type != fs.kind.rawValue {
                    steps.append(.makeFilesystem(volume: volume.name, filesystem: fs))
                }
                if let mp = fs.mountpoint, !(live.map { inventory.mounts(of: $0).contains { $0.mountpoint == mp } } ?? false) {
                    steps.append(.mount(volume: volume.name, mountpoint: mp, type: fs.kind, options: fs.options))
                }
            }
        }
        try checkOverlaps(uses)
        let strays = inventory.devices.compactMap { d -> String? in
            guard let dm = d.dm, let o = StackSpec.owner(ofUUID: dm.uuid), o.stack == spec.name, !names.contains(o.volume) else { return nil }
            return dm.name
        }
        return ApplyPlan(stack: spec.name, steps: steps, strays: strays, volumes: planned)
    }

    /// A member must not be mounted or held by anything but this stack's own volumes (dm
    /// opens its members exclusively: dm-table.c `dm_get_device`).
    func checkFree(_ dev: BlockDevice, _ m: MemberSpec, volumeNames: Set<String>) throws(PlanError) {
        if let mount = inventory.mounts(of: dev).first {
            throw fail(.inUse, m, "member \(m.ref) (\(dev.path)) is in use: mounted on \(mount.mountpoint)")
        }
        for h in dev.holders {
            guard let holder = inventory.device(kernelName: h) else { continue }
            if let dm = holder.dm, let o = StackSpec.owner(ofUUID: dm.uuid), o.stack == spec.name, volumeNames.contains(o.volume) { continue }
            throw fail(.inUse, m, "member \(m.ref) (\(dev.path)) is in use: held by \(holder.displayName)" + (holder.dm.map { " (dm uuid '\($0.uuid)')" } ?? ""))
        }
        for p in inventory.above(dev) where p.partition != nil {
            throw fail(.inUse, m, "member \(m.ref) (\(dev.path)) has partitions (\(p.kernelName)); name the partition instead")
        }
    }

    /// Two volumes must not use the same sectors of a member, except an origin, which a
    /// snapshot and its snapshot-origin share by design (dm-snap.c).
    func checkOverlaps(_ uses: [String: [(range: SectorRange, volume: String, shared: Bool, member: MemberSpec)]]) throws(PlanError) {
        for (_, list) in uses {
            for i in list.indices {
                for j in list.indices where j > i {
                    let a = list[i], b = list[j]
                    guard !(a.shared && b.shared), a.range.intersection(b.range) != nil else { continue }
                    throw fail(.size, b.member, "sectors \(b.range) of \(b.member.ref) are also used by volume \(a.volume) (\(a.member.key))")
                }
            }
        }
    }

    /// Table lines parsed into typed targets (each type compares its own arguments), nil when
    /// they do not parse.
    static func targets(_ lines: [String]) -> [Target]? {
        try? TableSet.parse(lines.joined(separator: "\n")).tables[TableSet.unnamedDevice]?.targets ?? []
    }

    /// Whether the kernel can move from `old` to `new` without moving data: every old target
    /// kept as is, the last one possibly grown if its type's mapping does not depend on its
    /// length (`TargetType.growsInPlace`), new targets only appended. Returns why it is allowed.
    public static func growable(from old: [String], to new: [String]) -> String? {
        guard let a = targets(old), let b = targets(new), !a.isEmpty, b.count >= a.count, a != b else { return nil }
        for (i, o) in a.enumerated() where o != b[i] {
            let n = b[i]
            guard i == a.count - 1, o.start == n.start, n.length > o.length, type(of: o.kind).growsInPlace,
                  o.typeName == n.typeName, o.arguments == n.arguments else { return nil }
        }
        let oldSize = a.last.map { $0.start + $0.length } ?? 0
        let newSize = b.last.map { $0.start + $0.length } ?? 0
        return "grows from \(SpecSize.describe(oldSize)) to \(SpecSize.describe(newSize)); existing sectors keep their place"
    }
}

extension ApplyStep {
    /// One line for plans and reports; tables with their keys masked, `{name}` shown as the
    /// /dev/mapper path it will be.
    public var summary: String {
        func show(_ table: [String]) -> String {
            table.map { l in
                var t = TableSecrets.mask(l)
                while let open = t.firstIndex(of: "{"), let close = t[open...].firstIndex(of: "}") {
                    t.replaceSubrange(open...close, with: "/dev/mapper/" + t[t.index(after: open)..<close])
                }
                return t
            }.joined(separator: " | ")
        }
        switch self {
        case .prepareMetadata(let v, let d, let f):
            return "prepare \(v): \(show([d])) as \(f.rawValue) metadata (kept if formatted, zeroed if it holds no signature, refused if it holds another)"
        case .create(let v, let uuid, let table):
            return "create \(v) (\(uuid)): \(show(table))"
        case .createThin(let pool, let id, let v):
            return "create thin id \(id) in \(pool) for \(v) (kept if it exists)"
        case .reload(let v, _, let to, let reason):
            return "reload \(v): \(show(to)) (\(reason))"
        case .unchanged(let v):
            return "unchanged \(v)"
        case .makeFilesystem(let v, let fs):
            var features: [String] = []
            if fs.kind == .xfs { features += ["rmapbt=\(fs.rmapbt ? 1 : 0)", "reflink=\(fs.reflink ? 1 : 0)"] }
            if let l = fs.label { features.append("label \(l)") }
            return "mkfs \(v): \(fs.kind.rawValue)" + (features.isEmpty ? "" : " (\(features.joined(separator: ", ")))") + " unless one is there"
        case .mount(let v, let mp, _, let options):
            return "mount \(v) on \(mp)" + (options.isEmpty ? "" : " (\(options.joined(separator: ",")))")
        }
    }
}
