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

    /// The key argument; a keyring reference `:size:type:description` is not secret and is kept.
    public static func maskSecrets(_ arguments: inout [String]) {
        guard arguments.count > 1, !arguments[1].hasPrefix(":"), arguments[1] != "-" else { return }
        arguments[1] = TableSecrets.hidden(arguments[1])
    }

    /// dm-crypt.c `crypt_map`: `bio->bi_iter.bi_sector = cc->start + dm_target_offset(...)`.
    public func mapper(_ frame: MapFrame, mappings: DynamicMappings, poolName: String?) -> any TargetMapper {
        IdentityMapper(frame: frame, slot: 0, offset: offset)
    }
}

/// `{type: crypt, device: A, cipher: aes-xts-plain64, key_file: /root/key, iv_offset: 0}`.
public struct CryptSpec: SpecTarget {
    public var device: MemberSpec
    public var cipher: String
    public var keyFile: String
    public var ivOffset: UInt64
    public static let specNames = ["crypt"]
    public var references: [MemberSpec] { [device] }

    public static func decode(_ d: inout SpecTargetDecoder) throws(SpecError) -> CryptSpec {
        let dev = try d.member("device")
        let cipher = try d.map.string("cipher") ?? "aes-xts-plain64"
        guard !cipher.contains(" ") else { throw d.map.fail("cipher", "must be one word") }
        let keyFile = try d.map.required("key_file")
        let iv = try d.map.integer("iv_offset") ?? 0
        try d.readSize()
        return CryptSpec(device: dev, cipher: cipher, keyFile: keyFile, ivOffset: iv)
    }

    public func plan(_ p: inout TargetPlanning) throws(PlanError) -> [PlannedTarget] {
        let r = try p.member(device)
        let len = p.target.size ?? r.available
        try p.use(r, device, len)
        let hex: String
        switch p.key(keyFile) {
        case .success(let k): hex = k
        case .failure(let e): throw p.failTarget(.missing, key: ".key_file", e.message)
        }
        return [PlannedTarget(length: len, target: CryptTarget(cipher: cipher, key: hex, ivOffset: ivOffset, device: r.word, offset: device.offset, options: nil))]
    }
}
