import ArgumentParser
import FoundationEssentials
import StackEngine
import StackModel
import StackSystem

/// `--state-dir`, shared by every command that reads or writes the holder registry.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: ArgumentHelp(
        "Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).", valueName: "DIR"))
    var stateDir: String?

    var directory: String { HolderRegistry.directory(option: stateDir) }

    /// The registry, created if missing.
    func open() throws -> HolderRegistry {
        do { return try HolderRegistry.open(directory: directory)! } catch { throw error.failure }
    }

    /// The registry if one exists; never creates it, and with `readOnly` never writes it.
    func openExisting(readOnly: Bool = true) throws -> HolderRegistry? {
        do { return try HolderRegistry.open(directory: directory, create: false, readOnly: readOnly) } catch { throw error.failure }
    }

    /// `inventory` with the devices the registry recorded and the live system no longer has,
    /// if `name` is one of them (a leaf that is gone); said on stderr. Unchanged otherwise.
    func addingGone(_ name: String, to inventory: Inventory, engine: EngineOptions) throws -> Inventory {
        guard engine.snapshot == nil, (try? engine.device(name, in: inventory)) == nil, let db = try openExisting() else { return inventory }
        let recorded = try usingRegistry { () throws(RegistryError) in try db.recordedDevices() }
        let (augmented, added) = inventory.adding(recorded: recorded)
        guard let d = try? augmented.device(name), added.contains(d) else { return inventory }
        var stderr = StandardError()
        print("dmstack: note: \(name) is not on the live system; using the devices the holder registry (\(db.path)) recorded", to: &stderr)
        return augmented
    }
}

extension RegistryError {
    /// corrupt → 65 (a malformed file), a name taken by another holder → 3, else 1.
    var failure: CommandFailure {
        let status: ExitStatus = switch kind {
        case .corrupt: .dataError
        case .conflict: .refused
        case .access, .other: .failure
        }
        return CommandFailure(status: status, message: message)
    }
}

/// Runs a registry call, its failure turned into the command's status and message.
func usingRegistry<T>(_ body: () throws(RegistryError) -> T) throws -> T {
    do { return try body() } catch { throw error.failure }
}

/// Now, as the registry writes times (ISO 8601, UTC).
func timestamp() -> String { Dispatcher.timestamp() }

/// The live machine for commands that record holders (never a snapshot: a registry describes
/// this machine).
func liveInventory() throws -> Inventory {
    do { return Inventory(try LiveEngine(dmstackVersion: Dmstack.version).snapshot()) } catch {
        throw CommandFailure(status: .failure, message: "cannot read the live system: \(error)")
    }
}

/// `dmstack holders`: who must be told when a leaf fails, recorded before anything fails.
struct Holders: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record, list and refresh holder chains: from each leaf through the dm layers to a filesystem or application.",
        discussion: """
            The kernel tells a filesystem about a failed range only when it sits directly on \
            pmem. dmstack records, for every registered holder, each chain from a leaf through \
            the dm layers to the holder, with each layer's table and the identities that survive \
            a reboot (dm uuid, filesystem UUID, namespace uuid, by-id, partition uuid), so the \
            chain is known after the leaf has gone. The registry is an SQLite database \
            (registry.db, WAL) in the state directory, mode 0700. If it is damaged, `dmstack \
            holders refresh --rebuild` moves it aside and rebuilds it from what can still be \
            read of it and the live system.
            """,
        subcommands: [Register.self, ListHolders.self, ShowHolder.self, Unregister.self, Refresh.self]
    )

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a holder's chains: a filesystem (mountpoint, device or UUID), or a device an application uses (--raw).",
            discussion: """
                A mounted XFS with an external log or realtime device gets a chain per device, \
                roles data, log and realtime. A leaf reached through several paths (raid legs, \
                several volumes on one namespace) is recorded with every path. Registering a \
                filesystem again (by any name or spelling) updates its record and keeps devices \
                that have gone. The name defaults to the mountpoint, else UUID=<fs uuid>. \
                JSON: {"holder": {...}} as `holders show --json` (docs/json/holder.schema.json). Exit status: 1 no such device \
                or no filesystem on it, 3 the name belongs to another holder, 65 the registry \
                is corrupt.
                """
        )

        @Argument(help: "A mountpoint, a block device holding a filesystem, or a filesystem UUID (UUID=... or bare).")
        var target: String?

        @Option(help: ArgumentHelp("A block device an application uses directly (needs --name).", valueName: "DEV"))
        var raw: String?

        @Option(help: "The holder's name (required with --raw).")
        var name: String?

        @Option(help: ArgumentHelp("For --raw: the command to run when the device is hit (words split on blanks; never a shell).", valueName: "CMD"))
        var hook: String?

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var registry: RegistryOptions

        func validate() throws {
            if (target == nil) == (raw == nil) { throw ValidationError("give either TARGET or --raw DEV") }
            if raw != nil && (name ?? "").isEmpty { throw ValidationError("--raw needs --name NAME") }
            if hook != nil && raw == nil { throw ValidationError("--hook is for --raw holders") }
            if let hook, hook.split(separator: " ").isEmpty { throw ValidationError("--hook is empty") }
        }

        func run() throws {
            try reportingFailures {
                let target: HolderTarget = raw.map { .raw(device: $0) } ?? .filesystem(self.target!)
                let argv = hook.map { $0.split(separator: " ").map(String.init) }
                let db = try registry.open()
                let stored = try Holders.register(target, name: name, hook: argv, by: "holders register", registry: db)
                if json {
                    // As `holders show` would print it now: what this registration recorded is
                    // in the history, nothing is pending.
                    let history = try usingRegistry { () throws(RegistryError) in try db.history(stored.record.name) }
                    print(try JSONOutput.encode(["holder": HolderView(stored.record, history: history, pending: [])]))
                    return
                }
                let r = stored.record
                print("\(stored.created ? "registered" : "updated") \(r.name): \(r.chains.count) chain\(r.chains.count == 1 ? "" : "s") from \(r.leaves.map(\.name).joined(separator: ", "))")
                for c in stored.changes { print("  \(c)") }
            }
        }
    }

    /// Records `target` from the live machine into `registry`.
    static func register(_ target: HolderTarget, name: String?, hook: [String]?, by: String, registry: HolderRegistry,
                         inventory given: Inventory? = nil, rename: Bool? = nil) throws -> (record: HolderRecord, created: Bool, changes: [String]) {
        let inventory = try given ?? liveInventory()
        let context = HolderContext.live(now: timestamp())
        let record: HolderRecord
        do { record = try inventory.holderRecord(name: name, target: target, hook: hook, registeredBy: by, context: context) } catch {
            throw CommandFailure(status: .failure, message: error.message)
        }
        let live = inventory.devicesByIdentity(byId: context.byId)
        do {
            return try registry.register(record, rename: rename ?? (name != nil)) { old in
                old.merged(with: record, live: live, now: context.now)
            }
        } catch { throw error.failure }
    }

    struct ListHolders: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List registered holders with their leaves and state, checked against the live system.",
            discussion: """
                State: ok, degraded (a device of a chain is gone or was replaced), gone (the \
                holder's own device is gone). JSON: {"holders": [...]}, every field \
                in docs/json/holders.schema.json.
                """
        )

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var registry: RegistryOptions

        struct Row: Encodable {
            var name, kind, state: String
            var fsType, fsUuid, mountpoint: String?
            var leaves: [LeafRow]
            var chains: Int
            var registeredAt, refreshedAt: String
        }

        struct LeafRow: Encodable { var name, majorMinor, identity, state: String }

        func run() throws {
            try reportingFailures {
                let records = try Holders.current(try registry.openExisting()?.all() ?? []).map(\.record)
                let rows = records.map { r in
                    Row(name: r.name, kind: r.kind.rawValue, state: r.state, fsType: r.filesystem?.type, fsUuid: r.filesystem?.uuid,
                        mountpoint: r.filesystem?.mountpoint,
                        leaves: r.leaves.map { LeafRow(name: $0.name, majorMinor: $0.device.majorMinor, identity: $0.identity, state: $0.state.rawValue) },
                        chains: r.chains.count, registeredAt: r.registeredAt, refreshedAt: r.refreshedAt)
                }
                if json {
                    print(try JSONOutput.encode(["holders": rows]))
                    return
                }
                guard !rows.isEmpty else {
                    print("no holders registered in \(registry.directory) (dmstack holders register MOUNTPOINT)")
                    return
                }
                var table = TextTable(columns: [Column(header: "NAME"), Column(header: "KIND"), Column(header: "FILESYSTEM"),
                                                Column(header: "MOUNTPOINT"), Column(header: "LEAVES"), Column(header: "CHAINS", alignment: .right),
                                                Column(header: "STATE")])
                for r in rows {
                    table.rows.append([r.name, r.kind, r.fsType.map { "\($0) \(r.fsUuid ?? "")" } ?? "-", r.mountpoint ?? "-",
                                       r.leaves.map { $0.state == "present" ? $0.name : "\($0.name) (\($0.state))" }.joined(separator: ","),
                                       "\(r.chains)", r.state])
                }
                print(table.render())
            }
        }
    }

    /// Stored records as the live system shows them now (refreshed in memory, not saved),
    /// with what changed since their last refresh. Without a readable live system the
    /// stored records are shown as they are, with a warning.
    static func current(_ stored: [HolderRecord]) throws -> [(record: HolderRecord, pending: [String])] {
        guard !stored.isEmpty else { return [] }
        let inventory: Inventory
        do { inventory = try liveInventory() } catch let e as CommandFailure {
            var stderr = StandardError()
            print("dmstack: warning: showing the registry as last refreshed: \(e.message)", to: &stderr)
            return stored.map { ($0, []) }
        }
        let context = HolderContext.live(now: timestamp())
        let live = inventory.devicesByIdentity(byId: context.byId)
        return stored.map { r in
            var (next, pending) = r.refreshed(in: inventory, context: context, live: live)
            next.refreshedAt = r.refreshedAt
            return (next, pending)
        }
    }

    struct ShowHolder: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show a holder's chains as a tree per leaf, checked against the live system.",
            discussion: """
                NAME is a holder name, a mountpoint or a filesystem UUID. Each leaf is shown \
                with the layers above it up to the holder's device; a device that is gone is \
                still shown, marked GONE with the time it was first found gone. Changes the \
                live system shows since the last refresh are listed (`holders refresh` \
                records them). JSON: {"holder": {...}}, every field in \
                docs/json/holder.schema.json.
                """
        )

        @Argument(help: "A holder name, mountpoint or filesystem UUID.")
        var name: String

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var registry: RegistryOptions

        func run() throws {
            try reportingFailures {
                guard let db = try registry.openExisting(), let stored = try Holders.find(name, in: db) else {
                    throw CommandFailure(status: .failure, message: "no holder '\(name)' registered in \(registry.directory)")
                }
                let (record, pending) = try Holders.current([stored])[0]
                let history: [(at: String, change: String)]
                history = try usingRegistry { () throws(RegistryError) in try db.history(stored.name) }
                let view = HolderView(record, history: history, pending: pending)
                if json {
                    print(try JSONOutput.encode(["holder": view]))
                } else {
                    print(view.render(record))
                }
            }
        }
    }

    static func find(_ key: String, in registry: HolderRegistry) throws -> HolderRecord? {
        do { return try registry.find(key) } catch { throw error.failure }
    }

    struct Unregister: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget a holder and its history.",
            discussion: "NAME is a holder name, a mountpoint or a filesystem UUID. Exit status 1 if none is registered."
        )

        @Argument(help: "A holder name, mountpoint or filesystem UUID.")
        var name: String

        @OptionGroup var registry: RegistryOptions

        func run() throws {
            try reportingFailures {
                guard let db = try registry.openExisting(readOnly: false), let stored = try Holders.find(name, in: db) else {
                    throw CommandFailure(status: .failure, message: "no holder '\(name)' registered in \(registry.directory)")
                }
                _ = try usingRegistry { () throws(RegistryError) in try db.unregister(stored.name) }
                print("unregistered \(stored.name)")
            }
        }
    }

    struct Refresh: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read holders from the live system and record what changed.",
            discussion: """
                Reports per holder: tables reloaded, members replaced (a device left the chain, \
                another joined), devices gone or back, devices renumbered, remounts. A device \
                that is gone is marked gone, never forgotten. --rebuild is the recovery for a \
                damaged registry: the file (and its -wal, -shm) is moved aside to \
                registry.db.corrupt-TIME, every holder that can still be read from it is \
                carried over, every mounted filesystem on a dmstack volume is registered, and \
                all are refreshed. JSON: {"refresh": {...}}, every field in \
                docs/json/holders-refresh.schema.json.
                """
        )

        @Argument(help: "A holder name, mountpoint or filesystem UUID (default: every holder).")
        var name: String?

        @Flag(help: "Move a damaged registry aside and rebuild it.")
        var rebuild = false

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var registry: RegistryOptions

        struct Report: Encodable {
            var movedTo: String?
            var salvaged: [String]?
            var holders: [Item]
        }

        struct Item: Encodable { var name, state: String; var changes: [String] }

        func run() throws {
            try reportingFailures {
                if rebuild && name != nil { throw CommandFailure(status: .usage, message: "--rebuild rebuilds every holder; give no NAME") }
                var report = Report(holders: [])
                let db: HolderRegistry
                let inventory = try liveInventory()
                if rebuild {
                    let result = try usingRegistry { () throws(RegistryError) in
                        try HolderRegistry.rebuild(directory: registry.directory, now: timestamp())
                    }
                    db = result.registry
                    report.movedTo = result.movedTo
                    report.salvaged = result.salvaged.map(\.name)
                    // What dmstack made is known again from the live system: its mounted filesystems.
                    for v in inventory.ownedVolumes() where !v.mountpoints.isEmpty {
                        guard (try? db.find(v.mountpoints[0])) == nil else { continue }
                        _ = try? Holders.register(.filesystem(v.mountpoints[0]), name: nil, hook: nil, by: "apply \(v.stack)",
                                                  registry: db, inventory: inventory)
                    }
                } else {
                    db = try registry.open()
                }
                var names: [String] = []
                if let name {
                    guard let stored = try Holders.find(name, in: db) else {
                        throw CommandFailure(status: .failure, message: "no holder '\(name)' registered in \(registry.directory)")
                    }
                    names = [stored.name]
                }
                let context = HolderContext.live(now: timestamp())
                let live = inventory.devicesByIdentity(byId: context.byId)
                report.holders = try usingRegistry { () throws(RegistryError) in
                    try db.refresh(names) { $0.refreshed(in: inventory, context: context, live: live) }
                }.map { Item(name: $0.record.name, state: $0.record.state, changes: $0.changes) }
                if json {
                    print(try JSONOutput.encode(["refresh": report]))
                    return
                }
                if let moved = report.movedTo { print("moved the damaged registry to \(moved)") }
                if rebuild { print("rebuilt \(db.path): \(report.salvaged?.count ?? 0) holder(s) salvaged, \(report.holders.count) now") }
                if report.holders.isEmpty && !rebuild { print("no holders registered in \(registry.directory)") }
                for h in report.holders {
                    print("\(h.name): \(h.state)\(h.changes.isEmpty ? ", no change" : "")")
                    for c in h.changes { print("  \(c)") }
                }
            }
        }
    }
}

/// `holders show` and `register --json`: a record with its chains as trees per leaf.
struct HolderView: Encodable {
    var name, kind, state: String
    var filesystem: FilesystemIdentity?
    var hook: [String]?
    var registeredBy, registeredAt, refreshedAt: String
    var layers: [RecordedLayer]
    var chains: [HolderChain]
    var leaves: [Node]
    var pendingChanges: [String]
    var history: [Entry]

    struct Entry: Encodable { var at, change: String }

    struct Node: Encodable {
        var identity, name, majorMinor, state: String
        var roles: [String]
        var above: [Node]
    }

    init(_ r: HolderRecord, history: [(at: String, change: String)], pending: [String]) {
        name = r.name
        kind = r.kind.rawValue
        state = r.state
        filesystem = r.filesystem
        hook = r.hook
        registeredBy = r.registeredBy
        registeredAt = r.registeredAt
        refreshedAt = r.refreshedAt
        layers = r.layers
        chains = r.chains
        func node(_ t: LayerTree) -> Node {
            let l = r.layer(t.identity)
            return Node(identity: t.identity, name: l?.name ?? t.identity, majorMinor: l?.device.majorMinor ?? "?",
                        state: l?.state.rawValue ?? "gone", roles: t.roles.map(\.rawValue), above: t.above.map(node))
        }
        leaves = r.leafTrees().map(node)
        pendingChanges = pending
        self.history = history.map { Entry(at: $0.at, change: $0.change) }
    }

    func render(_ r: HolderRecord) -> String {
        var lines: [String] = []
        if let fs = filesystem {
            lines.append("holder \(name): \(fs.type) filesystem UUID \(fs.uuid ?? "none")\(fs.blockSize.map { ", block size \($0)" } ?? "")"
                + (fs.mountpoint.map { ", mounted on \($0)" } ?? ", not mounted"))
        } else {
            lines.append("holder \(name): raw device user" + (hook.map { ", hook: \($0.joined(separator: " "))" } ?? ", no hook"))
        }
        lines.append("state \(state); registered \(registeredAt) by \(registeredBy); refreshed \(refreshedAt)")
        func describe(_ n: Node) -> String {
            guard let l = r.layer(n.identity) else { return n.identity }
            var parts = ["\(l.name) (\(l.device.majorMinor))"]
            if let dm = l.device.dm {
                let targets = dm.table.compactMap { $0.split(separator: " ").dropFirst(2).first.map(String.init) }
                var unique: [String] = []
                for t in targets where !unique.contains(t) { unique.append(t) }
                if !unique.isEmpty { parts.append(unique.joined(separator: "+")) }
            }
            if let ns = l.namespace { parts.append("\(ns.name) \(ns.mode)" + (ns.claimedBy.map { " via \($0)" } ?? "")) }
            if let p = l.device.partition { parts.append("partition \(p.number) of \(p.parent)") }
            if let file = l.device.loopBackingFile { parts.append("loop on \(file)") }
            parts.append(l.identity)
            switch l.state {
            case .present: break
            case .gone: parts.append("GONE" + (l.since.map { " since \($0)" } ?? ""))
            case .detached: parts.append("DETACHED (no longer under the holder)" + (l.since.map { " since \($0)" } ?? ""))
            }
            return parts.joined(separator: "  ")
        }
        func walk(_ n: Node, depth: Int) {
            lines.append(String(repeating: "   ", count: depth) + "└─ " + describe(n))
            for a in n.above { walk(a, depth: depth + 1) }
        }
        for leaf in leaves {
            lines.append("leaf \(describe(leaf))  [\(leaf.roles.joined(separator: ","))]")
            for a in leaf.above { walk(a, depth: 1) }
        }
        if !pendingChanges.isEmpty {
            lines.append("changed since the last refresh (dmstack holders refresh records it):")
            lines += pendingChanges.map { "  \($0)" }
        }
        if !history.isEmpty {
            lines.append("history:")
            lines += history.map { "  \($0.at)  \($0.change)" }
        }
        return lines.joined(separator: "\n")
    }
}
