/// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed
/// 64-bit pseudo-random function of a message under a 128-bit key. It is what `capture
/// --redact-paths` hashes path components with: a keyed construction, so that whoever gets the
/// snapshot cannot hash a dictionary of common names and compare (an unkeyed SHA would allow
/// that), built from nothing but integer arithmetic, since dmstack links no crypto library for
/// HMAC-SHA256. 64 bits keep names of one machine apart (a collision among a million names has
/// a chance of about 3e-8). Written from the paper's description; checked against its
/// published test vector (key 00..0f, message 00..0e: 0xa129ca6149be45e5).
public struct SipHash24: Sendable, Hashable {
    public let k0: UInt64
    public let k1: UInt64

    /// The key as two little-endian words (the paper's k0 = bytes 0-7, k1 = bytes 8-15).
    public init(k0: UInt64, k1: UInt64) {
        self.k0 = k0
        self.k1 = k1
    }

    /// A key from its 32 hex digits (bytes in order), nil when it is not that.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 32 else { return nil }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: 32, by: 2) {
            guard let b = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(b)
        }
        self.init(k0: Self.word(bytes, 0), k1: Self.word(bytes, 8))
    }

    /// The key's 32 hex digits, bytes in order (what `init(hex:)` reads).
    public var hex: String {
        var out = ""
        for w in [k0, k1] { for i in 0..<8 { let b = UInt8(truncatingIfNeeded: w >> (8 * UInt64(i))); out += (b < 16 ? "0" : "") + String(b, radix: 16) } }
        return out
    }

    static func word(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        var w: UInt64 = 0
        for i in 0..<8 { w |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
        return w
    }

    @inline(__always) static func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }

    /// One SipRound over the four state words.
    @inline(__always) static func round(_ v: inout (UInt64, UInt64, UInt64, UInt64)) {
        v.0 &+= v.1; v.1 = rotl(v.1, 13); v.1 ^= v.0; v.0 = rotl(v.0, 32)
        v.2 &+= v.3; v.3 = rotl(v.3, 16); v.3 ^= v.2
        v.0 &+= v.3; v.3 = rotl(v.3, 21); v.3 ^= v.0
        v.2 &+= v.1; v.1 = rotl(v.1, 17); v.1 ^= v.2; v.2 = rotl(v.2, 32)
    }

    /// The 64-bit tag of `message`: 2 rounds per 8-byte word, the length in the last word's
    /// top byte, 4 final rounds.
    public func hash(_ message: some Collection<UInt8>) -> UInt64 {
        var v = (k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d, k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573)
        let bytes = Array(message)
        let whole = bytes.count / 8 * 8
        for at in stride(from: 0, to: whole, by: 8) {
            let m = Self.word(bytes, at)
            v.3 ^= m
            Self.round(&v); Self.round(&v)
            v.0 ^= m
        }
        var last = UInt64(truncatingIfNeeded: bytes.count) << 56
        for i in whole..<bytes.count { last |= UInt64(bytes[i]) << (8 * UInt64(i - whole)) }
        v.3 ^= last
        Self.round(&v); Self.round(&v)
        v.0 ^= last
        v.2 ^= 0xff
        for _ in 0..<4 { Self.round(&v) }
        return v.0 ^ v.1 ^ v.2 ^ v.3
    }
}

/// What `capture --redact-paths` does to a path: each component replaced by `h` and the 16 hex
/// digits of its SipHash-2-4 under the capture's key, `/` kept, so that one name is one token
/// everywhere in the file (a mount point stays the prefix of its files' paths, hard links and
/// file uses still match) and the snapshot still simulates. Collects every component it
/// replaced, for the name map the admin keeps beside the file to read the answers back.
public final class PathRedactor: @unchecked Sendable {
    public let key: SipHash24
    /// Token → the component it replaced.
    public private(set) var names: [String: String] = [:]

    public init(key: SipHash24) { self.key = key }

    /// One component's token.
    public func component(_ name: Substring) -> String {
        let tag = key.hash(name.utf8)
        let hex = String(tag, radix: 16)
        let token = "h" + String(repeating: "0", count: 16 - hex.count) + hex
        if names[token] == nil { names[token] = String(name) }
        return token
    }

    /// `path` with every component replaced (empty components, `/` runs, kept as they are).
    public func path(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : component($0) }.joined(separator: "/")
    }

    /// A free-text note (how a map was read, why it failed) with every path in it redacted: a
    /// word that starts with `/` after a space, `(` or the start, up to a space, `:`, `;`, `,`
    /// or `)`. A path with a space in it keeps what follows the space.
    public func text(_ note: String) -> String {
        var out = "", word = "", inPath = false
        var previous: Character = " "
        func flush() { if !word.isEmpty { out += path(word); word = "" } }
        for c in note {
            if inPath {
                if c == " " || c == ":" || c == ";" || c == "," || c == ")" { flush(); inPath = false; out.append(c) } else { word.append(c) }
            } else if c == "/" && (previous == " " || previous == "(") {
                inPath = true
                word = "/"
            } else {
                out.append(c)
            }
            previous = c
        }
        flush()
        return out
    }

    /// The name map, one `TOKEN<TAB>NAME` line a component, sorted by token.
    public var nameMap: String {
        names.sorted { $0.key < $1.key }.map { "\($0.key)\t\($0.value)\n" }.joined()
    }
}
