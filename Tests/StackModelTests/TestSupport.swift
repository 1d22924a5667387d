import StackModel
import Testing

func translator(_ text: String, mappings: DynamicMappings = DynamicMappings()) throws -> Translator {
    Translator(try Topology(tables: try TableSet.parse(text), mappings: mappings))
}

/// The (top device, start+length or its run, outcome, kind) of each row, for compact assertions.
func summary(_ rows: [Translation]) -> [String] {
    rows.map { "\($0.device) \($0.run) \($0.outcome.rawValue)\($0.kind == .data ? "" : " \($0.kind.rawValue)")" }
}

/// Sector-by-sector map of a device's range down to (leaf, leaf sector) for data pieces.
func leafSectors(_ t: Translator, _ device: String, _ range: SectorRange) throws -> [UInt64: [String]] {
    var out: [UInt64: [String]] = [:]
    for row in try t.down(from: device, range).flatMap(\.explicitPieces) where row.kind == .data {
        let origin = row.path[0]
        for i in 0..<row.length {
            out[origin.start + i, default: []].append("\(row.device):\(row.start + i)")
        }
    }
    return out
}
