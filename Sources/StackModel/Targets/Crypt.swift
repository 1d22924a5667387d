/// dm-crypt.c `crypt_ctr`: `<cipher> <key> <iv_offset> <dev> <offset> [<#opt> <opt>...]`.
/// Sectors map 1:1 onto the device at the offset; only their contents are transformed.
public struct CryptTarget: TargetType {
    public var cipher: String
    /// As printed: hex, `:<size>:<type>:<description>` for a keyring key, or masked.
    public var key: String
    public var ivOffset: UInt64
    public var device: String
    public var offset: UInt64
    /// The optional parameters as printed (`allow_discards`, `sector_size:4096`, ...); nil
    /// when the table has no optional-parameter count.
    public var options: [String]?

    public static let names = ["crypt"]
    public var typeName: String { "crypt" }

    public static func parse(_ p: inout TargetParser) throws(TableParseError) -> CryptTarget {
        let cipher = try p.word("cipher"); let key = try p.word("key"); let iv = try p.number("iv offset")
        let d = try p.device("device"); let o = try p.number("offset")
        var options: [String]?
        if p.remaining > 0 { let n = try p.count("optional parameter count"); options = try p.words(n, "optional parameters") }
        try p.noMore()
        return CryptTarget(cipher: cipher, key: key, ivOffset: iv, device: d, offset: o, options: options)
    }

    public var tableArguments: [String] {
        [cipher, key, "\(ivOffset)", device, "\(offset)"] + (options.map { ["\($0.count)"] + $0 } ?? [])
    }
    public var members: [MemberDevice] { [MemberDevice(device: device, offset: offset)] }

    /// dm-crypt.c `crypt_map`: `bio->bi_iter.bi_sector = cc->start + dm_target_offset(...)`.
    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        IdentityMapper(frame: frame, slot: 0, offset: offset)
    }
}
