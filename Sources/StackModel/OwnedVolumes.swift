/// A dm device dmstack made (dm uuid `DMSTACK-<stack>:<volume>`), as `dmstack list` shows it.
public struct OwnedVolume: Sendable, Hashable, Codable {
    public var name: String
    public var stack: String
    public var uuid: String
    public var majorMinor: String
    /// Bytes.
    public var size: UInt64
    public var targets: [String]
    /// Names of the devices it is built on.
    public var members: [String]
    public var mountpoints: [String]
    /// `active`, or any of `suspended`, `degraded`, `recovering`, `missing member`,
    /// `read-only`, `failed`, `invalid`.
    public var state: [String]
}

/// One device to remove, top-down, with the mounts to undo first.
public struct TeardownItem: Sendable, Hashable, Codable {
    public var name: String
    public var majorMinor: String
    public var uuid: String
    public var owned: Bool
    public var mountpoints: [String]
}

/// A teardown request that cannot be honoured as given.
public struct TeardownError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Category: Sendable, Hashable { case notFound, notOwned }
    public var category: Category
    public var message: String
    public var description: String { message }
}

extension Inventory {
    /// Every device dmstack owns, by stack then name. A member whose device number no longer
    /// exists (a pmem namespace unbound under a live table) is a `missing member`.
    public func ownedVolumes() -> [OwnedVolume] {
        let present = Set(devices.map(\.majorMinor))
        var out: [OwnedVolume] = []
        for d in devices {
            guard let dm = d.dm, let owner = StackSpec.owner(ofUUID: dm.uuid) else { continue }
            var state = state(of: d)
            if dm.deps.contains(where: { !present.contains($0) }) { state.append("missing member") }
            if state.isEmpty { state = ["active"] }
            out.append(OwnedVolume(name: dm.name, stack: owner.stack, uuid: dm.uuid, majorMinor: d.majorMinor, size: d.size * sectorBytes,
                                   targets: dm.targetTypes, members: below(d).map(\.displayName) + dm.deps.filter { !present.contains($0) },
                                   mountpoints: mounts(of: d).map(\.mountpoint), state: state))
        }
        return out.sorted { ($0.stack, $0.name) < ($1.stack, $1.name) }
    }

    /// What `teardown` removes for `selector`: a stack name (all its volumes), or a dm name
    /// (that device and every dm device built on it), each in an order where nothing is removed
    /// before what is built on it. Devices without the `DMSTACK-` prefix are refused unless
    /// `force`; a non-dm device built on the selection is always refused.
    public func teardown(_ selector: String, force: Bool) throws(TeardownError) -> [TeardownItem] {
        var selected: [BlockDevice] = devices.filter { $0.dm.flatMap { StackSpec.owner(ofUUID: $0.uuid) }?.stack == selector }
        if selected.isEmpty {
            guard let d = devices.first(where: { $0.dm?.name == selector || $0.dm?.lvm?.name == selector }) else {
                throw TeardownError(category: .notFound, message: "no dmstack stack and no dm device named '\(selector)'")
            }
            selected = [d]
        }
        // Everything built on the selection must go first.
        var all: [String: BlockDevice] = [:]
        func add(_ d: BlockDevice) {
            guard all[d.kernelName] == nil else { return }
            all[d.kernelName] = d
            for h in above(d) { add(h) }
        }
        selected.forEach(add)
        return try topDown(all, force: force)
    }

    /// `all` (by kernel name) in an order where nothing is removed before what is built on it;
    /// refuses a non-dm device, and a dm device without the `DMSTACK-` prefix unless `force`.
    func topDown(_ all: [String: BlockDevice], force: Bool) throws(TeardownError) -> [TeardownItem] {
        for d in all.values.sorted(by: { $0.kernelName < $1.kernelName }) {
            guard let dm = d.dm else {
                throw TeardownError(category: .notOwned, message: "\(d.displayName) is built on the selection and is not a dm device; remove it first")
            }
            if StackSpec.owner(ofUUID: dm.uuid) == nil && !force {
                if let lv = dm.lvm {
                    // lvm deactivates its own volumes, sub-volumes with them (lvm2 tools/lvchange.c).
                    throw TeardownError(category: .notOwned, message: "\(lv.name) is lvm's (dm \(dm.name), uuid '\(dm.uuid)'): `lvchange -an \(lv.volume)` deactivates it; --force to remove it anyway")
                }
                throw TeardownError(category: .notOwned, message: "\(dm.name) is not dmstack's (uuid '\(dm.uuid)'); --force to remove it anyway")
            }
        }
        // Top-down: a device only after every selected device above it.
        var done = Set<String>(), order: [TeardownItem] = []
        var remaining = all.values.sorted { ($0.major, $0.minor) > ($1.major, $1.minor) }
        while !remaining.isEmpty {
            guard let i = remaining.firstIndex(where: { d in above(d).allSatisfy { done.contains($0.kernelName) || all[$0.kernelName] == nil } }) else { break }
            let d = remaining.remove(at: i)
            done.insert(d.kernelName)
            order.append(TeardownItem(name: d.dm!.name, majorMinor: d.majorMinor, uuid: d.dm!.uuid,
                                      owned: StackSpec.owner(ofUUID: d.dm!.uuid) != nil, mountpoints: mounts(of: d).map(\.mountpoint)))
        }
        return order
    }
}
