/// A table file could not be parsed: names the line, the field and what was wrong.
public struct TableParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var field: String
    public var message: String
    public var description: String { "line \(line): \(field): \(message)" }
}

/// Tables as `dmsetup table` prints them, for one device (unnamed: the device `top`) or
/// several (`name: start length target args`).
public struct TableSet: Hashable, Sendable {
    /// Device names in the order they first appear.
    public var names: [String]
    public var tables: [String: DeviceTable]
    /// Non-fatal remarks, e.g. a target type dmstack does not know.
    public var warnings: [String]

    public static let unnamedDevice = "top"

    public init(names: [String] = [], tables: [String: DeviceTable] = [:], warnings: [String] = []) {
        self.names = names
        self.tables = tables
        self.warnings = warnings
    }

    /// Parses table text; blank lines and lines starting with `#` are ignored.
    public static func parse(_ text: String) throws(TableParseError) -> TableSet {
        var set = TableSet()
        var lineOf: [String: [UInt64: Int]] = [:] // device → target start → its line
        var lineNumber = 0
        var sawUnnamed = false, sawNamed = false
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var words = rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if words.isEmpty || words[0].hasPrefix("#") { continue }
            var name = unnamedDevice
            if words[0].hasSuffix(":") && !isUnsigned(words[0].dropLast()) {
                name = String(words[0].dropLast())
                guard !name.isEmpty else { throw TableParseError(line: lineNumber, field: "name", message: "empty device name before ':'") }
                words.removeFirst()
                sawNamed = true
                if set.tables[name] == nil { set.names.append(name); set.tables[name] = DeviceTable(targets: []) }
                // `dmsetup table` prints a device without a table as just its name.
                if words.isEmpty { continue }
            } else {
                sawUnnamed = true
                if set.tables[name] == nil { set.names.append(name); set.tables[name] = DeviceTable(targets: []) }
            }
            if sawNamed && sawUnnamed {
                throw TableParseError(line: lineNumber, field: "name", message: "mixes named (`name: ...`) and unnamed lines; name every device")
            }
            var parser = TargetParser(line: lineNumber, words: words)
            let target = try parser.parse()
            set.warnings += parser.warnings
            set.tables[name]!.targets.append(target)
            lineOf[name, default: [:]][target.start] = lineNumber
        }
        for name in set.names {
            var table = set.tables[name]!
            table.targets.sort { $0.start < $1.start }
            var expected: UInt64 = 0
            for t in table.targets {
                guard t.start == expected else {
                    throw TableParseError(line: lineOf[name]?[t.start] ?? 0, field: "start", message: "device \(name): target at sector \(t.start) leaves a gap or overlap (expected start \(expected))")
                }
                expected = t.start + t.length
            }
            set.tables[name] = table
        }
        return set
    }
}

/// The largest sector number or count dmstack accepts: block device offsets are `loff_t`
/// (signed 64-bit bytes), so no device exceeds 2^63 bytes = 2^54 sectors. Bounding every input
/// here keeps all translation arithmetic far from overflow.
public let maxSectors: UInt64 = 1 << 54

@inline(__always)
func isUnsigned<S: StringProtocol>(_ s: S) -> Bool {
    !s.isEmpty && s.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
}

/// Reads the words of one target line, naming the line and field on every error; each target
/// type's `parse` reads its arguments through it.
public struct TargetParser {
    public let line: Int
    public let words: [String]
    public var position = 0
    /// The target type word, once read.
    public private(set) var typeName = ""
    /// The target's length in sectors, once read (some constructors check it).
    public private(set) var length: UInt64 = 0
    /// Non-fatal remarks, e.g. a target type dmstack does not know.
    public private(set) var warnings: [String] = []

    public init(line: Int, words: [String]) {
        self.line = line
        self.words = words
    }

    public func fail(_ field: String, _ message: String) -> TableParseError {
        TableParseError(line: line, field: typeName.isEmpty ? field : "\(typeName) \(field)", message: message)
    }

    public mutating func warn(_ message: String) { warnings.append(message) }

    public mutating func word(_ field: String) throws(TableParseError) -> String {
        guard position < words.count else { throw fail(field, "missing") }
        defer { position += 1 }
        return words[position]
    }

    public mutating func number(_ field: String, positive: Bool = false) throws(TableParseError) -> UInt64 {
        let w = try word(field)
        guard isUnsigned(w), let v = UInt64(w) else { throw fail(field, "expected an unsigned integer, got '\(w)'") }
        guard v <= maxSectors else { throw fail(field, "\(v) exceeds \(maxSectors), the largest sector count a Linux block device can have (2^63 bytes)") }
        if positive && v == 0 { throw fail(field, "must be greater than zero") }
        return v
    }

    public mutating func count(_ field: String, max: UInt64 = 1 << 16) throws(TableParseError) -> Int {
        let v = try number(field)
        guard v <= max else { throw fail(field, "\(v) is larger than the \(max) allowed") }
        return Int(v)
    }

    public mutating func device(_ field: String) throws(TableParseError) -> String {
        let w = try word(field)
        guard !w.isEmpty, w != "-" else { throw fail(field, "expected a device, got '\(w)'") }
        return w
    }

    /// The next `n` words, as a counted list of features or options.
    public mutating func words(_ n: Int, _ field: String) throws(TableParseError) -> [String] {
        guard position + n <= words.count else { throw fail(field, "expected \(n) more word(s), found \(words.count - position)") }
        defer { position += n }
        return Array(words[position..<position + n])
    }

    public var remaining: Int { words.count - position }

    public func noMore() throws(TableParseError) {
        if position < words.count { throw fail("arguments", "unexpected extra word '\(words[position])'") }
    }

    /// `<start> <length> <type> <arguments>`: the type's own `parse` reads the arguments; a
    /// type that is not registered is kept opaque, with a warning.
    mutating func parse() throws(TableParseError) -> Target {
        let start = try number("start")
        length = try number("length", positive: true)
        guard start + length <= maxSectors else { throw fail("length", "start + length exceeds \(maxSectors) sectors") }
        typeName = try word("target type")
        let type: any TargetType.Type = TargetTypes.type(named: typeName) ?? OpaqueTarget.self
        return Target(start: start, length: length, kind: try type.parse(&self))
    }
}
