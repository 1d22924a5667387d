#if canImport(Glibc)
import Glibc
#endif
import StackModel

/// The names of inodes GETFSMAP reported (it gives inode numbers, not paths): one walk of the
/// filesystem that reads d_ino and d_type from readdir(3) and stops as soon as each inode has
/// as many names as its link count.
struct InodeNameWalk {
    /// Called with the number of entries looked at so far (a progress line on a terminal).
    var progress: ((Int) -> Void)?

    /// From this many inodes asked, regular files are named without a stat(2) each and the
    /// walk is not stopped early.
    static let wholeTreeThreshold = 4096

    /// Every name of `inodes` in the filesystem mounted on `root`.
    func paths(root: String, inodes: Set<UInt64>) -> [UInt64: [String]] {
        var found: [UInt64: [String]] = [:]
        forEachPath(root: root, inodes: .some(inodes)) { found[$0, default: []].append($1) }
        return found
    }

    /// The same walk, each (inode, name) handed to `body` as it is found; what is kept is the
    /// directory stack and, for the stop, how many names each inode found still lacks.
    /// `.all`: every name of the tree, as find(1) lists it, with d_ino (no stat(2) but for
    /// directories).
    @discardableResult
    func forEachPath(root: String, inodes selection: InodeSelection, _ body: (UInt64, String) -> Void) -> [String] {
        let everything = selection == .all
        let inodes: Set<UInt64>
        switch selection {
        case .some(let set): inodes = set
        case .all: inodes = []
        }
        guard everything || !inodes.isEmpty else { return [] }
        guard let st = try? Syscall.stat(root) else { return ["the name walk could not stat \(root): its files are not named"] }
        var unreadable = 0, firstUnreadable: String?
        let dev = st.st_dev
        // Inodes with a name, and those still lacking some (link count not reached).
        var found = Set<UInt64>()
        var remaining: [UInt64: Int] = [:]
        if everything || inodes.contains(UInt64(st.st_ino)) { found.insert(UInt64(st.st_ino)); body(UInt64(st.st_ino), root) }
        var stack = [root], walked = 0
        // Thousands of inodes asked (a whole device): every directory is read anyway, as
        // find(1) would, and regular files are named from readdir alone.
        let wholeTree = everything || inodes.count >= Self.wholeTreeThreshold
        while let dir = stack.popLast(), wholeTree || (remaining.isEmpty ? found.count < inodes.count : true) {
            guard let d = opendir(dir) else {
                unreadable += 1
                if firstUnreadable == nil { firstUnreadable = "\(dir): \(String(cString: strerror(errno)))" }
                continue
            }
            let dfd = dirfd(d)
            while let entry = readdir(d) {
                // d_ino and d_type from readdir: stat(2) only for directories (not to cross
                // into another mount) and for the inodes sought (their link count).
                let ino = UInt64(entry.pointee.d_ino)
                let type = entry.pointee.d_type
                let wantedHere = everything || inodes.contains(ino)
                guard wantedHere || type == UInt8(DT_DIR) || type == UInt8(DT_UNKNOWN) else { walked += 1; continue }
                let name = entry.name
                if name == "." || name == ".." { continue }
                let path = dir == "/" ? "/\(name)" : "\(dir)/\(name)"
                if wholeTree && wantedHere && type != UInt8(DT_DIR) && type != UInt8(DT_UNKNOWN) {
                    // Most of the tree is asked for: the walk goes to its end anyway, so a
                    // file's link count (to stop early) is not worth a stat(2) a file.
                    walked += 1
                    if walked % 2000 == 0 { progress?(walked) }
                    body(ino, path)
                    continue
                }
                guard let es = try? Syscall.fstatat(dfd, name, flags: AT_SYMLINK_NOFOLLOW, path: path) else { continue }
                // A mount over it hides its files from the walk (said, as an unreadable one).
                guard es.st_dev == dev else {
                    unreadable += 1
                    if firstUnreadable == nil { firstUnreadable = "\(path): \(MountedOver())" }
                    continue
                }
                walked += 1
                if walked % 2000 == 0 { progress?(walked) }
                if everything {
                    body(UInt64(es.st_ino), path)
                } else if inodes.contains(UInt64(es.st_ino)) {
                    let ino = UInt64(es.st_ino)
                    body(ino, path)
                    let isDir = (es.st_mode & S_IFMT) == S_IFDIR
                    let left = found.insert(ino).inserted ? (isDir ? 0 : Int(es.st_nlink) - 1) : (remaining[ino] ?? 0) - 1
                    remaining[ino] = left > 0 ? left : nil
                }
                if (es.st_mode & S_IFMT) == S_IFDIR { stack.append(path) }
            }
            closedir(d)
            if !wholeTree && found.count == inodes.count && remaining.isEmpty { break }
        }
        progress?(walked)
        guard unreadable > 0 else { return [] }
        return ["the name walk could not open \(unreadable) director\(unreadable == 1 ? "y" : "ies") (first \(firstUnreadable ?? "?")): files only under them are listed by inode number"]
    }
}
