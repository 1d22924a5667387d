import StackModel

/// The monitor's last seen state of each device aspect (schema migration 3, `SeenState`):
/// read at the start of a pass and the changed rows written back at its end, by identity so
/// that a kernel name taken by another device does not inherit them.
extension HolderRegistry {
    /// Every kept state.
    public func seenStates() throws(RegistryError) -> [SeenState] {
        try using {
            try db.rows("SELECT identity, aspect, state, epoch, changed_at FROM device_states ORDER BY identity, aspect") {
                SeenState(identity: $0.text(0) ?? "", aspect: $0.text(1) ?? "", state: $0.text(2) ?? "", epoch: $0.integer(3), changedAt: $0.text(4) ?? "")
            }
        }
    }

    /// Writes `rows` (inserted or replacing the row of the same identity and aspect) in one
    /// write transaction.
    public func save(seenStates rows: [SeenState]) throws(RegistryError) {
        guard !rows.isEmpty else { return }
        try using {
            try db.writeTransaction {
                for r in rows {
                    try db.query("INSERT OR REPLACE INTO device_states (identity, aspect, state, epoch, changed_at) VALUES (?, ?, ?, ?, ?)",
                                 [.text(r.identity), .text(r.aspect), .text(r.state), .integer(Int64(max(1, r.epoch))), .text(r.changedAt)])
                }
            }
        }
    }
}
