import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// An SQLite failure: the file, what was being done, SQLite's result code and message.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var operation: String
    /// The primary result code (`SQLITE_BUSY`, `SQLITE_CORRUPT`, ...).
    public var code: Int32
    public var message: String

    /// The file is damaged or not a database at all: the case `holders refresh --rebuild` is for.
    public var isCorrupt: Bool { code == SQLITE_CORRUPT || code == SQLITE_NOTADB }
    public var description: String { "\(path): \(operation): \(message)" }
}

/// One connection to an SQLite database, used through the C API. Not shared between threads:
/// every process (and every test thread) opens its own, and SQLite's file locks serialise
/// them (WAL lets readers run beside the one writer).
public final class SQLiteDatabase {
    public let path: String
    private var handle: OpaquePointer?

    /// Opens (creating if `create`) the database at `path`. `busyTimeout` is how long a
    /// statement waits for another connection's write lock before failing with SQLITE_BUSY.
    public init(path: String, create: Bool = true, readOnly: Bool = false, busyTimeoutMilliseconds: Int32 = 30_000) throws(SQLiteError) {
        self.path = path
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        flags |= readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(handle)
            handle = nil
            throw SQLiteError(path: path, operation: "open", code: rc & 0xff, message: message)
        }
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
    }

    deinit { sqlite3_close_v2(handle) }

    /// Frees the page cache's unused pages (sqlite3_db_release_memory): a connection that
    /// lives for months (the monitor's) holds, between its passes, only what is in use, not
    /// a cache grown to its bound (cache_size, 2,000 KiB by default) as the file grew.
    public func releaseMemory() { _ = sqlite3_db_release_memory(handle) }

    /// Bytes the connection's page cache holds now (SQLITE_DBSTATUS_CACHE_USED).
    public var cacheBytes: Int {
        var current: Int32 = 0, highwater: Int32 = 0
        _ = sqlite3_db_status(handle, SQLITE_DBSTATUS_CACHE_USED, &current, &highwater, 0)
        return Int(current)
    }

    /// The operation names its SQL's first words on one line (messages are one line).
    func error(_ rc: Int32, _ operation: String) -> SQLiteError {
        let line = String(operation.map { $0.isNewline ? " " : $0 }).split(separator: " ").joined(separator: " ")
        return SQLiteError(path: path, operation: line, code: rc & 0xff, message: String(cString: sqlite3_errmsg(handle)))
    }

    /// Runs one or more statements that return no rows (schema, pragmas).
    public func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, "execute \(sql.prefix(60))") }
    }

    /// Runs `sql` with `arguments` bound in order, calling `row` for each result row.
    public func query(_ sql: String, _ arguments: [SQLiteValue] = [], row: (SQLiteRow) throws -> Void = { _ in }) throws {
        var statement: OpaquePointer?
        var rc = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK else { throw error(rc, "prepare \(sql.prefix(60))") }
        defer { sqlite3_finalize(statement) }
        for (i, value) in arguments.enumerated() {
            let index = Int32(i + 1)
            switch value {
            case .null: rc = sqlite3_bind_null(statement, index)
            case .integer(let v): rc = sqlite3_bind_int64(statement, index, v)
            case .real(let v): rc = sqlite3_bind_double(statement, index, v)
            case .text(let v): rc = sqlite3_bind_text(statement, index, v, -1, dmstack_sqlite_transient())
            }
            guard rc == SQLITE_OK else { throw error(rc, "bind \(sql.prefix(60))") }
        }
        while true {
            rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw error(rc, "run \(sql.prefix(60))") }
            try row(SQLiteRow(statement: statement))
        }
    }

    /// The rows of `sql`, each mapped by `transform`.
    public func rows<T>(_ sql: String, _ arguments: [SQLiteValue] = [], _ transform: (SQLiteRow) throws -> T) throws -> [T] {
        var out: [T] = []
        try query(sql, arguments) { out.append(try transform($0)) }
        return out
    }

    /// Prepares `sql` once for many runs (a million rows of one event in one transaction).
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK else { throw error(rc, "prepare \(sql.prefix(60))") }
        return SQLiteStatement(db: self, statement: statement, sql: sql)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` in a write transaction taken at once (BEGIN IMMEDIATE): two writers never
    /// both read and then collide on upgrade, so a read-modify-write cannot lose an update.
    /// Committed if `body` returns, rolled back if it throws.
    public func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` in one read transaction (BEGIN, deferred): in WAL mode all its reads see
    /// one snapshot of the file, whatever another connection commits meanwhile. Ended
    /// (COMMIT, which writes nothing for a reader) when `body` returns or throws.
    public func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        defer { _ = try? execute("COMMIT") }
        return try body()
    }

    /// `PRAGMA user_version`: the schema version the migrations have reached.
    public var userVersion: Int {
        get throws { try rows("PRAGMA user_version") { $0.integer(0) }.first ?? 0 }
    }
}

/// A statement prepared once and run many times with new arguments; finalized when released.
public final class SQLiteStatement {
    let db: SQLiteDatabase
    let statement: OpaquePointer?
    let sql: String

    init(db: SQLiteDatabase, statement: OpaquePointer?, sql: String) {
        self.db = db
        self.statement = statement
        self.sql = sql
    }

    deinit { sqlite3_finalize(statement) }

    /// Runs it once with `arguments` bound in order (a statement that returns no rows).
    public func run(_ arguments: [SQLiteValue]) throws(SQLiteError) {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        for (i, value) in arguments.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, index)
            case .integer(let v): rc = sqlite3_bind_int64(statement, index, v)
            case .real(let v): rc = sqlite3_bind_double(statement, index, v)
            case .text(let v): rc = sqlite3_bind_text(statement, index, v, -1, dmstack_sqlite_transient())
            }
            guard rc == SQLITE_OK else { throw db.error(rc, "bind \(sql.prefix(60))") }
        }
        let rc = sqlite3_step(statement)
        guard rc == SQLITE_DONE || rc == SQLITE_ROW else { throw db.error(rc, "run \(sql.prefix(60))") }
    }
}

/// A value bound to a statement's `?`.
public enum SQLiteValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
}

/// The current row of a running statement; valid only inside the row callback.
public struct SQLiteRow {
    let statement: OpaquePointer?
    public func integer(_ column: Int32) -> Int { Int(sqlite3_column_int64(statement, column)) }
    public func real(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    public func text(_ column: Int32) -> String? {
        guard let p = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: p)
    }
    /// The column's value with the type SQLite stored it as (a row copied as it was).
    public func value(_ column: Int32) -> SQLiteValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_NULL: .null
        case SQLITE_INTEGER: .integer(sqlite3_column_int64(statement, column))
        case SQLITE_FLOAT: .real(sqlite3_column_double(statement, column))
        default: text(column).map { .text($0) } ?? .null
        }
    }
}
