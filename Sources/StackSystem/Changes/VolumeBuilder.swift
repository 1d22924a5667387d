import CBlkid
import CLinux
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// `apply` or `teardown` stopped: the cause, what was undone and what could not be.
public struct ChangeFailure: Error, Sendable, CustomStringConvertible {
    /// What stopped it, for the exit status: the kernel refused, a device or signature is in
    /// use (or would be overwritten), or mkfs or mount failed.
    public enum Category: Sendable { case kernel, inUse, filesystem }
    public var category: Category
    public var cause: String
    public var rolledBack: [String]
    public var rollbackFailures: [String]
    public var description: String {
        var s = cause
        if !rolledBack.isEmpty { s += "; rolled back: \(rolledBack.joined(separator: ", "))" }
        if !rollbackFailures.isEmpty { s += "; ROLLBACK FAILED: \(rollbackFailures.joined(separator: "; "))" }
        return s
    }
}

/// Carries out an `ApplyPlan` on the live machine: libdevmapper create → load → resume in
/// dependency order, metadata preparation, thin ids, mkfs and mount. Every step that changes
/// something pushes its undo first; on any failure the undos run last-first, so what existed
/// before the run is untouched and what the run made is gone.
public final class VolumeBuilder {
    let dm = DeviceMapperClient()
    /// Volumes created in this run → major:minor, to fill `{name}` in later tables.
    var created: [String: String] = [:]
    var undo: [(what: String, action: () throws -> Void)] = []
    /// One line per step done, for the report.
    public private(set) var log: [String] = []

    public init() {}

    func fill(_ text: String) -> String {
        var t = text
        for (name, mm) in created { t = t.replacing("{\(name)}", with: mm) }
        return t
    }

    /// /dev node of major:minor (devtmpfs names it after the kernel name in /sys/dev/block).
    static func node(_ majorMinor: String) -> String {
        guard let real = Syscall.realpath("/sys/dev/block/\(majorMinor)") else { return "/dev/block/\(majorMinor)" }
        let name = real.split(separator: "/").last.map(String.init) ?? majorMinor
        return "/dev/\(name)"
    }

    /// `progress(k)` follows the k-th step (from 1), before the next begins: `apply` records
    /// it in the registry, then `DMSTACK_FAULT=kill@K` may kill the process there.
    public func run(_ plan: ApplyPlan, progress: (Int) throws -> Void = { _ in }) throws(ChangeFailure) {
        do {
            for (i, step) in plan.steps.enumerated() {
                try perform(step)
                try progress(i + 1)
                FaultInjection.shared.stepDone(i + 1)
            }
        } catch let failure as ChangeFailure {
            throw rollback(failure)
        } catch let e as DeviceMapperError {
            throw rollback(ChangeFailure(category: e.errno == EBUSY ? .inUse : .kernel, cause: e.description, rolledBack: [], rollbackFailures: []))
        } catch {
            throw rollback(ChangeFailure(category: .kernel, cause: "\(error)", rolledBack: [], rollbackFailures: []))
        }
    }

    func rollback(_ failure: ChangeFailure) -> ChangeFailure {
        var f = failure
        while let u = undo.popLast() {
            do { try u.action(); f.rolledBack.append(u.what) } catch { f.rollbackFailures.append("\(u.what): \(error)") }
        }
        return f
    }

    func perform(_ step: ApplyStep) throws {
        switch step {
        case .unchanged(let v):
            log.append("\(v): unchanged")
        case .prepareMetadata(let volume, let device, let format):
            try prepare(volume: volume, device: fill(device), format: format)
        case .create(let volume, let uuid, let table):
            let mm = try dm.create(name: volume, uuid: uuid)
            undo.append(("remove \(volume)", { [dm] in try dm.remove(name: volume) }))
            try dm.load(name: volume, table: table.map(fill))
            try dm.resume(name: volume)
            created[volume] = "\(mm.major):\(mm.minor)"
            log.append("\(volume): created (\(mm.major):\(mm.minor))")
        case .createThin(let pool, let id, let volume):
            let refused: DeviceMapperError?
            do { try dm.message(name: pool, "create_thin \(id)"); refused = nil } catch { refused = error }
            if let refused {
                guard refused.errno == EEXIST else { throw refused }
                log.append("\(pool): thin id \(id) exists already; \(volume) keeps its data")
            } else {
                undo.append(("delete thin id \(id) in \(pool)", { [dm] in try dm.message(name: pool, "delete_thin \(id)") }))
                log.append("\(pool): thin id \(id) created for \(volume)")
            }
        case .reload(let volume, let from, let to, let reason):
            // The old table's secrets are masked when read back; its lines equal the new
            // table's except the grown last one, which never holds a key.
            var old = Array(to.prefix(from.count))
            if let last = from.last, TableSecrets.mask(old[old.count - 1]) != last { old[old.count - 1] = last }
            var loadError: DeviceMapperError? = nil
            do { try dm.load(name: volume, table: to.map(fill)) } catch { loadError = error }
            if let loadError {
                try? dm.clearInactive(name: volume)
                throw loadError
            }
            try dm.resume(name: volume)
            undo.append(("restore the table of \(volume)", { [dm] in try dm.load(name: volume, table: old); try dm.resume(name: volume) }))
            log.append("\(volume): reloaded, \(reason)")
        case .makeFilesystem(let volume, let fs):
            try makeFilesystem(volume: volume, fs)
        case .mount(let volume, let mountpoint, let type, let options):
            try mount(volume: volume, at: mountpoint, type: type, options: options)
        }
    }

    func prepare(volume: String, device: String, format: MetadataFormat) throws {
        let path = device.hasPrefix("/") ? device : Self.node(device)
        let block: [UInt8]
        do { block = try SectorReader(path: path).read(0, 8) } catch {
            throw ChangeFailure(category: .kernel, cause: "\(volume): \(error)", rolledBack: [], rollbackFailures: [])
        }
        if format.isFormatted(block) { log.append("\(volume): \(path) holds \(format.rawValue) metadata; kept"); return }
        if block.allSatisfy({ $0 == 0 }) { log.append("\(volume): \(path) is blank; the kernel formats it"); return }
        if let found = BlkidProbe.probe(path: path, partitions: true), let type = found.type ?? found.partitionTableType {
            throw ChangeFailure(category: .inUse, cause: "\(volume): \(path) holds a \(type) signature, not \(format.rawValue) metadata; refusing to overwrite it (wipefs it first if it is spare)", rolledBack: [], rollbackFailures: [])
        }
        try writeBlock(path, [UInt8](repeating: 0, count: block.count))
        undo.append(("restore the first 4 KiB of \(path)", { try Self.writeBlockOrThrow(path, block) }))
        log.append("\(volume): \(path) held no metadata; first 4 KiB zeroed so the kernel formats it")
    }

    func writeBlock(_ path: String, _ bytes: [UInt8]) throws { try Self.writeBlockOrThrow(path, bytes) }

    static func writeBlockOrThrow(_ path: String, _ bytes: [UInt8]) throws {
        let fd = try Syscall.open(path, O_WRONLY | O_CLOEXEC, operation: "open for writing")
        defer { Syscall.close(fd) }
        let n = try Syscall.pwrite(fd, bytes, at: 0, path: path)
        guard n == bytes.count else { throw SystemError(path: path, operation: "write", errno: EIO) }
        try Syscall.fsync(fd, path: path, operation: "flush")
    }

    func makeFilesystem(volume: String, _ fs: FilesystemSpec) throws {
        let path = "/dev/mapper/\(volume)"
        if let found = BlkidProbe.probe(path: path, partitions: false), let type = found.type {
            guard type == fs.kind.rawValue else {
                throw ChangeFailure(category: .inUse, cause: "\(volume): holds a \(type) signature, not \(fs.kind.rawValue); refusing to make a filesystem over it", rolledBack: [], rollbackFailures: [])
            }
            log.append("\(volume): \(type) present; kept")
            return
        }
        var args: [String]
        switch fs.kind {
        case .xfs:
            args = ["mkfs.xfs", "-q", "-m", "rmapbt=\(fs.rmapbt ? 1 : 0),reflink=\(fs.reflink ? 1 : 0)"]
        case .ext4:
            args = ["mkfs.ext4", "-q"]
        }
        if let label = fs.label { args += ["-L", label] }
        args += fs.mkfsOptions + [path]
        let result = try CommandRunner.run(args)
        guard result.status == 0 else {
            let first = result.output.split(separator: "\n").first.map(String.init) ?? "exit status \(result.status)"
            throw ChangeFailure(category: .filesystem, cause: "\(volume): \(args[0]) failed: \(first)", rolledBack: [], rollbackFailures: [])
        }
        if created[volume] == nil {
            // The volume stays after a rollback: take the new signature off it again.
            undo.append(("wipe the new \(fs.kind.rawValue) signature on \(volume)", { try BlkidProbe.wipe(path: path) }))
        }
        log.append("\(volume): \(fs.kind.rawValue) made")
    }

    /// The planner emits no mount step for a volume already mounted where the spec says.
    func mount(volume: String, at mountpoint: String, type: FilesystemSpec.Kind, options: [String]) throws {
        // Missing directories are made, and removed again on rollback.
        var made: [String] = []
        var prefix = ""
        for part in mountpoint.split(separator: "/") {
            prefix += "/\(part)"
            if !Syscall.exists(prefix) {
                do { try Syscall.mkdir(prefix, 0o755) } catch {
                    throw ChangeFailure(category: .filesystem, cause: "\(volume): cannot create mountpoint \(prefix): \(error.reason)", rolledBack: [], rollbackFailures: [])
                }
                made.append(prefix)
            }
        }
        if !made.isEmpty {
            undo.append(("remove \(made[0])", { for d in made.reversed() { rmdir(d) } }))
        }
        let (flags, data) = MountOptions.split(options)
        do { try Syscall.mount("/dev/mapper/\(volume)", on: mountpoint, type: type.rawValue, flags: flags, data: data) } catch {
            throw ChangeFailure(category: .filesystem, cause: "\(volume): mount on \(mountpoint) with '\(options.joined(separator: ","))' failed: \(error.reason)", rolledBack: [], rollbackFailures: [])
        }
        undo.append(("unmount \(mountpoint)", {
            try Syscall.unmount(mountpoint)
        }))
        log.append("\(volume): mounted on \(mountpoint)")
    }
}

/// mount(8) option words split into mount(2) flags and the filesystem's data string.
public enum MountOptions {
    /// The MS_* values of <sys/mount.h> (named there; Glibc and linux/fs.h both export them,
    /// which Swift finds ambiguous).
    static let flags: [String: UInt] = [
        "ro": 1, "nosuid": 2, "nodev": 4, "noexec": 8, "sync": 16, "dirsync": 128, "noatime": 1024,
        "nodiratime": 2048, "relatime": 1 << 21, "strictatime": 1 << 24, "lazytime": 1 << 25,
    ]
    static let ignored: Set<String> = ["rw", "defaults", "suid", "dev", "exec", "async", "atime"]

    public static func split(_ options: [String]) -> (UInt, String) {
        var f: UInt = 0, data: [String] = []
        for o in options {
            if let bit = flags[o] { f |= bit } else if !ignored.contains(o) { data.append(o) }
        }
        return (f, data.joined(separator: ","))
    }
}
