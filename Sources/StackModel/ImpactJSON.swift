import FoundationEssentials

/// Bytes handed on in blocks as they are written: a JSON document of millions of files goes
/// out as it is made, never held whole (`flush` gets each block, e.g. write(2) to stdout).
public final class ByteStream {
    var buffer: [UInt8] = []
    let flush: ([UInt8]) -> Void
    /// A block is handed on once it holds this many bytes.
    let blockSize: Int

    public init(blockSize: Int = 1 << 16, flush: @escaping ([UInt8]) -> Void) {
        self.blockSize = blockSize
        self.flush = flush
        buffer.reserveCapacity(blockSize + 4096)
    }

    @inline(__always) public func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= blockSize { drain() }
    }

    @inline(__always) func write(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= blockSize { drain() }
    }

    /// `body` appends to the buffer itself (no copy through a second one); a full block is
    /// handed on after.
    @inline(__always) func appending(_ body: (inout [UInt8]) throws -> Void) rethrows {
        try body(&buffer)
        if buffer.count >= blockSize { drain() }
    }

    /// Hands on what is left.
    public func drain() {
        guard !buffer.isEmpty else { return }
        flush(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// `{"impact": …}` written as it is produced, byte for byte what `JSONOutputEncoder` makes of
/// the whole document (pretty-printed, keys sorted, snake_case, no nulls): the document's
/// skeleton and the files, which are most of it, by hand; every small part (a layer, an
/// action, a process) by the encoder itself, indented to its depth. A test holds the two
/// equal on every bundled example and fixture.
public struct ImpactJSON {
    let out: ByteStream
    let encoder = JSONOutputEncoder.make()

    public init(_ out: ByteStream) { self.out = out }

    /// The whole document `{"impact": impact}` and a newline, as `print` ends it.
    public func write(_ impact: Impact, key: String = "impact") throws {
        out.write("{\n  ")
        try string(key, depth: 1)
        out.write(" : ")
        try object(depth: 1, [
            ("event", { try generic(impact.event, depth: 2) }),
            ("filesystems", { try array(impact.filesystems, depth: 2) { try filesystem($0, depth: 3) } }),
            ("kernel_rules", { try generic(impact.kernelRules, depth: 2) }),
            ("layers", { try generic(impact.layers, depth: 2) }),
            ("leaf", { try string(impact.leaf, depth: 2) }),
            ("may_lose", { try array(impact.mayLose, depth: 2) { try possibleLoss($0, depth: 3) } }),
            ("notices", { try generic(impact.notices, depth: 2) }),
            ("range", { try generic(impact.range, depth: 2) }),
            ("summary", { try string(impact.summary, depth: 2) }),
        ])
        out.write("\n}\n")
        out.drain()
    }

    func filesystem(_ fs: FilesystemImpact, depth: Int) throws {
        try object(depth: depth, [
            ("actions", { try generic(fs.actions, depth: depth + 1) }),
            ("device", { try string(fs.device, depth: depth + 1) }),
            ("files", { try files(fs.files, depth: depth + 1) }),
            ("hit", { try generic(fs.hit, depth: depth + 1) }),
            ("kernel_alone", { try string(fs.kernelAlone, depth: depth + 1) }),
            ("metadata", { try generic(fs.metadata, depth: depth + 1) }),
            ("mountpoint", { try string(fs.mountpoint, depth: depth + 1) }),
            ("notes", { try generic(fs.notes, depth: depth + 1) }),
            ("processes", { try generic(fs.processes, depth: depth + 1) }),
            ("roles", { try generic(fs.roles, depth: depth + 1) }),
            ("type", { try string(fs.type, depth: depth + 1) }),
            ("unknown", { try generic(fs.unknown, depth: depth + 1) }),
        ])
    }

    func possibleLoss(_ loss: PossibleLoss, depth: Int) throws {
        try object(depth: depth, [
            ("device", { try string(loss.device, depth: depth + 1) }),
            ("files", { try files(loss.files, depth: depth + 1) }),
            ("metadata", { try generic(loss.metadata, depth: depth + 1) }),
            ("mountpoint", { try string(loss.mountpoint, depth: depth + 1) }),
            ("notes", { try generic(loss.notes, depth: depth + 1) }),
            ("reason_codes", { try generic(loss.reasonCodes, depth: depth + 1) }),
            ("reasons", { try generic(loss.reasons, depth: depth + 1) }),
            ("roles", { try generic(loss.roles, depth: depth + 1) }),
            ("type", { try string(loss.type, depth: depth + 1) }),
            ("unknown", { try generic(loss.unknown, depth: depth + 1) }),
        ])
    }

    /// Each file written straight from the compact list (names from its arena, numbers as
    /// digits) into the stream's buffer, no `FileHit` made; every fixed part of a file's
    /// object is made once, as bytes, for the depth. The layout is the encoder's (a test
    /// holds them equal).
    func files(_ list: FileList, depth: Int) throws {
        if list.isEmpty { return try generic([Int](), depth: depth) }
        func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
        let i1 = indent(depth + 1), i2 = indent(depth + 2), i3 = indent(depth + 3), i4 = indent(depth + 4)
        let open = bytes(i1 + "{\n" + i2 + "\"extents\" : "), between = bytes(",\n" + i1 + "{\n" + i2 + "\"extents\" : ")
        let empty = bytes("[\n\n" + i2 + "]")
        let firstExtent = bytes("[\n" + i3 + "{\n" + i4 + "\"length\" : "), nextExtent = bytes(",\n" + i3 + "{\n" + i4 + "\"length\" : ")
        let offsetKey = bytes(",\n" + i4 + "\"offset\" : "), extentEnd = bytes("\n" + i3 + "}"), listEnd = bytes("\n" + i2 + "]")
        let inodeKey = bytes(",\n" + i2 + "\"inode\" : "), pathKey = bytes(",\n" + i2 + "\"path\" : "), pathsKey = bytes(",\n" + i2 + "\"paths\" : ")
        let firstName = bytes("[\n" + i3), nextName = bytes(",\n" + i3)
        let tails = (0..<4).map { f in
            bytes(",\n" + i2 + "\"shared\" : " + (f & 1 != 0 ? "true" : "false") + ",\n" + i2 + "\"unwritten\" : " + (f & 2 != 0 ? "true" : "false") + "\n" + i1 + "}")
        }
        out.write("[\n")
        var n = 0
        try list.forEachFile { f in
            let quote: UInt8 = 0x22
            try out.appending { buffer in
                buffer += n == 0 ? open : between
                n += 1
                if f.extents.isEmpty { buffer += empty } else {
                    for (k, r) in f.extents.enumerated() {
                        buffer += k == 0 ? firstExtent : nextExtent
                        Self.digits(r.length, &buffer)
                        buffer += offsetKey
                        Self.digits(r.offset, &buffer)
                        buffer += extentEnd
                    }
                    buffer += listEnd
                }
                buffer += inodeKey
                Self.digits(f.inode, &buffer)
                buffer += pathKey
                if f.nameCount > 0 {
                    try name(UnsafeBufferPointer(rebasing: f.arena[f.nameAt(0)]), depth: depth + 2, &buffer)
                } else {
                    buffer.append(quote); buffer += "<inode ".utf8; Self.digits(f.inode, &buffer); buffer.append(UInt8(ascii: ">")); buffer.append(quote)
                }
                buffer += pathsKey
                if f.nameCount == 0 { buffer += empty } else {
                    for k in 0..<f.nameCount {
                        buffer += k == 0 ? firstName : nextName
                        try name(UnsafeBufferPointer(rebasing: f.arena[f.nameAt(k)]), depth: depth + 3, &buffer)
                    }
                    buffer += listEnd
                }
                buffer += tails[Int(f.flags & 3)]
            }
        }
        out.write("\n")
        out.write(indent(depth))
        out.write("]")
    }

    /// A name's bytes, quoted: as they are when nothing in them needs escaping.
    func name(_ bytes: UnsafeBufferPointer<UInt8>, depth: Int, _ buffer: inout [UInt8]) throws {
        if bytes.allSatisfy(Self.plain) {
            buffer.append(0x22); buffer.append(contentsOf: bytes); buffer.append(0x22)
        } else {
            try quoted(String(decoding: bytes, as: UTF8.self), depth: depth, &buffer)
        }
    }

    func quoted(_ s: String, depth: Int, _ buffer: inout [UInt8]) throws {
        if s.utf8.allSatisfy(Self.plain) {
            buffer.append(0x22); buffer += s.utf8; buffer.append(0x22)
        } else {
            buffer += try encoder.encode(s)
        }
    }

    /// Printable ASCII but `"` and `\`: written as it is.
    @inline(__always) static func plain(_ b: UInt8) -> Bool { b >= 0x20 && b < 0x7f && b != 0x22 && b != 0x5c }

    static func digits(_ v: UInt64, _ buffer: inout [UInt8]) {
        if v < 10 { buffer.append(0x30 + UInt8(v)); return }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &tmp) { t in
            var n = 24, x = v
            while x > 0 { n -= 1; t[n] = UInt8(48 + x % 10); x /= 10 }
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: t[n..<24]))
        }
    }

    static let indents = (0..<16).map { String(repeating: "  ", count: $0) }
    func indent(_ depth: Int) -> String { depth < Self.indents.count ? Self.indents[depth] : String(repeating: "  ", count: depth) }

    func object(depth: Int, _ fields: [(String, () throws -> Void)]) throws {
        out.write("{\n")
        for (i, (key, value)) in fields.enumerated() {
            out.write(indent(depth + 1))
            try string(key, depth: depth + 1)
            out.write(" : ")
            try value()
            out.write(i == fields.count - 1 ? "\n" : ",\n")
        }
        out.write(indent(depth))
        out.write("}")
    }

    func array<C: Collection>(_ items: C, depth: Int, _ element: (C.Element) throws -> Void) throws {
        if items.isEmpty {
            try generic([Int](), depth: depth)
            return
        }
        out.write("[\n")
        var first = true
        for item in items {
            if !first { out.write(",\n") }
            first = false
            out.write(indent(depth + 1))
            try element(item)
        }
        out.write("\n")
        out.write(indent(depth))
        out.write("]")
    }

    /// A string as the encoder writes it: as it is when nothing in it needs escaping (printable
    /// ASCII but `"` and `\`), else by the encoder.
    func string(_ s: String, depth: Int) throws {
        if s.utf8.allSatisfy(Self.plain) {
            out.write("\"")
            out.write(s)
            out.write("\"")
        } else {
            try generic(s, depth: depth)
        }
    }

    /// Any value by the encoder, its lines indented to `depth`.
    func generic(_ value: some Encodable, depth: Int) throws {
        let bytes = try encoder.encode(value)
        let pad = Array(indent(depth).utf8)
        // An empty line (the encoder's empty list is `[`, an empty line, `]`) gets no indent.
        var line: [UInt8] = []
        var pending = false
        for b in bytes {
            if pending && b != 0x0a { line += pad }
            pending = b == 0x0a
            line.append(b)
        }
        out.write(line)
    }
}
