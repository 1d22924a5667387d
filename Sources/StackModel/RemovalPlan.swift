/// What `dmstack remove LEAF` does, in order, decided from the live inventory and the leaf's
/// pre-remove impact. The order is the kernel's pre-remove path (xfs_dax_notify_failure with
/// MF_MEM_PRE_REMOVE: freeze, kill every mapper, invalidate, thaw) made safe for a stack the
/// kernel would not tell: then unmount what loses data, remove the dm layers above the leaf
/// top-down, and only then take the leaf away, so no table ever points at a vanished device.
public struct RemovalPlan: Encodable, Sendable {
    /// A file whose cached pages are dropped (its absolute path, file byte ranges).
    public struct Invalidation: Encodable, Sendable, Hashable {
        public var mountpoint: String
        public var path: String
        public var ranges: [ByteRange]
    }

    public var leaf: String
    public var leafDevice: String
    /// One mountpoint per filesystem that is hit: frozen, then thawed.
    public var freeze: [String]
    /// Processes that map or hold open a hit file, one entry per pid.
    public var processes: [FileUse]
    public var invalidate: Invalidations
    /// Every mount of a filesystem that loses data or sits on a removed layer, deepest first.
    public var unmount: [String]
    /// dm devices above the leaf that lose data, top-down.
    public var layers: [TeardownItem]
    /// Devices whose redundancy covers the leaf: they stay up, degraded.
    public var degraded: [String]
    /// Layers above the leaf that stay because a device that stays holds them (a raid leg's
    /// image and metadata volumes): they error on I/O until the raid is repaired.
    public var staying: [String]
    /// What the admin should know before going ahead.
    public var warnings: [String]

    /// Nothing above the leaf loses data: redundancy covers it (or nothing is built on it).
    public var keepsServing: Bool { freeze.isEmpty && unmount.isEmpty && layers.isEmpty }
}

extension RemovalPlan {
    /// The files whose cached pages are dropped, read from the impact's file lists one at a
    /// time (a whole-device removal lists every file: they are not copied into the plan).
    /// Encodes as the array of `Invalidation`s.
    public struct Invalidations: Sequence, Encodable, Sendable {
        let lists: [(mountpoint: String, files: FileList)]

        public init(_ lists: [(mountpoint: String, files: FileList)]) { self.lists = lists.filter { !$0.files.isEmpty } }
        public var count: Int { lists.reduce(0) { $0 + $1.files.count } }
        public var isEmpty: Bool { lists.isEmpty }
        /// What the held lists give for sure (`FileList.underestimatedCount`).
        public var underestimatedCount: Int { lists.reduce(0) { $0 + $1.files.underestimatedCount } }

        public struct Iterator: IteratorProtocol {
            var lists: ArraySlice<(mountpoint: String, files: FileList)>
            var current: (mountpoint: String, files: FileList.Iterator)?

            public mutating func next() -> Invalidation? {
                while true {
                    if current != nil, let f = current!.files.next() {
                        return Invalidation(mountpoint: current!.mountpoint, path: f.path, ranges: f.extents)
                    }
                    guard let l = lists.popFirst() else { return nil }
                    current = (l.mountpoint, l.files.makeIterator())
                }
            }
        }

        public func makeIterator() -> Iterator { Iterator(lists: lists[...]) }

        /// Each invalidation, as the iterator gives them, but a spilled list that cannot be
        /// read back to its end throws instead of ending early (a removal says so).
        public func forEach(throwing body: (Invalidation) throws -> Void) throws {
            for l in lists {
                try l.files.forEachFile { f in
                    let path = f.nameCount > 0 ? String(decoding: f.arena[f.nameAt(0)], as: UTF8.self) : "<inode \(f.inode)>"
                    try body(Invalidation(mountpoint: l.mountpoint, path: path, ranges: Array(f.extents)))
                }
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.unkeyedContainer()
            try forEach(throwing: { try c.encode($0) })
        }
    }
}

/// Why a removal cannot be planned: the leaf is not a leaf, or something above is not ours.
public struct RemovalError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Category: Sendable, Hashable { case notALeaf, notOwned, inUse }
    public var category: Category
    public var message: String
    public var description: String { message }
    public init(category: Category, message: String) {
        self.category = category
        self.message = message
    }
}

extension Inventory {
    /// The raid type of a dm-raid table with a leg lacking its metadata device (`-`), nil
    /// otherwise: md cannot record that leg's failure.
    func raidWithoutMetadata(_ d: BlockDevice) -> String? {
        for t in table(of: d)?.targets ?? [] {
            if let r = t.kind as? RaidTarget, r.legs.contains(where: { $0.metadata == nil }) { return r.raidType }
        }
        return nil
    }

    /// The removal of `leaf` given its pre-remove `impact`. Every device built on the leaf goes,
    /// except a raid or mirror whose copy covers it (all its pieces degraded) and what is built
    /// on that; a device that goes must be dmstack's (DMSTACK- uuid) unless `force`.
    public func removal(of leafName: String, impact: Impact, force: Bool) throws(RemovalError) -> RemovalPlan {
        let leaf: BlockDevice
        do { leaf = try device(leafName) } catch { throw RemovalError(category: .notALeaf, message: error.description) }
        if let lv = leaf.dm?.lvm {
            throw RemovalError(category: .notALeaf, message: "\(lv.name) is an lvm volume, not a leaf; lvm deactivates its volumes (`lvchange -an \(lv.volume)`)")
        }
        if let dm = leaf.dm {
            throw RemovalError(category: .notALeaf, message: "\(leaf.displayName) is a dm device, not a leaf; `dmstack teardown \(dm.name)` removes dm devices")
        }
        if let p = leaf.partition {
            throw RemovalError(category: .notALeaf, message: "\(leaf.displayName) is a partition; remove its disk (\(p.parent))")
        }
        let saved = Set(impact.layers.filter { l in !l.ranges.isEmpty && l.ranges.allSatisfy { $0.outcome == .degraded } }.map(\.device))
        var going: [String: BlockDevice] = [:]
        func add(_ d: BlockDevice) {
            for h in above(d) where going[h.kernelName] == nil && !saved.contains(h.displayName) {
                going[h.kernelName] = h
                add(h)
            }
        }
        add(leaf)
        // A device still held by one that stays (the members of a raid that keeps serving)
        // cannot be removed: it stays, pointing at the vanished leaf, until it is repaired.
        var staying: [String] = []
        var changed = true
        while changed {
            changed = false
            for (k, d) in going where above(d).contains(where: { going[$0.kernelName] == nil }) {
                going[k] = nil
                staying.append(d.displayName)
                changed = true
            }
        }
        if !force, let refusal = lvmRefusal(leaf: leaf, going: Array(going.values)) {
            throw RemovalError(category: .notOwned, message: refusal)
        }
        let layers: [TeardownItem]
        do { layers = try topDown(going, force: force) } catch { throw RemovalError(category: .notOwned, message: error.message) }

        var unmount: [String] = []
        for fs in impact.filesystems {
            if let d = try? device(fs.device) { unmount += mounts(of: d).map(\.mountpoint) }
            unmount.append(fs.mountpoint)
        }
        unmount += layers.flatMap(\.mountpoints) + mounts(of: leaf).map(\.mountpoint)
        var seen = Set<String>()
        unmount = unmount.filter { seen.insert($0).inserted }.sorted { ($0.count, $0) > ($1.count, $1) }
        // Another filesystem mounted inside one that goes would make its unmount fail after
        // the processes were signalled: refused before anything happens.
        for m in snapshot.mounts where !seen.contains(m.mountpoint) {
            if let outer = unmount.first(where: { m.mountpoint.hasPrefix($0 == "/" ? "/" : $0 + "/") }) {
                throw RemovalError(category: .inUse, message: "\(m.mountpoint) (\(m.source)) is mounted inside \(outer), which the removal unmounts; unmount it first")
            }
        }

        var pids = Set<Int32>()
        let processes = impact.filesystems.flatMap(\.processes).filter { pids.insert($0.pid).inserted }
        let invalidate = RemovalPlan.Invalidations(impact.filesystems.map { ($0.mountpoint, $0.files) })
        return RemovalPlan(leaf: leaf.displayName, leafDevice: leaf.majorMinor,
                           freeze: impact.filesystems.map(\.mountpoint), processes: processes, invalidate: invalidate,
                           unmount: unmount, layers: layers, degraded: impact.degradedDevices,
                           staying: staying.sorted(), warnings: saved.sorted().compactMap { name in
                               (try? device(name)).flatMap { raidWithoutMetadata($0) }.map {
                                   "\(name) is a \($0) without metadata devices: md cannot record the failed leg and blocks writes (md_wait_for_blocked_rdev) until the raid is repaired or reloaded"
                               }
                           } + lvmRepairWarnings(leaf: leaf, staying: staying.compactMap { try? device($0) }))
    }
}
