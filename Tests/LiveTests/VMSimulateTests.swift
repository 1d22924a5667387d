import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `simulate` on the example stacks built for real (Tests/VM/stacks.sh) in the test VM,
/// byte-verified from the leaf: file sectors chosen from xfs_io's FIEMAP of the top device,
/// taken down to a leaf sector, then asked of `simulate` on that leaf alone; the file and
/// offset it names must hold the leaf's bytes (through dm-crypt: the top device's bytes,
/// since the leaf holds ciphertext).
@Suite("VM: simulate on the example stacks", .serialized,
       .enabled(if: Live.hasDeviceMapper && VMLiveTests.hasTwoPmem, "needs root, device-mapper and two fsdax pmem devices (the test VM)"))
struct VMSimulateTests {
    static let stacks = VMLiveTests.stacks
    static let mnt = "/tmp/dmstack-vm-sim"

    func withStack(_ n: Int, _ body: () throws -> Void) throws {
        defer { _ = try? Live.sh("\(Self.stacks) down \(n)") }
        try Live.sh("\(Self.stacks) up \(n) \(Self.mnt)")
        try body()
    }

    /// A file sector and where it lives: on the top device and on a leaf.
    struct Pick { var path: String; var fileOffset: UInt64; var top: String; var topSector: UInt64; var leaf: String; var leafSector: UInt64 }

    /// Every data sector (inside EOF) of the files under `dir/data` (on top device `top`),
    /// with the leaf sector holding it, from translate --down of each extent.
    func picks(_ dir: String, top: String, isLeaf: Bool = false, extra: String = "") throws -> [Pick] {
        var out: [Pick] = []
        for i in 1...4 {
            let path = "\(dir)/data/file\(i)"
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! UInt64
            for e in try SimulateLiveTests.extents(path) {
                let inside = min(e.count, size / 512 > e.fileSector ? size / 512 - e.fileSector : 0)
                guard inside > 0 else { continue }
                if isLeaf {
                    for k in 0..<inside {
                        out.append(Pick(path: path, fileOffset: (e.fileSector + k) * 512, top: top, topSector: e.deviceSector + k,
                                        leaf: top, leafSector: e.deviceSector + k))
                    }
                    continue
                }
                let rows = try Live.json("translate --json --down \(top) \(e.deviceSector)+\(inside) \(extra)")["translations"] as! [[String: Any]]
                for row in rows where row["kind"] as? String == "data" {
                    // The row and its first hop may each be a run (`stride`, `count`): their
                    // k-th sectors, in order, are the same data.
                    let hop = (row["path"] as! [[String: Any]])[0]
                    let leafRun = Self.run(row), topRun = Self.run(hop)
                    #expect(leafRun.total == topRun.total, "\(row)")
                    for k in Swift.stride(from: UInt64(0), to: min(leafRun.total, topRun.total), by: 1) {
                        let topSector = topRun.sector(k)
                        out.append(Pick(path: path, fileOffset: (e.fileSector + topSector - e.deviceSector) * 512, top: top,
                                        topSector: topSector, leaf: row["device"] as! String, leafSector: leafRun.sector(k)))
                    }
                }
            }
        }
        return out
    }

    /// A translate row or hop as its sectors in order: `start`+`length`, or `count` pieces of
    /// `length` every `stride` sectors (docs/json/translate.schema.json).
    static func run(_ o: [String: Any]) -> (total: UInt64, sector: (UInt64) -> UInt64) {
        let start = o["start"] as! UInt64, length = o["length"] as! UInt64
        let stride = o["stride"] as? UInt64 ?? length, count = o["count"] as? UInt64 ?? 1
        return (length * count, { k in start + (k / length) * stride + k % length })
    }

    /// `count` random picks: simulate on the leaf names the file at the offset, and its
    /// bytes are the leaf's (or, through crypt, the top device's) at that sector.
    func verify(_ picks: [Pick], count: Int, compareTop: Bool = false, extra: String = "") throws {
        #expect(picks.count > 1000, "\(picks.count) sectors to choose from")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<count {
            let p = picks.randomElement(using: &rng)!
            let impact = try Live.json("simulate --json /dev/\(p.leaf) --range \(p.leafSector)+1 --event failure \(extra)")["impact"] as! [String: Any]
            let files = (impact["filesystems"] as! [[String: Any]]).first?["files"] as? [[String: Any]] ?? []
            let expected = compareTop ? try SimulateLiveTests.deviceSector("/dev/mapper/\(p.top)", p.topSector)
                                      : try SimulateLiveTests.deviceSector("/dev/\(p.leaf)", p.leafSector)
            var found = false
            for f in files {
                let offset = UInt64((f["extents"] as! [[String: Any]])[0]["offset"] as! Int)
                for path in f["paths"] as! [String] {
                    #expect(try SimulateLiveTests.fileBytes(path, offset) == expected, "\(p.leaf) \(p.leafSector): \(path) at \(offset)")
                    if path == p.path && offset == p.fileOffset { found = true }
                }
            }
            #expect(found, "\(p.leaf) \(p.leafSector): expected \(p.path) at \(p.fileOffset), got \(files.map { "\($0["paths"]!) \($0["extents"]!)" })")
        }
    }

    @Test func pmemConcatAndStripeWithDAX() throws {
        try withStack(1) {
            let picks = try picks("\(Self.mnt)/concat", top: "concat") + picks("\(Self.mnt)/stripe", top: "stripe")
            #expect(Set(picks.map(\.leaf)) == ["pmem0", "pmem1"])
            try verify(picks, count: 100)
            // The reflinked copy shares file2's blocks: both owners are named.
            let shared = try #require(picks.first { $0.path.hasSuffix("/concat/data/file2") })
            let impact = try Live.json("simulate --json \(shared.leaf) --range \(shared.leafSector)+1")["impact"] as! [String: Any]
            let names = Set(((impact["filesystems"] as! [[String: Any]])[0]["files"] as! [[String: Any]]).flatMap { $0["paths"] as! [String] })
            #expect(names == ["\(Self.mnt)/concat/data/file2", "\(Self.mnt)/concat/data/reflink2"])
            // A mapper of an affected file is named by pid.
            let target = try #require(picks.first { $0.path.hasSuffix("/stripe/data/file3") && $0.fileOffset == 0 })
            let fd = open(target.path, O_RDONLY)
            defer { close(fd) }
            let address = mmap(nil, 4096, PROT_READ, MAP_SHARED, fd, 0)
            #expect(address != MAP_FAILED)
            defer { munmap(address, 4096) }
            _ = address!.load(as: UInt8.self)
            let hit = try Live.json("simulate --json \(target.leaf) --range \(target.leafSector)+1")["impact"] as! [String: Any]
            let processes = (hit["filesystems"] as! [[String: Any]])[0]["processes"] as! [[String: Any]]
            #expect(processes.contains { $0["pid"] as? Int == Int(getpid()) && $0["how"] as? String == "mmap" }, "\(processes)")
            // Removing pmem1 takes parts of both filesystems: both are frozen, shut down, thawed.
            let remove = try Live.json("simulate --json pmem1 --event remove")["impact"] as! [String: Any]
            let hitFs = (remove["filesystems"] as! [[String: Any]]).map { $0["mountpoint"] as! String }.sorted()
            #expect(hitFs == ["\(Self.mnt)/concat", "\(Self.mnt)/stripe"])
            // The rules of the running kernel: before 6.8 a removal is a shutdown only (no
            // MF_MEM_PRE_REMOVE), from 6.8 freeze ... shutdown, thaw.
            let preRemove = (remove["kernel_rules"] as? [String: Any])?["set"] as? String != "6.0-6.7"
            for fs in remove["filesystems"] as! [[String: Any]] {
                let actions = (fs["actions"] as! [[String: Any]]).map { $0["action"] as! String }
                if preRemove {
                    #expect(actions.first == "freeze" && actions.last == "thaw" && actions.contains("shutdown"), "\(actions)")
                } else {
                    #expect(actions.contains("shutdown") && !actions.contains("freeze"), "\(actions)")
                }
            }
        }
    }

    @Test func cryptOverLinear() throws {
        try withStack(3) {
            let picks = try picks("\(Self.mnt)/secret", top: "secret")
            #expect(Set(picks.map(\.leaf)).count == 1)
            try verify(picks, count: 60, compareTop: true)
        }
    }

    @Test func xfsWithExternalLogOnPmem() throws {
        try withStack(5) {
            // No dm at all: the filesystem sits on the leaf.
            let picks = try picks("\(Self.mnt)/xfslog", top: "pmem0", isLeaf: true)
            try verify(picks, count: 60)
            // Any log sector: the log, and a shutdown.
            let log = try Live.json("simulate --json pmem1 --range 1000+8")["impact"] as! [String: Any]
            let fs = try #require((log["filesystems"] as! [[String: Any]]).first)
            #expect(fs["roles"] as? [String] == ["log"])
            #expect((fs["metadata"] as! [[String: Any]]).map { $0["kind"] as! String } == ["log"])
            #expect((fs["actions"] as! [[String: Any]]).map { $0["action"] as! String } == ["shutdown"])
        }
    }

    /// Thin: with a thin_dump of a metadata snapshot (as an admin takes one of a live pool, or
    /// for offline use) a leaf sector is byte-verified like the others; without one, dmstack
    /// reads the live pool's metadata itself and names the same file.
    @Test func thinVolumeWithItsPoolMetadata() throws {
        try withStack(4) {
            let meta = try Live.sh("head -1 /tmp/dmstack-stack-4.loops").trimmed
            let dump = try Live.sh("mktemp /tmp/dmstack-thin-XXXXXX.xml").trimmed
            defer { _ = try? Live.sh("rm -f \(dump)") }
            try Live.sh("dmsetup message pool 0 reserve_metadata_snap && thin_dump -m \(meta) > \(dump); dmsetup message pool 0 release_metadata_snap")
            let extra = "--thin-dump pool=\(dump)"
            let picks = try picks("\(Self.mnt)/thin1", top: "thin1", extra: extra)
            try verify(picks, count: 60, extra: extra)
            // Without --thin-dump the pool's metadata is read live (a metadata snapshot held
            // for the read and released): the same file is named.
            let p = try #require(picks.first)
            let live = try Live.json("simulate --json \(p.leaf) --range \(p.leafSector)+1 --event failure")["impact"] as! [String: Any]
            let files = (live["filesystems"] as! [[String: Any]]).first?["files"] as? [[String: Any]] ?? []
            #expect(files.contains { ($0["paths"] as! [String]).contains(p.path) }, "\(p.leaf) \(p.leafSector): \(files)")
            #expect(try Live.sh("dmsetup status pool").split(separator: " ")[6] == "-", "the metadata snapshot was left held")
        }
    }

    @Test func raidSectorsAreDegradedNotLost() throws {
        try withStack(2) {
            let picks = try picks("\(Self.mnt)/mirror", top: "mirror") + picks("\(Self.mnt)/parity", top: "parity")
            var rng = SystemRandomNumberGenerator()
            for _ in 0..<20 {
                let p = picks.randomElement(using: &rng)!
                let impact = try Live.json("simulate --json \(p.leaf) --range \(p.leafSector)+1")["impact"] as! [String: Any]
                #expect((impact["filesystems"] as! [Any]).isEmpty, "\(p.leaf) \(p.leafSector) of \(p.path) called lost")
                let notices = (impact["notices"] as! [[String: Any]]).map { "\($0["action"]!) \($0["target"]!)" }
                #expect(notices == ["notify-degraded \(p.top)"], "\(notices)")
            }
        }
    }
}
