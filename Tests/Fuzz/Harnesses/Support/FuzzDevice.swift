import StackModel

/// A fuzz input for a binary metadata format: 16 bytes that become the table's numbers
/// (often right at the 2^54-sector bound, where overflows live), then the device image the
/// reader reads.
struct FuzzDevice {
    var offset: UInt64
    var length: UInt64
    var image: [UInt8]

    init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        let bytes = Array(UnsafeBufferPointer(start: data, count: size))
        func word(_ at: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<8 where at + i < bytes.count { v |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
            return v
        }
        func bounded(_ v: UInt64) -> UInt64 { v >> 63 == 1 ? maxSectors - (v & 0xffff) : v % (maxSectors + 1) }
        offset = bounded(word(0))
        length = max(1, bounded(word(8)))
        image = Array(bytes.dropFirst(16))
    }

    /// `read(sector, count)` as SectorReader does it: fewer bytes at the end. A reader that
    /// asks for more than 1 MiB at once would allocate what a corrupt header says, not what
    /// the device holds: that is a failure of the harness.
    func read(_ sector: UInt64, _ count: UInt64) throws -> [UInt8] {
        precondition(count <= 2048, "a metadata reader asked for \(count) sectors in one read")
        let (start, o) = sector.multipliedReportingOverflow(by: 512)
        guard !o, start < UInt64(image.count) else { return [] }
        let end = min(UInt64(image.count), start + count * 512)
        return Array(image[Int(start)..<Int(end)])
    }

    /// Builds `table` with `mappings` and translates every device whole, both ways.
    static func translate(_ table: String, _ mappings: DynamicMappings) {
        guard let tables = try? TableSet.parse(table),
              let topology = try? Topology(tables: tables, mappings: mappings) else { return }
        let translator = Translator(topology)
        for node in topology.nodes {
            _ = try? translator.up(from: node.name, SectorRange(start: 0, length: maxSectors))
            if let s = node.size, s > 0 {
                _ = try? translator.down(from: node.name, SectorRange(start: 0, length: s))
                _ = try? translator.down(from: node.name, SectorRange(start: s - 1, length: 1))
            }
        }
    }
}
