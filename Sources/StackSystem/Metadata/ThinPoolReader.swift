import CLinux
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// A live thin pool's mappings, read from its metadata device by dmstack's btree reader
/// (StackModel `ThinMetadata`) under a metadata snapshot, as the kernel's
/// Documentation/admin-guide/device-mapper/thin-provisioning.rst ("Metadata snapshot",
/// "reserve_metadata_snap" / "release_metadata_snap") prescribes for reading a live pool:
///
/// - a writable pool: `reserve_metadata_snap`, read the held root, always
///   `release_metadata_snap` (also on a failed read; SIGINT, SIGTERM, SIGHUP and SIGQUIT wait
///   while it is held and take effect after the release; SIGKILL cannot be held, and then the
///   snapshot stays held until `dmsetup message POOL 0 release_metadata_snap`);
/// - a snapshot already held by someone else (the status shows a held root, or the reserve
///   fails with EBUSY): read that one and leave it held, it is theirs; it is as old as they
///   made it, so a data block no device maps in it is `unknown` (ThinMapper), not free;
/// - a pool in read-only mode (`ro`; dm-thin.c refuses messages then) or failed (`Fail`):
///   nothing commits to its metadata, so the committed root in the superblock is read as it
///   is, without a snapshot.
///
/// Only the thin devices of the query's stacks are read (by their tables' dev ids), and every
/// block with O_DIRECT, so nothing the page cache kept from an earlier read is taken for the
/// kernel's latest write (dm-bufio writes below the page cache).
public enum ThinPoolReader: LiveMetadataReader {
    public static var kind: DynamicMetadataKind { .thinDump }

    public static func read(device: String, target: Target, inventory: Inventory, scope: Set<String>,
                            into mappings: inout DynamicMappings) throws(LiveMetadataError) {
        guard let pool = target.kind as? ThinPoolTarget else { return }
        guard let poolDevice = try? inventory.device(device), let dmName = poolDevice.dm?.name else {
            throw LiveMetadataError("thin-pool \(device): not a dm device of this system")
        }
        guard let meta = try? inventory.device(pool.metadata) else {
            throw LiveMetadataError("thin-pool \(device): its metadata device \(pool.metadata) is not on this system")
        }
        let ids = thinDeviceIDs(of: device, inventory: inventory, scope: scope)
        let path = "/dev/\(meta.kernelName)"
        let client = DeviceMapperClient()
        let status = try currentStatus(client, poolDevice, device)
        let source = "thin-pool \(device) metadata \(path)"
        let mapping: ThinPoolMapping
        switch (status.mode, status.heldRoot) {
        case (_, let held?):
            mapping = try readForeign(client, poolDevice, device, path: path, source: source, root: held, ids: ids)
        case (.failed, nil), (.readOnly, nil):
            mapping = try readMetadata(path, source: source, root: .current, ids: ids)
        case (.writable, nil), (.outOfDataSpace, nil):
            mapping = try readReserved(client, dmName: dmName, poolDevice: poolDevice, device: device, path: path, source: source, ids: ids)
        }
        mappings.thinPools[device] = mapping
    }

    /// Reserves, reads the held root, releases; with the terminal's and service manager's
    /// signals held in between (RemovalRunner holds them across a freeze the same way).
    static func readReserved(_ client: DeviceMapperClient, dmName: String, poolDevice: BlockDevice, device: String, path: String,
                             source: String, ids: Set<UInt64>) throws(LiveMetadataError) -> ThinPoolMapping {
        var held = sigset_t(), previous = sigset_t()
        sigemptyset(&held)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&held, sig) }
        pthread_sigmask(SIG_BLOCK, &held, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        do {
            try client.message(name: dmName, "reserve_metadata_snap")
        } catch where error.errno == EBUSY {
            // Someone reserved it between our status read and the message: theirs, read it.
            let now = try currentStatus(client, poolDevice, device)
            guard let root = now.heldRoot else { throw LiveMetadataError("thin-pool \(device): reserve_metadata_snap: \(error.message) and no snapshot is held") }
            return try readForeign(client, poolDevice, device, path: path, source: source, root: root, ids: ids)
        } catch {
            throw LiveMetadataError("thin-pool \(device): reserve_metadata_snap refused: \(error.message)")
        }
        // Test hook (documented with simulate): the snapshot stays held this much longer, so a
        // test can show that a signal arriving now still lets the release happen first.
        if let s = getenv("DMSTACK_THIN_HOLD_SECONDS").flatMap({ UInt32(String(cString: $0)) }), s > 0 { sleep(min(s, 60)) }
        let result: Result<ThinPoolMapping, LiveMetadataError>
        do throws(LiveMetadataError) {
            // The message committed (dm-thin.c pool_message), so the held copy is on disk.
            let now = try currentStatus(client, poolDevice, device)
            guard let root = now.heldRoot else { throw LiveMetadataError("thin-pool \(device): no held root in its status after reserve_metadata_snap") }
            result = .success(try readMetadata(path, source: source, root: .heldAt(root), ids: ids))
        } catch {
            result = .failure(error)
        }
        do {
            try client.message(name: dmName, "release_metadata_snap")
        } catch {
            let why = "thin-pool \(device): release_metadata_snap failed (\(error.message)); the metadata snapshot stays held: `dmsetup message \(dmName) 0 release_metadata_snap` releases it"
            if case .failure(let e) = result { throw LiveMetadataError(e.reason + "; " + why) }
            throw LiveMetadataError(why)
        }
        return try result.get()
    }

    /// Someone else's snapshot at `root`, read and left held. They may release it during the
    /// walk, and the pool may then reuse its blocks in place (a reused block passes the
    /// checks), so the read counts only if the same root is still held after it.
    static func readForeign(_ client: DeviceMapperClient, _ poolDevice: BlockDevice, _ device: String, path: String, source: String,
                            root: UInt64, ids: Set<UInt64>) throws(LiveMetadataError) -> ThinPoolMapping {
        let mapping = try readMetadata(path, source: source, root: .heldAt(root), ids: ids, foreign: true)
        guard try currentStatus(client, poolDevice, device).heldRoot == root else {
            throw LiveMetadataError("thin-pool \(device): the metadata snapshot another process held (root \(root)) was released while dmstack read it; run again")
        }
        return mapping
    }

    /// The pool's status now (not as discovered: someone may have reserved since).
    static func currentStatus(_ client: DeviceMapperClient, _ d: BlockDevice, _ device: String) throws(LiveMetadataError) -> ThinPoolStatus {
        let lines: [String]
        do { lines = try client.describe(major: d.major, minor: d.minor).status } catch {
            throw LiveMetadataError("thin-pool \(device): cannot read its status: \(error.message)")
        }
        guard let s = ThinPoolStatus(statusLines: lines) else {
            throw LiveMetadataError("thin-pool \(device): unexpected status '\(lines.joined(separator: "; "))'")
        }
        return s
    }

    /// The dev ids of the thin devices of `pool` among `scope`; a thin table names its pool
    /// as it was written (lvm2 writes major:minor), so both are resolved to devices.
    static func thinDeviceIDs(of pool: String, inventory: Inventory, scope: Set<String>) -> Set<UInt64> {
        guard let tables = try? inventory.tableSet(), let poolDevice = try? inventory.device(pool) else { return [] }
        var ids = Set<UInt64>()
        for name in scope {
            for t in tables.tables[name]?.targets ?? [] {
                if let thin = t.kind as? ThinTarget, (try? inventory.device(thin.pool))?.kernelName == poolDevice.kernelName {
                    ids.insert(thin.deviceID)
                }
            }
        }
        return ids
    }

    /// Reads `root`; a `foreign` snapshot (someone else's) is marked as such, so blocks
    /// provisioned since it was taken stay `unknown` (ThinMapper).
    static func readMetadata(_ path: String, source: String, root: ThinMetadata.Root, ids: Set<UInt64>, foreign: Bool = false) throws(LiveMetadataError) -> ThinPoolMapping {
        do {
            let device = try SectorReader(path: path, direct: true)
            let sectors = UInt64(ThinMetadata.blockSize / 512)
            var m = try ThinMetadata.read(source: source, root: root, devices: ids) { n in
                // A block number from disk: never one a multiplication would overflow.
                guard n < UInt64.max / 512 / sectors else { throw MappingParseError(source: source, message: "metadata block \(n) is beyond any device") }
                return try device.read(n * sectors, sectors)
            }
            if foreign, case .heldAt(let n) = root { m.foreignSnapshotRoot = n }
            return m
        } catch let e as MappingParseError {
            throw LiveMetadataError(e.description)
        } catch {
            throw LiveMetadataError("\(source): \(error)")
        }
    }
}
