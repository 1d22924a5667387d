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
    /// The target's own keys, decoded by its type's file under `Targets/`.
    public var kind: any SpecTarget
    /// Sectors; nil: derived from the members.
    public var size: UInt64?
    public var line: Int
    public var key: String

    public static func == (a: TargetSpec, b: TargetSpec) -> Bool {
        a.size == b.size && a.line == b.line && a.key == b.key && a.kind.isEqual(to: b.kind)
    }

    public func hash(into h: inout Hasher) {
        h.combine(key)
        h.combine(line)
        kind.hash(into: &h)
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

    /// The dm uuid prefix that marks a device as dmstack's: `remove`, `apply` and `teardown`
    /// touch only devices carrying it unless forced (lvm2 does the same with `LVM-`).
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
        guard let kind = SpecTargets.byName[type] else {
            throw map.fail("type", "unknown target type '\(type)' (\(SpecTargets.names.joined(separator: ", ")))")
        }
        var decoder = SpecTargetDecoder(map: map, node: node, file: file, path: path, type: type)
        let target = try kind.decode(&decoder)
        try decoder.map.finish()
        return TargetSpec(kind: target, size: decoder.size, line: node.line, key: path)
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
