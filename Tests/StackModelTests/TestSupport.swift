import StackModel
import Testing

/// A small, seeded, deterministic generator so every random test can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func translator(_ text: String, mappings: DynamicMappings = DynamicMappings()) throws -> Translator {
    Translator(try Topology(tables: try TableSet.parse(text), mappings: mappings))
}

/// The (top device, start, length, outcome, kind) of each row, for compact assertions.
func summary(_ rows: [Translation]) -> [String] {
    rows.map { "\($0.device) \($0.start)+\($0.length) \($0.outcome.rawValue)\($0.kind == .data ? "" : " \($0.kind.rawValue)")" }
}

/// Sector-by-sector map of a device's range down to (leaf, leaf sector) for data pieces.
func leafSectors(_ t: Translator, _ device: String, _ range: SectorRange) throws -> [UInt64: [String]] {
    var out: [UInt64: [String]] = [:]
    for row in try t.down(from: device, range) where row.kind == .data {
        let origin = row.path[0]
        for i in 0..<row.length {
            out[origin.start + i, default: []].append("\(row.device):\(row.start + i)")
        }
    }
    return out
}
