import StackModel

/// A cache's metadata as `--cache-dump` takes it: cache_dump XML, or the metadata device.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCacheDump(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? CacheMapping.parseCacheDump(bytes, source: "fuzz")
    let bounds = CacheMapping.Bounds(cacheName: "cache", blockSectors: 64, cacheBlocks: 256, originBlocks: 4096)
    _ = try? CacheMapping.parseCacheDump(bytes, source: "fuzz", bounds: bounds)
    if bytes.count >= 4096, let sb = try? CacheMetadata.superblock(Array(bytes[0..<4096]), source: "fuzz") {
        _ = try? CacheMetadata.mappings(sb, source: "fuzz") { n in
            guard n < UInt64(bytes.count / 4096) else { throw MappingParseError(source: "fuzz", message: "past the end") }
            return Array(bytes[Int(n) * 4096..<Int(n + 1) * 4096])
        }
    }
    return 0
}
