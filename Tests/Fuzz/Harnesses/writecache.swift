import StackModel

/// A writecache's cache device as `--writecache-metadata` reads it (from `start_sector`),
/// then a writecache table with that start sector.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWritecache(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let device = FuzzDevice(data, size)
    guard let mapping = try? WritecacheMapping.read(source: "fuzz", device.read) else { return 0 }
    var m = DynamicMappings()
    m.writecaches["top"] = mapping
    FuzzDevice.translate("0 \(device.length) writecache s 7:0 7:1 \(mapping.blockBytes) 2 start_sector \(device.offset)\n", m)
    return 0
}
