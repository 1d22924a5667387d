import StackModel

/// A range argument (`translate DEV RANGE`, `simulate --range`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRange(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let r = try? RangeParser.parse(text) {
        precondition(r.length > 0 && r.start + r.length <= maxSectors, "range \(r) escaped the bounds")
    }
    return 0
}
