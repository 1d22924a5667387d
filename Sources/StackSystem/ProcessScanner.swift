import CLinux
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


    static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Uses of the devices `majorMinors` by every process but this one.
    public static func users(of majorMinors: Set<String>) -> [ProcessUse] {
        let wanted = Dictionary(uniqueKeysWithValues: majorMinors.compactMap { mm in devNumber(mm).map { ($0, mm) } })
        guard !wanted.isEmpty, let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        let me = getpid(), proc = SysfsRoot()
        var out: [ProcessUse] = []
        while let entry = readdir(dir) {
            let name = entry.name
            guard let pid = Int32(name), pid != me else { continue }
            let base = "/proc/\(pid)"
            let command = proc.read("\(base)/comm") ?? "?"
            func check(_ path: String, how: String) {
                var st = stat()
                guard stat(path, &st) == 0 else { return }
                let isBlock = (st.st_mode & S_IFMT) == S_IFBLK
                if isBlock, let mm = wanted[UInt64(st.st_rdev)] {
                    out.append(ProcessUse(pid: pid, command: command, device: mm, how: how, path: link(path) ?? path))
                } else if let mm = wanted[UInt64(st.st_dev)] {
                    out.append(ProcessUse(pid: pid, command: command, device: mm, how: how, path: link(path) ?? path))
                }
            }
            for how in ["cwd", "root", "exe"] { check("\(base)/\(how)", how: how) }
            if let fds = opendir("\(base)/fd") {
                while let fd = readdir(fds) {
                    let n = fd.name
                    guard Int(n) != nil else { continue }
                    check("\(base)/fd/\(n)", how: "fd \(n)")
                }
                closedir(fds)
            }
            // maps: "start-end perms offset MAJ:MIN inode path", MAJ:MIN in hex.
            var seenMaps = Set<String>()
            for line in (proc.read("\(base)/maps") ?? "").split(separator: "\n") {
                let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
                guard f.count >= 6, f[4] != "0" else { continue }
                let dev = f[3].split(separator: ":")
                guard dev.count == 2, let ma = UInt32(dev[0], radix: 16), let mi = UInt32(dev[1], radix: 16),
                      let mm = wanted[UInt64(clinux_makedev(ma, mi))] else { continue }
                let path = String(f[5]).trimmed(" ")
                if seenMaps.insert(path).inserted {
                    out.append(ProcessUse(pid: pid, command: command, device: mm, how: "mmap", path: path))
                }
            }
        }
        return out.sorted { ($0.pid, $0.how) < ($1.pid, $1.how) }
    }
}
