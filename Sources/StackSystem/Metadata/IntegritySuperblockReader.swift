import StackModel

/// A dm-integrity device's superblock, read from its data device at the table's start
/// (IntegrityGeometry.read: drivers/md/dm-integrity.c `struct superblock`). The geometry it
/// gives (interleave, tag size, journal sections, provided data sectors) is fixed when the
/// device is formatted, so one read is consistent. A separate metadata device and inline
/// mode are not mapped (IntegrityTarget's mapper): their reason says so.
enum IntegritySuperblockReader: LiveMetadataReader {
    static var kind: DynamicMetadataKind { .integritySuperblock }

    static func read(device: String, target: Target, inventory: Inventory, scope: Set<String>,
                     into mappings: inout DynamicMappings) throws(LiveMetadataError) {
        guard let t = target.kind as? IntegrityTarget else { return }
        if t.metaDevice != nil || t.mode == "I" {
            throw LiveMetadataError("integrity \(device): tags on a separate metadata device or inline (mode I) are not mapped by dmstack")
        }
        let path = try LiveMetadataDevice.node(t.device, role: "data device", of: device, inventory)
        mappings.integrity[device] = try LiveMetadataDevice.reading(path, base: t.start, what: "integrity \(device)'s superblock (\(path))") { r in
            try IntegrityGeometry.read(source: path, r.read)
        }
    }
}
