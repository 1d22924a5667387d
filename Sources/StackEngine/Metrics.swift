import FoundationEssentials
import StackModel
import StackSystem

/// `dmstack metrics` and `monitor --metrics-file`: the machine's state in the Prometheus text
/// exposition format (version 0.0.4), for node_exporter's textfile collector. Names follow
/// the Prometheus naming practices: the `dmstack_` prefix, base units in the name
/// (`_bytes`, `_seconds`), `_total` only on counters; each metric has its HELP and TYPE.
public struct Metrics {
    public let engine: any Engine
    public let registry: HolderRegistry?
    public let time: any TimeSource

    public init(engine: any Engine, registry: HolderRegistry?, time: any TimeSource = SystemTime()) {
        self.engine = engine
        self.registry = registry
        self.time = time
    }

    /// One metric family being written.
    struct Family {
        var name: String, type: String, help: String
        var samples: [(labels: [(String, String)], value: String)] = []
    }

    /// The exposition text, ending in a newline.
    public func exposition() throws -> String {
        let inventory = try engine.inventory()
        let context = engine.holderContext(now: time.now())
        let records = try usingRegistry { () throws(RegistryError) in try registry?.all() ?? [] }
        let live = inventory.devicesByIdentity(byId: context.byId)
        let findings = inventory.monitorFindings(records: records, byId: context.byId)
        var degraded = Set<String>()
        for case .degraded(_, let identity, _, _) in findings { degraded.insert(identity) }
        // Volumes: every device the registry's holder chains name, once by identity.
        var states: [String: String] = [:]
        for r in records {
            for l in r.layers where states[l.identity] == nil {
                states[l.identity] = live[l.identity] == nil ? "gone" : degraded.contains(l.identity) ? "degraded" : "ok"
            }
        }
        var families: [Family] = []
        var volumes = Family(name: "dmstack_volumes", type: "gauge", help: "Devices of the registered holder chains, by state (ok, degraded, gone).")
        for state in ["ok", "degraded", "gone"] {
            volumes.samples.append(([("state", state)], String(states.values.filter { $0 == state }.count)))
        }
        families.append(volumes)
        let counts = try usingRegistry { () throws(RegistryError) in try registry?.ledgerCounts() } ?? HolderRegistry.LedgerCounts()
        var files = Family(name: "dmstack_damaged_files", type: "gauge", help: "Files with a damaged range in the damage ledger, per filesystem.")
        var bytes = Family(name: "dmstack_damaged_file_bytes", type: "gauge", help: "Bytes of files damaged, per filesystem.")
        for f in counts.files {
            files.samples.append(([("fs_uuid", f.fsUUID), ("mountpoint", f.mountpoint)], String(f.files)))
            bytes.samples.append(([("fs_uuid", f.fsUUID), ("mountpoint", f.mountpoint)], String(f.bytes)))
        }
        var metadata = Family(name: "dmstack_damaged_metadata_ranges", type: "gauge", help: "Metadata ranges damaged, per filesystem.")
        for m in counts.metadata { metadata.samples.append(([("fs_uuid", m.fsUUID), ("mountpoint", m.mountpoint)], String(m.ranges))) }
        var devices = Family(name: "dmstack_damaged_devices", type: "gauge", help: "Devices with a bad, removed or degraded range in the damage ledger.")
        devices.samples.append(([], String(Set(counts.devices.map { $0.device }).count)))
        var ranges = Family(name: "dmstack_device_damage_ranges", type: "gauge", help: "Damaged device ranges, per device and what (bad range, removed, degraded).")
        for d in counts.devices { ranges.samples.append(([("device", d.device), ("what", d.what)], String(d.count))) }
        var cleared = Family(name: "dmstack_damage_cleared_total", type: "counter", help: "Damage ledger entries cleared, by reason.")
        for c in counts.cleared { cleared.samples.append(([("reason", c.reason)], String(c.count))) }
        var deliveries = Family(name: "dmstack_outbox_deliveries", type: "gauge", help: "Deliveries in the notification outbox, per sink and state (pending, delivered, failed).")
        for d in counts.deliveries { deliveries.samples.append(([("sink", d.sink), ("state", d.state)], String(d.count))) }
        var events = Family(name: "dmstack_outbox_events", type: "gauge", help: "Events in the notification outbox (pruned ones no longer), by kind.")
        for e in counts.events { events.samples.append(([("kind", e.kind)], String(e.count))) }
        families += [files, bytes, metadata, devices, ranges, cleared, deliveries, events]
        var last = Family(name: "dmstack_last_monitor_pass_timestamp_seconds", type: "gauge", help: "When the last monitor pass ended, seconds since the epoch (absent before the first).")
        if let at = try usingRegistry({ () throws(RegistryError) in try registry?.monitorState("last_pass") }), let date = try? Date(at, strategy: .iso8601) {
            last.samples.append(([], String(Int64(date.timeIntervalSince1970))))
        }
        families.append(last)
        return Self.render(families)
    }

    static func render(_ families: [Family]) -> String {
        var out = ""
        for f in families {
            out += "# HELP \(f.name) \(f.help)\n# TYPE \(f.name) \(f.type)\n"
            for s in f.samples {
                let labels = s.labels.isEmpty ? "" : "{" + s.labels.map { "\($0.0)=\"\(escaped($0.1))\"" }.joined(separator: ",") + "}"
                out += "\(f.name)\(labels) \(s.value)\n"
            }
        }
        return out
    }

    /// A label value as the text format wants it: backslash, double quote and newline escaped.
    static func escaped(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}

extension Metrics {
    /// The exposition written to `path` whole or not at all (a temporary file beside it, then
    /// rename), mode 0644: node_exporter's textfile collector never reads half a file.
    public func write(to path: String) throws {
        let text = try exposition()
        do { try AtomicFile.write(Array(text.utf8), to: path) } catch let e as SystemError {
            throw EngineError(.failure, "cannot write the metrics file: \(e)")
        }
    }
}
