import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Ground truth for live `simulate` tests, found by reading the leaves and never by dmstack's
/// own arithmetic: files whose every 512-byte sector names itself (`DMSTACK-GT PATH OFFSET`),
/// a scan of a leaf that finds which sector holds which file offset, and a check that
/// `simulate LEAF --range S+1`, with no flag added, names that file and offset (or, where a
/// copy or parity remains, loses nothing and says degraded).
enum GroundTruth {
    static let magic = Array("DMSTACK-GT ".utf8)

    /// A file and a byte offset in it, as a sector's header names them, and the generation
    /// of the content (a file rewritten in place has generation 2 where the old bytes, kept by a
    /// snapshot's COW store, have 1).
    struct Owner: Hashable, CustomStringConvertible {
        var path: String
        var offset: UInt64
        var generation = 1
        var description: String { "\(path) at \(offset)" }
    }

    /// `mkfs.xfs` (rmapbt on) of `device`, mounted on `mountpoint` (created), unmounted by
    /// `cleanup`. Small filesystems are allowed (mkfs.xfs refuses < 300 MB otherwise).
    static func xfs(_ device: String, on mountpoint: String, options: String = "", cleanup: inout [String]) throws {
        try Live.sh("mkdir -p \(mountpoint) && TEST_DIR=/tmp TEST_DEV=/dev/null QA_CHECK_FS=xfs mkfs.xfs -q -f -m rmapbt=1 \(device) && mount \(options) \(device) \(mountpoint)")
        cleanup.append("umount \(mountpoint)")
    }

    /// Writes `count` files of `size` bytes (a multiple of 512) under `dir` (created): each
    /// sector starts with `DMSTACK-GT PATH OFFSET\n` (`... OFFSET gN\n` for a later
    /// `generation`) and is filled out with a byte of the file's own; each file is fsync'd,
    /// and the filesystem synced. With `inPlace`, existing files are overwritten without
    /// truncating them (the filesystem keeps their blocks). Returns the paths.
    @discardableResult
    static func writeFiles(_ dir: String, count: Int = 4, size: Int = 2 << 20, generation: Int = 1, inPlace: Bool = false) throws -> [String] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var paths: [String] = []
        for i in 0..<count {
            let path = "\(dir)/gt\(i)"
            var bytes = [UInt8](repeating: UInt8(ascii: "a") + UInt8(i % 26), count: size)
            for offset in Swift.stride(from: 0, to: size, by: 512) {
                let header = Array("DMSTACK-GT \(path) \(offset)\(generation == 1 ? "" : " g\(generation)")\n".utf8)
                bytes.replaceSubrange(offset..<offset + header.count, with: header)
            }
            let fd = open(path, O_WRONLY | O_CREAT | (inPlace ? 0 : O_TRUNC), 0o644)
            guard fd >= 0 else { throw Live.CommandError(command: "open \(path)", status: errno, output: String(cString: strerror(errno))) }
            defer { close(fd) }
            var done = 0
            while done < size {
                let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { throw Live.CommandError(command: "write \(path)", status: errno, output: String(cString: strerror(errno))) }
                done += n
            }
            fsync(fd)
            paths.append(path)
        }
        sync()
        return paths
    }

    /// Every sector of `device` (read whole with O_DIRECT, so nothing cached above the device
    /// answers) that starts with a ground-truth header: its sector and the owner it names.
    static func scan(_ device: String) throws -> [UInt64: Owner] {
        // O_DIRECT (040000 on x86-64: asm-generic/fcntl.h; arm64 differs) is hidden behind _GNU_SOURCE.
        let fd = open(device, O_RDONLY | 0o40000)
        guard fd >= 0 else { throw Live.CommandError(command: "open \(device)", status: errno, output: String(cString: strerror(errno))) }
        defer { close(fd) }
        let chunk = 1 << 20
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 4096, chunk) == 0, let buffer = raw else { throw Live.CommandError(command: "posix_memalign", status: 1, output: "") }
        defer { free(buffer) }
        var found: [UInt64: Owner] = [:]
        var position: off_t = 0
        while true {
            let n = pread(fd, buffer, chunk, position)
            guard n > 0 else { break }
            let bytes = UnsafeRawBufferPointer(start: buffer, count: n)
            for s in Swift.stride(from: 0, to: n - 511, by: 512) where bytes[s] == magic[0] {
                guard bytes[s..<s + magic.count].elementsEqual(magic),
                      let end = bytes[s..<s + 512].firstIndex(of: UInt8(ascii: "\n")) else { continue }
                let words = String(decoding: bytes[s + magic.count..<end], as: UTF8.self).split(separator: " ")
                guard words.count == 2 || words.count == 3, let offset = UInt64(words[1]) else { continue }
                let generation = words.count == 3 ? Int(words[2].dropFirst()) ?? 0 : 1
                found[UInt64(position) / 512 + UInt64(s / 512)] = Owner(path: String(words[0]), offset: offset, generation: generation)
            }
            position += off_t(n)
        }
        return found
    }

    /// What a lost sector must give.
    enum Expectation {
        /// The owner's file is named at the owner's offset.
        case named
        /// Nothing is lost (no filesystem loses data) and the range is degraded: a copy or
        /// parity remains.
        case survives
        /// Nothing is known lost, and the owner's file is named at the owner's offset among
        /// the files that may be lost (`may_lose`): the outcome is unknown, e.g. a writeback
        /// cache block that may be dirty.
        case mayBeLost
    }

    /// `count` sectors chosen at random from `truth` (a scan of `device`), each asked of
    /// `simulate --json DEVICE --range S+1` with no other flag; `extra` only where a test
    /// must say something else (never metadata files: live answers need none).
    static func verify(_ device: String, _ truth: [UInt64: Owner], count: Int, expect: Expectation, extra: String = "",
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(truth.count >= count, "\(device): only \(truth.count) ground-truth sectors", sourceLocation: sourceLocation)
        var rng = SystemRandomNumberGenerator()
        let sectors = Array(truth.keys)
        for _ in 0..<min(count, sectors.count) {
            let sector = sectors.randomElement(using: &rng)!, owner = truth[sector]!
            // An outcome that may be lost is an incomplete answer: exit 2 (issue 18).
            let impact = try Live.json("simulate --json \(device) --range \(sector)+1 \(extra)", statuses: expect == .mayBeLost ? [2] : [0])["impact"] as! [String: Any]
            let filesystems = impact["filesystems"] as! [[String: Any]]
            let notices = (impact["notices"] as! [[String: Any]]).map { "\($0["action"]!) \($0["target"]!): \($0["reason"] ?? "")" }
            switch expect {
            case .named:
                var named: [String] = []
                for fs in filesystems {
                    for f in fs["files"] as? [[String: Any]] ?? [] {
                        let offset = UInt64((f["extents"] as! [[String: Any]])[0]["offset"] as! Int)
                        for path in f["paths"] as! [String] { named.append("\(path) at \(offset)") }
                    }
                }
                #expect(named.contains(owner.description), "\(device) \(sector): expected \(owner), named \(named), notices \(notices)",
                        sourceLocation: sourceLocation)
            case .mayBeLost:
                // The range of unknown outcome may be wider than the sector (a whole cache block).
                var named: [String] = []
                for fs in impact["may_lose"] as? [[String: Any]] ?? [] {
                    for f in fs["files"] as? [[String: Any]] ?? [] {
                        let holds = (f["extents"] as! [[String: Any]]).contains {
                            let o = UInt64($0["offset"] as! Int), l = UInt64($0["length"] as! Int)
                            return o <= owner.offset && owner.offset < o + l
                        }
                        for path in f["paths"] as! [String] { named.append(holds ? "\(path) at \(owner.offset)" : path) }
                    }
                }
                #expect(filesystems.isEmpty, "\(device) \(sector) (\(owner)): called lost in \(filesystems.map { $0["mountpoint"]! })",
                        sourceLocation: sourceLocation)
                #expect(named.contains(owner.description), "\(device) \(sector): expected \(owner) among may_lose, named \(named), notices \(notices)",
                        sourceLocation: sourceLocation)
            case .survives:
                #expect(filesystems.isEmpty, "\(device) \(sector) (\(owner)): called lost in \(filesystems.map { $0["mountpoint"]! }); notices \(notices)",
                        sourceLocation: sourceLocation)
                #expect(notices.contains { $0.hasPrefix("notify-degraded ") }, "\(device) \(sector) (\(owner)): \(notices)",
                        sourceLocation: sourceLocation)
            }
        }
    }
}
