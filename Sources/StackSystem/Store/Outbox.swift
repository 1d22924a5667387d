import FoundationEssentials
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// One delivery of one event to one sink, as the outbox holds it.
public struct OutboxDelivery: Encodable, Sendable, Hashable {
    /// pending (not yet delivered; tried again at `nextAt`), delivered, or failed (gave up after
    /// the retry policy's attempts; `dmstack events retry` tries it again).
    public var sink: String
    public var state: String
    public var attempts: Int
    /// When the next attempt is due (pending only), ISO 8601 in UTC like every time dmstack
    /// prints; the outbox keeps seconds since the epoch.
    public var nextAt: String?
    public var lastStatus: Int?
    public var lastError: String?
    public var deliveredAt: String?
}

/// An event in the outbox with its deliveries.
public struct OutboxEntry: Encodable, Sendable {
    public var key: String
    public var createdAt: String
    public var kind: String
    public var severity: String
    public var leaf: String
    public var summary: String
    public var deliveries: [OutboxDelivery]
}

/// A delivery this process has claimed and must finish (deliver, then `finish`).
public struct ClaimedDelivery: Sendable {
    public var event: String
    public var sink: String
    /// Failed attempts so far (this one is number `attempts + 1`).
    public var attempts: Int
    public var payload: String
    /// Who claimed it (`ProcessToken`): only that claim may mark it.
    public var claimant: String
}

/// What one attempt of a claimed delivery came to, for `finish`: its sink's answer and when.
public struct DeliveryMark: Sendable {
    public var claimed: ClaimedDelivery
    public var delivered: Bool
    public var status: Int?
    public var detail: String?
    /// Seconds since the epoch (the retry delay counts from here) and the same time in ISO 8601.
    public var now: Double
    public var at: String

    public init(claimed: ClaimedDelivery, delivered: Bool, status: Int?, detail: String?, now: Double, at: String) {
        self.claimed = claimed
        self.delivered = delivered
        self.status = status
        self.detail = detail
        self.now = now
        self.at = at
    }
}

/// The notification outbox, in the registry's database (schema migration 2): an event is
/// written with one delivery row per configured sink in one transaction *before* anything is
/// sent, and each delivery is marked after its sink answered. A process killed between the two
/// leaves the delivery pending, and the next dispatch sends it again: at least once, with the
/// event's idempotency key for the receiver to drop the repeat. Two dispatchers never send the
/// same delivery at once: one claims it (its pid and start time) in a write transaction, and a
/// claim whose process is gone is taken over.
extension HolderRegistry {
    /// Records `event` (its compact JSON `payload`) for `sinks`; false if an event with that
    /// key is already there (nothing changes: the occurrence was recorded before).
    public func enqueue(_ event: NotificationEvent, payload: String, sinks: [String], now: Double) throws(RegistryError) -> Bool {
        try using {
            try db.writeTransaction {
                try db.query("INSERT OR IGNORE INTO events (key, created_at, kind, severity, leaf, summary, payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [.text(event.key), .text(event.at), .text(event.kind.rawValue), .text(event.severity.rawValue),
                              .text(event.leaf), .text(event.summary), .text(payload)])
                guard db.changes == 1 else { return false }
                for sink in sinks {
                    try db.query("INSERT INTO deliveries (event, sink, state, next_at) VALUES (?, ?, 'pending', ?)",
                                 [.text(event.key), .text(sink), .real(now)])
                }
                return true
            }
        }
    }

    /// Claims the oldest delivery that is due (pending with `next_at` passed; with `force`,
    /// every pending or failed one) and not in `skip`, unless another live process holds it.
    /// With `event`, only that event's deliveries.
    public func claimNext(force: Bool, now: Double, skip: Set<String>, claimant: String, event only: String? = nil,
                          isAlive: (String) -> Bool) throws(RegistryError) -> ClaimedDelivery? {
        try claim(upTo: 1, force: force, now: now, skip: skip, claimant: claimant, event: only, isAlive: isAlive).first
    }

    /// Claims up to `limit` due deliveries, oldest first, in one write transaction (one sync
    /// for the window instead of one a delivery), with the same rules as `claimNext`. Claims
    /// are only records of who is sending: a process killed before it marks them leaves them
    /// pending under its token, and the next dispatcher takes them over (at least once).
    public func claim(upTo limit: Int, force: Bool, now: Double, skip: Set<String>, claimant: String, event only: String? = nil,
                      isAlive: (String) -> Bool) throws(RegistryError) -> [ClaimedDelivery] {
        try using {
            try db.writeTransaction {
                let states = force ? "('pending', 'failed')" : "('pending')"
                var found: [ClaimedDelivery] = []
                // The oldest due rows first, a window at a time: rows this pass already tried
                // or another live process holds are passed over without reading the rest.
                var window = skip.count + max(32, 2 * limit)
                var verdicts: [String: Bool] = [:]
                while found.count < limit {
                    var rows = 0
                    found = []
                    try db.query("""
                        SELECT d.event, d.sink, d.attempts, d.claimed_by, e.seq FROM deliveries d JOIN events e ON e.key = d.event
                        WHERE d.state IN \(states) AND (?1 OR d.next_at <= ?2) AND (?4 IS NULL OR d.event = ?4)
                        ORDER BY e.seq, d.sink LIMIT ?3
                        """, [.integer(force ? 1 : 0), .real(now), .integer(Int64(window)), only.map { .text($0) } ?? .null]) { row in
                        rows += 1
                        guard found.count < limit else { return }
                        let event = row.text(0) ?? "", sink = row.text(1) ?? ""
                        if skip.contains(Self.deliveryID(event, sink)) { return }
                        if let holder = row.text(3), holder != claimant {
                            // One liveness check a holder, not one a row it holds.
                            let alive = verdicts[holder] ?? isAlive(holder)
                            verdicts[holder] = alive
                            if alive { return }
                        }
                        found.append(ClaimedDelivery(event: event, sink: sink, attempts: row.integer(2), payload: "", claimant: claimant))
                    }
                    if rows < window { break }
                    window *= 2
                }
                for i in found.indices {
                    found[i].payload = try db.rows("SELECT payload FROM events WHERE key = ?", [.text(found[i].event)]) { $0.text(0) ?? "" }.first ?? ""
                    try db.query("UPDATE deliveries SET claimed_by = ? WHERE event = ? AND sink = ?",
                                 [.text(claimant), .text(found[i].event), .text(found[i].sink)])
                }
                return found
            }
        }
    }

    public static func deliveryID(_ event: String, _ sink: String) -> String { "\(event)\u{1f}\(sink)" }

    /// Marks a claimed delivery: delivered, or failed with the next attempt per `policy`. Only
    /// while the claim is still this process's: one taken over meanwhile (this process judged
    /// dead) belongs to the other, which marks it; the attempt is logged either way.
    public func finish(_ claimed: ClaimedDelivery, delivered: Bool, status: Int?, detail: String?, policy: RetryPolicy,
                       now: Double, at: String) throws(RegistryError) {
        try finish([DeliveryMark(claimed: claimed, delivered: delivered, status: status, detail: detail, now: now, at: at)], policy: policy)
    }

    /// Marks a window of claimed deliveries in one write transaction, each as `finish` would.
    public func finish(_ marks: [DeliveryMark], policy: RetryPolicy) throws(RegistryError) {
        guard !marks.isEmpty else { return }
        try using {
            try db.writeTransaction {
                for m in marks {
                    let claimed = m.claimed
                    let failures = claimed.attempts + 1
                    let state = m.delivered ? "delivered" : policy.exhausted(failures) ? "failed" : "pending"
                    try db.query("""
                        UPDATE deliveries SET state = ?, attempts = ?, next_at = ?, claimed_by = NULL, last_status = ?, last_error = ?,
                            delivered_at = ? WHERE event = ? AND sink = ? AND claimed_by = ?
                        """, [.text(state), .integer(Int64(failures)), .real(m.now + (m.delivered ? 0 : policy.delay(afterFailures: failures))),
                              m.status.map { .integer(Int64($0)) } ?? .null, m.delivered ? .null : m.detail.map { .text($0) } ?? .null,
                              m.delivered ? .text(m.at) : .null, .text(claimed.event), .text(claimed.sink), .text(claimed.claimant)])
                    try db.query("INSERT INTO attempts (event, sink, at, outcome, status, detail) VALUES (?, ?, ?, ?, ?, ?)",
                                 [.text(claimed.event), .text(claimed.sink), .text(m.at), .text(m.delivered ? "delivered" : "failed"),
                                  m.status.map { .integer(Int64($0)) } ?? .null, m.detail.map { .text($0) } ?? .null])
                }
            }
        }
    }

    /// Deliveries for `sink` that exist for an event but that no configured sink can take any
    /// more are left as they are; this lists the outbox, newest last, at most `limit` events.
    public func outbox(limit: Int = 1000, key: String? = nil) throws(RegistryError) -> [OutboxEntry] {
        try using {
            var entries: [OutboxEntry] = []
            var index: [String: Int] = [:]
            let filter = key == nil ? "" : "WHERE key = ?2"
            try db.query("SELECT key, created_at, kind, severity, leaf, summary FROM (SELECT * FROM events \(filter) ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
                         [.integer(Int64(limit))] + (key.map { [.text($0)] } ?? [])) { row in
                index[row.text(0) ?? ""] = entries.count
                entries.append(OutboxEntry(key: row.text(0) ?? "", createdAt: row.text(1) ?? "", kind: row.text(2) ?? "", severity: row.text(3) ?? "",
                                           leaf: row.text(4) ?? "", summary: row.text(5) ?? "", deliveries: []))
            }
            // Only the deliveries of the events listed, not the whole table.
            try db.query("""
                SELECT event, sink, state, attempts, next_at, last_status, last_error, delivered_at FROM deliveries
                WHERE event IN (SELECT key FROM events \(filter) ORDER BY seq DESC LIMIT ?1) ORDER BY event, sink
                """, [.integer(Int64(limit))] + (key.map { [.text($0)] } ?? [])) { row in
                guard let i = index[row.text(0) ?? ""] else { return }
                let state = row.text(2) ?? ""
                entries[i].deliveries.append(OutboxDelivery(
                    sink: row.text(1) ?? "", state: state, attempts: row.integer(3), nextAt: state == "pending" ? Date(timeIntervalSince1970: row.real(4)).formatted(.iso8601) : nil,
                    lastStatus: row.isNull(5) ? nil : row.integer(5), lastError: row.text(6), deliveredAt: row.text(7)))
            }
            return entries
        }
    }

    /// The attempts made for one delivery, oldest first: (time, outcome, status, detail).
    public func attempts(event: String, sink: String) throws(RegistryError) -> [(at: String, outcome: String, status: Int?, detail: String?)] {
        try using {
            try db.rows("SELECT at, outcome, status, detail FROM attempts WHERE event = ? AND sink = ? ORDER BY id", [.text(event), .text(sink)]) {
                ($0.text(0) ?? "", $0.text(1) ?? "", $0.isNull(2) ? nil : $0.integer(2), $0.text(3))
            }
        }
    }

    /// Whether an event with this key was recorded.
    public func hasEvent(_ key: String) throws(RegistryError) -> Bool {
        try using { try db.rows("SELECT 1 FROM events WHERE key = ?", [.text(key)]) { $0.integer(0) }.isEmpty == false }
    }

    /// How many deliveries are not delivered yet (pending or failed), of one event or all.
    public func undelivered(event: String? = nil) throws(RegistryError) -> Int {
        try using {
            try db.rows("SELECT count(*) FROM deliveries WHERE state != 'delivered' AND (?1 IS NULL OR event = ?1)", [event.map { .text($0) } ?? .null]) {
                $0.integer(0)
            }.first ?? 0
        }
    }
}
