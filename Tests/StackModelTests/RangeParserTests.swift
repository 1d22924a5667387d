import StackModel
import Testing

@Suite("Range parsing")
struct RangeParserTests {
    @Test(arguments: [
        ("0+8", 0, 8), ("100-200", 100, 100), ("8s+8s", 8, 8), ("4KiB+4KiB", 8, 8),
        ("1MiB+512B", 2048, 1), ("1GiB-2GiB", 2_097_152, 2_097_152), ("1TiB+1", 2_147_483_648, 1),
        (" 5+5 ", 5, 5),
    ])
    func validRanges(text: String, start: UInt64, length: UInt64) throws {
        #expect(try RangeParser.parse(text) == SectorRange(start: start, length: length))
    }

    @Test(arguments: [
        ("", "expected START+LENGTH or START-END"),
        ("12", "expected START+LENGTH or START-END"),
        ("0+0", "length must be greater than zero"),
        ("10-10", "end 10 must be after start 10"),
        ("10-5", "must be after start"),
        ("1B+8", "start: 1 bytes is not a multiple of the 512-byte sector"),
        ("0+1000B", "length: 1000 bytes is not a multiple"),
        ("x+1", "start: 'x' is not a whole number"),
        ("+1", "start: missing number"),
        ("1+", "length: missing number"),
        ("-5+1", "start: negative numbers are not allowed"), ("5+-1", "length: '-1' is negative"), ("5--1", "end: '-1' is negative"),
        ("18446744073709551615+1", "beyond any Linux block device"),
        ("99999999999999999999+1", "is too large (past 2^64"),
        ("17179869184GiB+1", "too large"),
        ("1KB+1", "not a whole number"),
    ])
    func invalidRangesSayWhy(text: String, message: String) {
        do {
            _ = try RangeParser.parse(text)
            Issue.record("'\(text)' parsed")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
            #expect(error.description.hasPrefix("invalid range '\(text)'"))
        }
    }
}
