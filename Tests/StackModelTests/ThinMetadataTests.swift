import Foundation
import Testing
import TestSupport
@testable import StackModel

/// The btree reader against metadata written by thin-provisioning-tools' `thin_restore` (on
/// the host: no dm needed), compared with `thin_dump`'s XML of the same pool.
@Suite struct ThinMetadataTests {
    /// Three devices: ranges, singles, a shared block (a snapshot's), holes.
    static let xml = """
        <superblock uuid="" time="1" transaction="3" flags="0" version="2" data_block_size="128" nr_data_blocks="4096">
          <device dev_id="1" mapped_blocks="12" transaction="0" creation_time="0" snap_time="1">
            <range_mapping origin_begin="0" data_begin="100" length="10" time="0"/>
            <single_mapping origin_block="20" data_block="7" time="0"/>
            <single_mapping origin_block="21" data_block="8" time="1"/>
          </device>
          <device dev_id="2" mapped_blocks="3" transaction="1" creation_time="1" snap_time="1">
            <single_mapping origin_block="0" data_block="100" time="1"/>
            <range_mapping origin_begin="500" data_begin="2000" length="2" time="1"/>
          </device>
          <device dev_id="7" mapped_blocks="0" transaction="2" creation_time="1" snap_time="1">
          </device>
        </superblock>
        """

    /// The XML as a metadata image made by thin_restore, nil (the test skips) without it.
    static func image(_ xml: String, blocks: Int = 2048) throws -> [UInt8]? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/thin_restore") else { return nil }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-thinmeta-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let x = dir.appendingPathComponent("m.xml"), img = dir.appendingPathComponent("m.img")
        try Data(xml.utf8).write(to: x)
        try Data(count: blocks * 4096).write(to: img)
        let r = try TestProcess.run(URL(fileURLWithPath: "/usr/sbin/thin_restore"), ["-i", x.path, "-o", img.path])
        #expect(r.status == 0, "\(r.stderr)")
        return [UInt8](try Data(contentsOf: img))
    }

    /// Every mapped block, device → thin block → data block.
    static func blocks(_ m: ThinPoolMapping) -> [UInt64: [UInt64: UInt64]] {
        m.devices.mapValues { runs in
            var out: [UInt64: UInt64] = [:]
            for r in runs { for i in 0..<r.length { out[r.from + i] = r.to + i } }
            return out
        }
    }

    static func reader(_ bytes: [UInt8]) -> (UInt64) throws -> [UInt8] {
        { n in
            let start = Int(n) * 4096
            return start >= bytes.count ? [] : Array(bytes[start..<min(bytes.count, start + 4096)])
        }
    }

    @Test func readsWhatThinDumpPrints() throws {
        guard let img = try Self.image(Self.xml) else { return }
        let read = try ThinMetadata.read(source: "img", root: .current, devices: nil, block: Self.reader(img))
        let dumped = try ThinPoolMapping.parseThinDump(Array(Self.xml.utf8))
        #expect(read.dataBlockSectors == 128)
        // The same blocks (the reader merges adjacent singles into runs); device 7 maps nothing
        // and is known to.
        #expect(Self.blocks(read) == Self.blocks(dumped))
        #expect(read.devices[7] == [])
        #expect(read.devices[1] == [BlockRun(from: 0, to: 100, length: 10), BlockRun(from: 20, to: 7, length: 2)])
    }

    @Test func readsOnlyTheDevicesAsked() throws {
        guard let img = try Self.image(Self.xml) else { return }
        let read = try ThinMetadata.read(source: "img", root: .current, devices: [2, 9], block: Self.reader(img))
        #expect(Array(read.devices.keys) == [2])
    }

    /// A metadata snapshot as reserve_metadata_snap makes one (dm-thin-metadata.c
    /// `__reserve_metadata_snap`): a copy of the superblock in a free block, named by
    /// `held_root`; the pool then changes, the snapshot does not.
    @Test func readsTheHeldRootNotTheCurrentOne() throws {
        guard var img = try Self.image(Self.xml) else { return }
        let copyAt = 2000
        var copy = Array(img[0..<4096])
        put64(&copy, 8, UInt64(copyAt))
        put32(&copy, 0, ThinMetadata.checksum(copy, xor: ThinMetadata.superblockXor))
        img.replaceSubrange(copyAt * 4096..<(copyAt + 1) * 4096, with: copy)
        // The live pool moves on: its current root now says device 1 is gone (root 0 refused).
        var sb = Array(img[0..<4096])
        put64(&sb, 56, UInt64(copyAt))
        put64(&sb, 320, 0)
        put32(&sb, 0, ThinMetadata.checksum(sb, xor: ThinMetadata.superblockXor))
        img.replaceSubrange(0..<4096, with: sb)
        let held = try ThinMetadata.read(source: "img", root: .held, devices: [1], block: Self.reader(img))
        #expect(held.devices[1]?.count == 2)
        #expect(try ThinMetadata.read(source: "img", root: .heldAt(UInt64(copyAt)), devices: [1], block: Self.reader(img)) == held)
        #expect(throws: MappingParseError.self) { try ThinMetadata.read(source: "img", root: .current, devices: [1], block: Self.reader(img)) }
    }

    @Test func refusesADamagedOrMovedBlock() throws {
        guard let good = try Self.image(Self.xml) else { return }
        let sb = try ThinMetadata.superblock(Array(good[0..<4096]), at: 0, source: "img")
        var bad = good
        bad[Int(sb.dataMappingRoot) * 4096 + 100] ^= 0xFF
        let e = try #require(throws: MappingParseError.self) { try ThinMetadata.read(source: "img", root: .current, devices: nil, block: Self.reader(bad)) }
        #expect(e.message.contains("fails its check"))
        var noSnap = good
        noSnap[56] = 0
        #expect(throws: MappingParseError.self) { try ThinMetadata.read(source: "img", root: .held, devices: nil, block: Self.reader(noSnap)) }
        #expect(!ThinMetadata.isMetadata(Array(Self.xml.utf8)))
        #expect(ThinMetadata.isMetadata(Array(good[0..<4096])))
        let short = try #require(throws: MappingParseError.self) { try ThinMetadata.read(source: "img", root: .current, devices: nil, block: { _ in [] }) }
        #expect(short.message.contains("ends before the superblock"))
    }

    /// Someone else's metadata snapshot may be older than the pool: a data block no device
    /// maps in it may have been provisioned since, so it is unknown, never unaffected; a block
    /// it maps is answered as usual.
    @Test func aForeignSnapshotLeavesUnmappedDataBlocksUnknown() throws {
        var pool = try ThinPoolMapping.parseThinDump(Array(Self.xml.utf8))
        pool.foreignSnapshotRoot = 2000
        var m = DynamicMappings()
        m.thinPools["pool"] = pool
        let tables = "pool: 0 524288 thin-pool /dev/meta /dev/data 128 0\nthin1: 0 204800 thin /dev/mapper/pool 1\nthin2: 0 204800 thin /dev/mapper/pool 2"
        let t = try translator(tables, mappings: m)
        // Data block 7 is thin1's block 20.
        #expect(summary(try t.up(from: "data", SectorRange(start: 7 * 128, length: 8))) == ["thin1 2560+8 lost"])
        // Data block 50 is nobody's in the snapshot.
        let rows = try t.up(from: "data", SectorRange(start: 50 * 128, length: 8))
        #expect(Set(rows.map(\.device)) == ["thin1", "thin2"] && rows.allSatisfy { $0.outcome == .unknown && $0.reason!.contains("held root 2000") }, "\(rows)")
        // Without the mark the same block is simply free.
        m.thinPools["pool"]!.foreignSnapshotRoot = nil
        #expect(try translator(tables, mappings: m).up(from: "data", SectorRange(start: 50 * 128, length: 8)).allSatisfy { $0.outcome != .unknown })
        // The mark survives the snapshot's form.
        pool.foreignSnapshotRoot = 2000
        let coded = try JSONDecoder().decode(ThinPoolMapping.self, from: JSONEncoder().encode(pool))
        #expect(coded == pool)
    }

    /// dm-thin.c pool_status, as 6.1 and 6.12 print it.
    @Test func poolStatusHeldRootAndMode() {
        let rw = ThinPoolStatus(statusLines: ["0 409600 thin-pool 1 11/1024 4/3200 - rw no_discard_passdown queue_if_no_space - 1024"])
        #expect(rw?.mode == .writable && rw?.heldRoot == nil)
        let held = ThinPoolStatus(words: "3 12/1024 4/3200 37 ro discard_passdown error_if_no_space needs_check 1024".split(separator: " ").map(String.init))
        #expect(held?.mode == .readOnly && held?.heldRoot == 37)
        #expect(ThinPoolStatus(words: ["Fail"])?.mode == .failed)
        #expect(ThinPoolStatus(words: "1 1/2 3/4 - out_of_data_space".split(separator: " ").map(String.init))?.mode == .outOfDataSpace)
        #expect(ThinPoolStatus(words: ["1", "2"]) == nil)
        #expect(ThinPoolStatus(statusLines: ["0 8 linear 8:0 0"]) == nil)
    }
}

private func put32(_ b: inout [UInt8], _ o: Int, _ v: UInt32) { for i in 0..<4 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
private func put64(_ b: inout [UInt8], _ o: Int, _ v: UInt64) { for i in 0..<8 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
