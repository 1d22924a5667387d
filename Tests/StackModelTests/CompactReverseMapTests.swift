import FoundationEssentials
import Testing
import TestSupport
@testable import StackModel

/// The compact reverse map of snapshot version 4: what is written reads back record for
/// record and name for name, its range queries answer as a scan of every record does, and a
/// damaged one is a corrupt snapshot naming the block, not a crash.
@Suite struct CompactReverseMapTests {
    static let kinds = ["log", "inode btree", "AG metadata", "static fs metadata", "special 0x5800000009"]

    /// Records of every shape: contiguous and overlapping, out of order (a FIEMAP walk),
    /// shared, metadata, zero-length, huge offsets and inodes, several roles.
    static func randomRecords(_ n: Int, seed: UInt64, roles: [HolderRole] = HolderRole.allCases) -> [ReverseMapRecord] {
        var rng = SplitMix64(seed: seed)
        var out: [ReverseMapRecord] = []
        var at: UInt64 = 0
        for i in 0..<n {
            let role = roles[Int(rng.next() % UInt64(roles.count))]
            switch rng.next() % 8 {
            case 0: at = rng.next() % (1 << 40)         // a jump back or forward
            case 1: at = UInt64.max - (1 << 20)          // near the top of the byte range
            default: break
            }
            let length = rng.next() % 4 == 0 ? 0 : (rng.next() % 64 + 1) * 512
            let special = rng.next() % 5 == 0
            let inode: UInt64? = special ? nil : (rng.next() % 3 == 0 ? rng.next() : 128 + UInt64(i) / 2)
            let r = ReverseMapRecord(role: role, physical: at, length: min(length, UInt64.max - at), inode: inode,
                                     metadata: special ? kinds[Int(rng.next() % UInt64(kinds.count))] : nil,
                                     offset: special ? 0 : rng.next() % (1 << 50), attributeFork: rng.next() % 7 == 0,
                                     extentMap: rng.next() % 9 == 0, unwritten: rng.next() % 6 == 0, shared: rng.next() % 5 == 0)
            out.append(r)
            if rng.next() % 3 != 0 { at = at &+ r.length } // contiguous, as GETFSMAP gives them
        }
        return out
    }

    static func randomPaths(_ records: [ReverseMapRecord], seed: UInt64) -> [String: [String]] {
        var rng = SplitMix64(seed: seed)
        var out: [String: [String]] = [:]
        for inode in Set(records.compactMap(\.inode)) {
            let names = (0...(rng.next() % 3)).map { k in "/mnt/d\(rng.next() % 7)/sub é\(rng.next() % 3)/f\(inode)-\(k)" }
            out[String(inode)] = names.shuffled(using: &rng) // the walk's order is kept, not sorted
        }
        return out
    }

    static func streamed(_ maps: [FilesystemReverseMap]) throws -> [UInt8] {
        let host = HostInfo(hostname: "h", kernel: "6.1", capturedAt: "2026-12-01T00:00:00Z", dmstackVersion: "test")
        var bytes: [UInt8] = []
        var writer = try SnapshotStreamWriter(SystemSnapshot(host: host, devices: [], mounts: [], pmem: PmemInventory())) { bytes += $0 }
        for m in maps {
            try writer.beginMap(mountpoint: m.mountpoint, device: m.device, type: m.type)
            for r in m.records { try writer.append(r) }
            // Names in two chunks, as a capture asks for them.
            let half = m.names.keys.sorted().prefix(m.names.count / 2)
            try writer.appendPaths(m.names.filter { half.contains($0.key) })
            try writer.endMap(paths: m.names.filter { !half.contains($0.key) }, notes: m.notes)
        }
        try writer.finish(fileUses: [FileUse(pid: 1, command: "init", device: "7:0", inode: 131, how: "mmap", path: "/mnt/x")])
        return bytes
    }

    @Test(arguments: [0, 1, 7, 3000, ReverseMapBlock.capacity + 17])
    func streamedMapReadsBackRecordForRecord(count: Int) throws {
        let records = Self.randomRecords(count, seed: UInt64(count) + 1)
        let map = FilesystemReverseMap(mountpoint: "/mnt", device: "253:0", type: "xfs", records: records,
                                       paths: Self.randomPaths(records, seed: 9), notes: ["a note"])
        let other = FilesystemReverseMap(mountpoint: "/other", device: "253:1", type: "ext4", records: Array(records.prefix(5)), paths: [:], notes: [])
        let bytes = try Self.streamed([map, other])
        let snapshot = try SnapshotCodec.decode(Data(bytes), file: "t")
        #expect(snapshot.version == 4)
        #expect(snapshot.reverseMaps?.count == 2)
        let back = try #require(snapshot.reverseMaps?.first)
        #expect(back.records == records)
        #expect(back.paths == map.paths)
        #expect(back.notes == ["a note"] && back.mountpoint == "/mnt" && back.device == "253:0" && back.type == "xfs")
        #expect(snapshot.reverseMaps?.last?.records == Array(records.prefix(5)))
        #expect(snapshot.fileUses?.map(\.inode) == [131])
        // The in-memory encoding is the same document, read alike.
        let again = try SnapshotCodec.decode(try SnapshotCodec.encode(snapshot), file: "t")
        #expect(again == snapshot)
    }

    @Test func recordsTakeFewBytesEach() throws {
        // What GETFSMAP reports for small files: contiguous 4 KiB extents of ascending inodes.
        var records: [ReverseMapRecord] = []
        for i in 0..<UInt64(100_000) {
            records.append(ReverseMapRecord(physical: 1 << 20 + i * 4096, length: 4096, inode: 1024 + i * 2))
            if i % 64 == 0 { records.append(ReverseMapRecord(physical: 1 << 30 + i * 256, length: 16384, metadata: "inodes")) }
        }
        let map = FilesystemReverseMap(mountpoint: "/mnt", device: "253:0", type: "xfs", records: records, paths: [:], notes: [])
        let empty = FilesystemReverseMap(mountpoint: "/mnt", device: "253:0", type: "xfs", records: [], paths: [:], notes: [])
        let perRecord = Double(try Self.streamed([map]).count - Self.streamed([empty]).count) / Double(records.count)
        #expect(perRecord < 20, "\(perRecord) bytes a record")
    }

    /// The binary search over sorted starts finds exactly what a scan of every record finds,
    /// in capture order, for random range sets (several ranges, touching, empty, at the top).
    @Test func rangeQueriesEqualAScan() {
        var rng = SplitMix64(seed: 42)
        for round in 0..<40 {
            let records = Self.randomRecords(400, seed: UInt64(round) * 31 + 5)
            let map = FilesystemReverseMap(mountpoint: "/m", device: "1:1", type: "xfs", records: records, paths: [:], notes: [])
            for _ in 0..<30 {
                var ranges: [ByteRange] = []
                for _ in 0..<(rng.next() % 4) {
                    let start = rng.next() % 3 == 0 ? UInt64.max - rng.next() % (1 << 21) : rng.next() % (1 << 40)
                    ranges.append(ByteRange(offset: start, length: min(rng.next() % (1 << (rng.next() % 36)), UInt64.max - start)))
                }
                let role = HolderRole.allCases[Int(rng.next() % 3)]
                let merged = ByteRange.merged(ranges)
                let want = records.filter { $0.role == role && !ByteRange.overlapping(merged, $0.physical, $0.end).isEmpty }
                var got: [ReverseMapRecord] = []
                map.forEachRecord(role: role, overlapping: ranges) { got.append($0) }
                #expect(got == want, "round \(round), \(ranges)")
            }
        }
    }

    /// Each kind of damage to a compact map is named, and the file refused as corrupt.
    @Test(arguments: [
        ("\"gap\":[0,0,0]", "\"gap\":[0,0]", "different lengths"),
        ("\"inode\":[5,1]", "\"inode\":[5]", "inode entries"),
        ("\"code\":[0,0,48]", "\"code\":[0,0,4016]", "metadata kind"),
        ("\"gap\":[0,0,0]", "\"gap\":[0,0,-8293]", "past the largest byte offset"),
        ("\"shared\":[0]", "\"shared\":[99]", "shares 99"),
        ("\"code\":[0,0,48]", "\"code\":[0,0,\"x\"]", "corrupt snapshot"),
    ])
    func damagedMapIsACorruptSnapshot(original: String, damaged: String, message: String) throws {
        let records = [ReverseMapRecord(physical: 0, length: 4096, inode: 5), ReverseMapRecord(physical: 4096, length: 4096, inode: 6),
                       ReverseMapRecord(physical: 8192, length: 4096, metadata: "log")]
        let map = FilesystemReverseMap(mountpoint: "/mnt", device: "253:0", type: "xfs", records: records, paths: ["5": ["/mnt/a"], "6": ["/mnt/b"]], notes: [])
        let text = String(decoding: try Self.streamed([map]), as: UTF8.self)
        #expect(text.contains(original), "\(text)")
        let broken = text.replacing(original, with: damaged)
        #expect { try SnapshotCodec.decode(Data(broken.utf8), file: "s.json") } throws: { error in
            let e = error as? SnapshotFileError
            return e?.message.hasPrefix("corrupt snapshot") == true && e?.description.contains(message) == true
                && e?.description.contains("\n") == false
        }
    }

    /// A version 1-3 record that runs past 2^64 bytes is refused when the map is read (the
    /// index adds physical and length), not a crash.
    @Test func anOldRecordPastTheLargestOffsetIsRefused() throws {
        let record = String(decoding: try JSONEncoder().encode(ReverseMapRecord(physical: .max, length: 2, inode: 5)), as: UTF8.self)
        let json = "{\"mountpoint\":\"/mnt\",\"device\":\"253:0\",\"type\":\"xfs\",\"notes\":[],\"records\":[\(record)],\"paths\":{}}"
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(FilesystemReverseMap.self, from: Data(json.utf8)) }
        let fine = json.replacing("\(UInt64.max)", with: "4096")
        #expect(try JSONDecoder().decode(FilesystemReverseMap.self, from: Data(fine.utf8)).paths(of: 5) == nil)
    }

    /// A name past PATH_MAX is not stored (a reader refuses one, so a hostile block of ever
    /// longer names cannot decode into gigabytes); the others are.
    @Test func aNamePastPathMaxIsLeftOut() throws {
        let long = "/mnt/" + String(repeating: "d/", count: 2100) + "f"
        let records = [ReverseMapRecord(physical: 0, length: 4096, inode: 5), ReverseMapRecord(physical: 4096, length: 4096, inode: 6)]
        let map = FilesystemReverseMap(mountpoint: "/mnt", device: "253:0", type: "xfs", records: records, paths: ["5": [long], "6": ["/mnt/b"]], notes: [])
        let snapshot = try SnapshotCodec.decode(Data(try Self.streamed([map])), file: "t")
        let read = try #require(snapshot.reverseMaps?.first)
        #expect(read.paths(of: 5) == nil)
        #expect(read.paths(of: 6) == ["/mnt/b"])
    }
}
