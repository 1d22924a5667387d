/// A declarative stack: named volumes, each a dm device made of one or more targets over
/// members named by stable identity, with an optional filesystem. Read strictly from YAML
/// (see examples/stack.yaml): an unknown key, a wrong type or a size without a unit is an error
/// naming the file, the line and the key.
public struct StackSpec: Sendable, Hashable {
    /// The stack's name: part of every dm uuid it creates (`DMSTACK-<stack>:<volume>`), so
    /// `teardown` and `list` know which volumes belong together.
    public var name: String
    public var file: String
    /// In file order; `apply` orders them by dependency.
    public var volumes: [VolumeSpec]

    public func volume(_ name: String) -> VolumeSpec? { volumes.first { $0.name == name } }
}

/// One dm device of a spec.
public struct VolumeSpec: Sendable, Hashable {
    public var name: String
    public var line: Int
    /// Concatenated in order: the first starts at sector 0, each next one where the last ended.
    public var targets: [TargetSpec]
    public var filesystem: FilesystemSpec?

    /// Volumes of the same spec this one is built on.
    public var volumeDependencies: [String] {
        var out: [String] = []
        for t in targets { for m in t.kind.references { if case .volume(let v) = m.ref, !out.contains(v) { out.append(v) } } }
        return out
    }
}

/// How a spec names a member device: a path (also `/dev/disk/by-id/...`, written `ID=name`),
/// a blkid tag (`UUID=`, `PARTUUID=`, `LABEL=`), a pmem namespace (`NAMESPACE=namespace0.0` or
/// its uuid), or another volume of the same spec (`VOLUME=name`).
public enum MemberRef: Sendable, Hashable, CustomStringConvertible {
    case path(String)
    case tag(name: String, value: String)
    case namespace(String)
    case volume(String)

    static let tags = ["UUID", "PARTUUID", "LABEL"]

    static func parse(_ text: String) -> MemberRef? {
        if text.hasPrefix("/dev/") { return .path(text) }
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else { return nil }
        let key = String(text[..<eq]), value = String(text[text.index(after: eq)...])
        guard !value.isEmpty else { return nil }
        switch key {
        case "ID": return value.contains("/") ? nil : .path("/dev/disk/by-id/\(value)")
        case "NAMESPACE": return .namespace(value)
        case "VOLUME": return .volume(value)
        case _ where tags.contains(key): return .tag(name: key, value: value)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .path(let p): p
        case .tag(let n, let v): "\(n)=\(v)"
        case .namespace(let n): "NAMESPACE=\(n)"
        case .volume(let v): "VOLUME=\(v)"
        }
    }
}

/// A member as one target uses it: which device, from which sector, for how long.
public struct MemberSpec: Sendable, Hashable {
    public var ref: MemberRef
    /// Sectors skipped at the start of the member.
    public var offset: UInt64
    /// Sectors used (linear members only); nil: the rest of the member.
    public var size: UInt64?
    public var line: Int
    /// Key path for messages: `volumes.fast.targets[0].members[1]`.
    public var key: String
}

/// One target of a volume, as written.
public struct TargetSpec: Sendable, Hashable {
    public var kind: TargetSpecKind
    /// Sectors; nil: derived from the members.
    public var size: UInt64?
    public var line: Int
    public var key: String
}

/// Raid layouts dm-raid accepts (Documentation/admin-guide/device-mapper/dm-raid.rst).
public enum RaidLevel: String, Sendable, Hashable, CaseIterable {
    case raid0, raid1, raid4, raid5, raid6, raid10

    /// Data devices' worth of capacity out of `legs` (raid10: legs / copies).
    func dataLegs(_ legs: Int, copies: Int) -> Int {
        switch self {
        case .raid0: legs
        case .raid1: 1
        case .raid4, .raid5: legs - 1
        case .raid6: legs - 2
        case .raid10: legs / copies
        }
    }

    var minimumLegs: Int {
        switch self {
        case .raid0: 1
        case .raid1, .raid10: 2
        case .raid4, .raid5: 3
        case .raid6: 4
        }
    }
}

/// The targets a spec can ask for, with the arguments each takes (every size in sectors).
public enum TargetSpecKind: Sendable, Hashable {
    case linear(members: [MemberSpec])
    case striped(members: [MemberSpec], chunk: UInt64)
    /// `type`: the dm-raid type word (`raid5_ls`, `raid10`, ...).
    case raid(level: RaidLevel, type: String, members: [MemberSpec], metadata: [MemberSpec?], chunk: UInt64,
              regionSize: UInt64?, copies: Int, raid10Format: String?, nosync: Bool)
    case mirror(members: [MemberSpec], regionSize: UInt64, nosync: Bool)
    case crypt(device: MemberSpec, cipher: String, keyFile: String, ivOffset: UInt64)
    case snapshotOrigin(device: MemberSpec)
    case snapshot(origin: MemberSpec, cow: MemberSpec, chunk: UInt64, persistent: Bool)
    case thinPool(metadata: MemberSpec, data: MemberSpec, blockSize: UInt64, lowWater: UInt64, zeroNewBlocks: Bool)
    case thin(pool: MemberSpec, id: UInt64)
    case writecache(origin: MemberSpec, cache: MemberSpec, pmem: Bool, blockBytes: UInt64)
    case cache(metadata: MemberSpec, cache: MemberSpec, origin: MemberSpec, blockSize: UInt64, mode: String, policy: String)
    case delay(device: MemberSpec, milliseconds: UInt64)
    case flakey(device: MemberSpec, up: UInt64, down: UInt64, features: [String])
    case error
    case zero

    /// Every member reference, in table order.
    public var references: [MemberSpec] {
        switch self {
        case .linear(let m), .striped(let m, _), .mirror(let m, _, _): m
        case .raid(_, _, let m, let meta, _, _, _, _, _): meta.compactMap { $0 } + m
        case .crypt(let d, _, _, _), .snapshotOrigin(let d), .delay(let d, _), .flakey(let d, _, _, _): [d]
        case .snapshot(let o, let c, _, _): [o, c]
        case .thinPool(let m, let d, _, _, _): [m, d]
        case .thin(let p, _): [p]
        case .writecache(let o, let c, _, _): [o, c]
        case .cache(let m, let c, let o, _, _, _): [m, c, o]
        case .error, .zero: []
        }
    }

    public var typeName: String {
        switch self {
        case .linear: "linear"
        case .striped: "striped"
        case .raid(let level, _, _, _, _, _, _, _, _): level.rawValue
        case .mirror: "mirror"
        case .crypt: "crypt"
        case .snapshotOrigin: "snapshot-origin"
        case .snapshot: "snapshot"
        case .thinPool: "thin-pool"
        case .thin: "thin"
        case .writecache: "writecache"
        case .cache: "cache"
        case .delay: "delay"
        case .flakey: "flakey"
        case .error: "error"
        case .zero: "zero"
        }
    }
}

/// A filesystem to make on a volume (only when the volume holds none yet) and to mount.
public struct FilesystemSpec: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable { case xfs, ext4 }
    public var kind: Kind
    public var mountpoint: String?
    /// mount(8)-style options; `dax`, `ro` and the like.
    public var options: [String]
    /// XFS: the reverse-mapping btree, which makes GETFSMAP name owners (on by default).
    public var rmapbt: Bool
    public var reflink: Bool
    public var label: String?
    /// Extra mkfs arguments, passed as given.
    public var mkfsOptions: [String]
    public var line: Int
}

extension StackSpec {
    /// Volume and stack names: what dm accepts in a name and udev in a uuid, minus the
    /// separator `:` dmstack puts between them in `DMSTACK-<stack>:<volume>`.
    static func validName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 100 && !s.hasPrefix("-") && !s.hasPrefix(".")
            && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 43 || $0 == 46 || $0 == 45 }
    }

    /// The dm uuid prefix that marks a device as dmstack's (DESIGN §4).
    public static let uuidPrefix = "DMSTACK-"

    public func uuid(of volume: String) -> String { "\(Self.uuidPrefix)\(name):\(volume)" }

    /// Splits a dmstack uuid into stack and volume; nil for anything else.
    public static func owner(ofUUID uuid: String) -> (stack: String, volume: String)? {
        guard uuid.hasPrefix(uuidPrefix) else { return nil }
        let rest = uuid.dropFirst(uuidPrefix.count)
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        return (String(rest[..<colon]), String(rest[rest.index(after: colon)...]))
    }

    /// Reads a spec from its YAML tree. `defaultName`: the stack name when the spec has no
    /// `name:` (the file's base name).
    public static func decode(_ root: SpecNode, file: String, defaultName: String) throws(SpecError) -> StackSpec {
        var top = try SpecMap(root, file: file, path: "")
        if let v = try top.integer("version"), v != 1 {
            throw top.fail("version", "this dmstack reads spec version 1, not \(v)")
        }
        let name = try top.string("name") ?? defaultName
        guard validName(name) else {
            throw top.fail("name", "'\(name)' is not a valid stack name (letters, digits, _ + . -; at most 100; not starting with - or .)")
        }
        guard let volumesNode = top.node("volumes") else {
            throw SpecError(file: file, line: root.line, key: "volumes", message: "missing (required): the volumes to build")
        }
        try top.finish()
        let volumesMap = try SpecMap(volumesNode, file: file, path: "volumes")
        guard !volumesMap.entries.isEmpty else { throw SpecError(file: file, line: volumesNode.line, key: "volumes", message: "no volumes") }
        var volumes: [VolumeSpec] = []
        for entry in volumesMap.entries {
            let path = "volumes.\(entry.key)"
            guard validName(entry.key) else {
                throw SpecError(file: file, line: entry.keyLine, key: path, message: "'\(entry.key)' is not a valid volume name (letters, digits, _ + . -; not starting with - or .)")
            }
            guard name.count + entry.key.count <= 119 else {
                throw SpecError(file: file, line: entry.keyLine, key: path, message: "stack and volume names together exceed the 128 bytes of a dm uuid")
            }
            volumes.append(try decodeVolume(entry.key, entry.value, line: entry.keyLine, file: file, path: path))
        }
        let spec = StackSpec(name: name, file: file, volumes: volumes)
        try spec.checkReferences()
        return spec
    }

    static func decodeVolume(_ name: String, _ node: SpecNode, line: Int, file: String, path: String) throws(SpecError) -> VolumeSpec {
        var map = try SpecMap(node, file: file, path: path)
        guard let targetNodes = try map.list("targets") else {
            throw SpecError(file: file, line: node.line, key: "\(path).targets", message: "missing (required): a list of targets")
        }
        guard !targetNodes.isEmpty else { throw map.fail("targets", "is empty") }
        var targets: [TargetSpec] = []
        for (i, t) in targetNodes.enumerated() {
            targets.append(try decodeTarget(t, file: file, path: "\(path).targets[\(i)]"))
        }
        let fs = try map.node("filesystem").map { n throws(SpecError) in try decodeFilesystem(n, file: file, path: "\(path).filesystem") }
        try map.finish()
        return VolumeSpec(name: name, line: line, targets: targets, filesystem: fs)
    }

    static func decodeMember(_ node: SpecNode, file: String, path: String, allowSize: Bool) throws(SpecError) -> MemberSpec {
        func ref(_ text: String, line: Int, key: String) throws(SpecError) -> MemberRef {
            guard let r = MemberRef.parse(text) else {
                throw SpecError(file: file, line: line, key: key, message: "'\(text)' is not a member: give /dev/PATH, ID=by-id-name, UUID=, PARTUUID=, LABEL=, NAMESPACE=name-or-uuid or VOLUME=name")
            }
            return r
        }
        switch node.value {
        case .scalar(let s):
            return MemberSpec(ref: try ref(s, line: node.line, key: path), offset: 0, size: nil, line: node.line, key: path)
        case .mapping:
            var map = try SpecMap(node, file: file, path: path)
            let device = try map.required("device")
            let r = try ref(device, line: map.node("device")?.line ?? node.line, key: "\(path).device")
            let offset = try map.size("offset") ?? 0
            let size = allowSize ? try map.size("size") : nil
            if size == 0 { throw map.fail("size", "must be greater than zero") }
            try map.finish()
            return MemberSpec(ref: r, offset: offset, size: size, line: node.line, key: path)
        case .sequence:
            throw SpecError(file: file, line: node.line, key: path, message: "expected a member (a device or a mapping with device:), found a list")
        }
    }

    static func decodeTarget(_ node: SpecNode, file: String, path: String) throws(SpecError) -> TargetSpec {
        var map = try SpecMap(node, file: file, path: path)
        let type = try map.required("type")
        func member(_ key: String, allowSize: Bool = false) throws(SpecError) -> MemberSpec {
            guard let n = map.node(key) else { throw SpecError(file: file, line: node.line, key: "\(path).\(key)", message: "missing (required)") }
            return try decodeMember(n, file: file, path: "\(path).\(key)", allowSize: allowSize)
        }
        func members(minimum: Int, allowSize: Bool = false) throws(SpecError) -> [MemberSpec] {
            guard let items = try map.list("members") else { throw SpecError(file: file, line: node.line, key: "\(path).members", message: "missing (required)") }
            guard items.count >= minimum else { throw map.fail("members", "\(type) needs at least \(minimum) member(s), found \(items.count)") }
            var out: [MemberSpec] = []
            for (i, item) in items.enumerated() { out.append(try decodeMember(item, file: file, path: "\(path).members[\(i)]", allowSize: allowSize)) }
            return out
        }
        func positive(_ key: String, default value: UInt64?) throws(SpecError) -> UInt64 {
            guard let v = try map.size(key) ?? value else { throw SpecError(file: file, line: node.line, key: "\(path).\(key)", message: "missing (required)") }
            guard v > 0 else { throw map.fail(key, "must be greater than zero") }
            return v
        }
        func powerOfTwo(_ key: String, _ v: UInt64) throws(SpecError) {
            guard v & (v - 1) == 0 else { throw map.fail(key, "\(SpecSize.describe(v)) is not a power of two") }
        }
        var size: UInt64? = nil
        func readSize(required: Bool = false) throws(SpecError) {
            size = try map.size("size")
            if size == 0 { throw map.fail("size", "must be greater than zero") }
            if required && size == nil { throw SpecError(file: file, line: node.line, key: "\(path).size", message: "missing (required for \(type))") }
        }
        let kind: TargetSpecKind
        switch type {
        case "linear":
            kind = .linear(members: try members(minimum: 1, allowSize: true))
        case "striped":
            let m = try members(minimum: 1)
            // dm-stripe.c stripe_ctr: the chunk is at least one page's worth and a power of two.
            let chunk = try positive("chunk", default: 128)
            try powerOfTwo("chunk", chunk)
            guard chunk >= 8 else { throw map.fail("chunk", "must be at least 4 KiB") }
            try readSize()
            kind = .striped(members: m, chunk: chunk)
        case _ where RaidLevel(rawValue: type) != nil:
            let level = RaidLevel(rawValue: type)!
            guard let items = try map.list("members") else { throw SpecError(file: file, line: node.line, key: "\(path).members", message: "missing (required)") }
            guard items.count >= level.minimumLegs else { throw map.fail("members", "\(type) needs at least \(level.minimumLegs) members, found \(items.count)") }
            // dm-raid.c: at most 253 devices (MAX_RAID_DEVICES).
            guard items.count <= 253 else { throw map.fail("members", "dm-raid takes at most 253 devices") }
            var data: [MemberSpec] = [], meta: [MemberSpec?] = []
            for (i, item) in items.enumerated() {
                let p = "\(path).members[\(i)]"
                if case .mapping = item.value {
                    var m = try SpecMap(item, file: file, path: p)
                    let metaNode = m.node("metadata")
                    _ = m.node("device"); _ = m.node("offset")
                    try m.finish()
                    var stripped = item
                    if case .mapping(let entries) = item.value { stripped.value = .mapping(entries.filter { $0.key != "metadata" }) }
                    data.append(try decodeMember(stripped, file: file, path: p, allowSize: false))
                    meta.append(try metaNode.map { n throws(SpecError) in try decodeMember(n, file: file, path: "\(p).metadata", allowSize: false) })
                } else {
                    data.append(try decodeMember(item, file: file, path: p, allowSize: false))
                    meta.append(nil)
                }
            }
            if meta.contains(where: { $0 != nil }) && meta.contains(where: { $0 == nil }) {
                throw map.fail("members", "give every member a metadata device, or none")
            }
            let chunk = level == .raid1 ? 0 : try positive("chunk", default: 128)
            if level != .raid1 {
                try powerOfTwo("chunk", chunk)
                guard chunk >= 8 else { throw map.fail("chunk", "must be at least 4 KiB") }
            }
            let region = try map.size("region_size")
            if let region { try powerOfTwo("region_size", region) }
            let nosync = try map.bool("nosync") ?? false
            var dmType = type, copies = 2, format: String? = nil
            let layout = try map.string("layout")
            switch level {
            case .raid5:
                let l = layout ?? "ls"
                guard ["la", "ra", "ls", "rs", "n"].contains(l) else { throw map.fail("layout", "raid5 layouts are la, ra, ls, rs, n (got '\(l)')") }
                dmType = "raid5_\(l)"
            case .raid6:
                let l = layout ?? "zr"
                guard ["zr", "nr", "nc", "la_6", "ra_6", "ls_6", "rs_6", "n_6"].contains(l) else { throw map.fail("layout", "raid6 layouts are zr, nr, nc, la_6, ra_6, ls_6, rs_6, n_6 (got '\(l)')") }
                dmType = "raid6_\(l)"
            case .raid10:
                let l = layout ?? "near"
                guard ["near", "far", "offset"].contains(l) else { throw map.fail("layout", "raid10 layouts are near, far, offset (got '\(l)')") }
                format = layout
                copies = Int(try map.integer("copies", max: 64) ?? 2)
                guard copies >= 2, copies <= data.count else { throw map.fail("copies", "must be between 2 and the number of members") }
                if l == "near" && data.count % copies != 0 { throw map.fail("copies", "raid10 near with \(data.count) members needs copies dividing \(data.count)") }
            default:
                if layout != nil { throw map.fail("layout", "\(type) has no layouts") }
            }
            try readSize()
            kind = .raid(level: level, type: dmType, members: data, metadata: meta, chunk: chunk, regionSize: region,
                         copies: copies, raid10Format: format, nosync: nosync)
        case "mirror":
            let m = try members(minimum: 2)
            // dm-raid1.c / dm-region-hash: the region size is a power of two.
            let region = try positive("region_size", default: 1024)
            try powerOfTwo("region_size", region)
            let nosync = try map.bool("nosync") ?? false
            try readSize()
            kind = .mirror(members: m, regionSize: region, nosync: nosync)
        case "crypt":
            let d = try member("device")
            let cipher = try map.string("cipher") ?? "aes-xts-plain64"
            guard !cipher.contains(" ") else { throw map.fail("cipher", "must be one word") }
            let keyFile = try map.required("key_file")
            let iv = try map.integer("iv_offset") ?? 0
            try readSize()
            kind = .crypt(device: d, cipher: cipher, keyFile: keyFile, ivOffset: iv)
        case "snapshot-origin":
            kind = .snapshotOrigin(device: try member("device"))
        case "snapshot":
            let o = try member("origin"), c = try member("cow")
            // dm-exception-store.c set_chunk_size: a power of two, at least a page.
            let chunk = try positive("chunk", default: 8)
            try powerOfTwo("chunk", chunk)
            let persistent = try map.bool("persistent") ?? true
            kind = .snapshot(origin: o, cow: c, chunk: chunk, persistent: persistent)
        case "thin-pool":
            let m = try member("metadata"), d = try member("data")
            // dm-thin.c: block size a multiple of 64 KiB, from 64 KiB to 1 GiB.
            let block = try positive("block_size", default: 128)
            guard block % 128 == 0, block <= 2_097_152 else { throw map.fail("block_size", "must be a multiple of 64 KiB between 64 KiB and 1 GiB") }
            let low = try map.integer("low_water_mark") ?? 0
            let zero = try map.bool("zero") ?? true
            kind = .thinPool(metadata: m, data: d, blockSize: block, lowWater: low, zeroNewBlocks: zero)
        case "thin":
            let pool = try member("pool")
            // dm-thin-metadata.h: device ids are 24 bits.
            guard let id = try map.integer("id", max: (1 << 24) - 1) else { throw SpecError(file: file, line: node.line, key: "\(path).id", message: "missing (required): the thin device id in its pool") }
            try readSize(required: true)
            kind = .thin(pool: pool, id: id)
        case "writecache":
            let o = try member("origin"), c = try member("cache")
            let mode = try map.string("mode") ?? "pmem"
            guard mode == "pmem" || mode == "ssd" else { throw map.fail("mode", "is pmem or ssd, not '\(mode)'") }
            // dm-writecache.c: block size a power of two from 512 bytes to the page size.
            let block = try map.size("block_size") ?? 8
            guard block == 1 || block == 2 || block == 4 || block == 8 else { throw map.fail("block_size", "must be 512B, 1K, 2K or 4K") }
            kind = .writecache(origin: o, cache: c, pmem: mode == "pmem", blockBytes: block * 512)
        case "cache":
            let m = try member("metadata"), c = try member("cache"), o = try member("origin")
            // dm-cache-target.c: block size a multiple of 32 KiB, from 32 KiB to 1 GiB.
            let block = try positive("block_size", default: 128)
            guard block % 64 == 0, block <= 2_097_152 else { throw map.fail("block_size", "must be a multiple of 32 KiB between 32 KiB and 1 GiB") }
            let mode = try map.string("mode") ?? "writethrough"
            guard ["writethrough", "writeback", "passthrough"].contains(mode) else { throw map.fail("mode", "is writethrough, writeback or passthrough, not '\(mode)'") }
            let policy = try map.string("policy") ?? "smq"
            guard policy.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else { throw map.fail("policy", "must be one word") }
            kind = .cache(metadata: m, cache: c, origin: o, blockSize: block, mode: mode, policy: policy)
        case "delay":
            let d = try member("device")
            guard let ms = try map.integer("delay", max: 1_000_000) else { throw SpecError(file: file, line: node.line, key: "\(path).delay", message: "missing (required): milliseconds") }
            try readSize()
            kind = .delay(device: d, milliseconds: ms)
        case "flakey":
            let d = try member("device")
            let up = try map.integer("up", max: 1 << 30) ?? 0, down = try map.integer("down", max: 1 << 30) ?? 0
            guard up + down > 0 else { throw map.fail("up", "up and down (seconds) cannot both be zero") }
            let features = try map.words("features") ?? []
            let known = ["drop_writes", "error_writes", "error_reads"]
            if let bad = features.first(where: { !known.contains($0) }) { throw map.fail("features", "'\(bad)' is not one of \(known.joined(separator: ", "))") }
            try readSize()
            kind = .flakey(device: d, up: up, down: down, features: features)
        case "error":
            try readSize(required: true)
            kind = .error
        case "zero":
            try readSize(required: true)
            kind = .zero
        default:
            throw map.fail("type", "unknown target type '\(type)' (linear, striped, raid0, raid1, raid4, raid5, raid6, raid10, mirror, crypt, snapshot-origin, snapshot, thin-pool, thin, writecache, cache, delay, flakey, error, zero)")
        }
        try map.finish()
        return TargetSpec(kind: kind, size: size, line: node.line, key: path)
    }

    static func decodeFilesystem(_ node: SpecNode, file: String, path: String) throws(SpecError) -> FilesystemSpec {
        var map = try SpecMap(node, file: file, path: path)
        let typeText = try map.required("type")
        guard let kind = FilesystemSpec.Kind(rawValue: typeText) else { throw map.fail("type", "is xfs or ext4, not '\(typeText)'") }
        let mountpoint = try map.string("mountpoint")
        if let m = mountpoint, !m.hasPrefix("/") || m.contains("\n") || m.split(separator: "/").contains("..") {
            throw map.fail("mountpoint", "must be an absolute path without '..'")
        }
        let options = try map.words("options") ?? []
        var rmapbt = true, reflink = true
        if kind == .xfs {
            rmapbt = try map.bool("rmapbt") ?? true
            reflink = try map.bool("reflink") ?? true
        }
        let label = try map.string("label")
        if let label, label.utf8.count > (kind == .xfs ? 12 : 16) {
            throw map.fail("label", "\(kind.rawValue) labels are at most \(kind == .xfs ? 12 : 16) bytes")
        }
        let mkfs = try map.words("mkfs_options") ?? []
        try map.finish()
        return FilesystemSpec(kind: kind, mountpoint: mountpoint, options: options, rmapbt: rmapbt, reflink: reflink,
                              label: label, mkfsOptions: mkfs, line: node.line)
    }

    /// Every `VOLUME=` names a volume of this spec, and volumes do not depend on themselves in a
    /// circle.
    func checkReferences() throws(SpecError) {
        let names = Set(volumes.map(\.name))
        for v in volumes {
            for t in v.targets {
                for m in t.kind.references {
                    if case .volume(let other) = m.ref, !names.contains(other) {
                        throw SpecError(file: file, line: m.line, key: m.key, message: "no volume '\(other)' in this spec")
                    }
                }
            }
        }
        // A mounted filesystem holds its device exclusively: dm could not open it as a member.
        for v in volumes {
            for t in v.targets {
                for m in t.kind.references {
                    if case .volume(let other) = m.ref, volume(other)?.filesystem != nil {
                        throw SpecError(file: file, line: m.line, key: m.key, message: "volume \(other) has a filesystem, so it cannot also be a member of \(v.name); put the filesystem on the top volume")
                    }
                }
            }
        }
        do { _ = try dependencyOrder() } catch { throw error }
    }

    /// Volumes ordered so that each comes after every volume it is built on (Kahn's
    /// algorithm, ties in file order); a cycle is an error naming it.
    public func dependencyOrder() throws(SpecError) -> [VolumeSpec] {
        var remaining = volumes, done = Set<String>(), out: [VolumeSpec] = []
        while !remaining.isEmpty {
            guard let i = remaining.firstIndex(where: { $0.volumeDependencies.allSatisfy(done.contains) }) else {
                let cycle = remaining.map(\.name).joined(separator: ", ")
                throw SpecError(file: file, line: remaining[0].line, key: "volumes.\(remaining[0].name)", message: "volumes depend on each other in a cycle: \(cycle)")
            }
            let v = remaining.remove(at: i)
            done.insert(v.name)
            out.append(v)
        }
        return out
    }
}
