import FoundationEssentials
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// The registry could not be used: the one-line reason, and whether rebuilding it would help.
public struct RegistryError: Error, CustomStringConvertible, Sendable {
    /// Why: the file is damaged (a rebuild helps), dmstack may not use it (permissions, another
    /// user's state directory), a name is taken, or anything else.
    public enum Kind: Sendable { case corrupt, access, conflict, other }
    public var kind: Kind
    public var message: String
    public var description: String { message }
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// The holder registry: one SQLite database in the state directory (default /var/lib/dmstack,
/// mode 0700), in WAL mode so readers never wait for the writer, every change in a write
/// transaction taken at once, the schema versioned by `PRAGMA user_version` and brought up to
/// date by the migrations below on open. Each holder is its `HolderRecord` as JSON, with its
/// devices indexed by kernel name and dev_t for the questions a failure asks ("who is above
/// pmem1?"); refreshes append what they found changed to a history.
public final class HolderRegistry {
    public static let defaultDirectory = "/var/lib/dmstack"
    public static let fileName = "registry.db"
    public let directory: String
    public var path: String { "\(directory)/\(Self.fileName)" }
    let db: SQLiteDatabase

    /// Each entry brings the schema from its index to the next version; never edit one that
    /// has shipped, append a new one.
    static let migrations: [String] = [
        """
        CREATE TABLE holders (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('filesystem', 'raw')),
            fs_uuid TEXT UNIQUE,
            mountpoint TEXT,
            state TEXT NOT NULL,
            registered_by TEXT NOT NULL,
            registered_at TEXT NOT NULL,
            refreshed_at TEXT NOT NULL,
            record TEXT NOT NULL
        ) STRICT;
        CREATE TABLE layers (
            holder TEXT NOT NULL REFERENCES holders(name) ON DELETE CASCADE ON UPDATE CASCADE,
            identity TEXT NOT NULL,
            kernel_name TEXT NOT NULL,
            dev TEXT NOT NULL,
            dm_name TEXT,
            namespace TEXT,
            is_leaf INTEGER NOT NULL,
            state TEXT NOT NULL,
            PRIMARY KEY (holder, identity)
        ) STRICT;
        CREATE INDEX layers_by_kernel_name ON layers(kernel_name);
        CREATE INDEX layers_by_dev ON layers(dev);
        CREATE TABLE changes (
            id INTEGER PRIMARY KEY,
            holder TEXT NOT NULL,
            at TEXT NOT NULL,
            change TEXT NOT NULL
        ) STRICT;
        CREATE INDEX changes_by_holder ON changes(holder, id);
        """,
        // 2: the notification outbox (Outbox.swift).
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL,
            leaf TEXT NOT NULL,
            summary TEXT NOT NULL,
            payload TEXT NOT NULL
        ) STRICT;
        CREATE TABLE deliveries (
            event TEXT NOT NULL REFERENCES events(key) ON DELETE CASCADE,
            sink TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_at REAL NOT NULL,
            claimed_by TEXT,
            last_status INTEGER,
            last_error TEXT,
            delivered_at TEXT,
            PRIMARY KEY (event, sink)
        ) STRICT;
        CREATE INDEX deliveries_due ON deliveries(state, next_at);
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            event TEXT NOT NULL,
            sink TEXT NOT NULL,
            at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            status INTEGER,
            detail TEXT
        ) STRICT;
        CREATE INDEX attempts_by_delivery ON attempts(event, sink, id);
        """,
        // 3: what the monitor last saw of each device's ranges and health (DeviceStates.swift).
        """
        CREATE TABLE device_states (
            identity TEXT NOT NULL,
            aspect TEXT NOT NULL,
            state TEXT NOT NULL,
            epoch INTEGER NOT NULL CHECK (epoch >= 1),
            changed_at TEXT NOT NULL,
            PRIMARY KEY (identity, aspect)
        ) STRICT;
        """,
        // 4: the damage ledger (DamageLedgerStore.swift) and the monitor's last pass.
        """
        CREATE TABLE damage_events (
            event TEXT PRIMARY KEY,
            condition TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            resolved_at TEXT,
            resolution TEXT
        ) STRICT;
        CREATE INDEX damage_events_by_condition ON damage_events(condition);
        CREATE TABLE damage (
            id INTEGER PRIMARY KEY,
            event TEXT NOT NULL REFERENCES damage_events(event) ON DELETE CASCADE,
            recorded_at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('file', 'metadata', 'device')),
            fs_uuid TEXT,
            mountpoint TEXT,
            device TEXT NOT NULL,
            role TEXT,
            inode INTEGER,
            generation INTEGER,
            handle TEXT,
            path TEXT,
            paths TEXT,
            what TEXT NOT NULL,
            offset INTEGER NOT NULL,
            length INTEGER NOT NULL,
            cleared_at TEXT,
            cleared_reason TEXT
        ) STRICT;
        CREATE INDEX damage_now ON damage(cleared_at, fs_uuid, kind);
        CREATE INDEX damage_by_event ON damage(event);
        CREATE TABLE damage_ranges (
            event TEXT NOT NULL REFERENCES damage_events(event) ON DELETE CASCADE,
            fs_uuid TEXT NOT NULL,
            role TEXT NOT NULL,
            start INTEGER NOT NULL,
            length INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX damage_ranges_by_event ON damage_ranges(event, fs_uuid, role);
        CREATE TABLE monitor_state (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT;
        """,
        // 5: the intent of an apply or teardown under way (HolderRegistry+Intents.swift).
        """
        CREATE TABLE intents (
            stack TEXT PRIMARY KEY,
            command TEXT NOT NULL CHECK (command IN ('apply', 'teardown')),
            started_at TEXT NOT NULL,
            steps TEXT NOT NULL,
            done INTEGER NOT NULL DEFAULT 0,
            pid INTEGER NOT NULL
        ) STRICT;
        """,
    ]
    public static var schemaVersion: Int { migrations.count }

    /// The state directory: `--state-dir`, else $DMSTACK_STATE_DIR, else /var/lib/dmstack.
    public static func directory(option: String?) -> String {
        if let option, !option.isEmpty { return option }
        if let env = getenv("DMSTACK_STATE_DIR"), env.pointee != 0 { return String(cString: env) }
        return defaultDirectory
    }

    /// Opens the registry in `directory`, creating both (directory 0700, file 0600) unless
    /// `create` is false, in which case a missing registry is `nil`: readers that only fall
    /// back to it never leave state behind.
    /// `readOnly` (only with `create` false) opens without writing anything: no mode change,
    /// no migration; a registry of another schema version is refused instead.
    /// A registry that is there but cannot be used is an error naming the path and the reason,
    /// never `nil`: an unprivileged user against root's 0700 state directory, or a
    /// `--state-dir` that is a regular file, would otherwise read "no holders registered".
    public static func open(directory: String, create: Bool = true, readOnly: Bool = false) throws(RegistryError) -> HolderRegistry? {
        if !create, try !exists(directory: directory) { return nil }
        if create { try prepare(directory: directory) }
        return try HolderRegistry(directory: directory, create: create, readOnly: readOnly && !create)
    }

    /// Whether the registry in `directory` has a schema older than this dmstack's (it needs a
    /// migration, which a read-only open refuses); read without writing anything.
    public static func isOlderThanThisVersion(directory: String) throws(RegistryError) -> Bool {
        let file = "\(directory)/\(fileName)"
        do {
            return try SQLiteDatabase(path: file, create: false, readOnly: true).userVersion < migrations.count
        } catch let e as SQLiteError {
            throw wrap(e, file)
        } catch {
            throw RegistryError(.other, "\(file): \(error)")
        }
    }

    /// Whether the registry file of `directory` exists: false only when it, or the directory
    /// itself, is absent (ENOENT); a state directory that is not a directory or cannot be
    /// searched (EACCES) is an error.
    static func exists(directory: String) throws(RegistryError) -> Bool {
        let file = "\(directory)/\(fileName)"
        do {
            _ = try Syscall.stat(file)
            return true
        } catch where error.errno == ENOENT {
            // A missing file in a directory, or no state directory yet: nothing registered.
            guard let st = try? Syscall.stat(directory), (st.st_mode & S_IFMT) != S_IFDIR else { return false }
            throw RegistryError(.access, "state directory \(directory) is not a directory (choose another with --state-dir or DMSTACK_STATE_DIR)")
        } catch where error.errno == ENOTDIR {
            throw RegistryError(.access, "state directory \(directory) is not a directory (choose another with --state-dir or DMSTACK_STATE_DIR)")
        } catch where error.errno == EACCES {
            throw RegistryError(.access, "cannot read registry \(file): \(error.reason) (the state directory \(directory) is private to its owner: run as root, or choose another --state-dir)")
        } catch {
            throw RegistryError(.access, "cannot read registry \(file): \(error.reason)")
        }
    }

    init(directory: String, create: Bool, readOnly: Bool = false) throws(RegistryError) {
        self.directory = directory
        let file = "\(directory)/\(Self.fileName)"
        do {
            db = try SQLiteDatabase(path: file, create: create, readOnly: readOnly)
            if readOnly {
                let version = try db.userVersion
                guard version == Self.migrations.count else {
                    throw RegistryError(.other, "registry \(file) has schema version \(version), this dmstack \(Self.migrations.count); run a command that writes it (dmstack holders refresh) or a matching dmstack")
                }
                return
            }
            try? Syscall.chmod(file, 0o600)
            try db.execute("PRAGMA foreign_keys = ON")
            try Self.migrate(db)
        } catch let e as RegistryError {
            throw e
        } catch let e as SQLiteError {
            throw Self.wrap(e, file)
        } catch {
            throw RegistryError(.other, "\(file): \(error)")
        }
    }

    /// Runs `body` with every read it makes seeing one state of the registry (a read
    /// transaction): a listing read twice, to size its table and then to print it, gets the
    /// same rows both times.
    public func consistently<T>(_ body: () throws -> T) throws(RegistryError) -> T {
        try using { try db.readTransaction(body) }
    }

    /// The connection's unused cache memory given back (`SQLiteDatabase.releaseMemory`), for
    /// a process that keeps the registry open between passes.
    public func releaseMemory() { db.releaseMemory() }

    static func wrap(_ e: SQLiteError, _ file: String) -> RegistryError {
        if e.isCorrupt {
            return RegistryError(.corrupt, "registry \(file) is corrupt (\(e.message)); `dmstack holders refresh --rebuild` moves it aside and rebuilds it from the live system and what is still readable")
        }
        if e.code == 8 /* SQLITE_READONLY */ || e.code == 14 /* SQLITE_CANTOPEN */ || e.code == 23 /* SQLITE_AUTH */ {
            // SQLite says only "unable to open database file": the file's own errno says why.
            let reason = e.code == 14 && access(file, R_OK) != 0 ? String(cString: strerror(errno)) : e.message
            return RegistryError(.access, "cannot use registry \(file): \(reason) (run as root, or choose another --state-dir)")
        }
        return RegistryError(.other, "registry \(e.description)")
    }

    /// mkdir -p with the last component 0700; an existing directory must be ours, and is
    /// closed to others if it is not already: holder chains name every device of the machine.
    static func prepare(directory: String) throws(RegistryError) {
        var partial = directory.hasPrefix("/") ? "" : "."
        // Only a missing directory is created: one that cannot be reached (EACCES above it) or
        // whose path runs through a file (ENOTDIR) is said as that, not as a failed mkdir.
        var parts = directory.split(separator: "/")
        do { _ = try Syscall.stat(directory); parts = [] } catch where error.errno == ENOENT {} catch where error.errno == ENOTDIR {
            throw RegistryError(.access, "state directory \(directory) is not a directory (choose another with --state-dir or DMSTACK_STATE_DIR)")
        } catch {
            throw RegistryError(.access, "cannot use state directory \(directory): \(error.reason) (run as root, or choose another with --state-dir or DMSTACK_STATE_DIR)")
        }
        for (i, part) in parts.enumerated() {
            partial += "/\(part)"
            do { try Syscall.mkdir(partial, i == parts.count - 1 ? 0o700 : 0o755) } catch where error.errno != EEXIST {
                throw RegistryError(.access, "cannot create state directory \(partial): \(error.reason) (choose another with --state-dir or DMSTACK_STATE_DIR)")
            } catch {}
        }
        let st: stat
        do { st = try Syscall.stat(directory) } catch {
            throw RegistryError(.access, "cannot use state directory \(directory): \(error.reason) (choose another with --state-dir or DMSTACK_STATE_DIR)")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw RegistryError(.access, "state directory \(directory) is not a directory (choose another with --state-dir or DMSTACK_STATE_DIR)")
        }
        guard st.st_uid == geteuid() else {
            throw RegistryError(.access, "state directory \(directory) belongs to uid \(st.st_uid), not to this user (uid \(geteuid()))")
        }
        if st.st_mode & 0o077 != 0 {
            do { try Syscall.chmod(directory, 0o700) } catch {
                throw RegistryError(.access, "cannot make state directory \(directory) private (mode 0700): \(error.reason)")
            }
        }
    }

    /// WAL first (it needs no transaction and persists in the file), then every migration the
    /// file lacks, each in its own write transaction that re-reads the version: two processes
    /// opening a new registry at once migrate it once.
    static func migrate(_ db: SQLiteDatabase) throws {
        if try db.rows("PRAGMA journal_mode", [], { $0.text(0) }).first != "wal" {
            for attempt in 1...50 {
                do { _ = try db.rows("PRAGMA journal_mode = WAL") { $0.text(0) }; break } catch let e as SQLiteError where e.code == 5 && attempt < 50 {
                    usleep(20_000)
                }
            }
        }
        try db.execute("PRAGMA synchronous = FULL")
        guard try db.userVersion < migrations.count else {
            if try db.userVersion > migrations.count {
                throw RegistryError(.other, "\(db.path): schema version \(try db.userVersion) is newer than this dmstack knows (\(migrations.count)); use a newer dmstack")
            }
            return
        }
        try db.writeTransaction {
            let version = try db.userVersion
            for (i, sql) in migrations.enumerated() where i >= version {
                try db.execute(sql)
            }
            try db.execute("PRAGMA user_version = \(migrations.count)")
        }
    }

    // MARK: Records

    static func encode(_ record: HolderRecord) throws -> String {
        String(decoding: try JSONOutputEncoder.make().encode(record), as: UTF8.self)
    }

    static func decode(_ text: String, name: String, file: String) throws(RegistryError) -> HolderRecord {
        do { return try JSONOutputEncoder.decoder().decode(HolderRecord.self, from: Data(text.utf8)) } catch {
            throw RegistryError(.corrupt, "registry \(file): holder '\(name)' cannot be read (\(error)); `dmstack holders refresh --rebuild` rebuilds the registry")
        }
    }

    /// Runs `body` with the database, turning SQLite failures into registry errors.
    func using<T>(_ body: () throws -> T) throws(RegistryError) -> T {
        do { return try body() } catch let e as RegistryError { throw e } catch let e as SQLiteError {
            throw Self.wrap(e, path)
        } catch {
            throw RegistryError(.other, "registry \(path): \(error)")
        }
    }

    func load(where clause: String = "", _ arguments: [SQLiteValue] = []) throws -> [HolderRecord] {
        let rows = try db.rows("SELECT name, record FROM holders \(clause) ORDER BY name", arguments) { ($0.text(0) ?? "", $0.text(1) ?? "") }
        return try rows.map { try Self.decode($0.1, name: $0.0, file: path) }
    }

    /// Every holder, by name.
    public func all() throws(RegistryError) -> [HolderRecord] { try using { try load() } }

    /// A holder by name, by mountpoint, or by filesystem UUID (`UUID=…` or bare).
    public func find(_ key: String) throws(RegistryError) -> HolderRecord? {
        try using {
            let uuid = key.hasPrefix("UUID=") ? String(key.dropFirst(5)) : key
            // A holder's own name wins over another's mountpoint or UUID.
            let found = try load(where: "WHERE name = ?1 OR mountpoint = ?1 OR fs_uuid = ?2", [.text(key), .text(uuid)])
            return found.first { $0.name == key } ?? found.first
        }
    }

    /// The holders with a device of this kernel name or dev_t in their chains.
    public func holders(above device: String) throws(RegistryError) -> [HolderRecord] {
        try using {
            try load(where: "WHERE name IN (SELECT holder FROM layers WHERE kernel_name = ?1 OR dev = ?1)", [.text(device)])
        }
    }

    func write(_ record: HolderRecord) throws {
        try db.query("""
            INSERT INTO holders (name, kind, fs_uuid, mountpoint, state, registered_by, registered_at, refreshed_at, record)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, fs_uuid = excluded.fs_uuid, mountpoint = excluded.mountpoint,
                state = excluded.state, registered_by = excluded.registered_by, registered_at = excluded.registered_at,
                refreshed_at = excluded.refreshed_at, record = excluded.record
            """, [.text(record.name), .text(record.kind.rawValue), record.filesystem?.uuid.map { .text($0) } ?? .null,
                  record.filesystem?.mountpoint.map { .text($0) } ?? .null, .text(record.state.rawValue), .text(record.registeredBy),
                  .text(record.registeredAt), .text(record.refreshedAt), .text(try Self.encode(record))])
        try db.query("DELETE FROM layers WHERE holder = ?", [.text(record.name)])
        for l in record.layers {
            try db.query("INSERT INTO layers (holder, identity, kernel_name, dev, dm_name, namespace, is_leaf, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         [.text(record.name), .text(l.identity), .text(l.device.kernelName), .text(l.device.majorMinor),
                          l.device.dm.map { .text($0.name) } ?? .null, l.namespace.map { .text($0.name) } ?? .null,
                          .integer(l.isLeaf ? 1 : 0), .text(l.state.rawValue)])
        }
    }

    func log(_ holder: String, _ changes: [String], at: String) throws {
        for c in changes { try db.query("INSERT INTO changes (holder, at, change) VALUES (?, ?, ?)", [.text(holder), .text(at), .text(c)]) }
    }

    /// Registers `record`, or updates the holder already registered for it: the same name, or
    /// for a filesystem the same UUID (kept under its registered name unless `rename`). The
    /// update is `merge(existing)`, so devices that left are kept. A name taken by another
    /// filesystem or kind is refused. Returns the stored record, whether it was new, and the
    /// changes the merge reported.
    public func register(_ record: HolderRecord, rename: Bool, merge: (HolderRecord) -> (HolderRecord, [String])) throws(RegistryError)
        -> (record: HolderRecord, created: Bool, changes: [String]) {
        try using {
            try db.writeTransaction {
                var existing = try load(where: "WHERE name = ?", [.text(record.name)]).first
                if let e = existing, e.kind != record.kind || (e.kind == .filesystem && e.filesystem?.uuid != record.filesystem?.uuid) {
                    throw RegistryError(.conflict, "holder '\(record.name)' is already registered for \(e.kind == .raw ? "device \(e.top(.data)?.name ?? "?")" : "filesystem \(e.filesystem?.uuid ?? "?")"); unregister it first or choose another --name")
                }
                if existing == nil, let uuid = record.filesystem?.uuid {
                    existing = try load(where: "WHERE fs_uuid = ?", [.text(uuid)]).first
                }
                guard let old = existing else {
                    try write(record)
                    try log(record.name, ["registered by \(record.registeredBy)"], at: record.registeredAt)
                    return (record, true, [])
                }
                var (merged, changes) = merge(old)
                merged.name = rename ? record.name : old.name
                if merged.name != old.name {
                    try db.query("UPDATE holders SET name = ? WHERE name = ?", [.text(merged.name), .text(old.name)])
                    try db.query("UPDATE changes SET holder = ? WHERE holder = ?", [.text(merged.name), .text(old.name)])
                    changes.append("renamed from \(old.name)")
                }
                try write(merged)
                try log(merged.name, changes, at: merged.refreshedAt)
                return (merged, false, changes)
            }
        }
    }

    /// Re-reads the holders named (all if empty) inside one write transaction: `update` gets
    /// each stored record and returns its refreshed form and the changes, which are logged.
    public func refresh(_ names: [String], _ update: (HolderRecord) -> (HolderRecord, [String])) throws(RegistryError)
        -> [(record: HolderRecord, changes: [String])] {
        try using {
            try db.writeTransaction {
                var out: [(HolderRecord, [String])] = []
                let records = names.isEmpty ? try load() : try names.flatMap { try load(where: "WHERE name = ?", [.text($0)]) }
                for old in records {
                    let (next, changes) = update(old)
                    try write(next)
                    try log(next.name, changes, at: next.refreshedAt)
                    out.append((next, changes))
                }
                return out
            }
        }
    }

    /// Forgets a holder and its history; false if there was none.
    public func unregister(_ name: String) throws(RegistryError) -> Bool {
        try using {
            try db.writeTransaction {
                try db.query("DELETE FROM holders WHERE name = ?", [.text(name)])
                let removed = db.changes > 0
                try db.query("DELETE FROM changes WHERE holder = ?", [.text(name)])
                return removed
            }
        }
    }

    /// What refreshes found changed for a holder, oldest first, the last `limit`.
    public func history(_ name: String, limit: Int = 20) throws(RegistryError) -> [(at: String, change: String)] {
        try using {
            try db.rows("SELECT at, change FROM (SELECT id, at, change FROM changes WHERE holder = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
                        [.text(name), .integer(Int64(limit))]) { ($0.text(0) ?? "", $0.text(1) ?? "") }
        }
    }

    /// Every device the registry has seen, as last seen, the most recently refreshed view of
    /// each first: what translation adds back for devices that are gone.
    public func recordedDevices() throws(RegistryError) -> [BlockDevice] {
        let records = try all().sorted { $0.refreshedAt > $1.refreshedAt }
        var seen = Set<String>(), out: [BlockDevice] = []
        for r in records {
            for l in r.layers where seen.insert(l.device.kernelName).inserted { out.append(l.device) }
        }
        return out
    }

    // MARK: Recovery

    /// Moves a damaged registry aside (with its -wal and -shm files) and starts a new one
    /// holding every holder row that can still be read from the old file. Returns the new
    /// registry, where the old file went, and how many holders were saved.
    public static func rebuild(directory: String, now: String) throws(RegistryError) -> (registry: HolderRegistry, movedTo: String?, salvaged: [HolderRecord]) {
        try prepare(directory: directory)
        let file = "\(directory)/\(fileName)"
        var movedTo: String?
        var salvaged: [HolderRecord] = []
        var outbox: [[SQLiteValue]] = []
        var ledger: [(table: String, columns: [String], rows: [[SQLiteValue]])] = []
        if Syscall.exists(file) {
            let stamp = now.filter { $0.isNumber }
            var aside = "\(file).corrupt-\(stamp)"
            if Syscall.exists(aside) { aside += "-\(getpid())" }
            for suffix in ["", "-wal", "-shm"] where Syscall.exists(file + suffix) {
                do { try Syscall.rename(file + suffix, to: aside + suffix) } catch {
                    throw RegistryError(.access, "cannot move \(file + suffix) aside: \(error.reason)")
                }
            }
            movedTo = aside
            // Names first, then each row by its key: a damaged page loses the rows on it,
            // not the rest of the scan.
            if let old = try? SQLiteDatabase(path: aside, create: false, readOnly: true) {
                outbox = salvageOutbox(from: old)
                ledger = salvageLedger(from: old)
                var names: [String] = []
                try? old.query("SELECT name FROM holders") { if let n = $0.text(0) { names.append(n) } }
                for name in names {
                    try? old.query("SELECT record FROM holders WHERE name = ?", [.text(name)]) { row in
                        if let text = row.text(0), let r = try? decode(text, name: name, file: aside) { salvaged.append(r) }
                    }
                }
            }
        }
        let registry = try HolderRegistry(directory: directory, create: true)
        try registry.using {
            try registry.db.writeTransaction {
                // One unusable record (a filesystem UUID twice) is dropped, not the rest.
                // Events not yet delivered must survive a rebuild: the outbox rows still
                // readable go over as they were (a damaged one is dropped).
                for row in outbox {
                    if row.count == 7 {
                        try? registry.db.query("INSERT OR IGNORE INTO events (key, created_at, kind, severity, leaf, summary, payload) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
                    } else {
                        try? registry.db.query("INSERT OR IGNORE INTO deliveries (event, sink, state, attempts, next_at, last_status, last_error, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
                    }
                }
                // The damage ledger and the monitor's seen states go over too: without them the
                // damage of the past would be forgotten, and the next pass would raise again,
                // as new, every bad range the ledger already holds (damage --check and the
                // monitor read the same states).
                for t in ledger {
                    let sql = "INSERT OR IGNORE INTO \(t.table) (\(t.columns.joined(separator: ", "))) VALUES (\(t.columns.map { _ in "?" }.joined(separator: ", ")))"
                    for row in t.rows { try? registry.db.query(sql, row) }
                }
                salvaged = salvaged.filter { r in
                    do {
                        try registry.db.execute("SAVEPOINT salvage")
                        try registry.write(r)
                        try registry.log(r.name, ["salvaged from \(movedTo ?? file) by a rebuild"], at: now)
                        try registry.db.execute("RELEASE salvage")
                        return true
                    } catch {
                        _ = try? registry.db.execute("ROLLBACK TO salvage")
                        _ = try? registry.db.execute("RELEASE salvage")
                        return false
                    }
                }
            }
        }
        return (registry, movedTo, salvaged)
    }

    /// The ledger's and the monitor's rows of a damaged registry that can still be read, each
    /// table with its columns, in an order the foreign keys accept (events before their rows).
    /// A registry older than the ledger (no such tables) gives nothing.
    static func salvageLedger(from old: SQLiteDatabase) -> [(table: String, columns: [String], rows: [[SQLiteValue]])] {
        let tables: [(String, [String])] = [
            ("damage_events", ["event", "condition", "recorded_at", "resolved_at", "resolution"]),
            ("damage", ["id", "event", "recorded_at", "kind", "fs_uuid", "mountpoint", "device", "role", "inode", "generation", "handle",
                        "path", "paths", "what", "offset", "length", "cleared_at", "cleared_reason"]),
            ("damage_ranges", ["event", "fs_uuid", "role", "start", "length"]),
            ("monitor_state", ["name", "value"]),
            ("device_states", ["identity", "aspect", "state", "epoch", "changed_at"]),
        ]
        return tables.map { table, columns in
            var rows: [[SQLiteValue]] = []
            try? old.query("SELECT \(columns.joined(separator: ", ")) FROM \(table) ORDER BY rowid") { r in
                rows.append((0..<columns.count).map { r.value(Int32($0)) })
            }
            return (table, columns, rows)
        }
    }

    /// The outbox rows of a damaged registry that can still be read: events (7 values), then
    /// deliveries (8 values), in order.
    static func salvageOutbox(from old: SQLiteDatabase) -> [[SQLiteValue]] {
        func value(_ row: SQLiteRow, _ i: Int32, real: Bool = false) -> SQLiteValue {
            row.isNull(i) ? .null : real ? .real(row.real(i)) : row.text(i).map { .text($0) } ?? .null
        }
        var rows: [[SQLiteValue]] = []
        try? old.query("SELECT key, created_at, kind, severity, leaf, summary, payload FROM events ORDER BY seq") { r in
            rows.append((0..<7).map { value(r, Int32($0)) })
        }
        try? old.query("SELECT event, sink, state, attempts, next_at, last_status, last_error, delivered_at FROM deliveries") { r in
            rows.append([value(r, 0), value(r, 1), value(r, 2), .integer(Int64(r.integer(3))), .real(r.real(4)),
                         r.isNull(5) ? .null : .integer(Int64(r.integer(5))), value(r, 6), value(r, 7)])
        }
        return rows
    }
}
