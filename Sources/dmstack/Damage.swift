import ArgumentParser
import FoundationEssentials
import StackEngine
import StackModel
import StackSystem

/// `dmstack damage`: the damage ledger, what `zpool status -v` lists for ZFS.
struct Damage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "damage",
        abstract: "List what is damaged now (files with byte ranges, metadata, bad and degraded devices), check it, clear it by hand.",
        discussion: """
            Every failure or removal event that monitor or remove records keeps its lost ranges \
            in the damage ledger (in the registry's database): per filesystem (fs UUID), per \
            file (inode, generation, file handle, the paths known) and byte range, per metadata \
            kind, per device range, with the event's key and time. An entry clears by itself, \
            on each monitor pass and with damage --check: a file deleted, truncated below its \
            range, or rewritten so that the range no longer maps onto the bad bytes (FIEMAP, \
            the file found by its handle through renames and reboots); every entry of an event \
            when its condition is over (the bad range left the badblocks list, the raid is \
            healthy again, the leaf is back). When all of an event's entries are cleared the \
            event is resolved: a resolution event goes to the sinks (Alertmanager: the alert's \
            endsAt). damage clear clears by hand.
            """,
        subcommands: [ListDamage.self, Clear.self],
        defaultSubcommand: ListDamage.self
    )

    /// One entry as the JSON and the table show it; offsets and lengths in bytes (of the
    /// file, of the filesystem device, of the device).
    /// One entry of `damage --json`. `Damage.json` writes these fields by hand (a million
    /// entries in 10 s instead of 67 s through the encoder): a field added here must be
    /// added there, in key order.
    struct Entry: Encodable {
        var id: Int64
        var kind: String
        var fsUuid: String?
        var mountpoint: String?
        var device: String
        var role: String?
        var what: String
        var inode: UInt64?
        var generation: UInt32?
        var path: String?
        var paths: [String]?
        var offset: UInt64
        var length: UInt64
        var event: String
        var condition: String
        var recordedAt: String
        var clearedAt: String?
        var clearedReason: String?

        init(_ e: DamageEntry) {
            let r = e.row
            let scale: UInt64 = r.kind == .device ? 512 : 1
            (id, kind, fsUuid, mountpoint, device, role, what) = (e.id, r.kind.rawValue, r.fsUUID, r.mountpoint, r.device, r.role, r.what)
            (inode, generation, path, paths) = (r.inode, r.generation, r.path, r.paths.isEmpty ? nil : r.paths)
            (offset, length) = (r.offset &* scale, r.length &* scale)
            (event, condition, recordedAt, clearedAt, clearedReason) = (e.event, e.condition, e.recordedAt, e.clearedAt, e.clearedReason)
        }
    }

    struct ListDamage: ParsableCommand, ColumnReport {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the damage recorded and not cleared (the default subcommand).",
            discussion: """
                FS is a filesystem's UUID or mountpoint (all of them and the devices without it). \
                OFFSET and LENGTH are bytes: of the file for a file, of the filesystem's device for \
                metadata, of the device for a device. JSON: {"damage": [...]}, every field in \
                docs/json/damage.schema.json. --check first checks every entry as a monitor pass \
                does (exit status 2 when some could not be checked).
                """
        )
        @Argument(help: ArgumentHelp("A filesystem: its UUID or its mountpoint.", valueName: "FS")) var filesystem: String?
        @Flag(help: "Include the entries already cleared, with when and why.") var all = false
        @Flag(help: "Check every entry first (files by FIEMAP, conditions against the machine), as a monitor pass does.") var check = false
        @Flag(name: [.customShort("J"), .long], help: "Print JSON.") var json = false
        @OptionGroup var options: ConfigOptions
        @OptionGroup var registry: RegistryOptions
        @OptionGroup var table: TableOptions<ListDamage>

        func run() throws {
            try reportingStatus { () throws -> ExitStatus in
                var status = ExitStatus.success
                let filter = HolderRegistry.DamageFilter(filesystem: filesystem.map(Damage.normalized), includeCleared: all)
                var db: HolderRegistry?
                if check {
                    let dispatcher = try options.dispatcher(registry)
                    let report = try DamageLedger(registry: dispatcher.registry, time: Machine.time).checkNow(engine: Machine.live)
                    var stderr = StandardError()
                    for why in report.unknown { print("dmstack: damage: not checked: \(why)", to: &stderr) }
                    if !report.unknown.isEmpty { status = .partial }
                    try Damage.announce(report.resolved, dispatcher: dispatcher)
                    db = dispatcher.registry
                } else {
                    db = try registry.store.openForReading()
                }
                if json {
                    try Damage.streamJSON(db, filter)
                    return status
                }
                // Read twice in one read transaction (to size the columns, then to print them):
                // the same rows both times, and never all of them held.
                let any = try db.map { db in
                    try usingRegistry { () throws(RegistryError) in
                        try db.consistently { try table.printRows { each in try db.forEachDamage(filter) { each(Entry($0)) } } }
                    }
                } ?? false
                if !any && !table.quietWhenEmpty { print(all ? "no damage recorded" : "no known damage") }
                return status
            }
        }

        static let columns = ReportColumns<Entry>(all: [
            ReportColumn(name: "FS", header: "FS", help: "the filesystem's mountpoint (its UUID when it had none)") { r, _ in r.mountpoint ?? r.fsUuid ?? "-" },
            ReportColumn(name: "UUID", header: "UUID", help: "the filesystem's UUID") { r, _ in r.fsUuid ?? "-" },
            ReportColumn(name: "KIND", header: "KIND", help: "file, metadata or device") { r, _ in r.kind },
            ReportColumn(name: "DEVICE", header: "DEVICE", help: "the filesystem's device, or the device damaged") { r, _ in r.device },
            ReportColumn(name: "WHAT", header: "WHAT", help: "data, the metadata kind, or bad range, removed, degraded") { r, _ in r.what },
            ReportColumn(name: "PATH", header: "PATH", narrows: true, help: "the file, as last found by its handle") { r, _ in r.path ?? "-" },
            ReportColumn(name: "INODE", header: "INODE", alignment: .right, help: "the file's inode") { r, _ in r.inode.map(String.init) ?? "-" },
            ReportColumn(name: "GEN", header: "GEN", alignment: .right, help: "the inode's generation") { r, _ in r.generation.map(String.init) ?? "-" },
            ReportColumn(name: "OFFSET", header: "OFFSET", alignment: .right, help: "first byte damaged") { r, _ in String(r.offset) },
            ReportColumn(name: "LENGTH", header: "LENGTH", alignment: .right, help: "bytes damaged") { r, _ in String(r.length) },
            ReportColumn(name: "RECORDED", header: "RECORDED", help: "when the event recorded it (UTC)") { r, _ in r.recordedAt },
            ReportColumn(name: "CLEARED", header: "CLEARED", help: "when it was cleared (UTC), - while damaged") { r, _ in r.clearedAt ?? "-" },
            ReportColumn(name: "REASON", header: "REASON", help: "why it was cleared") { r, _ in r.clearedReason ?? "-" },
            ReportColumn(name: "EVENT", header: "EVENT", narrows: true, help: "the event's key") { r, _ in r.event },
        ], defaults: ["FS", "KIND", "WHAT", "PATH", "OFFSET", "LENGTH", "DEVICE", "RECORDED", "CLEARED", "REASON"])
    }

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clear",
            abstract: "Clear damage by hand: a file's entries (PATH), a filesystem's (its UUID or mountpoint), or --all.",
            discussion: "The entries stay listed by damage --all, with reason `cleared by hand`. Events whose entries are all cleared are resolved (their resolutions go to the sinks). Nothing to clear is an error (exit status 1)."
        )
        @Argument(help: ArgumentHelp("A damaged file's path, or a filesystem's UUID or mountpoint.", valueName: "PATH|FS")) var target: String?
        @Flag(help: "Clear everything.") var all = false
        @OptionGroup var options: ConfigOptions
        @OptionGroup var registry: RegistryOptions

        func validate() throws {
            guard (target != nil) != all else { throw ValidationError("give one PATH or FS, or --all") }
        }

        func run() throws {
            try reportingFailures {
                let dispatcher = try options.dispatcher(registry)
                let db = dispatcher.registry, at = Machine.time.now()
                var n = 0
                try usingRegistry { () throws(RegistryError) in
                    if all {
                        n = try db.clearDamage(reason: "cleared by hand", at: at)
                    } else if let target {
                        let t = Damage.normalized(target)
                        n = try db.clearDamage(path: t, reason: "cleared by hand", at: at)
                        if n == 0 { n = try db.clearDamage(filesystem: t, reason: "cleared by hand", at: at) }
                    }
                }
                guard n > 0 else { throw CommandFailure(status: .failure, message: "nothing to clear: no damage recorded for \(all ? "any filesystem" : "'\(target ?? "")'")") }
                print("\(n) cleared")
                try Damage.announce(try usingRegistry { () throws(RegistryError) in try db.resolveCleared(at: at) }, dispatcher: dispatcher)
            }
        }
    }

    /// `{"damage": [...]}` as the entries are read, byte for byte what `JSONOutput.encode`
    /// makes of the whole list (each entry by the encoder, indented to its depth): a ledger of
    /// a million files is never held whole, nor its document.
    static func streamJSON(_ db: HolderRegistry?, _ filter: HolderRegistry.DamageFilter) throws {
        let out = JSONOutput.standardOutput()
        let encoder = JSONOutputEncoder.make()
        var first = true
        var failure: (any Error)?
        if let db {
            try usingRegistry { () throws(RegistryError) in
                try db.forEachDamage(filter) { e in
                    guard failure == nil else { return }
                    do {
                        out.write(first ? "{\n  \"damage\" : [\n    " : ",\n    ")
                        out.write(try Damage.json(Entry(e), encoder))
                        first = false
                    } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
        // An empty list as the encoder prints it.
        out.write(first ? try JSONOutput.encode(["damage": [Entry]()]) + "\n" : "\n  ]\n}\n")
        out.drain()
    }

    /// One entry as the encoder writes it inside the list (keys sorted and snake_case, nil
    /// omitted, indented to depth 2), by hand: the encoder itself only for a string that needs
    /// escaping (anything but printable ASCII without `"` and `\`).
    static func json(_ e: Entry, _ encoder: JSONEncoder) throws -> String {
        var out = "{"
        var first = true
        func quoted(_ s: String) throws -> String {
            s.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f && $0 != 0x22 && $0 != 0x5c } ? "\"\(s)\"" : String(decoding: try encoder.encode(s), as: UTF8.self)
        }
        func field(_ key: String, _ value: String) {
            out += first ? "\n      \"" : ",\n      \""
            out += key
            out += "\" : "
            out += value
            first = false
        }
        if let v = e.clearedAt { field("cleared_at", try quoted(v)) }
        if let v = e.clearedReason { field("cleared_reason", try quoted(v)) }
        field("condition", try quoted(e.condition))
        field("device", try quoted(e.device))
        field("event", try quoted(e.event))
        if let v = e.fsUuid { field("fs_uuid", try quoted(v)) }
        if let v = e.generation { field("generation", String(v)) }
        field("id", String(e.id))
        if let v = e.inode { field("inode", String(v)) }
        field("kind", try quoted(e.kind))
        field("length", String(e.length))
        if let v = e.mountpoint { field("mountpoint", try quoted(v)) }
        field("offset", String(e.offset))
        if let v = e.path { field("path", try quoted(v)) }
        if let v = e.paths {
            field("paths", v.isEmpty ? "[\n\n      ]" : "[\n        " + (try v.map(quoted)).joined(separator: ",\n        ") + "\n      ]")
        }
        field("recorded_at", try quoted(e.recordedAt))
        if let v = e.role { field("role", try quoted(v)) }
        field("what", try quoted(e.what))
        return out + "\n    }"
    }

    /// A path or mountpoint without its trailing slashes (`/` stays).
    static func normalized(_ s: String) -> String {
        var s = s
        while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
        return s
    }

    /// The resolutions of `resolved` recorded and delivered; failures stay in the outbox.
    static func announce(_ resolved: [(event: String, reason: String)], dispatcher: Dispatcher) throws {
        guard !resolved.isEmpty else { return }
        let ledger = DamageLedger(registry: dispatcher.registry, time: Machine.time)
        let notifications = Notifications(dispatcher)
        for r in resolved {
            guard let e = try ledger.resolution(of: r.event, reason: r.reason), try notifications.record(e) else { continue }
            print("resolved \(r.event) (\(r.reason)): \(e.key)")
            _ = try notifications.deliver(only: e.key).say()
        }
    }
}
