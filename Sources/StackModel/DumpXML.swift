/// A strict reader for the XML that thin-provisioning-tools writes (`thin_dump`,
/// `cache_dump`): elements with attributes, text ignored, comments and declarations
/// skipped, nesting checked. Written here rather than taken from FoundationXML, which traps on
/// malformed input (found by fuzzing) and whose ICU and libxml2 dependencies tripled the
/// tool's start-up time; these dumps use a small, fixed subset of XML.
struct DumpXML {
    struct Failure: Error { var line: Int; var message: String }

    /// Calls `start(name, attributes, line)` and `end(name)` for each element, in order.
    static func read(_ bytes: [UInt8], start: (String, [String: String], Int) throws -> Void, end: (String) throws -> Void) throws {
        var i = 0, line = 1
        var open: [String] = []
        let n = bytes.count
        func fail(_ m: String) -> Failure { Failure(line: line, message: m) }
        func isNameByte(_ b: UInt8) -> Bool {
            (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || (b >= 48 && b <= 57) || b == 95 || b == 45 || b == 46 || b == 58
        }
        func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 10 || b == 13 }
        func skipSpace() { while i < n && isSpace(bytes[i]) { if bytes[i] == 10 { line += 1 }; i += 1 } }
        func skip(past terminator: [UInt8], what: String) throws {
            while i + terminator.count <= n {
                if Array(bytes[i..<(i + terminator.count)]) == terminator { i += terminator.count; return }
                if bytes[i] == 10 { line += 1 }
                i += 1
            }
            throw fail("unterminated \(what)")
        }
        func name() throws -> String {
            let s = i
            while i < n && isNameByte(bytes[i]) { i += 1 }
            guard i > s else { throw fail("expected a name") }
            return String(decoding: bytes[s..<i], as: UTF8.self)
        }
        func attributeValue() throws -> String {
            guard i < n, bytes[i] == 34 || bytes[i] == 39 else { throw fail("attribute value must be quoted") }
            let quote = bytes[i]
            i += 1
            var out: [UInt8] = []
            while i < n && bytes[i] != quote {
                if bytes[i] == 60 { throw fail("'<' inside an attribute value") }
                if bytes[i] == 38 { // &
                    guard let semi = bytes[i...].firstIndex(of: 59), semi - i <= 10 else { throw fail("unterminated entity") }
                    let entity = String(decoding: bytes[(i + 1)..<semi], as: UTF8.self)
                    switch entity {
                    case "amp": out.append(38)
                    case "lt": out.append(60)
                    case "gt": out.append(62)
                    case "quot": out.append(34)
                    case "apos": out.append(39)
                    default:
                        let code: UInt32?
                        if entity.hasPrefix("#x") { code = UInt32(entity.dropFirst(2), radix: 16) } else if entity.hasPrefix("#") { code = UInt32(entity.dropFirst()) } else { code = nil }
                        guard let c = code, let scalar = Unicode.Scalar(c) else { throw fail("unknown entity &\(entity);") }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    }
                    i = semi + 1
                } else {
                    if bytes[i] == 10 { line += 1 }
                    out.append(bytes[i])
                    i += 1
                }
            }
            guard i < n else { throw fail("unterminated attribute value") }
            i += 1
            return String(decoding: out, as: UTF8.self)
        }

        while i < n {
            if bytes[i] != 60 { if bytes[i] == 10 { line += 1 }; i += 1; continue }
            // "<"
            if bytes[i...].starts(with: Array("<!--".utf8)) { i += 4; try skip(past: Array("-->".utf8), what: "comment"); continue }
            if bytes[i...].starts(with: Array("<?".utf8)) { i += 2; try skip(past: Array("?>".utf8), what: "declaration"); continue }
            if bytes[i...].starts(with: Array("<![CDATA[".utf8)) { i += 9; try skip(past: Array("]]>".utf8), what: "CDATA section"); continue }
            if bytes[i...].starts(with: Array("<!".utf8)) { i += 2; try skip(past: Array(">".utf8), what: "declaration"); continue }
            i += 1
            if i < n && bytes[i] == 47 { // "</"
                i += 1
                let elementName = try name()
                skipSpace()
                guard i < n, bytes[i] == 62 else { throw fail("malformed end tag </\(elementName)") }
                i += 1
                guard open.last == elementName else {
                    throw fail("</\(elementName)> does not close \(open.last.map { "<\($0)>" } ?? "any element")")
                }
                open.removeLast()
                try end(elementName)
                continue
            }
            let tagLine = line
            let elementName = try name()
            var attributes: [String: String] = [:]
            while true {
                skipSpace()
                guard i < n else { throw fail("unterminated tag <\(elementName)") }
                if bytes[i] == 62 { i += 1; open.append(elementName); try start(elementName, attributes, tagLine); break }
                if bytes[i] == 47 {
                    guard i + 1 < n, bytes[i + 1] == 62 else { throw fail("malformed tag <\(elementName)") }
                    i += 2
                    try start(elementName, attributes, tagLine)
                    try end(elementName)
                    break
                }
                let key = try name()
                skipSpace()
                guard i < n, bytes[i] == 61 else { throw fail("attribute \(key) of <\(elementName)> has no value") }
                i += 1
                skipSpace()
                guard attributes[key] == nil else { throw fail("attribute \(key) repeated in <\(elementName)>") }
                attributes[key] = try attributeValue()
            }
        }
        if let unclosed = open.last { throw fail("the document ends inside <\(unclosed)> (truncated dump?)") }
    }
}
