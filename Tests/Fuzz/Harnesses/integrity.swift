import StackModel

/// A dm-integrity data device as `--integrity-superblock` reads it, then an integrity table
/// whose start is the input's offset.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIntegrity(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let device = FuzzDevice(data, size)
    guard let geometry = try? IntegrityGeometry.read(source: "fuzz", device.read) else { return 0 }
    var m = DynamicMappings()
    m.integrity["top"] = geometry
    FuzzDevice.translate("0 \(device.length) integrity 7:0 \(device.offset) \(geometry.tagSize) J 0\n", m)
    return 0
}
