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
        subcommands: [ListEvents.self, Retry.self, Test.self]
    )

    struct ListEvents: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the events in the outbox, oldest first, with each sink's delivery state.",
            discussion: """
                State is pending, delivered or failed; times are ISO 8601 in UTC. JSON: \
                {"events": [...]}, every field in docs/json/events.schema.json.
                """
        )
        @Flag(help: "Print JSON.") var json = false
        @Option(help: ArgumentHelp("At most this many events, the newest.", valueName: "N")) var limit = 100
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            try reportingFailures {
                let entries = try Notifications.list(try registry.store.openExisting(), limit: limit)
                if json {
                    print(try JSONOutput.encode(["events": entries]))
                    return
                }
                guard !entries.isEmpty else { print("no events"); return }
                var table = TextTable(columns: [Column(header: "CREATED"), Column(header: "KIND"), Column(header: "SEVERITY"), Column(header: "LEAF"),
                                                Column(header: "SINK"), Column(header: "STATE"), Column(header: "TRIES", alignment: .right),
                                                Column(header: "KEY"), Column(header: "LAST ERROR")])
                for e in entries {
                    if e.deliveries.isEmpty { table.rows.append([e.createdAt, e.kind, e.severity, e.leaf, "-", "no sinks", "0", e.key, ""]) }
                    for d in e.deliveries {
                        table.rows.append([e.createdAt, e.kind, e.severity, e.leaf, d.sink, d.state, String(d.attempts), e.key, d.lastError ?? ""])
                    }
                }
                print(table.render())
            }
        }
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
}
