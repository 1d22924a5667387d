import StackModel

/// A writecache's superblock and entries, read from its cache device at `start_sector`
/// (WritecacheMapping.read: drivers/md/dm-writecache.c). An entry counts when its seq_count
/// is below the superblock's, which the kernel raises on every commit
/// (`writecache_commit_flushed` after `writecache_flush`): the superblock's seq_count is read
/// before and after the entries, and the read is retried when a commit came in between.
enum WritecacheMetadataReader: LiveMetadataReader {
    static var kind: DynamicMetadataKind { .writecacheMetadata }

    static func read(device: String, target: Target, inventory: Inventory, scope: Set<String>,
                     into mappings: inout DynamicMappings) throws(LiveMetadataError) {
        guard let t = target.kind as? WritecacheTarget else { return }
        let path = try LiveMetadataDevice.node(t.cache, role: "cache device", of: device, inventory)
        mappings.writecaches[device] = try LiveMetadataDevice.reading(path, base: t.startSector, what: "writecache \(device)'s metadata (\(path))") { r in
            // wc_memory_superblock: seq_count is the 64-bit word at byte 24.
            try ConsistentRead.run(source: path, stamp: { Array(try r.read(0, 1).dropFirst(24).prefix(8)) }) {
                try WritecacheMapping.read(source: path, r.read)
            }
        }
    }
}
