/// A range given on the command line could not be read.
public struct RangeParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var input: String
    public var message: String
    public var description: String { "invalid range '\(input)': \(message)" }
}

/// Reads `START+LENGTH` or `START-END` (end exclusive), each number in sectors unless it
/// carries a suffix, in any case: `s` (sectors), `B` (bytes), `K`/`KiB`, `M`/`MiB`, `G`/`GiB`,
/// `T`/`TiB` (powers of 1024, as lsblk and lvm read `k` and `K`, and as specs take them); a
/// byte count must fall on a 512-byte sector boundary. A negative number is refused with a
/// message of its own rather than read as a malformed one.
public enum RangeParser {
    /// Lower-case suffixes, longer before shorter (`kib` before `b`).
    static let units: [(suffix: String, bytes: UInt64?)] = [
        ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("tib", 1 << 40),
        ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("t", 1 << 40), ("b", 1), ("s", nil),
    ]

    public static func parse(_ text: String) throws(RangeParseError) -> SectorRange {
        func fail(_ m: String) -> RangeParseError { RangeParseError(input: text, message: m) }
        let t = text.trimmed(" \t")
        if t.hasPrefix("-") { throw fail("start: negative numbers are not allowed (sectors count from 0)") }
        if let plus = t.firstIndex(of: "+") {
            let start = try sectors(String(t[..<plus]), what: "start", whole: text)
            let length = try sectors(String(t[t.index(after: plus)...]), what: "length", whole: text)
            guard length > 0 else { throw fail("length must be greater than zero") }
            guard start <= maxSectors, length <= maxSectors - start else { throw fail("ends past sector \(maxSectors), beyond any Linux block device") }
            return SectorRange(start: start, length: length)
        }
        if let dash = t.firstIndex(of: "-") {
            let start = try sectors(String(t[..<dash]), what: "start", whole: text)
            let end = try sectors(String(t[t.index(after: dash)...]), what: "end", whole: text)
            guard end > start else { throw fail("end \(end) must be after start \(start) (the end is exclusive)") }
            guard end <= maxSectors else { throw fail("ends past sector \(maxSectors), beyond any Linux block device") }
            return SectorRange(start: start, end: end)
        }
        throw fail("expected START+LENGTH or START-END")
    }

    /// One number with an optional unit suffix, in sectors.
    public static func sectors(_ word: String, what: String, whole: String) throws(RangeParseError) -> UInt64 {
        func fail(_ m: String) -> RangeParseError { RangeParseError(input: whole, message: "\(what): \(m)") }
        var digits = Substring(word)
        var bytesPerUnit: UInt64? = nil
        var isBytes = false
        let lower = word.lowercased()
        for u in units where lower.hasSuffix(u.suffix) {
            digits = word.dropLast(u.suffix.count)
            bytesPerUnit = u.bytes
            isBytes = u.bytes != nil
            break
        }
        guard !digits.isEmpty else { throw fail("missing number") }
        if digits.hasPrefix("-") { throw fail("'\(word)' is negative; negative numbers are not allowed") }
        if isUnsigned(digits), UInt64(digits) == nil {
            throw fail("'\(word)' is too large (past 2^64; no Linux block device has that many sectors)")
        }
        guard isUnsigned(digits), let value = UInt64(digits) else {
            throw fail("'\(word)' is not a whole number with an optional suffix s, B, K, M, G, T (or KiB, MiB, GiB, TiB; any case)")
        }
        guard isBytes, let unit = bytesPerUnit else { return value }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: unit)
        guard !overflow else { throw fail("'\(word)' is too large") }
        guard bytes % sectorBytes == 0 else { throw fail("\(bytes) bytes is not a multiple of the 512-byte sector") }
        return bytes / sectorBytes
    }
}

extension String {
    /// Without leading and trailing characters from `set`.
    public func trimmed(_ set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
