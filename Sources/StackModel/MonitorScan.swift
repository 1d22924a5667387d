/// What one monitor pass finds worth an event, comparing the live machine with the registry.
/// Each finding names its occurrence so that the event key is the same every time the same
/// thing is seen (a monitor restarted, two passes racing): the outbox keeps one event per key.
public enum MonitorFinding: Sendable, Hashable {
    /// A leaf the registry last saw present is gone; `holders` recorded it, `lastSeen` is the
    /// newest time one of them saw it present.
    case leafGone(leaf: RecordedLayer, holders: [String], lastSeen: String)
    /// A bad range in a device's badblocks list (pmem: the nvdimm's poison list), or one an md
    /// array recorded for its member (dev-*/bad_blocks).
    case badRange(device: String, identity: String, range: SectorRange)
    /// A raid or mirror with a failed leg; `health` is its status health characters.
    case degraded(device: String, identity: String, health: String, members: [String])
}

extension Inventory {
    /// The findings of a pass: gone leaves of registered holders, bad ranges of every device
    /// (and those md recorded for its members), degraded raid, mirror and md devices. `byId` names devices as the registry does.
    public func monitorFindings(records: [HolderRecord], byId: [String: [String]]) -> [MonitorFinding] {
        var out: [MonitorFinding] = []
        let live = devicesByIdentity(byId: byId)
        var gone: [String: (layer: RecordedLayer, holders: [String])] = [:]
        var order: [String] = []
        for r in records {
            // Gone means no device with its identity and none under its name with its number:
            // an identity that only changed (a by-id link udev is still making) is not a removal.
            for l in r.layers where l.isLeaf && l.state == .present && live[l.identity] == nil
                && device(kernelName: l.device.kernelName)?.majorMinor != l.device.majorMinor {
                if gone[l.identity] == nil {
                    order.append(l.identity)
                    gone[l.identity] = (l, [])
                }
                gone[l.identity]!.holders.append(r.name)
            }
        }
        for id in order {
            let g = gone[id]!
            out.append(.leafGone(leaf: g.layer, holders: g.holders, lastSeen: records.lastSeenPresent(leaf: id)!))
        }
        for d in devices {
            let identity = identity(of: d, byId: byId[d.kernelName] ?? [])
            for range in d.badblocks { out.append(.badRange(device: d.displayName, identity: identity, range: range)) }
            // Bad blocks a layer's members recorded (md dev-*/bad_blocks): a bad range of that member.
            for h in Self.health(d) {
                for bad in h.badRanges {
                    guard let member = try? device(bad.device) else { continue }
                    out.append(.badRange(device: member.displayName, identity: self.identity(of: member, byId: byId[member.kernelName] ?? []), range: bad.range))
                }
            }
            if let health = Self.failedHealth(d) {
                out.append(.degraded(device: d.displayName, identity: identity, health: health, members: below(d).map(\.displayName)))
            }
        }
        return out
    }

    /// The health characters of a raid or mirror target with a failed or missing leg; nil when
    /// every leg is healthy (`Inventory.legHealth`).
    static func failedHealth(_ d: BlockDevice) -> String? {
        legHealth(d).first { $0.failed }?.characters
    }
}

extension Sequence where Element == HolderRecord {
    /// The newest time a holder recorded the leaf with `identity` present, nil if none did:
    /// the occurrence of that leaf's going (`NotificationEvent.goneOccurrence`), the same for
    /// `remove` and `monitor`.
    public func lastSeenPresent(leaf identity: String) -> String? {
        filter { $0.layers.contains { $0.identity == identity && $0.isLeaf && $0.state == .present } }.map(\.refreshedAt).max()
    }
}
