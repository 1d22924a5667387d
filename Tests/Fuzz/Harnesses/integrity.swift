import StackModel

/// A dm-integrity data device as `--integrity-superblock` reads it, then an integrity table
/// whose start is the input's offset.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIntegrity(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let device = FuzzDevice(data, size)
    guard let geometry = try? IntegrityGeometry.read(source: "fuzz", device.read) else { return 0 }
    var m = DynamicMappings()
    m.integrity["top"] = geometry
    // The table's length is kept to 2^16 sectors: each area is one extent (no period), so a
    // whole device of tiny areas costs up to PieceBudget's million pieces, seconds each run
    // under AddressSanitizer (FuzzRegressionTests checks that bound); the start stays free.
    FuzzDevice.translate("0 \(min(device.length, 1 << 16)) integrity 7:0 \(device.offset) \(geometry.tagSize) J 0\n", m)
    return 0
}
