import FoundationEssentials
import StackModel

/// One thing an event damaged, as the ledger records it: a file's byte range (`kind` file,
/// by inode, generation and handle, with the paths known), a metadata range of a filesystem
/// device (bytes), or a device range (sectors: the bad leaf range, a degraded raid).
public struct DamageRow: Sendable, Hashable {
    public enum Kind: String, Sendable, Codable { case file, metadata, device }
    public var kind: Kind
    public var fsUUID: String?
    public var mountpoint: String?
    public var device: String
    public var role: String?
    public var inode: UInt64?
    public var generation: UInt32?
    /// `FileHandleText` of the file when it was recorded: it finds the file again after a
    /// rename or a reboot, and says when it was deleted.
    public var handle: String?
    public var path: String?
    public var paths: [String] = []
    /// `data` for a file, the metadata kind (`inode btree`, `log`), or for a device `bad range`,
    /// `removed`, `degraded`.
    public var what: String
    public var offset: UInt64
    public var length: UInt64

    public init(kind: Kind, fsUUID: String? = nil, mountpoint: String? = nil, device: String, role: String? = nil, inode: UInt64? = nil,
                generation: UInt32? = nil, handle: String? = nil, path: String? = nil, paths: [String] = [], what: String, offset: UInt64, length: UInt64) {
        self.kind = kind
        self.fsUUID = fsUUID
        self.mountpoint = mountpoint
        self.device = device
        self.role = role
        self.inode = inode
        self.generation = generation
        self.handle = handle
        self.path = path
        self.paths = paths
        self.what = what
        self.offset = offset
        self.length = length
    }
}

/// A ledger entry as listed: the row, the event that recorded it, and when and why it was
/// cleared (nil while it is damaged).
public struct DamageEntry: Sendable {
    public var id: Int64
    public var event: String
    public var condition: String
    public var recordedAt: String
    public var row: DamageRow
    public var clearedAt: String?
    public var clearedReason: String?
}

/// A filesystem device's bytes an event lost: a file range that no longer maps into one of
/// these was rewritten elsewhere.
public struct DamageRange: Sendable, Hashable {
    public var fsUUID: String
    public var role: String
    public var range: ByteRange
    public init(fsUUID: String, role: String, range: ByteRange) {
        self.fsUUID = fsUUID
        self.role = role
        self.range = range
    }
}

/// The damage ledger, in the registry's database (schema migration 3): what each failure or
/// removal event lost, per filesystem (fs UUID), file (inode, generation, handle, paths),
/// metadata kind and device range, kept until the damage is gone (`cleared_at`, with the
/// reason) — what `zpool status -v` keeps for ZFS. Each event stands for a condition (a bad
/// range on a device identity, a device degraded, a leaf gone); an event whose entries are all
/// cleared is resolved once, which the alert sinks hear as the alert's end.
extension HolderRegistry {
    /// Records an event's damage in one write transaction, the rows streamed from `rows` (a
    /// spilled million-file list is never held); false if the event was recorded before.
    public func recordDamage(event: String, condition: String, at: String, ranges: [DamageRange],
                             rows: some Sequence<DamageRow>) throws(RegistryError) -> Bool {
        try using {
            try db.writeTransaction {
                try db.query("INSERT OR IGNORE INTO damage_events (event, condition, recorded_at) VALUES (?, ?, ?)",
                             [.text(event), .text(condition), .text(at)])
                guard db.changes == 1 else { return false }
                let range = try db.prepare("INSERT INTO damage_ranges (event, fs_uuid, role, start, length) VALUES (?, ?, ?, ?, ?)")
                for r in ranges {
                    try range.run([.text(event), .text(r.fsUUID), .text(r.role), Self.integer(r.range.offset), Self.integer(r.range.length)])
                }
                let insert = try db.prepare("""
                    INSERT INTO damage (event, recorded_at, kind, fs_uuid, mountpoint, device, role, inode, generation, handle, path, paths, what, offset, length)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for r in rows {
                    try insert.run([.text(event), .text(at), .text(r.kind.rawValue), Self.text(r.fsUUID), Self.text(r.mountpoint), .text(r.device),
                                    Self.text(r.role), r.inode.map(Self.integer) ?? .null, r.generation.map { .integer(Int64($0)) } ?? .null,
                                    Self.text(r.handle), Self.text(r.path), r.paths.isEmpty ? .null : .text(r.paths.joined(separator: "\n")),
                                    .text(r.what), Self.integer(r.offset), Self.integer(r.length)])
                }
                return true
            }
        }
    }

    static func text(_ s: String?) -> SQLiteValue { s.map { .text($0) } ?? .null }
    /// SQLite integers are signed: offsets past 2^63 (none a filesystem has) are clamped.
    static func integer(_ v: UInt64) -> SQLiteValue { .integer(Int64(clamping: v)) }

    /// Which entries `forEachDamage` visits.
    public struct DamageFilter: Sendable {
        /// A filesystem by UUID or mountpoint; nil: every one (and the devices).
        public var filesystem: String?
        /// Also the cleared entries.
        public var includeCleared = false
        public var kind: DamageRow.Kind?
        public init(filesystem: String? = nil, includeCleared: Bool = false, kind: DamageRow.Kind? = nil) {
            self.filesystem = filesystem
            self.includeCleared = includeCleared
            self.kind = kind
        }
    }

    /// Each entry `filter` selects, oldest first (then by path and offset), to `body`, read a
    /// row at a time.
    public func forEachDamage(_ filter: DamageFilter, _ body: (DamageEntry) throws -> Void) throws(RegistryError) {
        try using {
            try db.query("""
                SELECT d.id, d.event, e.condition, d.recorded_at, d.kind, d.fs_uuid, d.mountpoint, d.device, d.role, d.inode, d.generation,
                       d.handle, d.path, d.paths, d.what, d.offset, d.length, d.cleared_at, d.cleared_reason
                FROM damage d JOIN damage_events e ON e.event = d.event
                WHERE (?1 OR d.cleared_at IS NULL) AND (?2 IS NULL OR d.fs_uuid = ?2 OR d.mountpoint = ?2) AND (?3 IS NULL OR d.kind = ?3)
                ORDER BY d.id
                """, [.integer(filter.includeCleared ? 1 : 0), Self.text(filter.filesystem), Self.text(filter.kind?.rawValue)]) { r in
                let row = DamageRow(kind: DamageRow.Kind(rawValue: r.text(4) ?? "") ?? .device, fsUUID: r.text(5), mountpoint: r.text(6), device: r.text(7) ?? "",
                                    role: r.text(8), inode: r.isNull(9) ? nil : UInt64(r.integer(9)), generation: r.isNull(10) ? nil : UInt32(truncatingIfNeeded: r.integer(10)),
                                    handle: r.text(11), path: r.text(12), paths: r.text(13)?.split(separator: "\n").map(String.init) ?? [],
                                    what: r.text(14) ?? "", offset: UInt64(max(0, r.integer(15))), length: UInt64(max(0, r.integer(16))))
                try body(DamageEntry(id: Int64(r.integer(0)), event: r.text(1) ?? "", condition: r.text(2) ?? "", recordedAt: r.text(3) ?? "",
                                     row: row, clearedAt: r.text(17), clearedReason: r.text(18)))
            }
        }
    }

    /// The filesystem bytes `event` lost on `fsUUID`'s `role` device.
    public func damageRanges(event: String, fsUUID: String, role: String) throws(RegistryError) -> [ByteRange] {
        try using {
            try db.rows("SELECT start, length FROM damage_ranges WHERE event = ? AND fs_uuid = ? AND role = ? ORDER BY start",
                        [.text(event), .text(fsUUID), .text(role)]) { ByteRange(offset: UInt64($0.integer(0)), length: UInt64($0.integer(1))) }
        }
    }

    /// The conditions of the events not resolved yet, with their events.
    public func openConditions() throws(RegistryError) -> [(event: String, condition: String)] {
        try using { try db.rows("SELECT event, condition FROM damage_events WHERE resolved_at IS NULL ORDER BY rowid") { ($0.text(0) ?? "", $0.text(1) ?? "") } }
    }

    /// Whether `event` was recorded in the ledger and resolved since.
    public func isResolved(_ event: String) throws(RegistryError) -> Bool {
        try using { !(try db.rows("SELECT 1 FROM damage_events WHERE event = ? AND resolved_at IS NOT NULL", [.text(event)]) { $0.integer(0) }).isEmpty }
    }

    /// Marks entries cleared (those not cleared yet) with `reason`; how many were.
    public func clearDamage(ids: [Int64], reason: String, at: String) throws(RegistryError) -> Int {
        guard !ids.isEmpty else { return 0 }
        return try using {
            try db.writeTransaction {
                let update = try db.prepare("UPDATE damage SET cleared_at = ?, cleared_reason = ? WHERE id = ? AND cleared_at IS NULL")
                var n = 0
                for id in ids {
                    try update.run([.text(at), .text(reason), .integer(id)])
                    n += db.changes
                }
                return n
            }
        }
    }

    /// Clears, by hand, every entry not cleared yet of a condition's events (`condition`), of
    /// a path (`path`: the file's entries), of a filesystem (UUID or mountpoint), or all
    /// (every argument nil); how many.
    public func clearDamage(condition: String? = nil, path: String? = nil, filesystem: String? = nil, reason: String, at: String) throws(RegistryError) -> Int {
        try using {
            try db.writeTransaction {
                try db.query("""
                    UPDATE damage SET cleared_at = ?1, cleared_reason = ?2 WHERE cleared_at IS NULL
                    AND (?3 IS NULL OR event IN (SELECT event FROM damage_events WHERE condition = ?3))
                    AND (?4 IS NULL OR path = ?4 OR ('\n' || paths || '\n') LIKE ('%' || char(10) || ?4 || char(10) || '%'))
                    AND (?5 IS NULL OR fs_uuid = ?5 OR mountpoint = ?5)
                    """, [.text(at), .text(reason), Self.text(condition), Self.text(path), Self.text(filesystem)])
                return db.changes
            }
        }
    }

    /// A file entry's path as the file is named now (found again by its handle).
    public func renameDamage(id: Int64, path: String) throws(RegistryError) {
        try using { try db.query("UPDATE damage SET path = ? WHERE id = ?", [.text(path), .integer(id)]) }
    }

    /// The events whose entries are all cleared and that were not resolved yet, now resolved
    /// (one reason: the last entry's), oldest first.
    public func resolveCleared(at: String) throws(RegistryError) -> [(event: String, reason: String)] {
        try using {
            try db.writeTransaction {
                let done = try db.rows("""
                    SELECT e.event, (SELECT cleared_reason FROM damage d WHERE d.event = e.event ORDER BY cleared_at DESC, id DESC LIMIT 1)
                    FROM damage_events e WHERE e.resolved_at IS NULL AND NOT EXISTS (SELECT 1 FROM damage d WHERE d.event = e.event AND d.cleared_at IS NULL)
                    ORDER BY e.rowid
                    """) { ($0.text(0) ?? "", $0.text(1) ?? "cleared") }
                for d in done {
                    try db.query("UPDATE damage_events SET resolved_at = ?, resolution = ? WHERE event = ?", [.text(at), .text(d.1), .text(d.0)])
                }
                return done.map { (event: $0.0, reason: $0.1) }
            }
        }
    }

    /// The outbox payload of an event (to build its resolution from), nil if pruned or never there.
    public func payload(of event: String) throws(RegistryError) -> String? {
        try using { try db.rows("SELECT payload FROM events WHERE key = ?", [.text(event)]) { $0.text(0) }.first ?? nil }
    }

    /// A value the monitor keeps between passes (`last_pass`: seconds since the epoch).
    public func monitorState(_ name: String) throws(RegistryError) -> String? {
        try using { try db.rows("SELECT value FROM monitor_state WHERE name = ?", [.text(name)]) { $0.text(0) }.first ?? nil }
    }

    public func setMonitorState(_ name: String, _ value: String) throws(RegistryError) {
        try using {
            try db.query("INSERT INTO monitor_state (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", [.text(name), .text(value)])
        }
    }

    /// Counts for `dmstack metrics`, each grouped as its rows say.
    public struct LedgerCounts: Sendable {
        /// Per filesystem (UUID, mountpoint): files and bytes damaged now.
        public var files: [(fsUUID: String, mountpoint: String, files: Int, bytes: UInt64)] = []
        /// Per filesystem: metadata ranges damaged now.
        public var metadata: [(fsUUID: String, mountpoint: String, ranges: Int)] = []
        /// Devices with a bad or degraded range now, and what.
        public var devices: [(device: String, what: String, count: Int)] = []
        /// Deliveries by sink and state.
        public var deliveries: [(sink: String, state: String, count: Int)] = []
        /// Events by kind.
        public var events: [(kind: String, count: Int)] = []
        /// Ledger entries cleared, by reason.
        public var cleared: [(reason: String, count: Int)] = []
        public init() {}
    }

    public func ledgerCounts() throws(RegistryError) -> LedgerCounts {
        try using {
            var c = LedgerCounts()
            c.files = try db.rows("""
                SELECT coalesce(fs_uuid, ''), coalesce(mountpoint, ''), count(DISTINCT coalesce(handle, inode)), sum(length) FROM damage
                WHERE cleared_at IS NULL AND kind = 'file' GROUP BY 1, 2 ORDER BY 1, 2
                """) { ($0.text(0) ?? "", $0.text(1) ?? "", $0.integer(2), UInt64(max(0, $0.integer(3)))) }
            c.metadata = try db.rows("""
                SELECT coalesce(fs_uuid, ''), coalesce(mountpoint, ''), count(*) FROM damage WHERE cleared_at IS NULL AND kind = 'metadata' GROUP BY 1, 2 ORDER BY 1, 2
                """) { ($0.text(0) ?? "", $0.text(1) ?? "", $0.integer(2)) }
            c.devices = try db.rows("SELECT device, what, count(*) FROM damage WHERE cleared_at IS NULL AND kind = 'device' GROUP BY 1, 2 ORDER BY 1, 2") {
                ($0.text(0) ?? "", $0.text(1) ?? "", $0.integer(2))
            }
            c.deliveries = try db.rows("SELECT sink, state, count(*) FROM deliveries GROUP BY 1, 2 ORDER BY 1, 2") { ($0.text(0) ?? "", $0.text(1) ?? "", $0.integer(2)) }
            c.events = try db.rows("SELECT kind, count(*) FROM events GROUP BY 1 ORDER BY 1") { ($0.text(0) ?? "", $0.integer(1)) }
            c.cleared = try db.rows("SELECT cleared_reason, count(*) FROM damage WHERE cleared_at IS NOT NULL GROUP BY 1 ORDER BY 1") { ($0.text(0) ?? "", $0.integer(1)) }
            return c
        }
    }

    /// Deletes the events created before `before` (ISO 8601 UTC, as the outbox writes them)
    /// whose every delivery was delivered, with their deliveries and attempts; an event still
    /// pending or failed anywhere is kept, and so is one whose damage is not resolved yet (its
    /// resolution is made from it). How many were deleted.
    public func pruneDelivered(before: String) throws(RegistryError) -> Int {
        try using {
            try db.writeTransaction {
                let doomed = "SELECT key FROM events WHERE created_at < ?1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event = events.key AND d.state != 'delivered') AND key NOT IN (SELECT event FROM damage_events WHERE resolved_at IS NULL)"
                try db.query("DELETE FROM attempts WHERE event IN (\(doomed))", [.text(before)])
                try db.query("DELETE FROM events WHERE key IN (\(doomed))", [.text(before)])
                return db.changes
            }
        }
    }
}
