import Foundation
import StackModel
import Testing

/// One test per target family, each checking both directions and the redundancy outcome.
@Suite("Per-target translation")
struct TargetTranslationTests {
    @Test func linearSegmentsAndOffsets() throws {
        let t = try translator("""
            lv: 0 100 linear /dev/a 1000
            lv: 100 50 linear /dev/b 0
            lv: 150 50 linear /dev/a 0
            """)
        #expect(summary(try t.up(from: "/dev/a", SectorRange(start: 990, length: 20))) == ["lv 0+10 lost"])
        #expect(summary(try t.up(from: "a", SectorRange(start: 40, length: 20))) == ["lv 190+10 lost"])
        let down = try t.down(from: "lv", SectorRange(start: 95, length: 60))
        #expect(down.map { "\($0.device):\($0.start)+\($0.length)" } == ["a:0+5", "a:1095+5", "b:0+50"])
        #expect(down.allSatisfy { $0.outcome == .lost })
    }

    @Test(arguments: [
        "0 100 crypt aes-xts-plain64 :64:logon:k 0 /dev/a 4096 1 allow_discards",
        "0 100 flakey /dev/a 4096 30 0",
        "0 100 partition /dev/a 4096",
        "0 100 linear /dev/a 4096",
    ])
    func oneToOneTargetsApplyTheirOffset(line: String) throws {
        let t = try translator(line)
        #expect(summary(try t.up(from: "/dev/a", SectorRange(start: 4100, length: 4))) == ["top 4+4 lost"])
        #expect(try t.down(from: "top", SectorRange(start: 4, length: 4)).map(\.start) == [4100])
    }

    @Test func delayNeedsEveryDevice() throws {
        let t = try translator("0 100 delay /dev/r 0 10 /dev/w 50 20")
        #expect(summary(try t.up(from: "w", SectorRange(start: 50, length: 10))) == ["top 0+10 lost"])
        #expect(try t.down(from: "top", SectorRange(start: 0, length: 1)).map(\.device) == ["r", "w"])
    }

    @Test func mirrorLegIsDegradedAndLogIsUnknown() throws {
        let t = try translator("0 100 mirror disk 2 /dev/log 1024 2 /dev/a 0 /dev/b 8 1 handle_errors")
        #expect(summary(try t.up(from: "a", SectorRange(start: 0, length: 10))) == ["top 0+10 degraded"])
        #expect(summary(try t.up(from: "b", SectorRange(start: 8, length: 10))) == ["top 0+10 degraded"])
        let log = try t.up(from: "log", SectorRange(start: 0, length: 1))
        #expect(log.count == 1 && log[0].outcome == .unknown && log[0].reason!.contains("log device"))
        #expect(try t.down(from: "top", SectorRange(start: 5, length: 1)).map { "\($0.device):\($0.start)" } == ["a:5", "b:13"])
    }

    @Test func multipathPathsAreCopies() throws {
        let t = try translator("0 1000 multipath 1 queue_if_no_path 0 2 1 round-robin 0 1 1 8:16 1000 round-robin 0 1 1 8:32 1000")
        #expect(summary(try t.up(from: "8:16", SectorRange(start: 0, length: 8))) == ["top 0+8 degraded"])
        let single = try translator("0 1000 multipath 0 0 1 1 round-robin 0 1 1 8:16 1000")
        #expect(summary(try single.up(from: "8:16", SectorRange(start: 0, length: 8))) == ["top 0+8 lost"])
    }

    @Test func raid1WithMetadataDevices() throws {
        let t = try translator("0 1000 raid raid1 1 0 2 /dev/m0 /dev/d0 /dev/m1 /dev/d1")
        #expect(summary(try t.up(from: "d0", SectorRange(start: 10, length: 10))) == ["top 10+10 degraded"])
        // A failed metadata device fails its leg as a whole (dm-raid).
        #expect(summary(try t.up(from: "m0", SectorRange(start: 0, length: 1))) == ["top 0+1000 degraded"])
        var d = Damage()
        d.lost.insert(SectorRange(start: 0, length: 8))
        var leg = Damage()
        leg.lost.insert(SectorRange(start: 500, length: 10))
        let r = t.propagate([try t.topology.resolve("m0"): d, try t.topology.resolve("d1"): leg])
        #expect(r[try t.topology.resolve("top")]!.lost.ranges == [SectorRange(start: 500, length: 10)])
    }

    @Test func raid0IsStriping() throws {
        let t = try translator("0 64 raid raid0 1 8 2 - /dev/a - /dev/b")
        #expect(summary(try t.up(from: "b", SectorRange(start: 0, length: 16))) == ["top 8+8/16×2 lost"])
    }

    @Test(arguments: ["zero", "error"])
    func zeroAndErrorHaveNoMembers(type: String) throws {
        let t = try translator("x: 0 100 \(type)\ny: 0 100 linear /dev/mapper/x 0")
        for device in ["x", "y"] {
            let rows = try t.down(from: device, SectorRange(start: 0, length: 10))
            #expect(rows.count == 1 && rows[0].device == "x" && rows[0].outcome == .unaffected, "\(rows)")
            #expect(rows[0].reason!.hasPrefix("\(type) target"))
        }
        #expect(try t.topology.lowerDevices(of: t.topology.resolve("x")).isEmpty)
    }

    @Test func opaqueAndIntegrityAreUnknownWithReason() throws {
        let t = try translator("""
            e: 0 100 era /dev/meta /dev/origin 8192
            i: 0 100 integrity /dev/x 0 4 J 0
            """)
        let rows = try t.up(from: "/dev/origin", SectorRange(start: 0, length: 1))
        #expect(rows.count == 1 && rows[0].outcome == .unknown && rows[0].reason!.contains("'era'"))
        let down = try t.down(from: "i", SectorRange(start: 0, length: 1))
        #expect(down.count == 1 && down[0].outcome == .unknown && down[0].reason!.contains("integrity"))
        let up = try t.up(from: "x", SectorRange(start: 0, length: 1))
        #expect(up.count == 1 && up[0].outcome == .unknown && up[0].reason!.contains("integrity i"))
    }

    // MARK: thin

    static let thinDump = """
        <superblock uuid="" time="1" transaction="2" version="2" data_block_size="128" nr_data_blocks="100">
          <device dev_id="1" mapped_blocks="5" transaction="0" creation_time="0" snap_time="1">
            <range_mapping origin_begin="0" data_begin="10" length="4" time="0"/>
            <single_mapping origin_block="7" data_block="20" time="0"/>
          </device>
          <device dev_id="2" mapped_blocks="4" transaction="1" creation_time="1" snap_time="1">
            <range_mapping origin_begin="0" data_begin="10" length="2" time="0"/>
            <range_mapping origin_begin="2" data_begin="30" length="2" time="1"/>
          </device>
        </superblock>
        """

    static let thinTables = """
        pool: 0 12800 thin-pool /dev/meta /dev/data 128 0
        thin1: 0 2048 thin /dev/mapper/pool 1
        thin2: 0 2048 thin /dev/mapper/pool 2
        """

    @Test func thinWithThinDump() throws {
        var m = DynamicMappings()
        m.thinPools["pool"] = try ThinPoolMapping.parseThinDump(Array(Self.thinDump.utf8))
        let t = try translator(Self.thinTables, mappings: m)
        // Data block 10 is shared by thin1 block 0 and its snapshot thin2 block 0.
        #expect(summary(try t.up(from: "data", SectorRange(start: 1280, length: 8))) == ["thin1 0+8 lost", "thin2 0+8 lost"])
        #expect(summary(try t.up(from: "data", SectorRange(start: 20 * 128 + 5, length: 1))) == ["thin1 901+1 lost"])
        let down = try t.down(from: "thin2", SectorRange(start: 250, length: 20))
        #expect(down.map { "\($0.device):\($0.start)+\($0.length)" } == ["data:1530+6", "data:3840+14"])
        // Unprovisioned blocks live nowhere.
        let unprovisioned = try t.down(from: "thin1", SectorRange(start: 4 * 128, length: 10))
        #expect(unprovisioned.count == 1 && unprovisioned[0].device == "thin1" && unprovisioned[0].outcome == .unaffected)
        #expect(unprovisioned[0].reason!.hasPrefix("unprovisioned"))
        // The pool metadata holds every mapping.
        let meta = try t.up(from: "meta", SectorRange(start: 0, length: 8))
        #expect(Set(meta.map(\.device)) == ["thin1", "thin2"] && meta.allSatisfy { $0.outcome == .unknown })
    }

    @Test func thinWithoutDumpIsUnknown() throws {
        let t = try translator(Self.thinTables)
        let rows = try t.up(from: "data", SectorRange(start: 0, length: 8))
        #expect(rows.count == 2 && rows.allSatisfy { $0.outcome == .unknown && $0.length == 2048 && $0.reason!.contains("thin_dump") })
        #expect(try t.down(from: "thin1", SectorRange(start: 0, length: 8))[0].reason!.contains("thin_dump"))
    }

    @Test(arguments: [
        ("<superblock/>", "<superblock> needs a numeric data_block_size=, got none"),
        ("<nothing/>", "no <superblock data_block_size"),
        ("<superblock data_block_size=\"x\"/>", "numeric data_block_size"),
        ("<superblock data_block_size=\"8\"><single_mapping origin_block=\"1\" data_block=\"2\"/></superblock>", "outside <device>"),
        ("<superblock data_block_size=\"8\"><device dev_id=\"1\"><range_mapping origin_begin=\"0\" data_begin=\"99999999999999999\" length=\"1\"/></device></superblock>", "beyond any device"),
        ("<superblock data_block_size=\"8\"><device dev_id=\"1\"><range_mapping origin_begin=\"18446744073709551615\" data_begin=\"0\" length=\"1\"/></device></superblock>", "beyond any device"),
        ("<superblock data_block_size=\"8\"><device dev_id=\"1\"><range_mapping origin_begin=\"0\" data_begin=\"0\" length=\"18446744073709551615\"/></device></superblock>", "beyond any device"),
        ("<superblock data_block_size=\"8\"><device dev_id=\"1\">", "line 1: the document ends inside <device> (truncated dump?)"),
        ("<superblock data_block_size=\"8\"></device></superblock>", "line 1: </device> does not close <superblock>"),
        ("<superblock data_block_size=8/>", "line 1: attribute value must be quoted"),
        ("<superblock data_block_size=\"8\" data_block_size=\"8\"/>", "attribute data_block_size repeated"),
        ("<superblock data_block_size=\"8\"><def name=\"a\"/></superblock>", "shared subtrees"),
    ])
    func thinDumpErrorsSayWhat(xml: String, message: String) {
        do {
            _ = try ThinPoolMapping.parseThinDump(Array(xml.utf8), source: "pool.xml")
            Issue.record("parsed")
        } catch {
            #expect(error.description.hasPrefix("pool.xml: ") && error.description.contains(message), "\(error.description)")
        }
    }

    @Test func dumpReaderSkipsDeclarationsAndDecodesEntities() throws {
        let xml = "<?xml version=\"1.0\"?>\n<!-- a comment -->\n<superblock uuid=\"a&amp;b\" data_block_size=\"&#49;28\">\n<device dev_id=\"3\"><![CDATA[x]]>text\n<single_mapping origin_block=\"0\" data_block=\"7\" time=\"0\"/></device></superblock>"
        let m = try ThinPoolMapping.parseThinDump(Array(xml.utf8))
        #expect(m.dataBlockSectors == 128 && m.devices[3] == [BlockRun(from: 0, to: 7, length: 1)])
    }

    // MARK: snapshot

    /// A COW device as dm-snap-persistent.c writes it: header, one metadata area, data chunks.
    static func cowImage(chunk: UInt32, exceptions: [(UInt64, UInt64)], magic: UInt32 = 0x7041_6e53, version: UInt32 = 1) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Int(chunk) * 512 * 8)
        func put32(_ v: UInt32, _ o: Int) { for i in 0..<4 { bytes[o + i] = UInt8((v >> (8 * UInt32(i))) & 0xff) } }
        func put64(_ v: UInt64, _ o: Int) { for i in 0..<8 { bytes[o + i] = UInt8((v >> (8 * UInt64(i))) & 0xff) } }
        put32(magic, 0); put32(1, 4); put32(version, 8); put32(chunk, 12)
        let area = Int(chunk) * 512
        for (i, e) in exceptions.enumerated() { put64(e.0, area + i * 16); put64(e.1, area + i * 16 + 8) }
        return bytes
    }

    static func reader(_ bytes: [UInt8]) -> (UInt64, UInt64) throws -> [UInt8] {
        { sector, count in
            let sectors = UInt64(bytes.count) / 512 + 1
            let lo = Int(min(sector, sectors) * 512), hi = Int(min(sector + min(count, sectors), sectors) * 512)
            return Array(bytes[min(lo, bytes.count)..<min(hi, bytes.count)])
        }
    }

    @Test func snapshotWithExceptionStore() throws {
        let store = try SnapshotExceptionStore.read(source: "cow", Self.reader(Self.cowImage(chunk: 8, exceptions: [(3, 2), (5, 3)])))
        #expect(store.chunkSectors == 8 && store.exceptions.count == 2 && store.valid)
        var m = DynamicMappings()
        m.snapshots["snap"] = store
        let t = try translator("""
            base: 0 80 snapshot-origin /dev/origin
            snap: 0 80 snapshot /dev/origin /dev/cow P 8
            """, mappings: m)
        #expect(try t.down(from: "snap", SectorRange(start: 24, length: 16)).map { "\($0.device):\($0.start)+\($0.length)" } == ["cow:16+8", "origin:32+8"])
        #expect(summary(try t.up(from: "cow", SectorRange(start: 24, length: 8))) == ["snap 40+8 lost"])
        // Origin chunk 3 was copied to the COW device before it changed: the snapshot does not
        // read it from the origin any more; origin chunk 4 it still does.
        #expect(summary(try t.up(from: "origin", SectorRange(start: 24, length: 16))) == ["base 24+16 lost", "snap 32+8 lost"])
        let header = try t.up(from: "cow", SectorRange(start: 0, length: 1))
        #expect(header.count == 1 && header[0].outcome == .unknown && header[0].reason!.contains("invalidates"))
    }

    @Test func snapshotStoreErrors() {
        #expect(throws: MappingParseError(source: "cow", message: "bad snapshot magic 0x12345678 (expected 0x70416e53 'SnAp')")) {
            try SnapshotExceptionStore.read(source: "cow", Self.reader(Self.cowImage(chunk: 8, exceptions: [], magic: 0x1234_5678)))
        }
        #expect(throws: MappingParseError(source: "cow", message: "unsupported snapshot store version 2 (dmstack reads version 1)")) {
            try SnapshotExceptionStore.read(source: "cow", Self.reader(Self.cowImage(chunk: 8, exceptions: [], version: 2)))
        }
        #expect(throws: MappingParseError.self) { try SnapshotExceptionStore.read(source: "cow", Self.reader([1, 2, 3])) }
        // Every entry of the one area full and the device ending there.
        let full = Self.cowImage(chunk: 1, exceptions: (0..<32).map { (UInt64($0), UInt64($0) + 2) })
        #expect(throws: MappingParseError.self) { try SnapshotExceptionStore.read(source: "cow", Self.reader(Array(full.prefix(1024)))) }
    }

    // MARK: cache and writecache

    @Test func cacheWithCacheDump() throws {
        let xml = """
            <superblock uuid="" block_size="64" nr_cache_blocks="4" policy="smq" hint_width="4">
              <mappings>
                <mapping cache_block="0" origin_block="2" dirty="false"/>
                <mapping cache_block="1" origin_block="5" dirty="true"/>
              </mappings>
            </superblock>
            """
        var m = DynamicMappings()
        m.caches["c"] = try CacheMapping.parseCacheDump(Array(xml.utf8))
        let t = try translator("c: 0 640 cache /dev/meta /dev/ssd /dev/slow 64 1 writeback smq 0", mappings: m)
        #expect(summary(try t.up(from: "slow", SectorRange(start: 128, length: 64))) == ["c 128+64 degraded"])
        #expect(summary(try t.up(from: "slow", SectorRange(start: 192, length: 64))) == ["c 192+64 lost"])
        #expect(try t.up(from: "slow", SectorRange(start: 320, length: 64)).isEmpty) // dirty: origin copy is stale
        #expect(summary(try t.up(from: "ssd", SectorRange(start: 64, length: 64))) == ["c 320+64 lost"])
        #expect(summary(try t.up(from: "ssd", SectorRange(start: 0, length: 64))) == ["c 128+64 degraded"])
        let withoutDump = try translator("c: 0 640 cache /dev/meta /dev/ssd /dev/slow 64 1 writeback smq 0")
        #expect(try withoutDump.up(from: "slow", SectorRange(start: 0, length: 8)).map(\.outcome) == [.unknown])
    }

    /// A writecache cache device: superblock, entries, then data blocks (dm-writecache.c).
    static func writecacheImage(blockBytes: UInt32, entries: [(UInt64, UInt64)], seq: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 64 * 1024)
        func put32(_ v: UInt32, _ o: Int) { for i in 0..<4 { bytes[o + i] = UInt8((v >> (8 * UInt32(i))) & 0xff) } }
        func put64(_ v: UInt64, _ o: Int) { for i in 0..<8 { bytes[o + i] = UInt8((v >> (8 * UInt64(i))) & 0xff) } }
        put32(0x2348_9321, 0); put32(1, 4); put32(blockBytes, 8); put64(UInt64(entries.count), 16); put64(seq, 24)
        for (i, e) in entries.enumerated() { put64(e.0, 64 + i * 16); put64(e.1, 64 + i * 16 + 8) }
        return bytes
    }

    @Test func writecacheWithMetadata() throws {
        let image = Self.writecacheImage(blockBytes: 4096, entries: [(16, 3), (16, 5), (UInt64.max, UInt64.max), (80, 12)], seq: 10)
        let wc = try WritecacheMapping.read(source: "pmem", Self.reader(image))
        #expect(wc.metadataSectors == 8 && wc.blocks == [BlockRun(from: 2, to: 1, length: 1)])
        var m = DynamicMappings()
        m.writecaches["wc"] = wc
        let t = try translator("wc: 0 1024 writecache p /dev/slow /dev/pmem 4096 0", mappings: m)
        #expect(try t.down(from: "wc", SectorRange(start: 16, length: 8)).map { "\($0.device):\($0.start)" } == ["pmem:16"])
        #expect(summary(try t.up(from: "pmem", SectorRange(start: 16, length: 8))) == ["wc 16+8 lost"])
        #expect(try t.up(from: "pmem", SectorRange(start: 8, length: 8)).isEmpty) // the older duplicate
        #expect(try t.up(from: "slow", SectorRange(start: 16, length: 8)).isEmpty) // superseded by the cache
        #expect(summary(try t.up(from: "slow", SectorRange(start: 24, length: 8))) == ["wc 24+8 lost"])
        #expect(try t.up(from: "pmem", SectorRange(start: 0, length: 1)).map(\.outcome) == [.unknown])
        // An entry naming an origin sector beyond any device is corruption, not a trap.
        let bad = Self.writecacheImage(blockBytes: 512, entries: [(UInt64.max - 1, 1)], seq: 10)
        #expect(throws: MappingParseError.self) { try WritecacheMapping.read(source: "pmem", Self.reader(bad)) }
    }

    @Test func invalidatedSnapshotIsUnknownWithReason() throws {
        var image = Self.cowImage(chunk: 8, exceptions: [(3, 2)])
        image[4] = 0 // valid = 0: dm-snap marks a snapshot invalid there
        let store = try SnapshotExceptionStore.read(source: "cow", Self.reader(image))
        #expect(!store.valid)
        var m = DynamicMappings()
        m.snapshots["snap"] = store
        let t = try translator("snap: 0 80 snapshot /dev/origin /dev/cow P 8", mappings: m)
        for rows in [try t.down(from: "snap", SectorRange(start: 0, length: 8)), try t.up(from: "cow", SectorRange(start: 16, length: 8))] {
            #expect(rows.count == 1 && rows[0].outcome == .unknown && rows[0].reason!.contains("invalidated"))
        }
    }

    /// dm-snap.c origin_map passes the device sector through unchanged, also for a target
    /// that does not start at 0.
    @Test func snapshotOriginAtAnOffsetRoundTrips() throws {
        let t = try translator("o: 0 100 linear /dev/a 0\no: 100 100 snapshot-origin /dev/base")
        let down = try t.down(from: "o", SectorRange(start: 150, length: 10))
        #expect(down.map { "\($0.device):\($0.start)" } == ["base:150"])
        #expect(summary(try t.up(from: "base", SectorRange(start: 150, length: 10))) == ["o 150+10 lost"])
        #expect(try t.up(from: "base", SectorRange(start: 0, length: 10)).isEmpty)
    }
}

/// dm-integrity's layout from its superblock (formulas checked byte for byte in the VM test
/// `integrityLayoutIsByteVerified`).
@Suite("dm-integrity layout")
struct IntegrityTests {
    /// A superblock: interleave 2^10, 4-byte tags, one journal section, fixed padding.
    static func superblock(flags: UInt32 = 0x8, journalSections: UInt32 = 1) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 512)
        b.replaceSubrange(0..<8, with: Array("integrt\u{0}".utf8))
        b[8] = 5; b[9] = 10; b[10] = 4; b[11] = 0
        for i in 0..<4 { b[12 + i] = UInt8((journalSections >> (8 * UInt32(i))) & 0xff) }
        b[16] = 0; b[17] = 0x20 // provided_data_sectors 8192
        for i in 0..<4 { b[24 + i] = UInt8((flags >> (8 * UInt32(i))) & 0xff) }
        b[28] = 0
        return b
    }

    @Test func geometryFollowsTheKernelFormulas() throws {
        let g = try IntegrityGeometry.read(source: "sb", TargetTranslationTests.reader(Self.superblock()))
        // journal entry: 8 + 8 + 4 → 24 bytes; 504 / 24 = 21 per sector; 168 per section;
        // section = 168 + 8 sectors; initial = 8 + 176. Tags: 4 << 10 = 4 KiB → 8 sectors.
        #expect(g.initialSectors == 184 && g.metadataRun == 8 && g.interleaveSectors == 1024)
        #expect(g.dataSector(0) == 192 && g.dataSector(1023) == 1215 && g.dataSector(1024) == 1224)
        let unpadded = try IntegrityGeometry.read(source: "sb", TargetTranslationTests.reader(Self.superblock(flags: 0)))
        #expect(unpadded.metadataRun == 256) // 128 KiB padding without SB_FLAG_FIXED_PADDING
    }

    @Test func translatesBothWaysAndTagsLoseTheirBlocks() throws {
        var m = DynamicMappings()
        m.integrity["int"] = try IntegrityGeometry.read(source: "sb", TargetTranslationTests.reader(Self.superblock()))
        let t = try translator("int: 0 4096 integrity /dev/d 100 4 D 0", mappings: m)
        #expect(try t.down(from: "int", SectorRange(start: 1020, length: 8)).map { "\($0.device):\($0.start)+\($0.length)" } == ["d:1312+4", "d:1324+4"])
        #expect(summary(try t.up(from: "d", SectorRange(start: 1324, length: 4))) == ["int 1024+4 lost"])
        // The first tag sector of area 1 (d 100 + 184 + 1024 + 8 = 1316) holds the tags of its blocks 0..127.
        #expect(summary(try t.up(from: "d", SectorRange(start: 1316, length: 1))) == ["int 1024+128 lost"])
        // The superblock and journal affect the whole device.
        #expect(try t.up(from: "d", SectorRange(start: 100, length: 1)).map(\.outcome) == [.unknown])
    }

    @Test func badSuperblocksAreRefused() {
        #expect(throws: MappingParseError.self) { try IntegrityGeometry.read(source: "sb", TargetTranslationTests.reader([UInt8](repeating: 0, count: 512))) }
        var b = Self.superblock()
        b[9] = 40 // interleave 2^40
        #expect(throws: MappingParseError.self) { try IntegrityGeometry.read(source: "sb", TargetTranslationTests.reader(b)) }
    }
}
