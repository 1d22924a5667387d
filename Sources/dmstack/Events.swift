import ArgumentParser
import FoundationEssentials
import StackEngine
import StackModel

/// `dmstack events`: the durable notification outbox.
struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "The notification outbox: list events and their deliveries, retry what is undelivered, send a test event.",
        discussion: """
            Every event is written to the outbox (SQLite, in the state directory with the holder \
            registry) with one delivery per configured sink before anything is sent, and each \
            delivery is marked after its sink answered (claims and marks are written a window of \
            up to 64 deliveries at a time, one transaction each); a failed one is tried again after 5 s, \
            then twice as long each time up to an hour (retry: in the configuration), and marked \
            failed after 20 attempts. A dmstack killed mid-dispatch leaves its delivery pending: \
            the next dispatch sends it again. Delivery is at least once; every event carries an \
            idempotency key (key, DMSTACK_EVENT_KEY, the dmstack_key label) for the receiver to \
            drop a repeat.
            """,
        subcommands: [ListEvents.self, Retry.self, Test.self, Prune.self]
    )

    struct ListEvents: ParsableCommand, ColumnReport {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the events in the outbox, oldest first, with each sink's delivery state.",
            discussion: """
                State is pending, delivered or failed; times are ISO 8601 in UTC. JSON: \
                {"events": [...]}, every field in docs/json/events.schema.json.
                """
        )
        @Flag(name: [.customShort("J"), .long], help: "Print JSON.") var json = false
        @Option(help: ArgumentHelp("At most this many events, the newest.", valueName: "N")) var limit = 100
        @OptionGroup var registry: RegistryOptions
        @OptionGroup var table: TableOptions<ListEvents>

        func run() throws {
            try reportingFailures {
                let entries = try Notifications.list(try registry.store.openExisting(), limit: limit)
                if json {
                    print(try JSONOutput.encode(["events": entries]))
                    return
                }
                guard !entries.isEmpty else {
                    if !table.quietWhenEmpty { print("no events") }
                    return
                }
                var rows: [Row] = []
                for e in entries {
                    let event = Row(created: e.createdAt, kind: e.kind, severity: e.severity, leaf: e.leaf, summary: e.summary, key: e.key)
                    if e.deliveries.isEmpty { rows.append(event) }
                    for d in e.deliveries {
                        var row = event
                        (row.sink, row.state, row.tries, row.lastError) = (d.sink, d.state, d.attempts, d.lastError ?? "")
                        rows.append(row)
                    }
                }
                print(table.render(rows))
            }
        }

        /// One line: an event and one of its deliveries (none: the event had no sink).
        struct Row {
            var created, kind, severity, leaf, summary: String
            var sink = "-", state = "no sinks"
            var tries = 0
            var key: String
            var lastError = ""
        }

        static let columns = ReportColumns<Row>(all: [
            ReportColumn(name: "CREATED", header: "CREATED", help: "when the event was recorded (UTC)") { r, _ in r.created },
            ReportColumn(name: "KIND", header: "KIND", help: "event kind") { r, _ in r.kind },
            ReportColumn(name: "SEVERITY", header: "SEVERITY", help: "severity") { r, _ in r.severity },
            ReportColumn(name: "LEAF", header: "LEAF", help: "the leaf it is about") { r, _ in r.leaf },
            ReportColumn(name: "SUMMARY", header: "SUMMARY", narrows: true, help: "one line about it") { r, _ in r.summary },
            ReportColumn(name: "SINK", header: "SINK", help: "where it goes") { r, _ in r.sink },
            ReportColumn(name: "STATE", header: "STATE", help: "pending, delivered or failed") { r, _ in r.state },
            ReportColumn(name: "TRIES", header: "TRIES", alignment: .right, help: "delivery attempts") { r, _ in String(r.tries) },
            ReportColumn(name: "KEY", header: "KEY", narrows: true, help: "the event's idempotency key") { r, _ in r.key },
            ReportColumn(name: "LAST-ERROR", header: "LAST ERROR", narrows: true, help: "why the last attempt failed") { r, _ in r.lastError },
        ], defaults: ["CREATED", "KIND", "SEVERITY", "LEAF", "SINK", "STATE", "TRIES", "KEY", "LAST-ERROR"])
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retry",
            abstract: "Deliver every undelivered event now (pending or failed), whatever the backoff says.",
            discussion: "Exit status 0 when the outbox has nothing undelivered afterwards, 2 when some deliveries are still not delivered."
        )
        @OptionGroup var options: ConfigOptions
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            try reportingStatus { () throws -> ExitStatus in
                let report = try options.notifications(registry).deliver(force: true)
                print("\(report.delivered.count) delivered, \(report.failed.count) failed, \(report.undelivered) undelivered")
                return report.say()
            }
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test",
            abstract: "Record a test event and dispatch it: checks that the configured sinks work.",
            discussion: "The event has kind test and severity info; its key is new each time. Only it is dispatched. Exit status 0 when every configured sink took it, 2 when some did not (it stays in the outbox)."
        )
        @Option(help: ArgumentHelp("A word in the event's summary.", valueName: "TEXT")) var message = "test event"
        @OptionGroup var options: ConfigOptions
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            try reportingStatus { () throws -> ExitStatus in
                let notifications = try options.notifications(registry)
                let at = Machine.time.now()
                let host = Machine.hostName
                let event = NotificationEvent(key: EventKey.make(["test", host, at, String(Machine.processID), message]), kind: .test, severity: .info,
                                              at: at, origin: "events test", host: host, leaf: "-", range: "0+0", summary: message)
                _ = try notifications.record(event)
                print(event.key)
                let report = try notifications.deliver(only: event.key)
                return report.say()
            }
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Delete the delivered events older than a duration from the outbox.",
            discussion: "Only events whose every delivery was delivered go (with their deliveries and attempts); pending or failed ones stay, and so do those whose damage is not resolved yet. The damage ledger keeps its entries. events: {retention: DURATION} in the configuration makes each monitor pass prune the same way. Prints how many were deleted."
        )
        @Option(help: ArgumentHelp("Age, like 12h, 7d, 90m.", valueName: "DURATION")) var olderThan: String
        @OptionGroup var registry: RegistryOptions

        func validate() throws {
            guard SpecMap.seconds(olderThan) != nil else { throw ValidationError("--older-than: expected a duration like 90m, 12h or 7d, got '\(olderThan)'") }
        }

        func run() throws {
            try reportingFailures {
                guard let db = try registry.store.openExisting(readOnly: false) else { print("0 pruned"); return }
                let n = try Notifications.prune(db, olderThan: SpecMap.seconds(olderThan) ?? 0)
                print("\(n) pruned")
            }
        }
    }
}
