import StackModel

/// A snapshot's COW device as `--snapshot-store` reads it, then a snapshot table over it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCowStore(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let device = FuzzDevice(data, size)
    guard let store = try? SnapshotExceptionStore.read(source: "fuzz", device.read) else { return 0 }
    var m = DynamicMappings()
    m.snapshots["top"] = store
    FuzzDevice.translate("0 \(device.length) snapshot 7:0 7:1 P \(store.chunkSectors)\n", m)
    return 0
}
