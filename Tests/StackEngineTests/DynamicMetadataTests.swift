import Foundation
import StackEngine
import StackModel
import StackSystem
import Testing

/// The dynamic targets' metadata as both engines read it from given files, and how a leaf is
/// detached on a captured machine.
@Suite("Dynamic metadata and detach")
struct DynamicMetadataTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/translate").standardized.path

    func tables() throws -> TableSet {
        try TableSet.parse(try String(contentsOfFile: "\(Self.fixtures)/dynamic.table.txt", encoding: .utf8))
    }

    @Test func aThinDumpOfAPoolOfTheTablesIsRead() throws {
        let sources = MetadataSources([.init(kind: .thinDump, option: "--thin-dump", name: "/dev/mapper/pool", file: "\(Self.fixtures)/thin.xml")])
        let mappings = try sources.load(tables: try tables(), canonical: Topology.plainName)
        #expect(mappings.thinPools["pool"] != nil)
    }

    @Test func aNameThatIsNotSuchADeviceIsAUsageErrorAndAMissingFileAFailure() throws {
        let wrong = MetadataSources([.init(kind: .thinDump, option: "--thin-dump", name: "thin1", file: "\(Self.fixtures)/thin.xml")])
        #expect { try wrong.load(tables: try tables(), canonical: Topology.plainName) } throws: {
            ($0 as? EngineError)?.kind == .usage && "\($0)" == "--thin-dump: 'thin1' is not a thin-pool device of the tables"
        }
        let missing = MetadataSources([.init(kind: .cacheDump, option: "--cache-dump", name: "wc", file: "/nonexistent.xml")])
        #expect { try missing.load(tables: try tables(), canonical: Topology.plainName) } throws: { ($0 as? EngineError)?.kind == .usage }
        let unreadable = MetadataSources([.init(kind: .thinDump, option: "--thin-dump", name: "pool", file: "/nonexistent.xml")])
        #expect { try unreadable.load(tables: try tables(), canonical: Topology.plainName) } throws: { ($0 as? EngineError)?.kind == .failure }
        let malformed = MetadataSources([.init(kind: .thinDump, option: "--thin-dump", name: "pool", file: "\(Self.fixtures)/dynamic.table.txt")])
        #expect { try malformed.load(tables: try tables(), canonical: Topology.plainName) } throws: { ($0 as? EngineError)?.kind == .dataError }
    }

    @Test func aCapturedLoopIsDetachedAndANamespaceUnboundFromNdPmem() throws {
        let raid = SnapshotEngine(snapshot: try Machines.raid())
        let loops = try raid.inventory()
        #expect(try raid.detach(loops.device("loop3"), in: loops) == .loop(path: "/dev/loop3"))
        #expect(throws: RemovalError.self) { try raid.detach(loops.device("parity"), in: loops) }
        let pmem = SnapshotEngine(snapshot: try Machines.snapshot("xfs-external-log"))
        let inventory = try pmem.inventory()
        #expect(try pmem.detach(inventory.device("pmem1"), in: inventory) == .nvdimm(device: "pfn1.0", driver: "/sys/bus/nd/drivers/nd_pmem"))
    }

    /// A captured pool's mappings answer offline as they did live; a pool whose metadata could
    /// not be read says why, on every unknown range, instead of asking for a file.
    @Test func capturedMetadataTranslatesAndAnUnreadablePoolSaysWhy() throws {
        var snapshot = try Machines.snapshot("thin-pool")
        var stored = DynamicMappings()
        // thin1 (id 1) block 0 lives in pool data block 5: 128-sector blocks.
        stored.thinPools["pool"] = ThinPoolMapping(dataBlockSectors: 128, devices: [1: [BlockRun(from: 0, to: 5, length: 1)]])
        snapshot.metadata = stored
        let decoded = try SnapshotCodec.decode(try SnapshotCodec.encode(snapshot), file: "t")
        #expect(decoded.metadata == stored)
        let engine = SnapshotEngine(snapshot: decoded)
        let inventory = try engine.inventory()
        let mappings = try engine.dynamicMappings(MetadataSources(), tables: try inventory.tableSet(), in: inventory, around: ["loop1"])
        let (topology, _) = try inventory.topology(mappings: mappings)
        let up = try Translator(topology).up(from: "loop1", SectorRange(start: 5 * 128 + 3, length: 1))
        #expect(up.contains { $0.device == "thin1" && $0.start == 3 && $0.kind == .data }, "\(up)")

        snapshot.metadata = DynamicMappings()
        snapshot.metadata!.unavailable["pool"] = "pool metadata unreadable: reserve_metadata_snap: Operation not permitted"
        let blind = SnapshotEngine(snapshot: snapshot)
        let inv = try blind.inventory()
        let none = try blind.dynamicMappings(MetadataSources(), tables: try inv.tableSet(), in: inv, around: ["loop1"])
        let rows = try Translator(try inv.topology(mappings: none).0).up(from: "loop1", SectorRange(start: 643, length: 1))
        #expect(rows.contains { $0.kind == .unknown && ($0.reason ?? "").contains("reserve_metadata_snap: Operation not permitted") }, "\(rows)")
    }

    /// Stored metadata that the arithmetic would trap on is refused when the snapshot is read.
    @Test func implausibleStoredMetadataIsACorruptSnapshot() throws {
        var snapshot = try Machines.snapshot("thin-pool")
        snapshot.metadata = DynamicMappings()
        snapshot.metadata!.thinPools["pool"] = ThinPoolMapping(dataBlockSectors: 0, devices: [1: [BlockRun(from: 0, to: 5, length: 1)]])
        #expect { try SnapshotCodec.decode(try SnapshotCodec.encode(snapshot), file: "s.json") } throws: {
            "\($0)" == "s.json: corrupt snapshot: the metadata of thin pool pool has a block size of 0 or runs beyond \(maxSectors) sectors"
        }
        snapshot.metadata!.thinPools["pool"] = ThinPoolMapping(dataBlockSectors: 128, devices: [1: [BlockRun(from: 0, to: maxSectors, length: 1)]])
        #expect(throws: SnapshotFileError.self) { try SnapshotCodec.decode(try SnapshotCodec.encode(snapshot), file: "s.json") }
    }
}

/// Thin and cache dumps checked against the stack they are given for (issue 18 point 3): each
/// bad dump is a data error (exit 65) naming the file and its first bad element; the same dump
/// parsed without the stack is accepted, so each check is the stack's.
@Suite("Dynamic metadata fits its stack")
struct DumpBoundsTests {
    /// pool: 100 data blocks of 128 sectors; thin1 is its device 1, thin2 its device 2.
    static let tables = """
        pool: 0 12800 thin-pool /dev/meta /dev/data 128 0
        thin1: 0 2048 thin /dev/mapper/pool 1
        thin2: 0 2048 thin /dev/mapper/pool 2
        slow: 0 640 linear /dev/sdb 0
        c: 0 640 cache /dev/meta2 /dev/ssd /dev/mapper/slow 64 1 writeback smq 0
        """

    static func thin(_ body: String, blockSize: Int = 128) -> String {
        "<superblock uuid=\"\" time=\"0\" transaction=\"1\" data_block_size=\"\(blockSize)\" nr_data_blocks=\"100\">\n\(body)\n</superblock>\n"
    }
    static let both = "  <device dev_id=\"2\">\n  </device>"

    static let thinCases: [(String, String)] = [
        (thin("  <device dev_id=\"1\">\n    <single_mapping origin_block=\"17\" data_block=\"99999\" time=\"0\"/>\n  </device>\n" + both),
         "line 3: device 1 mapping 1: data block 99999 is past the pool's data device (100 blocks)"),
        (thin("  <device dev_id=\"1\">\n    <range_mapping origin_begin=\"0\" data_begin=\"90\" length=\"20\" time=\"0\"/>\n  </device>\n" + both),
         "line 3: device 1 mapping 1: data block 100 is past the pool's data device (100 blocks)"),
        (thin("  <device dev_id=\"1\">\n    <range_mapping origin_begin=\"0\" data_begin=\"10\" length=\"4\" time=\"0\"/>\n    <single_mapping origin_block=\"2\" data_block=\"50\" time=\"0\"/>\n  </device>\n" + both),
         "line 4: device 1 mapping 2: thin block 2 is mapped by mapping 1 too"),
        (thin("  <device dev_id=\"1\">\n    <single_mapping origin_block=\"5\" data_block=\"7\" time=\"0\"/>\n    <single_mapping origin_block=\"5\" data_block=\"7\" time=\"0\"/>\n  </device>\n" + both),
         "line 4: device 1 mapping 2: thin block 5 is mapped by mapping 1 too"),
        (thin("  <device dev_id=\"1\">\n    <single_mapping origin_block=\"1\" data_block=\"7\" time=\"0\"/>\n    <single_mapping origin_block=\"9\" data_block=\"7\" time=\"0\"/>\n  </device>\n" + both),
         "line 4: device 1 mapping 2: data block 7 is mapped by mapping 1 too"),
        (thin("  <device dev_id=\"1\">\n  </device>\n  <device dev_id=\"1\">\n  </device>\n" + both),
         "line 4: device 1 is listed twice"),
        (thin("  <device dev_id=\"1\">\n    <single_mapping origin_block=\"0\" data_block=\"3\" time=\"0\"/>\n  </device>"),
         "no device 2, which thin device thin2 of pool pool is (metadata of another pool, or older than the device?)"),
        (thin("  <device dev_id=\"1\">\n  </device>\n" + both, blockSize: 256),
         "line 1: data_block_size 256 differs from pool pool's block size 128 sectors (a dump of another pool?)"),
    ]

    func load(_ kind: MetadataSources.Kind, _ name: String, _ text: String) throws -> DynamicMappings {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-dump-\(UUID().uuidString).xml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let sources = MetadataSources([.init(kind: kind, option: kind == .thinDump ? "--thin-dump" : "--cache-dump", name: name, file: file)])
        let tables = try TableSet.parse(Self.tables)
        do { return try sources.load(tables: tables, canonical: Topology.plainName) } catch {
            // The file is named first; for the table below the name is replaced by F.
            throw EngineError(error.kind, error.message.replacingOccurrences(of: file, with: "F"))
        }
    }

    @Test(arguments: thinCases)
    func aThinDumpThatDoesNotFitItsPoolIsRefused(xml: String, message: String) throws {
        #expect { try load(.thinDump, "pool", xml) } throws: { error in
            let e = error as? EngineError
            return e?.kind == .dataError && e?.message == "F: \(message)"
        }
        // Without the stack the same dump parses (the fault is only in what it is given for),
        // except a device listed twice, which no pool has.
        if !message.contains("listed twice") { #expect(throws: Never.self) { try ThinPoolMapping.parseThinDump(Array(xml.utf8)) } }
    }

    @Test func aThinDumpThatFitsIsRead() throws {
        let xml = Self.thin("  <device dev_id=\"1\">\n    <range_mapping origin_begin=\"0\" data_begin=\"96\" length=\"4\" time=\"0\"/>\n    <single_mapping origin_block=\"4\" data_block=\"0\" time=\"0\"/>\n  </device>\n" + Self.both)
        let m = try load(.thinDump, "pool", xml)
        #expect(m.thinPools["pool"]?.devices[1] == [BlockRun(from: 0, to: 96, length: 4), BlockRun(from: 4, to: 0, length: 1)])
        #expect(m.thinPools["pool"]?.devices[2] == [])
    }

    /// The metadata device image reader is held to the same bounds (no lines, by thin block).
    @Test func mappingsFromAnyReaderAreChecked() {
        let bounds = ThinPoolMapping.Bounds(poolName: "pool", dataBlockSectors: 128, dataBlocks: 100, thinDevices: [1: "thin1", 2: "thin2"])
        let past = ThinPoolMapping(dataBlockSectors: 128, devices: [1: [BlockRun(from: 10, to: 98, length: 5)], 2: []])
        #expect { try past.check(bounds, source: "meta.img") } throws: {
            "\($0)" == "meta.img: device 1 thin block 12: data block 100 is past the pool's data device (100 blocks)"
        }
        let lacking = ThinPoolMapping(dataBlockSectors: 128, devices: [1: []])
        #expect { try lacking.check(bounds, source: "meta.img") } throws: { "\($0)".hasSuffix("no device 2, which thin device thin2 of pool pool is (metadata of another pool, or older than the device?)") }
        #expect(throws: Never.self) { try ThinPoolMapping(dataBlockSectors: 128, devices: [1: [], 2: [BlockRun(from: 0, to: 99, length: 1)]]).check(bounds, source: "m") }
    }

    static func cache(_ mappings: String, blockSize: Int = 64) -> String {
        "<superblock uuid=\"\" block_size=\"\(blockSize)\" nr_cache_blocks=\"4\" policy=\"smq\" hint_width=\"4\">\n  <mappings>\n\(mappings)\n  </mappings>\n</superblock>\n"
    }

    /// c: 64-sector blocks over slow (640 sectors: 10 origin blocks); its cache device /dev/ssd
    /// is sized by the machine when it knows it (here: not, so only the origin is checked
    /// unless `ssdSectors` is given).
    static let cacheCases: [(String, String)] = [
        (cache("    <mapping cache_block=\"0\" origin_block=\"10\" dirty=\"false\"/>"),
         "line 3: mapping 1: origin block 10 is past the origin device (10 blocks)"),
        (cache("    <mapping cache_block=\"0\" origin_block=\"2\" dirty=\"false\"/>\n    <mapping cache_block=\"0\" origin_block=\"5\" dirty=\"true\"/>"),
         "line 4: mapping 2: cache block 0 is mapped by mapping 1 too"),
        (cache("    <mapping cache_block=\"0\" origin_block=\"2\" dirty=\"false\"/>\n    <mapping cache_block=\"1\" origin_block=\"2\" dirty=\"true\"/>"),
         "line 4: mapping 2: origin block 2 is mapped by mapping 1 too"),
        (cache("    <mapping cache_block=\"0\" origin_block=\"2\" dirty=\"false\"/>", blockSize: 128),
         "line 1: block_size 128 differs from cache c's block size 64 sectors (a dump of another cache?)"),
    ]

    @Test(arguments: cacheCases)
    func aCacheDumpThatDoesNotFitItsDevicesIsRefused(xml: String, message: String) throws {
        #expect { try load(.cacheDump, "c", xml) } throws: { error in
            let e = error as? EngineError
            return e?.kind == .dataError && e?.message == "F: \(message)"
        }
        #expect(throws: Never.self) { try CacheMapping.parseCacheDump(Array(xml.utf8)) }
    }

    @Test func aCacheBlockPastTheCacheDeviceIsRefusedWhenItsSizeIsKnown() throws {
        let bounds = CacheMapping.Bounds(cacheName: "c", blockSectors: 64, cacheBlocks: 4, originBlocks: 10)
        let xml = Self.cache("    <mapping cache_block=\"3\" origin_block=\"1\" dirty=\"false\"/>\n    <mapping cache_block=\"4\" origin_block=\"2\" dirty=\"false\"/>")
        #expect { try CacheMapping.parseCacheDump(Array(xml.utf8), source: "c.xml", bounds: bounds) } throws: {
            "\($0)" == "c.xml: line 4: mapping 2: cache block 4 is past the cache device (4 blocks)"
        }
        // Through the engine: the machine's size of /dev/ssd (256 sectors, 4 blocks) is used.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dmstack-cache-\(UUID().uuidString).xml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try xml.write(toFile: file, atomically: true, encoding: .utf8)
        let sources = MetadataSources([.init(kind: .cacheDump, option: "--cache-dump", name: "c", file: file)])
        #expect { try sources.load(tables: try TableSet.parse(Self.tables), canonical: Topology.plainName, size: { $0 == "/dev/ssd" ? 256 : nil }) } throws: {
            ($0 as? EngineError)?.kind == .dataError && "\($0)".hasSuffix("line 4: mapping 2: cache block 4 is past the cache device (4 blocks)")
        }
        #expect(throws: Never.self) { try sources.load(tables: try TableSet.parse(Self.tables), canonical: Topology.plainName) }
    }
}
