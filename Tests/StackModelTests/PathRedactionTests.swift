import FoundationEssentials
import StackModel
import TestSupport
import Testing

/// `capture --redact-paths`: SipHash-2-4 against the paper's test vectors, tokens per path
/// component, and the file-size column that clips lost ranges (issue 18 points 11 and 5).
@Suite("Path redaction and file sizes")
struct PathRedactionTests {
    static let key = SipHash24(hex: "000102030405060708090a0b0c0d0e0f")!

    @Test func sipHashMatchesThePapersVectors() {
        #expect(Self.key.hash(Array(0..<15) as [UInt8]) == 0xa129ca6149be45e5)
        #expect(Self.key.hash([UInt8]()) == 0x726fdb47dd0e0e31)
        #expect(Self.key.hash(Array(0..<8) as [UInt8]) == 0x93f5f5799a932462)
        #expect(Self.key.hex == "000102030405060708090a0b0c0d0e0f")
        #expect(SipHash24(hex: "00") == nil && SipHash24(hex: String(repeating: "g", count: 32)) == nil)
    }

    @Test func eachComponentIsOneTokenEverywhere() {
        let r = PathRedactor(key: Self.key)
        let mount = r.path("/mnt/x"), file = r.path("/mnt/x/secret/a")
        #expect(file.hasPrefix(mount + "/") && !file.contains("secret") && file.split(separator: "/").count == 4)
        #expect(file.split(separator: "/").allSatisfy { $0.count == 17 && $0.hasPrefix("h") })
        #expect(r.path("/") == "/" && r.path("/mnt/x") == mount)
        #expect(r.names[String(file.split(separator: "/")[2])] == "secret")
        #expect(r.nameMap.split(separator: "\n").count == 4)
        // Another key, other tokens.
        #expect(PathRedactor(key: SipHash24(k0: 1, k1: 2)).path("/mnt/x") != mount)
        // Paths in a note: every word that starts with /.
        #expect(r.text("GETFSMAP of /mnt/x failed (first /mnt/x/secret: EACCES)") == "GETFSMAP of \(mount) failed (first \(r.path("/mnt/x/secret")): EACCES)")
    }

    /// A record's file size clips the lost bytes; a snapshot keeps the sizes (`file_sizes`)
    /// through its encoding and hands them on with the records.
    @Test func fileSizesClipLostRangesAndSurviveTheSnapshot() throws {
        let map = FilesystemReverseMap(mountpoint: "/mnt/x", device: "253:2", type: "ext4",
                                       records: [ReverseMapRecord(physical: 4096, length: 4096, inode: 131, offset: 0, fileSize: 1)],
                                       paths: ["131": ["/mnt/x/a"]], notes: [])
        #expect(map.sizes == [131: 1])
        var snapshot = HolderRecordTests.machine().snapshot
        snapshot.reverseMaps = [map]
        let decoded = try SnapshotCodec.decode(try SnapshotCodec.encode(snapshot), file: "t")
        let back = try #require(decoded.reverseMaps?.first)
        #expect(back.sizes == [131: 1])
        var seen: [UInt64?] = []
        back.forEachRecord(role: .data, overlapping: [ByteRange(offset: 0, length: 1 << 20)]) { seen.append($0.fileSize) }
        #expect(seen == [1])
        let planner = ImpactPlanner(inventory: HolderRecordTests.machine(), reverseMap: { _, role, ranges in
            role == .data ? back.answer(role: role, ranges: ranges) : ReverseMapAnswer(records: [], paths: [:])
        }, users: { _, _ in [] })
        // pmem0 sectors 8+8 are top's bytes 4096+4096: the file's one block.
        let impact = try planner.plan(leaf: "pmem0", range: SectorRange(start: 8, length: 8), event: .failure)
        #expect(impact.filesystems.first?.files.first?.extents == [ByteRange(offset: 0, length: 1)])
        // A piece wholly past the end of the file loses none of its bytes.
        let past = ImpactPlanner(inventory: HolderRecordTests.machine(), reverseMap: { _, _, _ in
            ReverseMapAnswer(records: [ReverseMapRecord(physical: 4096, length: 8192, inode: 131, offset: 0, fileSize: 4096)], paths: [131: ["/mnt/x/a"]])
        }, users: { _, _ in [] })
        let tail = try past.plan(leaf: "pmem0", range: SectorRange(start: 16, length: 8), event: .failure)
        #expect(tail.filesystems.first?.files.isEmpty == true)
    }

    /// The streamed capture writes the sizes as the whole encoding does.
    @Test func theStreamWriterWritesFileSizes() throws {
        var bytes: [UInt8] = []
        var writer = try SnapshotStreamWriter(HolderRecordTests.machine().snapshot) { bytes += $0 }
        try writer.beginMap(mountpoint: "/mnt/x", device: "253:2", type: "ext4")
        try writer.append(ReverseMapRecord(physical: 4096, length: 4096, inode: 131, offset: 0, fileSize: 7))
        try writer.endMap(paths: [131: ["/mnt/x/a"]], notes: [])
        try writer.finish(fileUses: [])
        let decoded = try SnapshotCodec.decode(Data(bytes), file: "t")
        #expect(decoded.reverseMaps?.first?.sizes == [131: 7])
    }
}
