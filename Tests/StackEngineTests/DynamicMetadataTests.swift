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
