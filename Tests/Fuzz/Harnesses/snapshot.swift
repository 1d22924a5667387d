import FoundationEssentials
import StackModel

/// A snapshot file (`--snapshot FILE`): decoded, then its tables built into a stack.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSnapshot(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    guard let snapshot = try? SnapshotCodec.decode(bytes, file: "fuzz") else { return 0 }
    if let tables = try? Inventory(snapshot).tableSet(), let topology = try? Topology(tables: tables, mappings: snapshot.metadata ?? DynamicMappings()) {
        let translator = Translator(topology)
        for node in topology.nodes where node.isLeaf {
            _ = try? translator.up(from: node.name, SectorRange(start: 0, length: 1 << 20))
        }
    }
    return 0
}
