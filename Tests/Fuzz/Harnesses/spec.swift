import StackModel
import StackSystem

/// A spec file as `apply` reads it: libyaml's tree, then the strict decode and the order.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSpec(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let root = try? SpecLoader.parse(bytes, file: "fuzz.yaml"),
          let spec = try? StackSpec.decode(root, file: "fuzz.yaml", defaultName: "fuzz") else { return 0 }
    _ = try? spec.dependencyOrder()
    return 0
}
