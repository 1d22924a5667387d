import CLinux
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// One way a process uses a device: an open file descriptor on the device node or on a file of
/// the filesystem on it, its working or root directory there, or a memory mapping of a file
/// there (/proc/PID/maps).
public struct ProcessUse: Sendable, Hashable, Codable, CustomStringConvertible {
    public var pid: Int32
    public var command: String
    /// major:minor of the device used.
    public var device: String
    /// `fd 3`, `cwd`, `root`, `exe`, `mmap`.
    public var how: String
    public var path: String

    public var description: String { "pid \(pid) (\(command)): \(how) \(path)" }
}

/// Who uses a set of devices, read from /proc (proc(5)) the way fuser(1) does: every fd, cwd,
/// root, exe and mapping of every process, matched by the device number it lives on
/// (`st_dev`) or is (`st_rdev` of a block device node).
public enum ProcessScanner {
    static func devNumber(_ majorMinor: String) -> UInt64? {
        let p = majorMinor.split(separator: ":")
        guard p.count == 2, let ma = UInt32(p[0]), let mi = UInt32(p[1]) else { return nil }
        return UInt64(clinux_makedev(ma, mi))
    }

    /// Where a /proc link (cwd, fd/N) leads, nil if the process or descriptor is gone.
    static func link(_ path: String) -> String? { try? Syscall.readlink(path) }

    /// One line of /proc/PID/maps for a file: "start-end perms offset MAJ:MIN inode path",
    /// offset and MAJ:MIN in hex.
    struct Mapping { var start, end, offset, device, inode: UInt64; var addresses, path: String }

    /// Calls `body` with the pid and /proc directory of every process but this one.
    static func forEachProcess(_ body: (Int32, String) -> Void) {
        guard let dir = opendir("/proc") else { return }
        defer { closedir(dir) }
        let me = getpid()
        while let entry = readdir(dir) {
            guard let pid = Int32(entry.name), pid != me else { continue }
            body(pid, "/proc/\(pid)")
        }
    }

    /// The numbers of a process's open file descriptors (/proc/PID/fd).
    static func descriptors(_ base: String) -> [String] {
        guard let fds = opendir("\(base)/fd") else { return [] }
        defer { closedir(fds) }
        var out: [String] = []
        while let fd = readdir(fds) {
            if Int(fd.name) != nil { out.append(fd.name) }
        }
        return out
    }

    /// A process's file mappings (anonymous ones, inode 0, left out).
    static func mappings(_ base: String, _ proc: SysfsRoot) -> [Mapping] {
        (proc.read("\(base)/maps") ?? "").split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard f.count >= 6, let inode = UInt64(f[4]), inode != 0 else { return nil }
            let dev = f[3].split(separator: ":"), addresses = f[0].split(separator: "-")
            guard dev.count == 2, let ma = UInt32(dev[0], radix: 16), let mi = UInt32(dev[1], radix: 16),
                  addresses.count == 2, let start = UInt64(addresses[0], radix: 16), let end = UInt64(addresses[1], radix: 16),
                  let offset = UInt64(f[2], radix: 16) else { return nil }
            return Mapping(start: start, end: end, offset: offset, device: UInt64(clinux_makedev(ma, mi)), inode: inode,
                           addresses: String(f[0]), path: String(f[5]).trimmed(" "))
        }
    }

    /// Uses of the devices `majorMinors` by every process but this one.
    public static func users(of majorMinors: Set<String>) -> [ProcessUse] {
        let wanted = Dictionary(uniqueKeysWithValues: majorMinors.compactMap { mm in devNumber(mm).map { ($0, mm) } })
        guard !wanted.isEmpty else { return [] }
        let proc = SysfsRoot()
        var out: [ProcessUse] = []
        forEachProcess { pid, base in
            let command = proc.read("\(base)/comm") ?? "?"
            func check(_ path: String, how: String) {
                guard let st = try? Syscall.stat(path) else { return }
                let isBlock = (st.st_mode & S_IFMT) == S_IFBLK
                if isBlock, let mm = wanted[UInt64(st.st_rdev)] {
                    out.append(ProcessUse(pid: pid, command: command, device: mm, how: how, path: link(path) ?? path))
                } else if let mm = wanted[UInt64(st.st_dev)] {
                    out.append(ProcessUse(pid: pid, command: command, device: mm, how: how, path: link(path) ?? path))
                }
            }
            for how in ["cwd", "root", "exe"] { check("\(base)/\(how)", how: how) }
            for n in descriptors(base) { check("\(base)/fd/\(n)", how: "fd \(n)") }
            var seenMaps = Set<String>()
            for m in mappings(base, proc) {
                guard let mm = wanted[m.device], seenMaps.insert(m.path).inserted else { continue }
                out.append(ProcessUse(pid: pid, command: command, device: mm, how: "mmap", path: m.path))
            }
        }
        return out.sorted { ($0.pid, $0.how) < ($1.pid, $1.how) }
    }
}


extension ProcessScanner {
    /// Every mapping and open descriptor of `inodes` on the filesystem whose st_dev is
    /// `device` (major:minor), by every process but this one: /proc/PID/maps gives the address
    /// range, the file offset and the inode; /proc/PID/fd the open files.
    public static func fileUses(device: String, inodes: InodeSelection) -> [FileUse] {
        guard let dev = devNumber(device), !inodes.isEmpty else { return [] }
        let proc = SysfsRoot()
        var out: [FileUse] = []
        forEachProcess { pid, base in
            var command: String?
            func commandLine() -> String {
                if let command { return command }
                let raw = proc.read("\(base)/cmdline") ?? ""
                // Arguments may hold newlines or escapes: one printable line.
                let words = String(raw.split(separator: "\0").joined(separator: " ").map { $0.isNewline || $0.asciiValue.map { $0 < 32 } == true ? " " : $0 })
                command = words.isEmpty ? (proc.read("\(base)/comm") ?? "?") : words
                return command!
            }
            for m in mappings(base, proc) where m.device == dev && inodes.contains(m.inode) {
                out.append(FileUse(pid: pid, command: commandLine(), device: device, inode: m.inode, how: "mmap",
                                   path: m.path, address: m.addresses, fileOffset: m.offset, fileLength: m.end - m.start))
            }
            for n in descriptors(base) {
                guard let st = try? Syscall.stat("\(base)/fd/\(n)"), UInt64(st.st_dev) == dev, inodes.contains(UInt64(st.st_ino)) else { continue }
                out.append(FileUse(pid: pid, command: commandLine(), device: device, inode: UInt64(st.st_ino), how: "fd \(n)",
                                   path: link("\(base)/fd/\(n)") ?? "?"))
            }
        }
        return out
    }
}
