import StackModel
import StackSystem
import Testing

/// Huge durations in the configuration (found by fuzzing): refused at load with the key named,
/// not turned into a trap where a timeout becomes milliseconds or a delay nanoseconds.
@Suite("Configuration bounds")
struct ConfigBoundsTests {
    func decode(_ yaml: String) throws -> NotifyConfig {
        try NotifyConfig.decode(try SpecLoader.parse(Array(yaml.utf8), file: "config.yaml"), file: "config.yaml")
    }

    @Test(arguments: [
        ("retry:\n  initial: 99999999999999999999999h\n", "config.yaml:2: retry.initial: '99999999999999999999999h' is longer than the 30 days (720h) allowed"),
        ("retry:\n  max: 721h\n", "config.yaml:2: retry.max: '721h' is longer than the 30 days (720h) allowed"),
        ("sinks:\n  - type: exec\n    argv: [/bin/true]\n    timeout: 9999999999999999999999999999999ms\n",
         "config.yaml:4: sinks[0].timeout: '9999999999999999999999999999999ms' is longer than the 30 days (720h) allowed"),
        ("sinks:\n  - type: alertmanager\n    url: http://a\n    timeout: 1000000000000s\n",
         "config.yaml:4: sinks[0].timeout: '1000000000000s' is longer than the 30 days (720h) allowed"),
        ("monitor:\n  badblocks-interval: \(String(repeating: "9", count: 400))m\n",
         "config.yaml:2: monitor.badblocks-interval: '\(String(repeating: "9", count: 400))m' is longer than the 30 days (720h) allowed"),
        ("retry:\n  attempts: 99999999999999999999\n", "config.yaml:2: retry.attempts: expected a whole number up to 1000000, got '99999999999999999999'"),
    ])
    func aHugeDurationIsOneLineNamingTheKey(yaml: String, message: String) {
        #expect(throws: SpecError.self) { try decode(yaml) }
        do { _ = try decode(yaml) } catch { #expect("\(error)" == message) }
    }

    @Test func theLongestDurationAllowedStillDecodes() throws {
        let c = try decode("sinks:\n  - type: exec\n    argv: [/bin/true]\n    timeout: 720h\nretry:\n  initial: 1s\n  max: 720h\nmonitor:\n  badblocks-interval: 43200m\n")
        #expect(c.retry.maximum == 30 * 86_400)
        #expect(c.badblocksInterval == 30 * 86_400)
    }

    /// 100,000 nested flow lists: libyaml's loader took minutes (its scanner's work grows with
    /// the depth on every token); the first pass stops at 65 levels.
    @Test(arguments: [
        "volumes: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n",
        "a: " + String(repeating: "{b: ", count: 100_000) + "c" + String(repeating: "}", count: 100_000) + "\n",
    ])
    func aDeeplyNestedDocumentIsRefusedAtOnce(yaml: String) {
        #expect { try SpecLoader.parse(Array(yaml.utf8), file: "deep.yaml") } throws: { e in
            "\(e)" == "deep.yaml:1: too deeply nested (more than 64 levels of lists and mappings)"
        }
    }

    @Test func aNestingWithinTheLimitStillLoads() throws {
        let yaml = "a: " + String(repeating: "[", count: 62) + "x" + String(repeating: "]", count: 62) + "\n"
        _ = try SpecLoader.parse(Array(yaml.utf8), file: "ok.yaml")
    }
}
