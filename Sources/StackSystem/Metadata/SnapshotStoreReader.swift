import StackModel

/// A persistent snapshot's exception store, read from its COW device
/// (SnapshotExceptionStore.read: drivers/md/dm-snap-persistent.c). A live snapshot appends
/// exceptions (each committed after its chunk was copied; the origin write waits for that
/// commit), and a merging one (snapshot-merge, `persistent_commit_merge`) removes them, so a
/// read is taken once two reads in a row agree. A transient store (`N`) is kept in kernel memory only: unknown, with why.
enum SnapshotStoreReader: LiveMetadataReader {
    static var kind: DynamicMetadataKind { .snapshotStore }

    static func read(device: String, target: Target, inventory: Inventory, scope: Set<String>,
                     into mappings: inout DynamicMappings) throws(LiveMetadataError) {
        guard let t = target.kind as? SnapshotTarget else { return }
        if let reason = t.unreadableStore { throw LiveMetadataError("snapshot \(device): \(reason)") }
        let path = try LiveMetadataDevice.node(t.cow, role: "COW device", of: device, inventory)
        mappings.snapshots[device] = try LiveMetadataDevice.reading(path, what: "snapshot \(device)'s exception store (\(path))") { r in
            try ConsistentRead.stable(source: path) { try SnapshotExceptionStore.read(source: path, r.read) }
        }
    }
}
