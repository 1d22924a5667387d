/// Who must be told when a leaf below it fails. The kernel records this only for a filesystem
/// directly on pmem (`dax_holder()`); the never-merged `fs_dax_register_super()` series would
/// have recorded the superblock for every dax device of a stack. dmstack records it in user
/// space, for filesystems and for applications that use a device directly.
public enum HolderKind: String, Codable, Sendable {
    case filesystem
    case raw
}

/// The part of a holder a device serves. XFS keeps data, an external log and a realtime
/// section on separate devices, and xfs_notify_failure.c tells them apart: a hit on the log
/// or realtime device is handled differently from one on the data device. Raw holders use
/// `data`.
public enum HolderRole: String, Codable, Sendable, CaseIterable {
    case data
    case log
    case realtime
}

/// Whether a recorded device still serves its holder. The record's JSON (in the registry and in
/// `holders --json`) spells it by the raw value, and so does the text.
public enum LayerState: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// In the chain now.
    case present
    /// No device with its identity exists any more (a namespace unbound, a disk pulled).
    case gone
    /// The device still exists but is no longer under the holder (a member replaced).
    case detached

    public var description: String { rawValue }
}

/// A holder as a whole, derived from its layers' `LayerState`s each time it is asked (never
/// decoded: the registry's `holders.state` column keeps the raw value for a human with sqlite3,
/// and dmstack does not read it back). A closed set, so what the commands and tests match on
/// is checked by the compiler; JSON and text print the raw value.
public enum HolderState: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// Every recorded device is present.
    case ok
    /// Some devices are gone or detached, but the holder's own data device is there.
    case degraded
    /// The holder's data device is gone.
    case gone

    public var description: String { rawValue }
}

/// One device of a holder's chains, as last seen, with the identity that finds it again after
/// a reboot renumbers kernel names and dev_t.
public struct RecordedLayer: Codable, Sendable, Hashable {
    /// `dm-uuid:…`, `ns-uuid:…` or `namespace:…` (pmem), `partuuid:…`, `by-id:…`, `loop:FILE`, or `devt:MAJ:MIN`
    /// where nothing better exists.
    public var identity: String
    /// The device as last seen: kernel name, dev_t, size, dm name, uuid and table, filesystem.
    public var device: BlockDevice
    /// The pmem namespace behind a pmem leaf (name, uuid, claiming pfn/btt).
    public var namespace: PmemNamespace?
    /// /dev/disk/by-id names of the device.
    public var byId: [String]
    public var isLeaf: Bool
    public var state: LayerState
    /// When the state last changed to gone or detached (ISO 8601).
    public var since: String?

    public init(identity: String, device: BlockDevice, namespace: PmemNamespace?, byId: [String], isLeaf: Bool,
                state: LayerState = .present, since: String? = nil) {
        self.identity = identity
        self.device = device
        self.namespace = namespace
        self.byId = byId
        self.isLeaf = isLeaf
        self.state = state
        self.since = since
    }

    /// The name people use now: the dm name or kernel name.
    public var name: String { device.displayName }
}

/// One path from a leaf up to the holder's device, for one role.
public struct HolderChain: Codable, Sendable, Hashable {
    public var role: HolderRole
    /// Layer identities, leaf first, the holder's device last.
    public var path: [String]
    public init(role: HolderRole, path: [String]) {
        self.role = role
        self.path = path
    }
}

/// The filesystem a holder is: what finds it again (its UUID), where it was mounted, and the
/// geometry a reverse map needs.
public struct FilesystemIdentity: Codable, Sendable, Hashable {
    public var type: String
    public var uuid: String?
    public var label: String?
    /// Filesystem block size in bytes, when known (statvfs of the mount, else libblkid).
    public var blockSize: UInt32?
    public var mountpoint: String?
    public init(type: String, uuid: String?, label: String?, blockSize: UInt32?, mountpoint: String?) {
        self.type = type
        self.uuid = uuid
        self.label = label
        self.blockSize = blockSize
        self.mountpoint = mountpoint
    }
}

/// A registered holder with every chain leaf → layers → holder device, per role.
public struct HolderRecord: Codable, Sendable, Hashable {
    public var name: String
    public var kind: HolderKind
    public var filesystem: FilesystemIdentity?
    /// For raw holders: the command to run when its device is hit (argv, never a shell).
    public var hook: [String]?
    /// `holders register`, or `apply STACK` for filesystems a spec made.
    public var registeredBy: String
    public var registeredAt: String
    public var refreshedAt: String
    /// Every device of every chain, leaves first, each once.
    public var layers: [RecordedLayer]
    public var chains: [HolderChain]

    public init(name: String, kind: HolderKind, filesystem: FilesystemIdentity?, hook: [String]?, registeredBy: String,
                registeredAt: String, refreshedAt: String, layers: [RecordedLayer], chains: [HolderChain]) {
        self.name = name
        self.kind = kind
        self.filesystem = filesystem
        self.hook = hook
        self.registeredBy = registeredBy
        self.registeredAt = registeredAt
        self.refreshedAt = refreshedAt
        self.layers = layers
        self.chains = chains
    }

    public func layer(_ identity: String) -> RecordedLayer? { layers.first { $0.identity == identity } }

    /// The device the holder sits on for `role` (the last layer of its chains).
    public func top(_ role: HolderRole) -> RecordedLayer? {
        chains.first { $0.role == role }?.path.last.flatMap(layer)
    }

    /// `ok` while every device is present; `degraded` when some are gone or detached but the
    /// holder's own device is there; `gone` when the holder's data device is gone.
    public var state: HolderState {
        if let top = top(.data), top.state != .present { return .gone }
        return layers.allSatisfy { $0.state == .present } ? .ok : .degraded
    }

    public var leaves: [RecordedLayer] { layers.filter(\.isLeaf) }
}

/// A holder could not be registered or found: the one-line reason.
public struct HolderError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What a holder names on the command line.
public enum HolderTarget: Sendable, Hashable {
    /// A mountpoint, a block device or a filesystem UUID (`UUID=…` or bare).
    case filesystem(String)
    /// A device an application uses directly.
    case raw(device: String)
}

/// The inputs from the OS that a pure build of a record needs.
public struct HolderContext: Sendable {
    /// /dev/disk/by-id names per kernel name.
    public var byId: [String: [String]]
    /// A /dev path resolved to a kernel name (symlinks followed); nil if it does not exist.
    public var resolvePath: @Sendable (String) -> String?
    /// Filesystem block size: statvfs of the mountpoint when mounted, else read from the
    /// superblock on the device (kernel name). libblkid's BLOCK_SIZE is the sector size for XFS.
    public var blockSize: @Sendable (_ mountpoint: String?, _ kernelName: String) -> UInt32?
    public var now: String

    public init(byId: [String: [String]] = [:], resolvePath: @escaping @Sendable (String) -> String? = { _ in nil },
                blockSize: @escaping @Sendable (String?, String) -> UInt32? = { _, _ in nil }, now: String) {
        self.byId = byId
        self.resolvePath = resolvePath
        self.blockSize = blockSize
        self.now = now
    }
}

extension Inventory {
    /// libblkid types that are containers or swap, not filesystems a superblock holder has.
    static let notFilesystems: Set<String> = ["LVM2_member", "linux_raid_member", "crypto_LUKS", "swap", "DM_integrity",
                                              "DM_verity_hash", "bcache", "zfs_member", "ceph", "VMFS_volume_member"]

    /// Paths per role are capped: a stack with more is not a stack an admin can reason about.
    static let maxChainsPerRole = 4096

    /// The identity that survives a reboot, best first: a dm uuid (dm name if it has none), a
    /// pmem namespace uuid (its name when it has no label), a GPT/MBR partition uuid, a by-id link, a loop device's backing
    /// file; dev_t only when nothing else exists.
    public func identity(of d: BlockDevice, byId: [String] = []) -> String {
        if let dm = d.dm { return dm.uuid.isEmpty ? "dm-name:\(dm.name)" : "dm-uuid:\(dm.uuid)" }
        if let ns = namespace(of: d) {
            // Label-less namespaces (no label area) have no uuid; their names follow the
            // region and stay put across reboots as long as the regions do.
            return ns.uuid.map { "ns-uuid:\($0)" } ?? "namespace:\(ns.name)"
        }
        if d.partition != nil, let p = d.filesystem?.partUuid { return "partuuid:\(p)" }
        if let first = byId.sorted(by: Self.preferredById).first { return "by-id:\(first)" }
        if let file = d.loopBackingFile { return "loop:\(file)" }
        return "devt:\(d.majorMinor)"
    }

    /// wwn- names are the most durable (a disk's world-wide name), then the rest in order.
    static func preferredById(_ a: String, _ b: String) -> Bool {
        let wa = a.hasPrefix("wwn-"), wb = b.hasPrefix("wwn-")
        return wa != wb ? wa : a < b
    }

    /// Every live device by its identity (the first one when two claim the same).
    public func devicesByIdentity(byId: [String: [String]]) -> [String: BlockDevice] {
        var out: [String: BlockDevice] = [:]
        for d in devices {
            let id = identity(of: d, byId: byId[d.kernelName] ?? [])
            if out[id] == nil { out[id] = d }
        }
        return out
    }

    /// The device carrying the filesystem with `uuid` that the filesystem is used through: the
    /// mounted one, else the one nothing is built on (raid1 legs and snapshot origins show
    /// the same superblock below it).
    public func filesystemDevice(uuid: String) throws(HolderError) -> BlockDevice {
        let carrying = devices.filter { $0.filesystem?.uuid == uuid }
        guard !carrying.isEmpty else { throw HolderError("no filesystem with UUID \(uuid)") }
        if let mounted = carrying.first(where: { !mounts(of: $0).isEmpty }) { return mounted }
        let tops = carrying.filter { d in above(d).allSatisfy { $0.filesystem?.uuid != uuid } }
        guard tops.count == 1 else {
            throw HolderError("filesystem UUID \(uuid) is on \(tops.map(\.displayName).joined(separator: ", ")): name the device")
        }
        return tops[0]
    }

    /// Resolves a holder target and records its chains: every path from each leaf up to the
    /// holder's data device, and for a mounted XFS its external log and realtime devices.
    public func holderRecord(name: String?, target: HolderTarget, hook: [String]? = nil, registeredBy: String,
                             context: HolderContext) throws(HolderError) -> HolderRecord {
        var tops: [(HolderRole, BlockDevice)] = []
        var fs: FilesystemIdentity?
        let kind: HolderKind
        let recordName: String
        switch target {
        case .raw(let device):
            kind = .raw
            let d = try deviceNamed(device, context: context)
            tops = [(.data, d)]
            guard let n = name, !n.isEmpty else { throw HolderError("a raw holder needs --name") }
            recordName = n
        case .filesystem(let spelled):
            kind = .filesystem
            let device: BlockDevice
            var mount: Mount?
            let trimmed = spelled.count > 1 && spelled.hasSuffix("/") ? String(spelled.dropLast()) : spelled
            if let m = snapshot.mounts.last(where: { $0.mountpoint == trimmed }) {
                guard let d = try? self.device(m.majorMinor) else {
                    throw HolderError("\(trimmed) is a \(m.fsType) mount on \(m.source), not on a block device")
                }
                device = d
                mount = m
            } else if spelled.hasPrefix("UUID=") {
                device = try filesystemDevice(uuid: String(spelled.dropFirst(5)))
            } else if !spelled.hasPrefix("/"), devices.contains(where: { $0.filesystem?.uuid == spelled }) {
                device = try filesystemDevice(uuid: spelled)
            } else if spelled.hasPrefix("/") && !spelled.hasPrefix("/dev/") {
                throw HolderError("\(spelled) is not a mountpoint")
            } else {
                device = try deviceNamed(spelled, context: context)
            }
            if mount == nil { mount = mounts(of: device).first }
            // A partition carries its table's PTTYPE too, so the type decides; what the kernel
            // has mounted is a filesystem whatever blkid says.
            if device.filesystem == nil, let reason = device.probeError {
                throw HolderError("cannot probe \(device.path) for its filesystem: \(reason) (run as root)")
            }
            guard let info = device.filesystem, let type = info.type ?? mount?.fsType,
                  mount != nil || !Self.notFilesystems.contains(type) else {
                throw HolderError("\(device.displayName) holds no filesystem (a device an application uses directly: --raw \(device.path) --name NAME)")
            }
            let blockSize = context.blockSize(mount?.mountpoint, device.kernelName) ?? (type == "xfs" ? nil : info.blockSize)
            fs = FilesystemIdentity(type: type, uuid: info.uuid, label: info.label, blockSize: blockSize, mountpoint: mount?.mountpoint)
            tops = [(.data, device)]
            if let m = mount {
                for (role, path) in [(HolderRole.log, m.logDevice), (.realtime, m.realtimeDevice)] {
                    guard let path else { continue }
                    guard let d = try? deviceNamed(path, context: context) else {
                        throw HolderError("\(m.mountpoint): its \(role.rawValue) device \(path) is not a block device here")
                    }
                    tops.append((role, d))
                }
            }
            recordName = name ?? mount?.mountpoint ?? info.uuid.map { "UUID=\($0)" } ?? device.displayName
        }
        var record = HolderRecord(name: recordName, kind: kind, filesystem: fs, hook: hook, registeredBy: registeredBy,
                                  registeredAt: context.now, refreshedAt: context.now, layers: [], chains: [])
        try record.record(tops, in: self, context: context)
        return record
    }

    /// A device as the user spells it: kernel name, dm name, /dev path (symlinks followed),
    /// major:minor.
    func deviceNamed(_ spelled: String, context: HolderContext) throws(HolderError) -> BlockDevice {
        if let d = try? device(spelled) { return d }
        if spelled.hasPrefix("/dev/"), let k = context.resolvePath(spelled), let d = device(kernelName: k) { return d }
        throw HolderError("no block device '\(spelled)'")
    }
}

extension HolderRecord {
    /// Replaces layers and chains with what `inventory` shows below `tops`. A dm member whose
    /// dev_t no longer exists (its table still names it) is recorded as a gone leaf.
    mutating func record(_ tops: [(HolderRole, BlockDevice)], in inventory: Inventory, context: HolderContext) throws(HolderError) {
        var layers: [String: RecordedLayer] = [:]
        var order: [String] = []
        var chains: [HolderChain] = []
        let present = Set(inventory.devices.map(\.majorMinor))
        func add(_ d: BlockDevice, leaf: Bool, state: LayerState = .present) -> String {
            let links = context.byId[d.kernelName] ?? []
            let id = state == .gone ? "devt:\(d.majorMinor)" : inventory.identity(of: d, byId: links)
            if layers[id] == nil {
                order.append(id)
                layers[id] = RecordedLayer(identity: id, device: d, namespace: inventory.namespace(of: d), byId: links.sorted(),
                                           isLeaf: leaf, state: state, since: state == .gone ? context.now : nil)
            }
            return id
        }
        for (role, top) in tops {
            var count = 0
            var failed = false
            // Depth-first from the holder's device down, each complete path one chain, with an
            // explicit stack and one shared path: the depth comes from the machine or a
            // snapshot (thousands of layers must neither overflow the stack nor copy the path
            // at every level). A device already on the path is a loop, which sysfs cannot
            // show but a corrupt snapshot may.
            struct Frame {
                var below: [BlockDevice]
                var missing: [String]
                var next = 0
            }
            var path: [String] = [], onPath = Set<String>(), stack: [Frame] = []
            func enter(_ d: BlockDevice) {
                var below = inventory.below(d)
                let missing = (d.dm?.deps ?? []).filter { !present.contains($0) }
                let id = add(d, leaf: below.isEmpty && missing.isEmpty)
                guard onPath.insert(id).inserted else { failed = true; return }
                path.append(id)
                below.sort { ($0.major, $0.minor) < ($1.major, $1.minor) }
                stack.append(Frame(below: below, missing: missing))
            }
            enter(top)
            while !failed, let frame = stack.last {
                if frame.next < frame.below.count {
                    stack[stack.count - 1].next += 1
                    enter(frame.below[frame.next])
                    continue
                }
                for m in frame.missing {
                    let parts = m.split(separator: ":")
                    let ghost = BlockDevice(kernelName: m, major: UInt32(parts.first ?? "") ?? 0, minor: UInt32(parts.last ?? "") ?? 0, size: 0)
                    chains.append(HolderChain(role: role, path: (path + [add(ghost, leaf: true, state: .gone)]).reversed()))
                    count += 1
                }
                if frame.below.isEmpty && frame.missing.isEmpty {
                    chains.append(HolderChain(role: role, path: path.reversed()))
                    count += 1
                }
                if count > Inventory.maxChainsPerRole { failed = true }
                stack.removeLast()
                onPath.remove(path.removeLast())
            }
            if failed {
                throw HolderError("\(top.displayName) has more than \(Inventory.maxChainsPerRole) paths to its leaves or a loop; not recorded")
            }
        }
        // Leaves first, then upwards, so a listing reads bottom-up like the chains.
        self.layers = order.map { layers[$0]! }.sorted { ($0.isLeaf ? 0 : 1) < ($1.isLeaf ? 0 : 1) }
        self.chains = chains
    }

    /// The holder re-read against the machine now, and what changed, one line each: tables
    /// reloaded, members replaced, devices gone or back, renumbered, remounted. A device that
    /// vanished stays in the record, marked gone with the time it was first found gone, with
    /// the chains through it: the point of the registry is to know them after the leaf is gone.
    /// `live` is `inventory.devicesByIdentity(byId:)`, given when many records are refreshed
    /// against one machine so it is built once.
    public func refreshed(in inventory: Inventory, context: HolderContext,
                          live given: [String: BlockDevice]? = nil) -> (record: HolderRecord, changes: [String]) {
        var changes: [String] = []
        let live = given ?? inventory.devicesByIdentity(byId: context.byId)
        var fresh: HolderRecord?
        let target: HolderTarget?
        switch kind {
        case .filesystem:
            let d = filesystem?.uuid.flatMap { try? inventory.filesystemDevice(uuid: $0) } ?? top(.data).flatMap { live[$0.identity] }
            target = d.map { .filesystem(inventory.mounts(of: $0).first?.mountpoint ?? $0.displayName) }
        case .raw:
            target = top(.data).flatMap { live[$0.identity] }.map { .raw(device: $0.displayName) }
        }
        if let target {
            do {
                fresh = try inventory.holderRecord(name: name, target: target, hook: hook, registeredBy: registeredBy, context: context)
            } catch {
                changes.append("cannot re-read \(name): \(error.message)")
            }
        } else {
            changes.append("\(kind == .filesystem ? "filesystem \(filesystem?.uuid ?? "?")" : "device \(top(.data)?.name ?? "?")") not found")
        }
        return (merged(with: fresh, live: live, now: context.now, changes: changes))
    }

    /// `fresh` (the holder as the machine shows it now, nil if its device is not found)
    /// merged into this record: devices that left are kept, marked gone or detached with
    /// the chains through them; tables, dev_t and mountpoint compared.
    public func merged(with fresh: HolderRecord?, live: [String: BlockDevice], now: String,
                       changes initial: [String] = []) -> (record: HolderRecord, changes: [String]) {
        var changes = initial
        var next = fresh ?? self
        next.registeredAt = registeredAt
        next.registeredBy = registeredBy
        next.refreshedAt = now
        if fresh == nil { next.layers = []; next.chains = [] }
        // A member gone since the last look appears in the fresh view only as the dev_t its
        // table still names: it is the device recorded before, under its real identity.
        var ghosts: [String: String] = [:]
        for l in next.layers where l.identity.hasPrefix("devt:") && l.state == .gone {
            if let was = layers.first(where: { $0.device.majorMinor == l.device.majorMinor && !$0.identity.hasPrefix("devt:") }) {
                ghosts[l.identity] = was.identity
            }
        }
        if !ghosts.isEmpty {
            next.layers.removeAll { ghosts[$0.identity] != nil }
            next.chains = next.chains.map { HolderChain(role: $0.role, path: $0.path.map { ghosts[$0] ?? $0 }) }
        }
        let freshIDs = Set(next.layers.map(\.identity))
        // Compare what is in both.
        for i in next.layers.indices {
            let current = next.layers[i]
            guard let was = layer(current.identity) else {
                changes.append("\(current.name) (\(current.device.majorMinor)) joined the chain")
                continue
            }
            if was.state != .present && current.state == .present { changes.append("\(current.name) (\(current.device.majorMinor)) is back") }
            if was.state == .gone && current.state == .gone { next.layers[i].since = was.since }
            if current.state == .present, current.device.kernelName != was.device.kernelName || current.device.majorMinor != was.device.majorMinor {
                changes.append("\(was.name) (\(was.device.majorMinor)) is now \(current.device.kernelName) (\(current.device.majorMinor))")
            }
            if let old = was.device.dm?.table, let new = current.device.dm?.table, old != new, !old.isEmpty, !new.isEmpty {
                changes.append("\(current.name): table reloaded: \(old.joined(separator: "; ")) -> \(new.joined(separator: "; "))")
            }
        }
        // Keep every device that left, with the chains through it.
        for was in layers where !freshIDs.contains(was.identity) {
            var kept = was
            let state: LayerState = live[was.identity] == nil ? .gone : .detached
            if was.state != state {
                kept.since = now
                changes.append("\(was.name) (\(was.device.majorMinor)) \(state == .gone ? "gone" : "left the chain")")
            }
            kept.state = state
            next.layers.append(kept)
        }
        let nextChains = Set(next.chains)
        for chain in chains where !nextChains.contains(chain) && chain.path.contains(where: { !freshIDs.contains($0) }) {
            next.chains.append(chain)
        }
        if fresh == nil {
            next.filesystem = filesystem
        } else if let was = filesystem?.mountpoint, next.filesystem?.mountpoint != was {
            changes.append(next.filesystem?.mountpoint.map { "mounted on \($0), was \(was)" } ?? "no longer mounted (was \(was))")
        } else if filesystem?.mountpoint == nil, let mounted = next.filesystem?.mountpoint {
            changes.append("mounted on \(mounted)")
        }
        next.layers.sort { ($0.isLeaf ? 0 : 1) < ($1.isLeaf ? 0 : 1) }
        return (next, changes)
    }

    /// The chains as a tree per leaf: each leaf with the layers above it merged by prefix,
    /// up to the holder's device. A leaf serving several roles or reached by several paths
    /// (two volumes on one namespace, a raid leg under two layers) shows every branch.
    public func leafTrees() -> [LayerTree] {
        // Built flat first (no recursion: a chain may be thousands of layers long), then
        // nested from the last node back: a node's children always come after it.
        var identities: [String] = [], roles: [[HolderRole]] = [], children: [[Int]] = [], roots: [Int] = []
        for chain in chains {
            var parent: Int?
            for identity in chain.path {
                let siblings = parent.map { children[$0] } ?? roots
                let index: Int
                if let found = siblings.first(where: { identities[$0] == identity }) {
                    index = found
                } else {
                    index = identities.count
                    identities.append(identity); roles.append([]); children.append([])
                    if let parent { children[parent].append(index) } else { roots.append(index) }
                }
                if !roles[index].contains(chain.role) { roles[index].append(chain.role) }
                parent = index
            }
        }
        var built: [LayerTree?] = Array(repeating: nil, count: identities.count)
        for i in identities.indices.reversed() {
            var node = LayerTree(identity: identities[i], roles: roles[i])
            node.above = children[i].compactMap { built[$0] }
            built[i] = node
            // Each node has one parent: its children are not needed on their own any more.
            for c in children[i] { built[c] = nil }
        }
        return roots.compactMap { built[$0] }
    }
}

/// A leaf and the layers above it: one node per layer, children above.
public struct LayerTree: Sendable, Hashable {
    public var identity: String
    /// The roles of the chains through this node.
    public var roles: [HolderRole]
    public var above: [LayerTree] = []

    init(identity: String, roles: [HolderRole]) {
        self.identity = identity
        self.roles = roles
    }
}

extension Inventory {
    /// This machine with the recorded devices that are no longer on it added back (the
    /// registry's last view of them, marked by kernel name and dev_t), so a range on a leaf
    /// that is gone still translates through the tables that used it. A recorded device whose
    /// kernel name or dev_t is taken by a live device is left out: the live one wins.
    public func adding(recorded: [BlockDevice]) -> (inventory: Inventory, added: [BlockDevice]) {
        var names = Set(devices.map(\.kernelName)), numbers = Set(devices.map(\.majorMinor))
        var added: [BlockDevice] = []
        for d in recorded where !names.contains(d.kernelName) && !numbers.contains(d.majorMinor) {
            added.append(d)
            names.insert(d.kernelName)
            numbers.insert(d.majorMinor)
        }
        guard !added.isEmpty else { return (self, []) }
        // Links to devices that are not here would confuse above/below; the dm tables and
        // the partition record carry the relations translation needs.
        for i in added.indices {
            added[i].holders = added[i].holders.filter { names.contains($0) }
            added[i].slaves = added[i].slaves.filter { names.contains($0) }
        }
        var s = snapshot
        s = SystemSnapshot(host: s.host, devices: s.devices + added, mounts: s.mounts, pmem: s.pmem, reverseMaps: s.reverseMaps, fileUses: s.fileUses)
        return (Inventory(s), added)
    }
}
