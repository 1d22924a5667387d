import Foundation
import StackModel
import Testing

/// What the live metadata readers rely on that is pure: the dm-cache rules per mode and for
/// cache blocks whose dirty state is not known, a live cache metadata walk over a synthetic
/// device, the consistency retries, the transient snapshot's reason, and files named as may
/// be lost where the outcome is unknown.
@Suite("Live dynamic metadata rules")
struct LiveDynamicMetadataTests {
    static let writeback = "c: 0 640 cache /dev/meta /dev/ssd /dev/slow 64 1 writeback smq 0"
    static let writethrough = "c: 0 640 cache /dev/meta /dev/ssd /dev/slow 64 1 writethrough smq 0"
    static let passthrough = "c: 0 640 cache /dev/meta /dev/ssd /dev/slow 64 1 passthrough smq 0"

    @Test func cacheModesWithoutTheMapping() throws {
        // Writethrough: the origin holds every block, so an origin sector is lost whether or not
        // a clean copy is cached, and the cache device holds only clean copies: degraded.
        let wt = try translator(Self.writethrough)
        #expect(summary(try wt.up(from: "slow", SectorRange(start: 100, length: 8))) == ["c 100+8 lost"])
        #expect(summary(try wt.up(from: "ssd", SectorRange(start: 0, length: 8))) == ["c 0+640 degraded"])
        #expect(try wt.down(from: "c", SectorRange(start: 100, length: 8)).map { "\($0.device):\($0.start)" } == ["slow:100"])
        // Passthrough: reads never go to the cache device.
        let pt = try translator(Self.passthrough)
        #expect(summary(try pt.up(from: "slow", SectorRange(start: 100, length: 8))) == ["c 100+8 lost"])
        #expect(try pt.up(from: "ssd", SectorRange(start: 0, length: 8)).isEmpty)
        // Writeback: dirty blocks may be anywhere on the cache device.
        let wb = try translator(Self.writeback)
        #expect(try wb.up(from: "slow", SectorRange(start: 100, length: 8)).map(\.outcome) == [.unknown])
        let hit = try wb.up(from: "ssd", SectorRange(start: 0, length: 8))
        #expect(summary(hit) == ["c 0+640 unknown unknown"] && hit[0].reason!.contains("dirty blocks may be the only copy"))
        // The metadata device: unknown in every mode.
        #expect(try wt.up(from: "meta", SectorRange(start: 0, length: 8)).map(\.outcome) == [.unknown])
    }

    @Test func cachedBlocksOfUnknownDirtiness() throws {
        var m = DynamicMappings()
        m.caches["c"] = CacheMapping(blockSectors: 64, entries: [.init(cacheBlock: 0, originBlock: 2, dirty: false)],
                                     dirtyUnknown: "writeback cache with 1 dirty block")
        let t = try translator(Self.writeback, mappings: m)
        // Its cached copy may be the only current one: unknown, with why.
        let cached = try t.up(from: "ssd", SectorRange(start: 8, length: 8))
        #expect(summary(cached) == ["c 136+8 unknown unknown"] && cached[0].reason!.contains("dirty or clean, not known"))
        // Its origin copy: the cache holds a current copy either way.
        #expect(summary(try t.up(from: "slow", SectorRange(start: 136, length: 8))) == ["c 136+8 degraded"])
        // An uncached block is on the origin only.
        #expect(summary(try t.up(from: "slow", SectorRange(start: 200, length: 8))) == ["c 200+8 lost"])
        // Unmapped cache blocks hold nothing.
        #expect(try t.up(from: "ssd", SectorRange(start: 64, length: 8)).isEmpty)
    }

    @Test func liveDirtinessFollowsModeAndStatus() throws {
        func target(_ line: String) throws -> CacheTarget { try #require(try TableSet.parse(line).tables["c"]?.targets[0].kind as? CacheTarget) }
        // dmsetup status words after `start length cache` (cache.rst "Status"): #dirty is the 11th.
        let clean = "8 27/1024 64 3/80 10 20 30 40 0 3 0 1 writeback 2 migration_threshold 2048 smq 0 rw -".split(separator: " ").map(String.init)
        var dirty = clean
        dirty[10] = "2"
        // A writethrough cache still holding dirty blocks (switched from writeback) is not clean.
        #expect(try target(Self.writethrough).liveDirtiness(status: dirty)?.contains("writethrough cache with 2 dirty blocks") == true)
        #expect(try target(Self.writethrough).liveDirtiness(status: clean) == nil)
        #expect(try target(Self.passthrough).liveDirtiness(status: []) == nil)
        #expect(try target(Self.writeback).liveDirtiness(status: clean) == nil)
        #expect(try target(Self.writeback).liveDirtiness(status: dirty)?.contains("2 dirty blocks") == true)
        #expect(try target(Self.writeback).liveDirtiness(status: ["Fail"]) != nil)
        #expect(try target(Self.writeback).mode == .writeback && target(Self.passthrough).mode == .passthrough)
    }

    @Test func transientSnapshotsSayWhy() throws {
        let n = try #require(try TableSet.parse("s: 0 80 snapshot /dev/o /dev/c N 8").tables["s"]?.targets[0].kind as? SnapshotTarget)
        let p = try #require(try TableSet.parse("s: 0 80 snapshot /dev/o /dev/c P 8").tables["s"]?.targets[0].kind as? SnapshotTarget)
        #expect(n.unreadableStore?.contains("kernel memory") == true)
        #expect(p.unreadableStore == nil)
    }

    // MARK: a cache metadata device

    static func put32(_ b: inout [UInt8], _ v: UInt32, _ o: Int) { for i in 0..<4 { b[o + i] = UInt8((v >> (8 * UInt32(i))) & 0xff) } }
    static func put64(_ b: inout [UInt8], _ v: UInt64, _ o: Int) { for i in 0..<8 { b[o + i] = UInt8((v >> (8 * UInt64(i))) & 0xff) } }
    static func seal(_ b: inout [UInt8], xor: UInt32) { put32(&b, CRC32C.update(~0, b[4..<4096]) ^ xor, 0) }

    /// Block 0 superblock, block 1 a btree leaf with one array block, block 2 that array
    /// block: cache block 0 → origin 2, 1 unmapped, 2 → origin 9 (dm-cache-metadata.c
    /// layout, persistent-data checksums).
    static func cacheMetadataImage(cacheBlocks: UInt32 = 4) -> [UInt8] {
        var sb = [UInt8](repeating: 0, count: 4096), leaf = sb, array = sb
        put64(&sb, 0o6142003, 32); put32(&sb, 2, 40); put64(&sb, 1, 192); put32(&sb, 64, 232); put32(&sb, cacheBlocks, 240)
        seal(&sb, xor: 9_031_977)
        put32(&leaf, 2, 4); put64(&leaf, 1, 8); put32(&leaf, 1, 16); put32(&leaf, 126, 20); put32(&leaf, 8, 24)
        put64(&leaf, 0, 32); put64(&leaf, 2, 32 + 126 * 8)
        seal(&leaf, xor: 121_107)
        put32(&array, 509, 4); put32(&array, 3, 8); put32(&array, 8, 12); put64(&array, 2, 16)
        put64(&array, 2 << 16 | 1, 24); put64(&array, 0, 32); put64(&array, 9 << 16 | 3, 40)
        seal(&array, xor: 595_846_735)
        return sb + leaf + array
    }

    @Test func crc32cIsTheKernelsRawUpdate() {
        // The standard check value of CRC-32C("123456789") is 0xE3069283, after final inversion.
        #expect(~CRC32C.update(~0, Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func cacheMetadataWalk() throws {
        let image = Self.cacheMetadataImage()
        let block = { (n: UInt64) in Array(image[Int(n) * 4096..<Int(n + 1) * 4096]) }
        let sb = try CacheMetadata.superblock(block(0), source: "meta")
        #expect(sb.version == 2 && sb.mappingRoot == 1 && sb.dataBlockSectors == 64 && sb.cacheBlocks == 4)
        let m = try CacheMetadata.mappings(sb, source: "meta", block: block)
        #expect(m.blockSectors == 64 && m.entries.map { "\($0.cacheBlock)>\($0.originBlock)" } == ["0>2", "2>9"])
        // A block rewritten since the superblock was read fails its checksum.
        var torn = image
        torn[2 * 4096 + 40] ^= 0xff
        #expect(throws: MappingParseError.self) { try CacheMetadata.mappings(sb, source: "meta") { n in Array(torn[Int(n) * 4096..<Int(n + 1) * 4096]) } }
        var badSuper = block(0)
        badSuper[240] = 5
        #expect(throws: MappingParseError.self) { try CacheMetadata.superblock(badSuper, source: "meta") }
        // A mapping beyond the cache's blocks is corruption.
        let small = Self.cacheMetadataImage(cacheBlocks: 2)
        let sb2 = try CacheMetadata.superblock(Array(small[0..<4096]), source: "meta")
        #expect(throws: MappingParseError.self) { try CacheMetadata.mappings(sb2, source: "meta") { n in Array(small[Int(n) * 4096..<Int(n + 1) * 4096]) } }
    }

    // MARK: consistency

    @Test func consistentReadRetriesWhileTheStampMoves() throws {
        var stamps: [[UInt8]] = [[1], [2], [2], [2]]
        var bodies = 0
        let value = try ConsistentRead.run(source: "x", stamp: { stamps.removeFirst() }) { bodies += 1; return bodies }
        #expect(value == 2 && bodies == 2, "the first read raced a commit and was thrown away")
        // A body failing on a block the commit reused is retried too.
        stamps = [[1], [2], [2], [2]]
        bodies = 0
        let retried = try ConsistentRead.run(source: "x", stamp: { stamps.removeFirst() }) { () throws -> Int in
            bodies += 1
            if bodies == 1 { throw MappingParseError(source: "x", message: "checksum") }
            return bodies
        }
        #expect(retried == 2)
        var n: UInt8 = 0
        #expect(throws: MappingParseError.self) { try ConsistentRead.run(attempts: 3, source: "x", stamp: { n += 1; return [n] }) { 0 } }
        var reads = [[1], [1, 2], [1, 2]]
        #expect(try ConsistentRead.stable(source: "x") { reads.removeFirst() } == [1, 2])
        var growing = 0
        #expect(throws: MappingParseError.self) { try ConsistentRead.stable(source: "x") { () -> Int in growing += 1; return growing } }
    }

    // MARK: impact

    /// `top` made a writeback cache over volumes a (cache) and b (origin) of pmem0, with no
    /// mapping: losing a cache sector names the filesystem's files as may be lost.
    @Test func unknownRangesNameTheFilesThatMayBeLost() throws {
        let inventory = HolderRecordTests.machine(topTable: ["0 4096 cache 253:3 253:0 253:1 64 1 writeback smq 0"])
        var mappings = DynamicMappings()
        mappings.unavailable["top"] = "cache top's metadata could not be read live: test"
        let planner = ImpactPlanner(inventory: inventory, mappings: mappings, reverseMap: { _, _, ranges in
            let all = [ReverseMapRecord(physical: 4096, length: 1 << 20, inode: 131, offset: 0),
                       ReverseMapRecord(physical: 4096 + 1 << 20, length: 1 << 20, metadata: "free space")]
            return ReverseMapAnswer(records: all.filter { r in ranges.contains { $0.offset < r.end && r.physical < $0.end } }, paths: [131: ["/mnt/x/a"]])
        }, users: { _, _ in [] })
        let impact = try planner.plan(leaf: "pmem0", range: SectorRange(start: 16, length: 1), event: .failure)
        #expect(impact.filesystems.isEmpty, "nothing is known lost, so nothing is done")
        let may = try #require(impact.mayLose.first)
        #expect(may.mountpoint == "/mnt/x" && may.files.map(\.path) == ["/mnt/x/a"] && may.reasons.count == 1 && may.reasons[0].hasSuffix("could not be read live: test"))
        #expect(impact.notices.contains { $0.action == .none && $0.reason.contains("may_lose of /mnt/x") })
        #expect(impact.summary.hasSuffix("outcome unknown on /mnt/x: 1 file may be lost"))
    }
}

/// The live cache walk against metadata in the kernel's own format, written by
/// thin-provisioning-tools' `cache_restore` (skipped where it is not installed).
@Suite("Cache metadata written by cache_restore")
struct CacheRestoreTests {
    static let tool = ["/usr/sbin/cache_restore", "/usr/bin/cache_restore"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: tool != nil, "needs cache_restore (thin-provisioning-tools)"))
    func readsWhatCacheRestoreWrote() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-cache-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let xml = dir.appendingPathComponent("in.xml"), image = dir.appendingPathComponent("meta.img")
        // Enough mappings for several array blocks (509 entries each) under one btree leaf.
        var lines = ["<superblock uuid=\"\" block_size=\"128\" nr_cache_blocks=\"2048\" policy=\"smq\" hint_width=\"4\">", "<mappings>"]
        var expected: [String] = []
        for c in Swift.stride(from: 0, to: 2048, by: 3) {
            lines.append("<mapping cache_block=\"\(c)\" origin_block=\"\(c * 7 + 1)\" dirty=\"\(c % 2 == 0)\"/>")
            expected.append("\(c)>\(c * 7 + 1)")
        }
        lines += ["</mappings>", "</superblock>"]
        try lines.joined(separator: "\n").write(to: xml, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: image.path, contents: nil)
        let h = try FileHandle(forWritingTo: image)
        try h.truncate(atOffset: 8 << 20)
        try h.close()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.tool!)
        p.arguments = ["-i", xml.path, "-o", image.path]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let bytes = [UInt8](try Data(contentsOf: image))
        let block = { (n: UInt64) in Array(bytes[Int(n) * 4096..<Int(n + 1) * 4096]) }
        let sb = try CacheMetadata.superblock(block(0), source: image.path)
        #expect(sb.dataBlockSectors == 128 && sb.cacheBlocks == 2048)
        let m = try CacheMetadata.mappings(sb, source: image.path, block: block)
        #expect(m.entries.sorted { $0.cacheBlock < $1.cacheBlock }.map { "\($0.cacheBlock)>\($0.originBlock)" } == expected)
    }
}
