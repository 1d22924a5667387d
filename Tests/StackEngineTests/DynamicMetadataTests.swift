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
}
