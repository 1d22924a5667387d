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
            // Gone means no device with its identity and none under its name with its number
            // that may be it: an identity that only changed (a by-id link udev is still making)
            // is not a removal, another loop file or namespace uuid in its place is.
            for l in r.layers where l.isLeaf && l.state == .present && live[l.identity] == nil && !isStill(l, byId: byId) {
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

    /// Whether the live device under a recorded leaf's kernel name and number may still be
    /// that leaf (its identity not known yet, a by-id link udev is still making): not when the
    /// leaf was recorded by an identity read from the kernel itself (a dm uuid or name, a
    /// namespace uuid, a loop file), which the device keeps while it exists: then another
    /// device took the name and number (loop7 detached, or attached to another file).
    func isStill(_ leaf: RecordedLayer, byId: [String: [String]]) -> Bool {
        guard let d = device(kernelName: leaf.device.kernelName), d.majorMinor == leaf.device.majorMinor else { return false }
        return !Self.kernelIdentityKinds.contains(leaf.identity.prefix { $0 != ":" })
    }

    /// The identity kinds (`identity(of:)`) read from the kernel, never from udev or a probe.
    static let kernelIdentityKinds: Set<Substring> = ["dm-uuid", "dm-name", "ns-uuid", "loop"]

    /// This machine without the live device that took `leaf`'s kernel name or number (and
    /// without the links to it), then with the recorded devices added back: a gone leaf is
    /// planned as the registry recorded it, by its identity, and never through the device that
    /// took its name meanwhile.
    public func planningGone(_ leaf: RecordedLayer, recorded: [BlockDevice]) -> Inventory {
        let squatters = Set(devices.filter { $0.kernelName == leaf.device.kernelName || $0.majorMinor == leaf.device.majorMinor }.map(\.kernelName))
        var s = snapshot
        if !squatters.isEmpty {
            s.devices.removeAll { squatters.contains($0.kernelName) }
            for i in s.devices.indices {
                s.devices[i].slaves.removeAll { squatters.contains($0) }
                s.devices[i].holders.removeAll { squatters.contains($0) }
            }
        }
        // The leaf's own record first: `adding` keeps the first under a name, and another
        // holder may have recorded the device that took the name.
        return (squatters.isEmpty ? self : Inventory(s)).adding(recorded: [leaf.device] + recorded).inventory
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
