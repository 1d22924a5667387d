#if canImport(Glibc)
import Glibc
#endif

/// Whether a file dmstack obeys (its configuration) or runs (an exec hook) can be changed only
/// by those already trusted: root, and the invoking user when dmstack does not run as root.
/// The rules are sshd's StrictModes and sudo's sudoers checks: the file and every directory
/// above it must be owned by a trusted user and writable by nobody else. A directory writable
/// by others is accepted only with the sticky bit (S_ISVTX, /tmp): there only an entry's
/// owner may rename or remove it (fs/namei.c `check_sticky`), so a path below it cannot be
/// swapped by the other writers. Group write is accepted only for group root (gid 0), whose
/// members could become root anyway. Both the path as written and the path its symlinks
/// resolve to are checked: a link in a writable directory could be re-pointed.
public enum TrustedPath {
    /// Why `path` cannot be trusted, as one sentence naming the file or directory, its mode
    /// and owner; nil when it can. `what` names the file's role ("notification configuration").
    /// A path that cannot be stat'ed is untrusted with the reason.
    public static func problem(with path: String, what: String, euid: uid_t = geteuid()) -> String? {
        let absolute = PathProbe.absolute(path)
        var seen: Set<String> = []
        for candidate in [absolute, Syscall.realpath(absolute)].compactMap({ $0 }) {
            for (i, entry) in chain(candidate).enumerated() where seen.insert(entry).inserted {
                let st: stat
                do { st = try Syscall.stat(entry) } catch {
                    return "\(what) \(path): cannot check \(entry): \(error.reason)"
                }
                guard let fault = fault(st, euid: euid) else { continue }
                let place = i == 0 && entry == candidate ? "\(what) \(path)" : "\(what) \(path): directory \(entry) above it"
                return "\(place) is \(fault) (mode \(mode(st)), owner \(owner(st.st_uid))); "
                    + "it must be writable only by root\(euid == 0 ? "" : " or \(owner(euid))")"
            }
        }
        return nil
    }

    /// `path` and every directory above it, the file first, "/" last.
    static func chain(_ path: String) -> [String] {
        var out = [path]
        var current = path
        while let slash = current.lastIndex(of: "/"), current != "/" {
            current = slash == current.startIndex ? "/" : String(current[..<slash])
            out.append(current)
        }
        return out
    }

    /// What is wrong with one entry: a foreign owner, or write access for others.
    static func fault(_ st: stat, euid: uid_t) -> String? {
        if st.st_uid != 0 && st.st_uid != euid { return "owned by \(owner(st.st_uid))" }
        let sticky = (st.st_mode & S_IFMT) == S_IFDIR && st.st_mode & S_ISVTX != 0
        if st.st_mode & 0o002 != 0 && !sticky { return "writable by every user" }
        if st.st_mode & 0o020 != 0 && st.st_gid != 0 && !sticky { return "writable by group \(group(st.st_gid))" }
        return nil
    }

    static func mode(_ st: stat) -> String {
        let bits = st.st_mode & 0o7777
        return "0" + String(bits, radix: 8).leftPadded(to: 3)
    }

    static func owner(_ uid: uid_t) -> String {
        guard let pw = getpwuid(uid), let name = pw.pointee.pw_name else { return "uid \(uid)" }
        return "\(String(cString: name)) (uid \(uid))"
    }

    static func group(_ gid: gid_t) -> String {
        guard let gr = getgrgid(gid), let name = gr.pointee.gr_name else { return "gid \(gid)" }
        return "\(String(cString: name)) (gid \(gid))"
    }

    /// The file `program` names as posix_spawnp(3) finds it: itself when it has a slash, else
    /// the first executable of that name in $PATH (the default search path without one); nil
    /// when there is none (running it then fails with its own reason).
    public static func program(_ program: String) -> String? {
        if program.contains("/") { return program }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/bin:/usr/bin"
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
