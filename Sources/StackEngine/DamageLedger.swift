import FoundationEssentials
import StackModel
import StackSystem

/// The damage ledger as the monitor, `remove` and `dmstack damage` use it: an event's impact
/// recorded (every lost file range by handle, every metadata range, the bad device range, the
/// devices redundancy saved), then checked until it is gone. An entry clears when its file is
/// deleted, truncated below the range, or rewritten so the range no longer maps onto the bad
/// bytes (FIEMAP), or when the condition its event stands for is over (the bad range left the
/// badblocks list, the raid is healthy, the leaf is back); an event whose entries all cleared
/// is resolved once, and its resolution goes to the sinks (an Alertmanager alert's end).
public struct DamageLedger {
    public let registry: HolderRegistry
    public var probe: any FileDamageProbe
    public let time: any TimeSource

    public init(registry: HolderRegistry, probe: any FileDamageProbe = LiveFileDamageProbe(), time: any TimeSource = SystemTime()) {
        self.registry = registry
        self.probe = probe
        self.time = time
    }

    /// The condition of a bad range on a device identity.
    public static func badRangeCondition(identity: String, range: SectorRange) -> String { "bad-range \(identity) \(range.start)+\(range.length)" }
    /// The condition of a leaf gone (removed).
    public static func goneCondition(identity: String) -> String { "gone \(identity)" }
    /// The condition of a raid or mirror that lost redundancy.
    public static func degradedCondition(identity: String) -> String { "degraded \(identity)" }

    /// Records `event`'s damage from `impact` (nil: an event without one, a degraded raid:
    /// its device alone). False if it was recorded before.
    @discardableResult
    public func record(_ event: NotificationEvent, impact: Impact?, inventory: Inventory, condition: String) throws(EngineError) -> Bool {
        let at = event.at
        func kernelName(_ name: String) -> String? { (try? inventory.device(name))?.kernelName }
        var ranges: [DamageRange] = []
        var devices: [DamageRow] = []
        if let impact {
            devices.append(DamageRow(kind: .device, device: impact.leaf, what: impact.event == .remove ? "removed" : "bad range",
                                     offset: impact.range.start, length: impact.range.length))
            for layer in impact.layers {
                for piece in layer.ranges where piece.outcome == .degraded {
                    devices.append(DamageRow(kind: .device, device: layer.device, what: "degraded", offset: piece.start,
                                             length: piece.run.count > 1 ? piece.run.stride * (piece.run.count - 1) + piece.length : piece.length))
                }
            }
            for fs in impact.filesystems {
                let uuid = (try? inventory.device(fs.device))?.filesystem?.uuid ?? fs.device
                // The filesystem device's lost bytes (a strided run as its envelope when long:
                // more bytes kept bad than were, never fewer, so nothing clears too soon).
                if let name = kernelName(fs.device), let layer = impact.layers.first(where: { kernelName($0.device) == name }) {
                    for piece in layer.ranges where piece.outcome == .lost {
                        let run = piece.run
                        if run.count <= 1024 {
                            for i in 0..<max(run.count, 1) {
                                ranges.append(DamageRange(fsUUID: uuid, role: HolderRole.data.rawValue,
                                                          range: ByteRange(offset: (run.start + i * run.stride) * 512, length: run.length * 512)))
                            }
                        } else {
                            ranges.append(DamageRange(fsUUID: uuid, role: HolderRole.data.rawValue,
                                                      range: ByteRange(offset: run.start * 512, length: (run.stride * (run.count - 1) + run.length) * 512)))
                        }
                    }
                }
            }
        } else if !event.degraded.isEmpty {
            for d in event.degraded { devices.append(DamageRow(kind: .device, device: d, what: "degraded", offset: 0, length: 0)) }
        } else {
            // An event whose impact could not be computed still stands for its device range:
            // without a row it would count as cleared (nothing left open) and resolve at once.
            let range = (try? RangeParser.parse(event.range)) ?? SectorRange(start: 0, length: 0)
            devices.append(DamageRow(kind: .device, device: event.leaf, what: event.kind == .remove ? "removed" : "bad range",
                                     offset: range.start, length: range.length))
        }
        let filesystems = impact?.filesystems ?? []
        let probe = probe
        // Files as the list streams them (a spilled list is read from its file): one handle a file.
        let files = filesystems.lazy.flatMap { fs in
            let uuid = (try? inventory.device(fs.device))?.filesystem?.uuid ?? fs.device
            return fs.files.lazy.flatMap { hit in
                let handle = probe.handle(hit.path)
                return hit.extents.map { e in
                    DamageRow(kind: .file, fsUUID: uuid, mountpoint: fs.mountpoint, device: fs.device, role: HolderRole.data.rawValue, inode: hit.inode,
                              generation: handle?.generation, handle: handle?.handle, path: hit.path, paths: hit.paths.count > 1 ? hit.paths : [],
                              what: "data", offset: e.offset, length: e.length)
                }
            }
        }
        let metadata = filesystems.lazy.flatMap { fs in
            let uuid = (try? inventory.device(fs.device))?.filesystem?.uuid ?? fs.device
            return fs.metadata.lazy.flatMap { m in
                m.ranges.map { DamageRow(kind: .metadata, fsUUID: uuid, mountpoint: fs.mountpoint, device: fs.device, role: m.role.rawValue,
                                         inode: m.inode, what: m.kind, offset: $0.offset, length: $0.length) }
            }
        }
        let rows = devices.lazy.map { $0 }.chained(with: metadata).chained(with: files)
        let recorded = try usingRegistry { () throws(RegistryError) in try registry.recordDamage(event: event.key, condition: condition, at: at, ranges: ranges, rows: rows) }
        // A spilled list whose file could not be read back ended the rows early: what was
        // recorded is true, but never as if it were all.
        if let failure = filesystems.lazy.compactMap(\.files.readFailure).first {
            throw EngineError(.partial, "the damage ledger of event \(event.key) is incomplete: \(failure)")
        }
        return recorded
    }

    /// What one check did.
    public struct CheckReport: Sendable {
        /// Entries cleared, per reason.
        public var cleared: [String: Int] = [:]
        /// Entries still damaged.
        public var damaged = 0
        /// Entries that could not be checked, with why (the first few).
        public var unknown: [String] = []
        /// Files found under another name than the ledger had.
        public var renamed = 0
        /// Events resolved by this check (their every entry cleared).
        public var resolved: [(event: String, reason: String)] = []
    }

    /// Checks every entry not cleared: conditions against the machine as `findings` describe
    /// it (`live`: the device identities present), and with `files` each damaged file through
    /// the probe (an open and a FIEMAP a file: the monitor does that part on a slower cadence).
    /// `mounts` (`Inventory.filesystemMounts`) says where each filesystem is mounted now: a
    /// file is looked for only under a mount of its own filesystem (its recorded mountpoint
    /// first), and one whose filesystem is not mounted is not checked (unknown), never taken
    /// for deleted because its handle meant nothing to whatever is mounted there now.
    public func check(findings: [MonitorFinding], live: Set<String>, mounts: [String: [String]]? = nil, files: Bool = true) throws(EngineError) -> CheckReport {
        var report = CheckReport()
        let at = time.now()
        // Conditions first: an event whose condition is over clears whole.
        var current = Set<String>()
        for f in findings {
            switch f {
            case .badRange(_, let identity, let range): current.insert(Self.badRangeCondition(identity: identity, range: range))
            case .degraded(_, let identity, _, _): current.insert(Self.degradedCondition(identity: identity))
            case .leafGone: break
            }
        }
        let open = try usingRegistry { () throws(RegistryError) in try registry.openConditions() }
        for condition in Set(open.map(\.condition)).sorted() {
            // `KIND IDENTITY` or `bad-range IDENTITY START+LENGTH`: an identity may hold
            // spaces (a loop's backing file, a dm name), the kind and the range never do.
            let parts = condition.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            var identity = parts[1]
            if parts[0] == "bad-range", let cut = identity.lastIndex(of: " ") { identity = String(identity[..<cut]) }
            // Only a device that is present can show a condition over: one still gone says nothing.
            guard live.contains(identity) else { continue }
            let reason: String
            switch parts[0] {
            case "gone": reason = "leaf back"
            case "bad-range": if current.contains(condition) { continue }; reason = "bad range gone"
            case "degraded": if current.contains(condition) { continue }; reason = "healthy again"
            default: continue
            }
            let n = try usingRegistry { () throws(RegistryError) in try registry.clearDamage(condition: condition, reason: reason, at: at) }
            if n > 0 { report.cleared[reason, default: 0] += n }
        }
        guard files else {
            report.resolved = try usingRegistry { () throws(RegistryError) in try registry.resolveCleared(at: at) }
            return report
        }
        // Then each file still damaged: collected first (ids and what the probe needs), so no
        // read statement is open while entries are marked.
        var badCache: [String: [ByteRange]] = [:]
        var clear: [String: [Int64]] = [:]
        var renames: [(Int64, String)] = []
        try usingRegistry { () throws(RegistryError) in
            try registry.forEachDamage(.init(kind: .file)) { e in
                let r = e.row
                let cacheKey = "\(e.event)\u{1f}\(r.fsUUID ?? "")"
                let bad: [ByteRange]
                if let b = badCache[cacheKey] { bad = b } else {
                    bad = (try? registry.damageRanges(event: e.event, fsUUID: r.fsUUID ?? "", role: r.role ?? HolderRole.data.rawValue)) ?? []
                    badCache[cacheKey] = bad
                }
                var mountpoint = r.mountpoint ?? "/"
                if let mounts {
                    let now = mounts[r.fsUUID ?? ""] ?? mounts[r.device] ?? []
                    guard let m = now.contains(mountpoint) ? mountpoint : now.first else {
                        report.damaged += 1
                        if report.unknown.count < 10 { report.unknown.append("filesystem \(r.fsUUID ?? r.device) is not mounted: \(r.path ?? "a file") not checked") }
                        return
                    }
                    mountpoint = m
                }
                let answer = probe.check(mountpoint: mountpoint, handle: r.handle, inode: r.inode, path: r.path, offset: r.offset, length: r.length, bad: bad)
                if let now = answer.path, now != r.path { renames.append((e.id, now)) }
                switch answer.state {
                case .damaged: report.damaged += 1
                case .deleted: clear["file deleted", default: []].append(e.id)
                case .truncated: clear["file truncated", default: []].append(e.id)
                case .rewritten: clear["file rewritten", default: []].append(e.id)
                case .unknown(let why):
                    report.damaged += 1
                    if report.unknown.count < 10 { report.unknown.append(why) }
                }
            }
        }
        for (id, path) in renames { try usingRegistry { () throws(RegistryError) in try registry.renameDamage(id: id, path: path) } }
        report.renamed = renames.count
        for (reason, ids) in clear.sorted(by: { $0.key < $1.key }) {
            let n = try usingRegistry { () throws(RegistryError) in try registry.clearDamage(ids: ids, reason: reason, at: at) }
            report.cleared[reason, default: 0] += n
        }
        report.resolved = try usingRegistry { () throws(RegistryError) in try registry.resolveCleared(at: at) }
        return report
    }

    /// The event that tells the sinks `event` is over (`reason`): the original's kind, leaf,
    /// host and severity (so an Alertmanager alert with the same labels ends), a key of its
    /// own, and `resolves` naming the original. Nil when the original is no longer in the
    /// outbox (pruned).
    public func resolution(of event: String, reason: String) throws(EngineError) -> NotificationEvent? {
        guard let payload = try usingRegistry({ () throws(RegistryError) in try registry.payload(of: event) }),
              var e = try? JSONOutputEncoder.decoder().decode(NotificationEvent.self, from: Data(payload.utf8)) else { return nil }
        e.startedAt = e.at
        e.resolves = e.key
        e.key = EventKey.make(["resolved", event])
        e.at = time.now()
        e.origin = "damage check"
        e.summary = "resolved (\(reason)): \(e.summary)"
        return e
    }
}

extension LazySequenceProtocol {
    /// This sequence, then `other`.
    func chained<S: Sequence>(with other: S) -> LazySequence<FlattenSequence<[AnySequence<Element>]>> where S.Element == Element {
        [AnySequence(self.elements), AnySequence(other)].lazy.joined()
    }
}

extension DamageLedger {
    /// `check` against the machine as `engine` reads it now: the monitor's findings and the
    /// device identities present (`dmstack damage --check`).
    public func checkNow(engine: any Engine) throws -> CheckReport {
        let inventory = try engine.inventory()
        let context = engine.holderContext(now: time.now())
        let records = try usingRegistry { () throws(RegistryError) in try registry.all() }
        let findings = inventory.monitorFindings(records: records, byId: context.byId)
        let live = Set(inventory.devicesByIdentity(byId: context.byId).keys)
        let report = try check(findings: findings, live: live, mounts: inventory.filesystemMounts())
        // The monitor's kept states follow what this check saw, as a pass's end does
        // (`SeenStates.finish`): a bad range or a degraded health this check found over is
        // `clear` there too. Otherwise its event would be resolved here while the monitor still
        // holds the aspect as failing, and the same range coming back would raise nothing.
        var failing = Set<String>()
        for f in findings {
            switch f {
            case .badRange(_, let identity, let range): failing.insert(SeenStates.failingKey(identity: identity, aspect: SeenState.badRange(range)))
            case .degraded(_, let identity, _, _): failing.insert(SeenStates.failingKey(identity: identity, aspect: SeenState.health))
            case .leafGone: break
            }
        }
        try usingRegistry { () throws(RegistryError) in
            var states = SeenStates(try registry.seenStates())
            states.finish(failingKeys: failing, observed: live, at: time.now())
            try registry.save(seenStates: states.changed)
        }
        return report
    }
}

extension Inventory {
    /// Where each filesystem is mounted now (mounts of its root), by fs UUID and by its
    /// device's kernel name (what the ledger records when a filesystem has no UUID).
    public func filesystemMounts() -> [String: [String]] {
        var out: [String: [String]] = [:]
        let byNumber = Dictionary(devices.map { ($0.majorMinor, $0) }, uniquingKeysWith: { a, _ in a })
        for m in snapshot.mounts where m.root == "/" {
            guard let d = byNumber[m.majorMinor] else { continue }
            if let uuid = d.filesystem?.uuid { out[uuid, default: []].append(m.mountpoint) }
            out[d.kernelName, default: []].append(m.mountpoint)
        }
        return out
    }
}
