/// Parsers for the text the kernel exposes in /proc and /sys, kept pure so they are tested
/// without a live system and reused on captured dumps.
public enum SystemParsers {
    /// /proc/PID/mountinfo (proc(5), fs/proc_namespace.c `show_mountinfo`): `id parent maj:min
    /// root mountpoint options [optional...] - fstype source superoptions`, paths with octal
    /// escapes (`\040` for a space). Lines that do not have this shape are skipped.
    public static func mountinfo(_ text: String) -> [Mount] {
        var out: [Mount] = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 10, let sep = f.firstIndex(of: "-"), sep >= 6, sep + 2 < f.count else { continue }
            guard let id = Int(f[0]) else { continue }
            let mm = f[2].split(separator: ":")
            guard mm.count == 2, let major = UInt32(mm[0]), let minor = UInt32(mm[1]) else { continue }
            let superOptions = sep + 3 < f.count ? f[sep + 3].split(separator: ",").map(String.init) : []
            out.append(Mount(mountId: id, major: major, minor: minor, root: unescape(f[3]), mountpoint: unescape(f[4]),
                             fsType: f[sep + 1], source: unescape(f[sep + 2]),
                             options: f[5].split(separator: ",").map(String.init), superOptions: superOptions))
        }
        return out
    }

    /// Undoes the octal escapes of mountinfo (`\040` space, `\011` tab, `\012` newline, `\134` backslash).
    public static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var bytes: [UInt8] = []
        let u = Array(s.utf8)
        var i = 0
        while i < u.count {
            if u[i] == 92, i + 3 < u.count, (1...3).allSatisfy({ u[i + $0] >= 48 && u[i + $0] <= 55 }) {
                let high = Int(u[i + 1] - 48), middle = Int(u[i + 2] - 48), low = Int(u[i + 3] - 48)
                bytes.append(UInt8(truncatingIfNeeded: high * 64 + middle * 8 + low))
                i += 4
            } else {
                bytes.append(u[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A sysfs `badblocks` file (block/badblocks.c `badblocks_show`): `start length` per line,
    /// 512-byte sectors. Malformed lines are skipped.
    public static func badblocks(_ text: String) -> [SectorRange] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 2, let s = UInt64(f[0]), let l = UInt64(f[1]), l > 0, s <= maxSectors, l <= maxSectors else { return nil }
            return SectorRange(start: s, length: l)
        }
    }
}
