import ArgumentParser
import FoundationEssentials
import StackEngine
import StackModel
import StackSystem

/// `--config`: the notification sinks and retry policy, for every command that dispatches.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp(
        "dmstack's configuration: notification sinks, retry policy (default $DMSTACK_CONFIG, else /etc/dmstack/config.yaml, else the journal).",
        valueName: "FILE"))
    var config: String?

    func load() throws -> NotifyConfig {
        do { return try ConfigLoader.load(option: config) } catch {
            throw CommandFailure(status: error.line == 0 ? .failure : .dataError, message: error.description)
        }
    }

    /// The registry (created if missing) and a dispatcher with the configured sinks.
    func dispatcher(_ registry: RegistryOptions) throws -> Dispatcher {
        let config = try load()
        return Dispatcher(registry: try registry.store.open(), config: config)
    }
}

extension Dispatcher.Report {
    /// One line per failed delivery and a count, on stderr; the exit status: 0 when nothing
    /// is left undelivered, else 2 (partial: recorded, some sinks not reached yet).
    func say(prefix: String = "") -> ExitStatus {
        var stderr = StandardError()
        for f in failed { print("dmstack: \(prefix)event \(f.event) to \(f.sink) not delivered: \(f.detail)", to: &stderr) }
        if undelivered > 0 {
            print("dmstack: \(prefix)\(undelivered) deliveries still pending in the outbox (retried with backoff by `dmstack monitor`, or now by `dmstack events retry`)", to: &stderr)
            return .partial
        }
        return .success
    }
}

/// `dmstack events`: the durable notification outbox.
struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The notification outbox: list events and their deliveries, retry what is undelivered, send a test event.",
        discussion: """
            Every event is written to the outbox (SQLite, in the state directory with the holder \
            registry) with one delivery per configured sink before anything is sent, and each \
            delivery is marked after its sink answered; a failed one is tried again after 5 s, \
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
                let entries = try registry.store.openExisting().map { db in try usingRegistry { () throws(RegistryError) in try db.outbox(limit: limit) } } ?? []
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
            abstract: "Deliver every undelivered event now (pending or failed), whatever the backoff says.",
            discussion: "Exit status 0 when the outbox has nothing undelivered afterwards, 2 when some deliveries are still not delivered."
        )
        @OptionGroup var options: ConfigOptions
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            try reportingStatus { () throws -> ExitStatus in
                let dispatcher = try options.dispatcher(registry)
                let report = try usingRegistry { () throws(RegistryError) in try dispatcher.dispatch(force: true) }
                print("\(report.delivered.count) delivered, \(report.failed.count) failed, \(report.undelivered) undelivered")
                return report.say()
            }
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a test event and dispatch it: checks that the configured sinks work.",
            discussion: "The event has kind test and severity info; its key is new each time. Only it is dispatched. Exit status 0 when every configured sink took it, 2 when some did not (it stays in the outbox)."
        )
        @Option(help: ArgumentHelp("A word in the event's summary.", valueName: "TEXT")) var message = "test event"
        @OptionGroup var options: ConfigOptions
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            try reportingStatus { () throws -> ExitStatus in
                let dispatcher = try options.dispatcher(registry)
                let at = Machine.time.now()
                let host = Machine.hostName
                let event = NotificationEvent(key: EventKey.make(["test", host, at, String(Machine.processID), message]), kind: .test, severity: .info,
                                              at: at, origin: "events test", host: host, leaf: "-", range: "0+0", summary: message)
                _ = try usingRegistry { () throws(RegistryError) in try dispatcher.record(event) }
                print(event.key)
                let report = try usingRegistry { () throws(RegistryError) in try dispatcher.dispatch(event: event.key) }
                return report.say()
            }
        }
    }
}
