import StackModel
import StackSystem

/// The kept device states of one monitor pass (`SeenState`, registry migration 3): each bad
/// range and failed health seen advances its state, the epoch goes into the event's key, and
/// at the end of the pass what is no longer failing on a device still here becomes `clear`, so
/// that the next failure of it is a new event.
struct PassStates {
    var states: SeenStates
    var failingKeys: Set<String> = []
    let at: String

    /// The occurrence word of a failing aspect's event this pass (`SeenState.occurrence`).
    mutating func occurrence(identity: String, aspect: String, state: String, base: String) -> String {
        failingKeys.insert(SeenStates.failingKey(identity: identity, aspect: aspect))
        return states.failing(identity: identity, aspect: aspect, state: state, at: at).occurrence(base)
    }

    /// The key of a degraded event: the one before states were kept for the first failure, the
    /// epoch added after a repair.
    mutating func degradedKey(identity: String, health: String) -> String {
        failingKeys.insert(SeenStates.failingKey(identity: identity, aspect: SeenState.health))
        let epoch = states.failing(identity: identity, aspect: SeenState.health, state: health, at: at).epoch
        return EventKey.make(["degraded", identity, health] + (epoch > 1 ? ["again \(epoch)"] : []))
    }
}

extension MonitorPass {
    /// The states kept by earlier passes (and earlier monitors).
    func loadStates(_ db: HolderRegistry, at: String) throws -> PassStates {
        PassStates(states: SeenStates(try usingRegistry { () throws(RegistryError) in try db.seenStates() }), at: at)
    }

    /// Clears what is no longer failing on the devices of `inventory` and writes the changed
    /// states back.
    func saveStates(_ pass: inout PassStates, inventory: Inventory, byId: [String: [String]], in db: HolderRegistry) throws {
        let observed = Set(inventory.devicesByIdentity(byId: byId).keys)
        pass.states.finish(failingKeys: pass.failingKeys, observed: observed, at: pass.at)
        let changed = pass.states.changed
        try usingRegistry { () throws(RegistryError) in try db.save(seenStates: changed) }
    }
}
