/// A YAML node as the spec reader sees it: scalars stay text (the reader decides what a value
/// means per key, so `yes` never silently becomes a boolean), and every node keeps its line so
/// an error can name it. Built by StackSystem's libyaml loader; pure from here on.
public struct SpecNode: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case scalar(String)
        case sequence([SpecNode])
        /// Keys in file order; a repeated key is kept so the reader can refuse it.
        case mapping([Entry])
    }

    public struct Entry: Sendable, Hashable {
        public var key: String
        public var keyLine: Int
        public var value: SpecNode
        public init(key: String, keyLine: Int, value: SpecNode) {
            self.key = key
            self.keyLine = keyLine
            self.value = value
        }
    }

    public var value: Value
    /// 1-based line where the node starts.
    public var line: Int

    public init(_ value: Value, line: Int) {
        self.value = value
        self.line = line
    }

    var kindName: String {
        switch value {
        case .scalar: "a value"
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}

/// A spec that cannot be used: names the file, the line and the key path
/// (`volumes.fast.targets[0].chunk`).
public struct SpecError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var key: String
    public var message: String

    public init(file: String, line: Int, key: String, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    /// `file:line: key: message`; line 0 (the file as a whole, unreadable) is left out.
    public var description: String {
        (line > 0 ? "\(file):\(line): " : "\(file): ") + (key.isEmpty ? "" : "\(key): ") + message
    }
}

/// Strict reading of one mapping: every key must be read by the decoder or it is refused as
/// unknown, and values must have the expected shape. Public so that decoders outside
/// StackModel (the notification sinks' configuration in StackSystem) read their keys with the
/// same rules and the same one-line errors as specs.
public struct SpecMap {
    /// The file the mapping comes from, for errors.
    public let file: String
    /// The key path of the mapping (`sinks[0]`), for errors; empty at the top.
    public let path: String
    /// The mapping node itself (its line is the one a missing key is reported on).
    public let node: SpecNode
    /// The mapping's entries in file order (no key twice).
    public let entries: [SpecNode.Entry]
    /// Every key the decoder asked for, present or not: what is allowed here.
    private(set) var asked: Set<String> = []

    /// Reads `node` as a mapping at key path `path`; refuses anything else, and a repeated key.
    public init(_ node: SpecNode, file: String, path: String) throws(SpecError) {
        self.file = file
        self.path = path
        self.node = node
        guard case .mapping(let e) = node.value else {
            throw SpecError(file: file, line: node.line, key: path, message: "expected a mapping (key: value lines), found \(node.kindName)")
        }
        var seen: [String: Int] = [:]
        for entry in e {
            if let first = seen[entry.key] {
                throw SpecError(file: file, line: entry.keyLine, key: Self.join(path, entry.key), message: "repeated key (first on line \(first))")
            }
            seen[entry.key] = entry.keyLine
        }
        entries = e
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    /// The full key path of `key` in this mapping (`sinks[0].labels`).
    public func keyPath(_ key: String) -> String { Self.join(path, key) }

    /// The error for `key`, on the line of its value (the mapping's line when it is absent).
    public func fail(_ key: String, _ message: String) -> SpecError {
        let line = entries.first { $0.key == key }?.value.line ?? node.line
        return SpecError(file: file, line: line, key: keyPath(key), message: message)
    }

    /// The value of `key` whatever its shape, nil when absent; marks the key as allowed.
    public mutating func node(_ key: String) -> SpecNode? {
        asked.insert(key)
        return entries.first(where: { $0.key == key })?.value
    }

    /// A non-empty scalar, nil when absent.
    public mutating func string(_ key: String) throws(SpecError) -> String? {
        guard let n = node(key) else { return nil }
        guard case .scalar(let s) = n.value else { throw fail(key, "expected a value, found \(n.kindName)") }
        guard !s.isEmpty else { throw fail(key, "is empty") }
        return s
    }

    /// A non-empty scalar that must be there.
    public mutating func required(_ key: String) throws(SpecError) -> String {
        guard let s = try string(key) else { throw SpecError(file: file, line: node.line, key: keyPath(key), message: "missing (required)") }
        return s
    }

    /// `true` or `false` (no YAML 1.1 `yes`), nil when absent.
    public mutating func bool(_ key: String) throws(SpecError) -> Bool? {
        guard let s = try string(key) else { return nil }
        switch s {
        case "true": return true
        case "false": return false
        default: throw fail(key, "expected true or false, got '\(s)'")
        }
    }

    /// A whole number up to `max`, nil when absent.
    public mutating func integer(_ key: String, max: UInt64 = maxSectors) throws(SpecError) -> UInt64? {
        guard let s = try string(key) else { return nil }
        guard isUnsigned(s), let v = UInt64(s), v <= max else { throw fail(key, "expected a whole number up to \(max), got '\(s)'") }
        return v
    }

    /// A size with a unit, in sectors: `s` (sectors), `B`, `K`/`KiB`, `M`/`MiB`, `G`/`GiB`,
    /// `T`/`TiB` (powers of 1024, whole sectors only). A bare number is refused, except 0:
    /// sectors or bytes is exactly the mistake a spec must not guess.
    public mutating func size(_ key: String) throws(SpecError) -> UInt64? {
        guard let s = try string(key) else { return nil }
        do { return try SpecSize.sectors(s) } catch { throw fail(key, error.message) }
    }

    /// A list of nodes, nil when absent.
    public mutating func list(_ key: String) throws(SpecError) -> [SpecNode]? {
        guard let n = node(key) else { return nil }
        guard case .sequence(let items) = n.value else { throw fail(key, "expected a list, found \(n.kindName)") }
        return items
    }

    /// A list of words, written as a YAML list or as one comma-separated value.
    public mutating func words(_ key: String) throws(SpecError) -> [String]? {
        guard let n = node(key) else { return nil }
        switch n.value {
        case .scalar(let s): return s.split(separator: ",").map { String($0).trimmed(" ") }.filter { !$0.isEmpty }
        case .sequence(let items):
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard case .scalar(let s) = item.value, !s.isEmpty else {
                    throw SpecError(file: file, line: item.line, key: "\(keyPath(key))[\(i)]", message: "expected a word, found \(item.kindName)")
                }
                out.append(s)
            }
            return out
        case .mapping: throw fail(key, "expected a list of words, found a mapping")
        }
    }

    /// A duration that must be more than zero (a timeout of 0 would mean none to libcurl).
    public mutating func positiveDuration(_ key: String, max: Double = maxDuration) throws(SpecError) -> Double? {
        guard let v = try duration(key, max: max) else { return nil }
        guard v > 0 else { throw fail(key, "must be more than 0") }
        return v
    }

    /// The longest duration a spec or configuration may give (30 days): every timeout, delay
    /// and interval is later turned into whole milliseconds or nanoseconds, so an unbounded
    /// one (`99999999999999999999h`, read as a Double) would trap there.
    public static let maxDuration: Double = 30 * 86_400

    /// A duration with a unit: `ms`, `s`, `m`, `h` (`500ms`, `10s`, `1h`), in seconds, at
    /// most `maxDuration`.
    public mutating func duration(_ key: String, max: Double = maxDuration) throws(SpecError) -> Double? {
        guard let s = try string(key) else { return nil }
        guard let v = Self.seconds(s) else { throw fail(key, "expected a duration like 500ms, 10s, 5m, 1h or 30d, got '\(s)'") }
        guard v <= max else {
            throw fail(key, max == Self.maxDuration ? "'\(s)' is longer than the 30 days (720h) allowed" : "'\(s)' is longer than the \(Int(max / 86_400)) days allowed")
        }
        return v
    }

    /// `s` as a duration in seconds (`ms`, `s`, `m`, `h`, `d` after unsigned digits); nil if
    /// it is not one. The configuration's durations and `events prune --older-than` share it.
    public static func seconds(_ s: String) -> Double? {
        for (suffix, scale) in [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0)] where s.hasSuffix(suffix) {
            let digits = s.dropLast(suffix.count)
            if isUnsigned(digits), let v = Double(digits) { return v * scale }
        }
        return nil
    }

    /// Refuses any key nobody read, naming the keys that are allowed.
    public func finish() throws(SpecError) {
        for e in entries where !asked.contains(e.key) {
            let allowed = asked.sorted().joined(separator: ", ")
            throw SpecError(file: file, line: e.keyLine, key: keyPath(e.key), message: "unknown key" + (allowed.isEmpty ? "" : " (allowed here: \(allowed))"))
        }
    }
}

/// Spec sizes: a number and a unit.
public enum SpecSize {
    struct Problem: Error { var message: String }

    static let units: [(suffix: String, bytes: UInt64?)] = [
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
        ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("B", 1), ("s", nil),
    ]

    static func sectors(_ s: String) throws(Problem) -> UInt64 {
        if s == "0" { return 0 }
        for u in units where s.hasSuffix(u.suffix) {
            let digits = s.dropLast(u.suffix.count)
            guard isUnsigned(digits), let v = UInt64(digits) else { break }
            guard let unit = u.bytes else {
                guard v <= maxSectors else { throw Problem(message: "'\(s)' is beyond any Linux block device") }
                return v
            }
            let (bytes, overflow) = v.multipliedReportingOverflow(by: unit)
            guard !overflow, bytes / sectorBytes <= maxSectors else { throw Problem(message: "'\(s)' is beyond any Linux block device") }
            guard bytes % sectorBytes == 0 else { throw Problem(message: "'\(s)' is not a whole number of 512-byte sectors") }
            return bytes / sectorBytes
        }
        if isUnsigned(s) { throw Problem(message: "'\(s)' has no unit: write \(s)s for sectors or \(s)B for bytes (or K, M, G, T)") }
        throw Problem(message: "'\(s)' is not a size (a whole number with a unit: s, B, K, M, G, T)")
    }

    /// Shortest exact human form of a sector count, for plans and messages.
    public static func describe(_ sectors: UInt64) -> String {
        let bytes = sectors * sectorBytes
        for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] where bytes >= 1 << shift && bytes % (1 << UInt64(shift)) == 0 {
            return "\(bytes >> UInt64(shift)) \(unit)"
        }
        return "\(sectors) sectors"
    }
}
