import StackModel
import StackSystem

/// The notification configuration as `ConfigLoader` reads it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let root = try? SpecLoader.parse(bytes, file: "config.yaml") else { return 0 }
    _ = try? NotifyConfig.decode(root, file: "config.yaml")
    return 0
}
