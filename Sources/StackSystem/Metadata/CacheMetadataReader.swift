import StackModel

/// A live dm-cache's mappings, read from its metadata device itself (CacheMetadata): the
/// kernel keeps no metadata snapshot for a cache and `cache_dump` refuses metadata in use.
/// The walk is consistent when the superblock (rewritten with new roots and counters on every
/// commit, dm-cache-metadata.c `__commit_transaction`) is the same before and after it, and
/// every block's checksum and number match (a block reused by a later commit would not);
/// else it is retried. Mappings are committed before the I/O that needs them completes
/// (dm-cache-target.c: promotions and demotions wait for the commit), but dirty flags are not
/// (`sync_metadata` writes them on suspend): whether cached blocks may be dirty is decided
/// from the mode and the status line's dirty count (CacheTarget.liveDirtiness).
enum CacheMetadataReader: LiveMetadataReader {
    static var kind: DynamicMetadataKind { .cacheDump }

    static func read(device: String, target: Target, inventory: Inventory, scope: Set<String>,
                     into mappings: inout DynamicMappings) throws(LiveMetadataError) {
        guard let t = target.kind as? CacheTarget else { return }
        let path = try LiveMetadataDevice.node(t.metadata, role: "metadata device", of: device, inventory)
        let dirtiness = t.liveDirtiness(status: LiveMetadataDevice.status(of: target, device: device, inventory))
        let sectors = UInt64(CacheMetadata.blockBytes / 512)
        var mapping = try LiveMetadataDevice.reading(path, what: "cache \(device)'s metadata (\(path))") { r in
            try ConsistentRead.run(source: path, stamp: { try r.read(0, sectors) }) {
                let sb = try CacheMetadata.superblock(try r.read(0, sectors), source: path)
                guard sb.dataBlockSectors == t.blockSectors else {
                    throw MappingParseError(source: path, message: "superblock block size \(sb.dataBlockSectors) is not the table's \(t.blockSectors)")
                }
                return try CacheMetadata.mappings(sb, source: path) { n in try r.read(n * sectors, sectors) }
            }
        }
        mapping.dirtyUnknown = dirtiness
        mappings.caches[device] = mapping
    }
}
