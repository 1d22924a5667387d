import FoundationEssentials
import StackModel
import StackSystem

/// The monitor pass's side of the damage ledger (`DamageLedger`): each new event's damage
/// recorded, every entry checked at the end of the pass, the events whose damage is gone
/// resolved and their resolutions recorded for the sinks, and the pass's time kept for
/// `dmstack metrics`.
extension MonitorPass {
    /// Records a new event's damage; a ledger that cannot be written is said, not fatal (the
    /// event itself is in the outbox).
    func recordDamage(_ event: NotificationEvent, impact: Impact?, condition: String, inventory: Inventory, note: (String) -> Void) {
        do {
            try DamageLedger(registry: dispatcher.registry, time: time).record(event, impact: impact, inventory: inventory, condition: condition)
        } catch {
            note("damage of event \(event.key) not recorded in the ledger: \(error.message)")
        }
    }

    /// The ledger's check for this pass, the resolutions recorded (and told to `recorded`),
    /// the pass's time kept.
    func checkDamage(findings: [MonitorFinding], live: Set<String>, mounts: [String: [String]], note: (String) -> Void,
                     recorded: (NotificationEvent) throws -> Void) throws {
        let ledger = DamageLedger(registry: dispatcher.registry, time: time)
        do {
            // Timestamps are ISO 8601 UTC: they compare as strings.
            let last = try usingRegistry { () throws(RegistryError) in try dispatcher.registry.monitorState("last_file_check") }
            let due = fileCheckInterval <= 0 || last.map { $0 <= Date().addingTimeInterval(-fileCheckInterval).formatted(.iso8601) } ?? true
            let report = try ledger.check(findings: findings, live: live, mounts: mounts, files: due)
            if due { try usingRegistry { () throws(RegistryError) in try dispatcher.registry.setMonitorState("last_file_check", time.now()) } }
            for why in report.unknown { note("damage check: \(why)") }
            for r in report.resolved {
                guard let e = try ledger.resolution(of: r.event, reason: r.reason) else { continue }
                guard try usingRegistry({ () throws(RegistryError) in try dispatcher.record(e) }) else { continue }
                try recorded(e)
            }
        } catch let e as EngineError {
            note("damage check failed: \(e.message)")
        }
        try usingRegistry { () throws(RegistryError) in try dispatcher.registry.setMonitorState("last_pass", time.now()) }
    }
}
