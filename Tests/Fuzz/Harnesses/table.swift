import StackModel

/// Table text as `translate --table` reads it: parsed, built into a stack, then every device
/// translated whole, down from each device with a table and up from each leaf.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTable(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let tables = try? TableSet.parse(text) else { return 0 }
    for name in tables.names { _ = tables.tables[name]?.targets.map { $0.kind.tableArguments + [$0.kind.summary(segments: 4)] } }
    guard let topology = try? Topology(tables: tables) else { return 0 }
    let translator = Translator(topology)
    for node in topology.nodes {
        // Both spellings: the node's own name and the one the table used.
        _ = try? translator.up(from: node.name, SectorRange(start: 0, length: maxSectors))
        if let s = node.size, s > 0 { _ = try? translator.down(from: node.name, SectorRange(start: 0, length: s)) }
    }
    for name in tables.names {
        _ = try? translator.up(from: name, SectorRange(start: 0, length: 8))
        _ = try? translator.down(from: name, SectorRange(start: 0, length: 8))
    }
    return 0
}
