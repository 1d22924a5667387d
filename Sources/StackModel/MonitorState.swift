/// What the monitor last saw of one aspect of one device (a bad range, a raid or mirror's
/// health), kept in the registry across passes and restarts. `epoch` counts how often the
/// aspect went from healthy to failing: it goes into the event key, so a leg that fails again
/// after a repair, or a range cleared and poisoned again, is a new event, while the same
/// failure seen again (another pass, a restarted monitor) keeps its key and is not.
public struct SeenState: Sendable, Hashable {
    /// The device's stable identity (`Inventory.identity(of:)`), never its kernel name.
    public var identity: String
    /// `badblocks START+LENGTH` or `health`.
    public var aspect: String
    /// `clear`, `bad` (a range), or the failed health characters (`AD`).
    public var state: String
    /// 1 for the first failure seen, one more for each failure after a `clear`.
    public var epoch: Int
    /// The pass time of the last change.
    public var changedAt: String

    public static let clear = "clear"

    public init(identity: String, aspect: String, state: String, epoch: Int, changedAt: String) {
        self.identity = identity
        self.aspect = aspect
        self.state = state
        self.epoch = epoch
        self.changedAt = changedAt
    }

    /// The aspect of a bad range.
    public static func badRange(_ r: SectorRange) -> String { "badblocks \(r.start)+\(r.length)" }
    public static let health = "health"

    /// The occurrence word of an event on this state: the first epoch keeps the word keys
    /// had before states were kept (`badblocks`), so an outbox from an older dmstack is not
    /// raised again; later epochs add `again N`.
    public func occurrence(_ base: String) -> String { epoch <= 1 ? base : "\(base) again \(epoch)" }
}

/// One pass's failing aspects compared with the states kept: what each failing aspect's state
/// is now, and the rows that changed (to be written back). An aspect of a device that is on
/// the machine (its identity in `observed`) and no longer failing becomes `clear`; the states
/// of devices not seen this pass are kept as they were (a gone device says nothing about its
/// ranges).
public struct SeenStates: Sendable {
    public private(set) var byKey: [String: SeenState]
    public private(set) var changed: [SeenState] = []

    static func key(_ identity: String, _ aspect: String) -> String { "\(identity)\u{0}\(aspect)" }

    public init(_ rows: [SeenState]) {
        byKey = Dictionary(rows.map { (Self.key($0.identity, $0.aspect), $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The state of a failing aspect seen this pass, advanced: new (epoch 1), failing again
    /// after a `clear` (epoch + 1), or the same failure (unchanged; a new health string keeps
    /// the epoch, its key differs already).
    public mutating func failing(identity: String, aspect: String, state: String, at: String) -> SeenState {
        let k = Self.key(identity, aspect)
        var row: SeenState
        if let old = byKey[k] {
            if old.state == state { return old }
            row = old
            if old.state == SeenState.clear { row.epoch += 1 }
            row.state = state
            row.changedAt = at
        } else {
            row = SeenState(identity: identity, aspect: aspect, state: state, epoch: 1, changedAt: at)
        }
        byKey[k] = row
        changed.append(row)
        return row
    }

    /// Ends the pass: every kept failing aspect of an `observed` device that `failing` was not
    /// called for this pass becomes `clear` (repaired, cleared).
    public mutating func finish(failingKeys: Set<String>, observed: Set<String>, at: String) {
        for (k, row) in byKey.sorted(by: { $0.key < $1.key }) where row.state != SeenState.clear && observed.contains(row.identity) && !failingKeys.contains(k) {
            var cleared = row
            cleared.state = SeenState.clear
            cleared.changedAt = at
            byKey[k] = cleared
            changed.append(cleared)
        }
    }

    /// The key `failing` and `finish` use for an aspect.
    public static func failingKey(identity: String, aspect: String) -> String { key(identity, aspect) }
}
