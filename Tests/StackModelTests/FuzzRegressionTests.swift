import StackModel
import Testing

/// Inputs that crashed (or exhausted) dmstack, found by an outside fuzzing campaign and by the
/// libFuzzer harnesses under Tests/Fuzz (scripts/fuzz.sh): each is a clear error or a bounded
/// answer now. The seed corpora hold the same inputs, so the fuzzers start from them.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static func le(_ b: inout [UInt8], _ v: UInt64, at o: Int, bytes: Int) {
        for i in 0..<bytes { b[o + i] = UInt8((v >> (8 * UInt64(i))) & 0xff) }
    }

    /// A reader over `image` that records the largest read asked for, in sectors.
    final class Recorder: @unchecked Sendable {
        let image: [UInt8]
        var largest: UInt64 = 0
        init(_ image: [UInt8]) { self.image = image }
        func read(_ sector: UInt64, _ count: UInt64) throws -> [UInt8] {
            largest = max(largest, count)
            let start = Int(min(sector * 512, UInt64(image.count)))
            return Array(image[start..<min(image.count, start + Int(count) * 512)])
        }
    }

    // MARK: device names

    @Test func aDoubledSlashIsOneAndCanonicalNamesStayThemselves() throws {
        for name in ["/dev//dev/a", "/dev/mapper//x", "//dev/x", "/dev/a", "/dev/mapper/m", "x", "dev/a", "/srv//img"] {
            let once = Topology.plainName(name)
            #expect(Topology.plainName(once) == once, "\(name) → \(once)")
        }
        #expect(Topology.plainName("/dev//dev/a") == "dev/a")
        #expect(Topology.plainName("//dev/mapper//x") == "x")
    }

    @Test func aMemberWrittenWithADoubledSlashIsFoundByItsOwnName() throws {
        let t = try translator("0 8 linear /dev//dev/a 0\n")
        for node in t.topology.nodes {
            // Every node is found again by the name it reports (the fuzz harness's walk).
            #expect(try t.topology.resolve(node.name) == t.topology.resolve(node.name))
            _ = try t.up(from: node.name, SectorRange(start: 0, length: 8))
        }
        #expect(summary(try t.up(from: "/dev//dev/a", SectorRange(start: 0, length: 8))) == ["top 0+8 lost"])
        #expect(summary(try t.up(from: "dev/a", SectorRange(start: 0, length: 8))) == ["top 0+8 lost"])
    }

    @Test func aRaid1WithChunkZeroUnderADoubledSlashName() throws {
        let t = try translator("m: 0 8 raid raid1 1 0 2 - 7:0 - 7:1\n/dev//dev/x: 0 8 linear m 0\n")
        let rows = try t.up(from: "7:0", SectorRange(start: 0, length: 8))
        #expect(rows.contains { $0.device == "dev/x" && $0.outcome == .degraded })
        for node in t.topology.nodes where node.isLeaf { _ = try t.up(from: node.name, SectorRange(start: 0, length: maxSectors)) }
        #expect(summary(try t.down(from: "/dev//dev/x", SectorRange(start: 0, length: 8))).sorted() == ["7:0 0+8 degraded", "7:1 0+8 degraded"])
    }

    /// Found by the table fuzzer (a translation that took 88 s): a raid that lists one device
    /// twice. md refuses it (bind_rdev_to_array, -EEXIST), so the table is refused too.
    @Test(arguments: ["p: 0 819200 raid raid5_ls 1 128 3 - /dev/loop2 - /dev/loop4 - /dev/loop4\n",
                      "p: 0 8 raid raid1 1 0 2 /dev/a /dev/b - /dev/a\n",
                      "p: 0 8 raid raid1 1 0 2 /dev/a /dev/a - /dev/b\n"])
    func aRaidListingADeviceTwiceIsRefused(table: String) {
        #expect { _ = try TableSet.parse(table) } throws: { "\($0)".contains("the kernel refuses a device twice") || "\($0)".contains("is both its metadata and its data device") }
    }

    // MARK: binary metadata

    static func cowImage(chunk: UInt64, exceptions: [(UInt64, UInt64)]) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: Int(chunk) * 512 * 2)
        le(&b, UInt64(SnapshotExceptionStore.magic), at: 0, bytes: 4)
        le(&b, 1, at: 4, bytes: 4); le(&b, 1, at: 8, bytes: 4); le(&b, chunk, at: 12, bytes: 4)
        let area = Int(chunk) * 512
        for (i, e) in exceptions.enumerated() {
            le(&b, e.0, at: area + i * 16, bytes: 8); le(&b, e.1, at: area + i * 16 + 8, bytes: 8)
        }
        return b
    }

    @Test func aCowStoreWithAHugeChunkIsReadAMegabyteAtATime() throws {
        // 2^20 sectors (512 MiB) per chunk: the metadata area was one read of that size.
        var header = [UInt8](repeating: 0, count: 512)
        Self.le(&header, UInt64(SnapshotExceptionStore.magic), at: 0, bytes: 4)
        Self.le(&header, 1, at: 4, bytes: 4); Self.le(&header, 1, at: 8, bytes: 4); Self.le(&header, 1 << 20, at: 12, bytes: 4)
        let short = Recorder(header)
        #expect(throws: MappingParseError.self) { try SnapshotExceptionStore.read(source: "cow", short.read) }
        #expect(short.largest <= 2048)
        // A real store with 2^20-sector chunks whose first area holds two exceptions then the end:
        // the reader stops after the first megabyte of the area.
        var image = header + [UInt8](repeating: 0, count: (1 << 20) * 512 - 512 + 2048 * 512)
        let area = (1 << 20) * 512
        Self.le(&image, 3, at: area, bytes: 8); Self.le(&image, 2, at: area + 8, bytes: 8)
        Self.le(&image, 1, at: area + 16, bytes: 8); Self.le(&image, 3, at: area + 24, bytes: 8)
        let r = Recorder(image)
        let store = try SnapshotExceptionStore.read(source: "cow", r.read)
        #expect(r.largest <= 2048)
        #expect(store.exceptions.map { [$0.from, $0.to] } == [[1, 3], [3, 2]])
        #expect(store.cowChunk(forOrigin: 3) == 2)
    }

    @Test(arguments: [UInt64(1) << 24, 3, 1 << 22, 0])
    func aCowChunkSizeTheKernelRefusesIsAnError(chunk: UInt64) {
        var header = [UInt8](repeating: 0, count: 512)
        Self.le(&header, UInt64(SnapshotExceptionStore.magic), at: 0, bytes: 4)
        Self.le(&header, 1, at: 4, bytes: 4); Self.le(&header, 1, at: 8, bytes: 4); Self.le(&header, chunk, at: 12, bytes: 4)
        let r = Recorder(header)
        #expect { try SnapshotExceptionStore.read(source: "cow", r.read) } throws: { e in
            "\(e)".contains("implausible chunk size \(chunk) sectors")
        }
        #expect(r.largest == 1)
    }

    @Test func aSmallCowStoreStillReadsItsExceptions() throws {
        let r = Recorder(Self.cowImage(chunk: 8, exceptions: [(5, 3), (0, 2), (9, 4)]))
        let store = try SnapshotExceptionStore.read(source: "cow", r.read)
        #expect(store.exceptions.map { [$0.from, $0.to] } == [[0, 2], [5, 3], [9, 4]])
        #expect(store.metadataChunks == [0, 1])
    }

    static func integritySuperblock(log2Interleave: UInt8 = 15, tagSize: UInt16 = 4, journalSections: UInt32 = 8,
                                    provided: UInt64 = 1 << 20, log2SectorsPerBlock: UInt8 = 0) -> [UInt8] {
        var sb = [UInt8](repeating: 0, count: 512)
        for (i, c) in "integrt".utf8.enumerated() { sb[i] = c }
        sb[8] = 1; sb[9] = log2Interleave
        le(&sb, UInt64(tagSize), at: 10, bytes: 2); le(&sb, UInt64(journalSections), at: 12, bytes: 4)
        le(&sb, provided, at: 16, bytes: 8); sb[28] = log2SectorsPerBlock
        return sb
    }

    @Test func anIntegrityTableStartingAt2To54Sectors() throws {
        let g = try IntegrityGeometry.read(source: "int", Recorder(Self.integritySuperblock()).read)
        var m = DynamicMappings()
        m.integrity["top"] = g
        let t = try translator("0 8 integrity 7:0 18014398509481984 4 J 0\n", mappings: m)
        let rows = try t.down(from: "top", SectorRange(start: 0, length: 8))
        #expect(rows.map { $0.device } == ["7:0"])
        #expect(rows.first.map { $0.start } == maxSectors + g.dataSector(0))
        _ = try t.up(from: "7:0", SectorRange(start: 0, length: maxSectors))
    }

    @Test func anIntegritySuperblockWhoseLayoutPassesAnyDeviceIsAnError() {
        // 65535-byte tags for every sector of 2^31-sector areas: the tag runs alone overflow.
        let sb = Self.integritySuperblock(log2Interleave: 31, tagSize: 65535, provided: maxSectors)
        #expect { try IntegrityGeometry.read(source: "int", Recorder(sb).read) } throws: { e in
            "\(e)".contains("beyond any device")
        }
    }

    @Test func anIntegrityTableLongerThanItsSuperblockProvidesIsUnknown() throws {
        let g = try IntegrityGeometry.read(source: "int", Recorder(Self.integritySuperblock(provided: 64)).read)
        var m = DynamicMappings()
        m.integrity["top"] = g
        let t = try translator("0 18014398509481984 integrity 7:0 0 4 J 0\n", mappings: m)
        let rows = try t.down(from: "top", SectorRange(start: 0, length: maxSectors))
        #expect(rows.count == 1 && rows[0].outcome == .unknown)
        #expect(rows[0].reason?.contains("superblock provides 64") == true)
    }

    @Test func aWholeIntegrityDeviceOfTinyAreasIsBounded() throws {
        // 8-sector areas over 2^40 sectors: 2^37 areas, one extent each, were all expanded.
        let g = try IntegrityGeometry.read(source: "int", Recorder(Self.integritySuperblock(log2Interleave: 3, provided: 1 << 40)).read)
        var m = DynamicMappings()
        m.integrity["top"] = g
        let t = try translator("0 1099511627776 integrity 7:0 0 4 J 0\n", mappings: m)
        let down = try t.down(from: "top", SectorRange(start: 0, length: 1 << 40))
        #expect(down.count <= PieceBudget.defaultLimit + 1)
        #expect(down.last?.outcome == .unknown && down.last?.reason?.contains("pieces") == true)
        let up = try t.up(from: "7:0", SectorRange(start: 0, length: maxSectors))
        #expect(up.contains { $0.outcome == .unknown })
    }

    @Test func aWritecacheWhoseStartSectorIs2To54() throws {
        var image = [UInt8](repeating: 0, count: 8192)
        Self.le(&image, UInt64(WritecacheMapping.magic), at: 0, bytes: 4)
        Self.le(&image, 1, at: 4, bytes: 4); Self.le(&image, 4096, at: 8, bytes: 4)
        Self.le(&image, 2, at: 16, bytes: 8); Self.le(&image, 10, at: 24, bytes: 8)
        Self.le(&image, 64, at: 64, bytes: 8); Self.le(&image, 1, at: 72, bytes: 8)
        let mapping = try WritecacheMapping.read(source: "wc", Recorder(image).read)
        var m = DynamicMappings()
        m.writecaches["top"] = mapping
        let t = try translator("0 1024 writecache s 7:0 7:1 4096 2 start_sector 18014398509481984\n", mappings: m)
        for node in t.topology.nodes where node.isLeaf { _ = try t.up(from: node.name, SectorRange(start: 0, length: maxSectors)) }
        let rows = try t.down(from: "top", SectorRange(start: 64, length: 8))
        #expect(rows.contains { $0.device == "7:1" && $0.start == maxSectors + mapping.metadataSectors })
    }

    // MARK: layouts whose whole-device answer grew with the chunk count

    @Test func aWholeStripedDeviceOf2To51ChunksIsOneRunPerLeg() throws {
        let t = try translator("0 18014398509481984 striped 2 8 7:0 0 7:1 0\n")
        let up = try t.up(from: "7:0", SectorRange(start: 0, length: maxSectors))
        #expect(summary(up) == ["top 0+8/16×1125899906842624 lost"])
        let down = try t.down(from: "top", SectorRange(start: 0, length: maxSectors))
        #expect(down.count == 2)
    }

    // MARK: dynamic targets walked block by block

    @Test func aWholeDeviceOverSparseMetadataIsAFewPieces() throws {
        // One cached writecache block, two snapshot exceptions and one thin range mapping, each
        // under a 2^54-sector table: the walk was one step per block (2^51 of them).
        var image = [UInt8](repeating: 0, count: 8192)
        Self.le(&image, UInt64(WritecacheMapping.magic), at: 0, bytes: 4)
        Self.le(&image, 1, at: 4, bytes: 4); Self.le(&image, 4096, at: 8, bytes: 4)
        Self.le(&image, 1, at: 16, bytes: 8); Self.le(&image, 10, at: 24, bytes: 8)
        Self.le(&image, 64, at: 64, bytes: 8); Self.le(&image, 1, at: 72, bytes: 8)
        var m = DynamicMappings()
        m.writecaches["wc"] = try WritecacheMapping.read(source: "wc", Recorder(image).read)
        m.snapshots["snap"] = try SnapshotExceptionStore.read(source: "cow", Recorder(Self.cowImage(chunk: 8, exceptions: [(5, 3), (9, 4)])).read)
        let xml = "<superblock uuid=\"\" time=\"0\" transaction=\"1\" data_block_size=\"128\" nr_data_blocks=\"140737488355328\">\n  <device dev_id=\"1\">\n    <range_mapping origin_begin=\"10\" data_begin=\"0\" length=\"1099511627776\" time=\"0\"/>\n  </device>\n</superblock>\n"
        m.thinPools["pool"] = try ThinPoolMapping.parseThinDump(Array(xml.utf8))
        let t = try translator("""
            wc: 0 18014398509481984 writecache s 7:0 7:1 4096 0
            snap: 0 18014398509481984 snapshot 7:2 7:3 P 8
            pool: 0 18014398509481984 thin-pool 7:4 7:5 128 0
            thin: 0 18014398509481984 thin pool 1
            """, mappings: m)
        let wc = try t.down(from: "wc", SectorRange(start: 0, length: maxSectors))
        #expect(summary(wc).sorted() == ["7:0 0+64 lost", "7:0 72+18014398509481912 lost", "7:1 \(m.writecaches["wc"]!.metadataSectors)+8 lost"])
        let snap = try t.down(from: "snap", SectorRange(start: 0, length: maxSectors))
        #expect(snap.count == 5)
        #expect(snap.contains { $0.device == "7:3" && $0.start == 24 && $0.length == 8 })
        let thin = try t.down(from: "thin", SectorRange(start: 0, length: maxSectors))
        #expect(thin.count <= 4)
        #expect(thin.contains { $0.device == "7:5" && $0.start == 0 && $0.length == (1 << 40) * 128 })
    }
}
