import ArgumentParser
import FoundationEssentials
import StackEngine
import StackModel

/// `dmstack holders`: who must be told when a leaf fails, recorded before anything fails.
struct Holders: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "holders",
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
            commandName: "register",
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

        @Flag(name: [.customShort("J"), .long], help: "Print JSON.")
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
                let db = try registry.store.open()
                let stored = try Machine.holders.register(target, name: name, hook: argv, by: "holders register", in: db)
                if json {
                    // As `holders show` would print it now: what this registration recorded is
                    // in the history, nothing is pending.
                    let history = try Machine.holders.history(stored.record.name, in: db)
                    print(try JSONOutput.encode(["holder": HolderView(stored.record, history: history, pending: [])]))
                    return
                }
                let r = stored.record
                print("\(stored.created ? "registered" : "updated") \(r.name): \(r.chains.count) chain\(r.chains.count == 1 ? "" : "s") from \(r.leaves.map(\.name).joined(separator: ", "))")
                for c in stored.changes { print("  \(c)") }
            }
        }
    }

    struct ListHolders: ParsableCommand, ColumnReport {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List registered holders with their leaves and state, checked against the live system.",
            discussion: """
                State: ok, degraded (a device of a chain is gone or was replaced), gone (the \
                holder's own device is gone). JSON: {"holders": [...]}, every field \
                in docs/json/holders.schema.json.
                """
        )

        @Flag(name: [.customShort("J"), .long], help: "Print JSON.")
        var json = false

        @OptionGroup var registry: RegistryOptions

        @OptionGroup var table: TableOptions<ListHolders>

        struct Row: Encodable {
            var name, kind: String
            var state: HolderState
            var fsType, fsUuid, mountpoint: String?
            var leaves: [LeafRow]
            var chains: Int
            var registeredAt, refreshedAt: String
        }

        struct LeafRow: Encodable { var name, majorMinor, identity: String; var state: LayerState }

        func run() throws {
            try reportingFailures {
                let stored = try Machine.holders.all(in: try registry.store.openExisting())
                let records = Holders.current(stored).map(\.record)
                let rows = records.map { r in
                    Row(name: r.name, kind: r.kind.rawValue, state: r.state, fsType: r.filesystem?.type, fsUuid: r.filesystem?.uuid,
                        mountpoint: r.filesystem?.mountpoint,
                        leaves: r.leaves.map { LeafRow(name: $0.name, majorMinor: $0.device.majorMinor, identity: $0.identity, state: $0.state) },
                        chains: r.chains.count, registeredAt: r.registeredAt, refreshedAt: r.refreshedAt)
                }
                if json {
                    print(try JSONOutput.encode(["holders": rows]))
                    return
                }
                guard !rows.isEmpty else {
                    if !table.quietWhenEmpty { print("no holders registered in \(registry.directory) (dmstack holders register MOUNTPOINT)") }
                    return
                }
                print(table.render(rows))
            }
        }

        static let columns = ReportColumns<Row>(all: [
            ReportColumn(name: "NAME", header: "NAME", help: "holder name") { r, _ in r.name },
            ReportColumn(name: "KIND", header: "KIND", help: "filesystem or raw") { r, _ in r.kind },
            ReportColumn(name: "FILESYSTEM", header: "FILESYSTEM", help: "type and UUID") { r, _ in r.fsType.map { "\($0) \(r.fsUuid ?? "")" } ?? "-" },
            ReportColumn(name: "MOUNTPOINT", header: "MOUNTPOINT", narrows: true, help: "where it is mounted") { r, _ in r.mountpoint ?? "-" },
            ReportColumn(name: "LEAVES", header: "LEAVES", narrows: true, help: "its leaves, with their state when not present") { r, _ in
                r.leaves.map { $0.state == .present ? $0.name : "\($0.name) (\($0.state))" }.joined(separator: ",")
            },
            ReportColumn(name: "CHAINS", header: "CHAINS", alignment: .right, help: "holder chains recorded") { r, _ in "\(r.chains)" },
            ReportColumn(name: "STATE", header: "STATE", help: "ok, degraded or gone") { r, _ in r.state.rawValue },
            ReportColumn(name: "REGISTERED", header: "REGISTERED", help: "when it was registered (UTC)") { r, _ in r.registeredAt },
            ReportColumn(name: "REFRESHED", header: "REFRESHED", help: "when it was last refreshed (UTC)") { r, _ in r.refreshedAt },
        ], defaults: ["NAME", "KIND", "FILESYSTEM", "MOUNTPOINT", "LEAVES", "CHAINS", "STATE"])
    }

    /// Stored records as the live system shows them now, a warning on stderr when it cannot be read.
    static func current(_ stored: [HolderRecord]) -> [HolderService.Current] {
        let (records, warning) = Machine.holders.current(stored)
        if let warning { var stderr = StandardError(); print("dmstack: warning: \(warning)", to: &stderr) }
        return records
    }
}
