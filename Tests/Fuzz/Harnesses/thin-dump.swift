import StackModel

/// A thin pool's metadata as `--thin-dump` takes it: thin_dump XML, or the metadata device
/// itself (read with the btree reader, 4 KiB blocks).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzThinDump(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? ThinPoolMapping.parseThinDump(bytes, source: "fuzz")
    let bounds = ThinPoolMapping.Bounds(poolName: "pool", dataBlockSectors: 128, dataBlocks: 1024, thinDevices: [1: "thin1", 2: "thin2"])
    _ = try? ThinPoolMapping.parseThinDump(bytes, source: "fuzz", bounds: bounds)
    if bytes.count >= 4096, ThinMetadata.isMetadata(Array(bytes[0..<4096])) {
        _ = try? ThinMetadata.read(source: "fuzz", root: .current, devices: nil) { n in
            guard n < UInt64(bytes.count / 4096) else { throw MappingParseError(source: "fuzz", message: "past the end") }
            return Array(bytes[Int(n) * 4096..<Int(n + 1) * 4096])
        }
    }
    return 0
}
