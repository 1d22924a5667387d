#if canImport(Glibc)
import Glibc
#endif

/// Every read of /sys and /proc goes through one rooted path context (util-linux's
/// `ul_path_set_prefix`), so the same discovery code can read a copied tree in tests.
public struct SysfsRoot: Sendable {
    public let prefix: String

    public init(prefix: String = "") { self.prefix = prefix }

    public func path(_ p: String) -> String { prefix + p }

    /// A small text file, trimmed of its trailing newline; nil if absent or unreadable.
    public func read(_ p: String) -> String? {
        guard let fd = try? Syscall.open(path(p), O_RDONLY | O_CLOEXEC) else { return nil }
        defer { Syscall.close(fd) }
        // sysfs attributes fit in a page; /proc files may not. Reading into uninitialised
        // capacity matters: zeroing a large buffer per attribute dominated discovery.
        var out: [UInt8] = []
        var capacity = 4096
        while true {
            if out.count == capacity { capacity *= 2 }
            let before = out.count
            var failed = false
            out.append(contentsOf: [UInt8](unsafeUninitializedCapacity: capacity - before) { buffer, count in
                do { count = try Syscall.read(fd, into: UnsafeMutableRawBufferPointer(buffer), path: path(p)) } catch { failed = true; count = 0 }
            })
            if failed { return out.isEmpty ? nil : String(decoding: out, as: UTF8.self) }
            if out.count == before { break }
            // A sysfs attribute comes whole in one read; skip the read that would return 0.
            if out.count < capacity && p.hasPrefix("/sys/") { break }
        }
        var s = String(decoding: out, as: UTF8.self)
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }

    public func readNumber(_ p: String) -> UInt64? { read(p).flatMap { UInt64($0.trimmingSpaces) } }

    /// Names in a directory, sorted, without `.` and `..`; empty if absent.
    public func list(_ p: String) -> [String] {
        guard let dir = opendir(path(p)) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = entry.name
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The components of a symlink's target (`../../devices/.../region0/pfn0.1`).
    public func linkComponents(_ p: String) -> [String] {
        guard let target = try? Syscall.readlink(path(p)) else { return [] }
        return target.split(separator: "/").map(String.init)
    }

    /// The last component of a symlink's target (`../../devices/.../pfn0.1` → `pfn0.1`).
    public func linkBasename(_ p: String) -> String? { linkComponents(p).last }

    /// The component before the last (`.../sda/sda1` → `sda`, `.../region0/namespace0.0` → `region0`).
    public func linkParent(_ p: String) -> String? {
        let c = linkComponents(p)
        return c.count >= 2 ? c[c.count - 2] : nil
    }

    public func exists(_ p: String) -> Bool { Syscall.exists(path(p)) }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}

extension UnsafeMutablePointer where Pointee == dirent {
    /// The entry's name (readdir(3) `d_name`, NUL-terminated in a fixed array).
    var name: String {
        withUnsafeBytes(of: pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
