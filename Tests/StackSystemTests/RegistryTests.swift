import Foundation
import StackModel
import StackSystem
import Testing

/// The SQLite holder registry on a temporary state directory: creation and modes, migration,
/// register/find/refresh/unregister, concurrent writers, and recovery from a damaged file.
@Suite("Holder registry")
struct RegistryTests {
    static func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-registry-\(UUID().uuidString)").path
        return dir
    }

    static func record(_ name: String, uuid: String? = nil, mountpoint: String? = nil, now: String = "T1") -> HolderRecord {
        let device = BlockDevice(kernelName: "pmem0", major: 259, minor: 0, size: 2048, pmemNamespace: "namespace0.0")
        let layer = RecordedLayer(identity: "ns-uuid:\(name)", device: device, namespace: nil, byId: [], isLeaf: true)
        return HolderRecord(name: name, kind: uuid == nil ? .raw : .filesystem,
                            filesystem: uuid.map { FilesystemIdentity(type: "xfs", uuid: $0, label: nil, blockSize: 4096, mountpoint: mountpoint) },
                            hook: nil, registeredBy: "test", registeredAt: now, refreshedAt: now, layers: [layer],
                            chains: [HolderChain(role: .data, path: [layer.identity])])
    }

    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1
    }

    @Test func createsAPrivateVersionedWALDatabase() throws {
        let base = Self.temporaryDirectory()
        let dir = base + "/nested/state"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let registry = try #require(try HolderRegistry.open(directory: dir))
        #expect(Self.mode(dir) == 0o700 && Self.mode(registry.path) == 0o600)
        let db = try SQLiteDatabase(path: registry.path, create: false, readOnly: true)
        #expect(try db.userVersion == HolderRegistry.schemaVersion)
        #expect(try db.rows("PRAGMA journal_mode") { $0.text(0) } == ["wal"])
        // Opening again migrates nothing and keeps what is there.
        _ = try registry.register(Self.record("a"), rename: false) { ($0, []) }
        #expect(try HolderRegistry.open(directory: dir)!.all().map(\.name) == ["a"])
        // Readers that only fall back to the registry never create one.
        let absent = Self.temporaryDirectory()
        #expect(try HolderRegistry.open(directory: absent, create: false) == nil)
        #expect(!FileManager.default.fileExists(atPath: absent))
    }

    /// The monitor's long-lived connection gives its page cache back after each pass
    /// (sqlite3_db_release_memory): without it, the cache grows to cache_size as the file does.
    @Test func aConnectionGivesItsCacheBack() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: dir + "/cache.sqlite")
        try db.execute("CREATE TABLE t (x BLOB)")
        try db.writeTransaction {
            for _ in 0..<400 { try db.query("INSERT INTO t VALUES (randomblob(4000))") }
        }
        // Reading 1.6 MB brings its pages into the cache (2,000 KiB by default).
        #expect(try db.rows("SELECT count(*) FROM t WHERE x <> zeroblob(4000)") { $0.integer(0) } == [400])
        let full = db.cacheBytes
        #expect(full > 1_000_000, "the cache holds \(full) bytes after reading 1.6 MB")
        db.releaseMemory()
        #expect(db.cacheBytes < full / 10, "after releaseMemory the cache holds \(db.cacheBytes) of \(full) bytes")
    }

    @Test func anOpenStateDirectoryIsClosed() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        _ = try HolderRegistry.open(directory: dir)
        #expect(Self.mode(dir) == 0o700)
        // A file where the directory should be.
        let file = dir + "/file"
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        #expect(throws: RegistryError.self) { try HolderRegistry.open(directory: file) }
    }

    @Test func registerFindRefreshUnregister() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let registry = try HolderRegistry.open(directory: dir)!
        let first = try registry.register(Self.record("/mnt/x", uuid: "X", mountpoint: "/mnt/x"), rename: false) { ($0, []) }
        #expect(first.created)
        // Found by name, mountpoint and UUID, in both spellings.
        for key in ["/mnt/x", "X", "UUID=X"] { #expect(try registry.find(key)?.name == "/mnt/x", "\(key)") }
        #expect(try registry.find("nothing") == nil)
        #expect(try registry.holders(above: "pmem0").map(\.name) == ["/mnt/x"])
        #expect(try registry.holders(above: "259:0").map(\.name) == ["/mnt/x"])
        // The same filesystem under another name updates the one entry, keeping its name...
        let again = try registry.register(Self.record("other", uuid: "X", now: "T2"), rename: false) { old in
            var r = old
            r.refreshedAt = "T2"
            return (r, ["something changed"])
        }
        #expect(!again.created && again.record.name == "/mnt/x" && again.changes == ["something changed"])
        // ...or renames it when asked.
        let renamed = try registry.register(Self.record("new", uuid: "X"), rename: true) { ($0, []) }
        #expect(renamed.record.name == "new" && renamed.changes == ["renamed from /mnt/x"])
        #expect(try registry.all().map(\.name) == ["new"])
        #expect(try registry.history("new").map(\.change) == ["registered by test", "something changed", "renamed from /mnt/x"])
        // A name is one holder's: another filesystem or kind under it is refused.
        #expect { _ = try registry.register(Self.record("new", uuid: "Y"), rename: false) { ($0, []) } } throws: { error in
            (error as? RegistryError)?.kind == .conflict && "\(error)".contains("already registered for filesystem X")
        }
        let refreshed = try registry.refresh([]) { old in
            var r = old
            r.layers[0].state = .gone
            return (r, ["pmem0 (259:0) gone"])
        }
        #expect(refreshed.map(\.record.state) == [.gone])
        #expect(try registry.find("new")?.layers[0].state == .gone)
        // The typed states are stored as the text they print as (the schema is unchanged).
        let file = try SQLiteDatabase(path: registry.path, create: false, readOnly: true)
        #expect(try file.rows("SELECT state FROM holders") { $0.text(0) } == ["gone"])
        #expect(try file.rows("SELECT state FROM layers") { $0.text(0) } == ["gone"])
        #expect(try registry.history("new", limit: 1).map(\.change) == ["pmem0 (259:0) gone"])
        #expect(try registry.recordedDevices().map(\.kernelName) == ["pmem0"])
        #expect(try registry.unregister("new") && !registry.unregister("new"))
        #expect(try registry.all().isEmpty && registry.history("new").isEmpty)
    }

    @Test func aDamagedFileIsNamedAndRebuilt() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let file = dir + "/" + HolderRegistry.fileName
        #expect(FileManager.default.createFile(atPath: file, contents: Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) })))
        #expect { _ = try HolderRegistry.open(directory: dir) } throws: { error in
            let e = error as? RegistryError
            return e?.kind == .corrupt && e!.message.contains(file) && e!.message.contains("holders refresh --rebuild")
        }
        let rebuilt = try HolderRegistry.rebuild(directory: dir, now: "2026-11-22T10:00:00Z")
        #expect(rebuilt.movedTo == file + ".corrupt-20261122100000" && rebuilt.salvaged.isEmpty)
        #expect(FileManager.default.fileExists(atPath: rebuilt.movedTo!))
        #expect(try rebuilt.registry.all().isEmpty)
    }

    @Test func aRebuildSalvagesEveryReadableHolder() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let registry = try HolderRegistry.open(directory: dir)!
            for n in ["a", "b", "c"] { _ = try registry.register(Self.record(n), rename: false) { ($0, []) } }
            let raw = try SQLiteDatabase(path: registry.path)
            try raw.execute("UPDATE holders SET record = '{broken' WHERE name = 'b'")
        }
        #expect { _ = try HolderRegistry.open(directory: dir)!.all() } throws: { error in
            (error as? RegistryError)?.kind == .corrupt && "\(error)".contains("holder 'b' cannot be read")
        }
        let rebuilt = try HolderRegistry.rebuild(directory: dir, now: "T9")
        #expect(rebuilt.salvaged.map(\.name).sorted() == ["a", "c"])
        #expect(try rebuilt.registry.all().map(\.name) == ["a", "c"])
        #expect(try rebuilt.registry.history("a").last?.change.hasPrefix("salvaged from") == true)
    }

    /// Readers that only look (list, show, simulate, translate) open it read-only: nothing is
    /// written, and a schema they do not know is refused rather than migrated.
    @Test func readersNeverWrite() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let writer = try HolderRegistry.open(directory: dir)!
        _ = try writer.register(Self.record("a"), rename: false) { ($0, []) }
        let reader = try #require(try HolderRegistry.open(directory: dir, create: false, readOnly: true))
        #expect(try reader.all().map(\.name) == ["a"])
        #expect(throws: RegistryError.self) { _ = try reader.unregister("a") }
        try SQLiteDatabase(path: writer.path).execute("PRAGMA user_version = 7")
        #expect { _ = try HolderRegistry.open(directory: dir, create: false, readOnly: true) } throws: { "\($0)".contains("schema version 7") }
    }

    @Test func aNewerSchemaIsRefused() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try HolderRegistry.open(directory: dir)!.path
        try SQLiteDatabase(path: path).execute("PRAGMA user_version = 99")
        #expect { _ = try HolderRegistry.open(directory: dir) } throws: { "\($0)".contains("schema version 99 is newer") }
    }

    /// 8 writers, each with its own connection, 200 rounds of register + refresh: SQLite's
    /// locks (the same between threads as between processes) must lose nothing. The CLI
    /// version with 8 processes runs as root in HostLiveTests.
    @Test func concurrentWritersLoseNothing() async throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try HolderRegistry.open(directory: dir)
        let writers = 8, rounds = 200
        let failures = try await withThrowingTaskGroup(of: [String].self) { group in
            for w in 0..<writers {
                group.addTask {
                    var failures: [String] = []
                    guard let registry = try? HolderRegistry.open(directory: dir) else { return ["writer \(w): open failed"] }
                    for r in 0..<rounds {
                        do {
                            _ = try registry.register(Self.record("w\(w)-\(r)"), rename: false) { ($0, []) }
                            if r > 0 {
                                _ = try registry.refresh(["w\(w)-\(r - 1)"]) { old in
                                    var next = old
                                    next.refreshedAt = "R"
                                    return (next, ["refreshed"])
                                }
                            }
                        } catch { failures.append("writer \(w) round \(r): \(error)") }
                    }
                    return failures
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(failures.count == 0, "\(failures.prefix(3))")
        let all = try HolderRegistry.open(directory: dir)!.all()
        #expect(all.count == writers * rounds)
        #expect(all.filter { $0.refreshedAt == "R" }.count == writers * (rounds - 1))
    }
}
