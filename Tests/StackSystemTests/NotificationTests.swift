import Foundation
import StackModel
import StackSystem
import Testing

/// The configuration file's decoding, the retry policy, idempotency keys.
@Suite("Notifications")
struct NotificationTests {
    func decode(_ yaml: String) throws -> NotifyConfig {
        try NotifyConfig.decode(try SpecLoader.parse(Array(yaml.utf8), file: "config.yaml"), file: "config.yaml")
    }

    @Test func backoffDoublesUpToTheMaximumAndGivesUp() {
        let p = RetryPolicy(initial: 5, maximum: 60, attempts: 4)
        #expect((1...6).map { p.delay(afterFailures: $0) } == [5, 10, 20, 40, 60, 60])
        #expect(!p.exhausted(3) && p.exhausted(4))
        #expect(!RetryPolicy(attempts: 0).exhausted(1_000_000))
        #expect(RetryPolicy(initial: 1, maximum: 1e9, attempts: 0).delay(afterFailures: 10_000) == 1e9)
    }

    @Test func keysAreStableAndTellOccurrencesApart() {
        let a = EventKey.make(["remove", "ns:1234", "0+8", "T1"])
        #expect(a == EventKey.make(["remove", "ns:1234", "0+8", "T1"]))
        #expect(a != EventKey.make(["remove", "ns:1234", "0+8", "T2"]))
        #expect(a != EventKey.make(["remove", "ns:1234", "0+80", "T1"]))
        #expect(a.hasPrefix("dmstack-") && a.count == 40)
    }

    @Test func everySinkTypeDecodes() throws {
        let c = try decode("""
            sinks:
              - type: jsonl
              - type: jsonl
                path: /var/log/dmstack.jsonl
              - type: exec
                name: pager
                argv: [/bin/cat, --team, storage]
                timeout: 1500ms
              - type: journal
              - type: syslog
                facility: local3
              - type: alertmanager
                url: http://am:9093/api/v2/alerts
                labels: {team: storage}
            retry: {initial: 2s, max: 1h, attempts: 0}
            monitor: {badblocks-interval: 1m}
            """)
        #expect(c.sinks.map(\.name) == ["jsonl-1", "jsonl-2", "pager", "journal-4", "syslog-5", "alertmanager-6"])
        #expect(c.sinks[0].kind as? JSONLinesSink == JSONLinesSink(path: nil))
        #expect(c.sinks[2].kind as? ExecSink == ExecSink(argv: ["/bin/cat", "--team", "storage"], timeout: 1.5))
        #expect(c.sinks[4].kind as? SyslogSink == SyslogSink(socket: "/dev/log", facility: 19))
        #expect(c.sinks[5].kind as? AlertmanagerSink == AlertmanagerSink(url: "http://am:9093/api/v2/alerts", timeout: 10, labels: ["team": "storage"]))
        #expect(c.retry == RetryPolicy(initial: 2, maximum: 3600, attempts: 0))
        #expect(c.badblocksInterval == 60)
    }

    @Test func sinksCompareByTypeAndSettingsAndNameTheFilesTheyWrite() {
        let file = SinkConfig(name: "a", kind: JSONLinesSink(path: "/var/log/dmstack.jsonl"))
        #expect(file == SinkConfig(name: "a", kind: JSONLinesSink(path: "/var/log/dmstack.jsonl")))
        #expect(file.hashValue == SinkConfig(name: "a", kind: JSONLinesSink(path: "/var/log/dmstack.jsonl")).hashValue)
        #expect(file != SinkConfig(name: "a", kind: JSONLinesSink(path: nil)))
        #expect(file != SinkConfig(name: "b", kind: JSONLinesSink(path: "/var/log/dmstack.jsonl")))
        #expect(SinkConfig(name: "s", kind: JournalSink(socket: "/dev/log")) != SinkConfig(name: "s", kind: SyslogSink(socket: "/dev/log", facility: 3)))
        #expect(file.kind.writtenFiles == ["/var/log/dmstack.jsonl"] && JSONLinesSink(path: nil).writtenFiles.isEmpty)
        #expect(ExecSink(argv: ["/bin/true"], timeout: 1).writtenFiles.isEmpty)
        // The message's order of today's types; a new sink is appended, so no test lists them all.
        #expect(Sinks.all.prefix(5).map { $0.type } == ["jsonl", "exec", "journal", "syslog", "alertmanager"])
    }

    @Test(arguments: [
        ("sinks:\n  - type: pager\n", "config.yaml:2: sinks[0].type: unknown sink type 'pager' (\(Sinks.all.map { $0.type }.joined(separator: ", ")))"),
        ("sinks:\n  - type: exec\n", "config.yaml:2: sinks[0].argv: missing (required): the program and its arguments, as a list"),
        ("sinks:\n  - type: exec\n    argv: [/bin/true]\n    timeout: 10\n", "config.yaml:4: sinks[0].timeout: expected a duration like 500ms, 10s, 5m, 1h or 30d, got '10'"),
        ("sinks:\n  - {type: jsonl, name: a}\n  - {type: journal, name: a}\n", "config.yaml:3: sinks[1].name: sink name 'a' is used twice"),
        ("sinks:\n  - type: alertmanager\n    url: am:9093\n", "config.yaml:3: sinks[0].url: expected an http:// or https:// URL, got 'am:9093'"),
        ("sinks:\n  - type: alertmanager\n    url: http://a\n    labels: {bad-name: x}\n", "config.yaml:4: sinks[0].labels.bad-name: not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
        ("sinks:\n  - type: syslog\n    bogus: 1\n", "config.yaml:3: sinks[0].bogus: unknown key (allowed here: facility, name, socket, type)"),
        ("retries: {}\n", "config.yaml:1: retries: unknown key (allowed here: events, monitor, retry, sinks)"),
        // The outbox's retention (issue 21 point 5): checked at load.
        ("events: {retention: 2h}\n", "config.yaml:1: events.retention: is shorter than a day (7200 s): delivered events would be pruned before anyone read them"),
        ("events: {keep: 30d}\n", "config.yaml:1: events.keep: unknown key (allowed here: retention)"),
        // Caught at load, not at the first delivery (issue 18 point 10).
        ("sinks:\n  - type: exec\n    argv: /bin/sh -c id\n", "config.yaml:3: sinks[0].argv: expected a list (argv: [/path/to/program, arg, ...]), found one value"),
        ("sinks:\n  - type: exec\n    argv: {program: /bin/true}\n", "config.yaml:3: sinks[0].argv: expected a list (argv: [/path/to/program, arg, ...]), found a mapping"),
        ("sinks:\n  - type: exec\n    argv: []\n", "config.yaml:3: sinks[0].argv: is an empty list: the program and its arguments, as a list"),
        ("sinks:\n  - type: exec\n    argv: [/nonexistent/hook]\n", "config.yaml:3: sinks[0].argv: /nonexistent/hook does not exist"),
        ("sinks:\n  - type: exec\n    argv: [no-such-hook-dmstack]\n", "config.yaml:3: sinks[0].argv: no-such-hook-dmstack is not an executable in $PATH"),
        ("sinks:\n  - type: exec\n    argv: [/proc/self/status]\n", "config.yaml:3: sinks[0].argv: /proc/self/status is not executable"),
        ("sinks: []\n", "config.yaml:1: sinks: is an empty list: no event would be delivered (list at least one sink, or leave the key out for the journal)"),
        ("sinks:\n  - type: journal\nretry: {initial: 2h, max: 1h}\n", "config.yaml:3: retry.initial: the first delay (initial: 2h) is longer than the longest (max: 1h)"),
        ("sinks:\n  - type: journal\nretry: {initial: 2h}\n", "config.yaml:3: retry.initial: the first delay (initial: 2h) is longer than the longest (max: 3600s (the default))"),
        ("sinks:\n  - type: journal\nretry:\n  max: 1s\n", "config.yaml:4: retry.max: the first delay (initial: 5s (the default)) is longer than the longest (max: 1s)"),
    ])
    func badConfigurationIsOneLineNamingTheKey(yaml: String, message: String) throws {
        #expect(throws: SpecError.self) { try decode(yaml) }
        do { _ = try decode(yaml) } catch { #expect("\(error)" == message) }
    }

    @Test func retentionIsReadInDays() throws {
        #expect(try decode("events: {retention: 30d}\n").retention == 30 * 86400)
        #expect(try decode("sinks:\n  - type: journal\n").retention == nil)
    }

    @Test func theShippedExampleConfigurationIsValid() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("contrib/config.yaml").path
        // Its pager program is the admin's to install: until it is there the file is refused
        // at load, naming it; with a program that exists, the rest of it is valid.
        #expect(throws: ConfigError.self) { try ConfigLoader.load(option: file) }
        do { _ = try ConfigLoader.load(option: file) } catch {
            #expect("\(error)".hasSuffix("sinks[1].argv: /usr/local/bin/page-storage-oncall does not exist"), "\(error)")
        }
        let text = try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(of: "/usr/local/bin/page-storage-oncall", with: "/bin/true")
        let c = try decode(text)
        #expect(c.sinks.map(\.name) == ["jsonl-1", "pager", "journal-3", "alertmanager-4"])
    }
}
