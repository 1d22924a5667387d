import ArgumentParser
import FoundationEssentials
import StackEngine
import StackModel
import StackSystem

/// `dmstack capture`: this machine as one snapshot file, for offline analysis elsewhere.
struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a snapshot of this machine's block devices for offline use (--snapshot FILE).",
        discussion: """
            The snapshot holds every block device (sysfs), dm table, status and deps \
            (libdevmapper), filesystem signature (libblkid), mount and pmem region and \
            namespace, as versioned JSON (docs/json/snapshot.schema.json). Run it as root so devices can be probed. With it go \
            the reverse maps of the registered filesystems (`dmstack holders register`; \
            --reverse-maps all: every mounted filesystem on a block device; none: no map) and \
            every process's open and mapped files on them, so `simulate --snapshot` names \
            files, metadata and processes offline.
            """
    )

    enum MapSelection: String, ExpressibleByArgument, CaseIterable { case registered, all, none }

    @Option(name: .customLong("reverse-maps"), help: ArgumentHelp("Which filesystems' reverse maps to include: registered, all or none.", valueName: "WHICH"))
    var reverseMaps: MapSelection = .registered

    @OptionGroup var registry: RegistryOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to FILE instead of standard output.", valueName: "FILE"))
    var output: String?

    func run() throws {
        try reportingFailures {
            var snapshot: SystemSnapshot
            do { snapshot = try LiveEngine(dmstackVersion: Dmstack.version).snapshot() } catch {
                throw CommandFailure(status: .failure, message: "cannot read the live system: \(error)")
            }
            if reverseMaps != .none {
                let inventory = Inventory(snapshot)
                var wanted = inventory.mountedFilesystems()
                if reverseMaps == .registered {
                    let db = try registry.openExisting()
                    let holders = try usingRegistry { () throws(RegistryError) in try db?.all() ?? [] }
                    let uuids = Set(holders.compactMap(\.filesystem?.uuid))
                    wanted = wanted.filter { fs in (try? inventory.device(fs.mount.majorMinor))?.filesystem?.uuid.map(uuids.contains) ?? false }
                }
                (snapshot.reverseMaps, snapshot.fileUses) = Self.reverseMaps(of: wanted, in: inventory)
            }
            let data = try SnapshotCodec.encode(snapshot)
            guard let output else {
                print(String(decoding: data, as: UTF8.self))
                return
            }
            do {
                // Written whole or not at all: a partial snapshot must never be left behind.
                try AtomicFile.write(Array(data) + Array("\n".utf8), to: output)
            } catch {
                throw CommandFailure(status: .failure, message: "\(error)")
            }
        }
    }

    /// The whole reverse map of each filesystem (every device it uses) and every use of its
    /// files by a process.
    static func reverseMaps(of filesystems: [MountedFilesystem], in inventory: Inventory) -> ([FilesystemReverseMap], [FileUse]) {
        let reader = ReverseMapReader()
        var maps: [FilesystemReverseMap] = [], uses: [FileUse] = []
        for fs in filesystems {
            var records: [ReverseMapRecord] = [], paths: [String: [String]] = [:], notes: [String] = []
            for (role, name) in fs.devices.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                guard let d = try? inventory.device(name) else { continue }
                let answer = reader.answer(fs, role: role, ranges: [ByteRange(offset: 0, length: d.size * 512)], device: d)
                records += answer.records
                notes += answer.notes
                for (inode, names) in answer.paths { paths[String(inode)] = names }
            }
            maps.append(FilesystemReverseMap(mountpoint: fs.mountpoint, device: fs.mount.majorMinor, type: fs.type,
                                             records: records, paths: paths, notes: notes))
            uses += ProcessScanner.fileUses(device: fs.mount.majorMinor, inodes: Set(records.compactMap(\.inode)))
        }
        return (maps, uses)
    }
}
