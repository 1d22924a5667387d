import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `dmstack capture` on a real XFS (rmapbt, reflink, hard links, many files): the streamed
/// snapshot (version 4, compact reverse map) answers `simulate --snapshot` byte for byte as
/// the live system does, a filesystem on a plain loop device is not one of `--reverse-maps
/// all` but is taken when named, and standard output carries the same document as -o.
@Suite("Live: capture streams a compact reverse map", .serialized, .enabled(if: Live.hasLoop, "needs root and /dev/loop-control"))
struct CaptureLiveTests {
    @Test func namedFilesystemRoundTrips() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let dev = try Live.loop(size: "512M", cleanup: &cleanup)
        try Live.sh("mkfs.xfs -q -f -m rmapbt=1,reflink=1 \(dev)")
        let mnt = try Live.temporary("/tmp/dmstack-mnt-XXXXXX", cleanup: &cleanup)
        try Live.sh("mount \(dev) \(mnt)"); cleanup.append("umount \(mnt)")
        // 3,000 small files in 30 directories (names é-accented: paths are Unicode), larger
        // ones of several extents, a hard link and a reflinked copy.
        try Live.sh("""
            python3 -c "
            import os
            for d in range(30): os.mkdir('\(mnt)/dé%d' % d)
            for i in range(3000):
                with open('\(mnt)/dé%d/f%d' % (i % 30, i), 'wb') as f: f.write(os.urandom(4096 * (1 + i % 3)))
            for i in range(5):
                with open('\(mnt)/big%d' % i, 'wb') as f:
                    for k in range(64): f.write(os.urandom(65536)); f.flush(); os.fsync(f.fileno())
            "
            """)
        try Live.sh("ln \(mnt)/dé0/f0 \(mnt)/link0 && cp --reflink=always \(mnt)/big1 \(mnt)/reflink1 && sync")
        let name = String(dev.dropFirst(5))
        let dir = try Live.temporary("/tmp/dmstack-capture-XXXXXX", recursive: true, cleanup: &cleanup)
        // `all` is the filesystems on dm, md or pmem stacks: not this one, on a plain loop.
        try Live.sh("\(Live.dmstack) capture --reverse-maps all -o \(dir)/all.json")
        let all = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/all.json"))) as! [String: Any]
        let allMaps = all["reverse_maps"] as? [[String: Any]] ?? []
        #expect(!allMaps.contains { $0["mountpoint"] as? String == mnt }, "--reverse-maps all took a filesystem on a plain loop device")
        // Named, it is taken; the file is version 4 with the map in blocks.
        try Live.sh("\(Live.dmstack) capture --reverse-maps \(mnt) -o \(dir)/s.json")
        let text = try String(contentsOfFile: "\(dir)/s.json", encoding: .utf8)
        let doc = try Live.document(text)
        #expect(doc["version"] as? Int == 4)
        let map = try #require((doc["reverse_maps"] as? [[String: Any]])?.first)
        #expect(map["mountpoint"] as? String == mnt && map["records"] == nil)
        let records = (map["record_blocks"] as? [[String: Any]] ?? []).reduce(0) { $0 + (($1["code"] as? [Any])?.count ?? 0) }
        #expect(records > 3000, "\(records) records")
        // The map's own bytes (its one line), not the document's: the devices and mounts
        // around it are the machine's (a host with 20 mounts adds 3 bytes a record here).
        let mapBytes = text.split(separator: "\n").filter { $0.contains("\"record_blocks\"") }.reduce(0) { $0 + $1.utf8.count }
        #expect(mapBytes > 0 && Double(mapBytes) / Double(records) < 40, "\(mapBytes) bytes of map for \(records) records")
        // The same answers offline: file data (each kind of file), the hard link, the
        // reflink, metadata, a whole-device removal.
        var questions = ["simulate --json \(name) --event remove", "simulate \(name) --range 0+64"]
        for path in ["dé0/f0", "dé4/f1234", "dé29/f2999", "big3", "reflink1"] {
            let sector = try #require(SimulateLiveTests.extents("\(mnt)/\(path)").first?.deviceSector)
            questions.append("simulate --json \(name) --range \(sector)+8")
        }
        for q in questions {
            let live = try Live.sh("\(Live.dmstack) \(q)")
            #expect(live == Live.asLive(try Live.sh("\(Live.dmstack) \(q) --snapshot \(dir)/s.json")), "\(q)")
            #expect(live == Live.asLive(try Live.sh("\(Live.dmstack) \(q) --snapshot - < \(dir)/s.json")), "\(q) from standard input")
        }
        // Standard output carries the same document (apart from when it was taken). Both are
        // of the whole machine, where another live suite running beside this one may mount a
        // filesystem between the two: taken again, both at once, up to three times (a real
        // difference between -o and standard output stays; a neighbour's mount does not).
        let strip = { (s: String) in s.split(separator: "\n").filter { !$0.contains("\"captured_at\"") } }
        var (p, t) = (strip(try Live.sh("\(Live.dmstack) capture --reverse-maps \(mnt)")), strip(text))
        for _ in 0..<3 where p != t {
            try Live.sh("\(Live.dmstack) capture --reverse-maps \(mnt) -o \(dir)/again.json")
            (p, t) = (strip(try Live.sh("\(Live.dmstack) capture --reverse-maps \(mnt)")), strip(try String(contentsOfFile: "\(dir)/again.json", encoding: .utf8)))
        }
        try? FileManager.default.removeItem(atPath: "\(dir)/again.json")
        let first = zip(p, t).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(p.count, t.count)
        #expect(p == t, "standard output and -o differ at line \(first): \(first < p.count ? p[first].prefix(200) : "<end>") vs \(first < t.count ? t[first].prefix(200) : "<end>")")
        // A capture that fails leaves no file behind, and the error is one line.
        let failed = try Live.sh("\(Live.dmstack) capture --reverse-maps /nowhere -o \(dir)/x.json 2>&1; echo status $?")
        #expect(failed == "dmstack: --reverse-maps: /nowhere is not the mountpoint of a filesystem on a block device\nstatus 64\n")
        #expect(try Live.sh("ls \(dir)").split(separator: "\n").sorted() == ["all.json", "s.json"])
    }
}
