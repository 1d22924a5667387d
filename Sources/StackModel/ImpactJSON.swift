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
            ("metadata", { try generic(fs.metadata, depth: depth + 1) }),
            ("mountpoint", { try string(fs.mountpoint, depth: depth + 1) }),
            ("notes", { try generic(fs.notes, depth: depth + 1) }),
            ("processes", { try generic(fs.processes, depth: depth + 1) }),
            ("roles", { try generic(fs.roles, depth: depth + 1) }),
            ("type", { try string(fs.type, depth: depth + 1) }),
        ])
    }

    func possibleLoss(_ loss: PossibleLoss, depth: Int) throws {
        try object(depth: depth, [
            ("device", { try string(loss.device, depth: depth + 1) }),
            ("files", { try files(loss.files, depth: depth + 1) }),
            ("metadata", { try generic(loss.metadata, depth: depth + 1) }),
            ("mountpoint", { try string(loss.mountpoint, depth: depth + 1) }),
            ("notes", { try generic(loss.notes, depth: depth + 1) }),
            ("reasons", { try generic(loss.reasons, depth: depth + 1) }),
            ("roles", { try generic(loss.roles, depth: depth + 1) }),
            ("type", { try string(loss.type, depth: depth + 1) }),
        ])
    }

    /// Each file made from the compact list as it is written, and let go.
    func files(_ list: FileList, depth: Int) throws {
        try array(list, depth: depth) { f in
            let d = depth + 1
            try object(depth: d, [
                ("extents", { try array(f.extents, depth: d + 1) { r in
                    try object(depth: d + 2, [("length", { out.write(String(r.length)) }), ("offset", { out.write(String(r.offset)) })])
                } }),
                ("inode", { out.write(String(f.inode)) }),
                ("path", { try string(f.path, depth: d + 1) }),
                ("paths", { try array(f.paths, depth: d + 1) { try string($0, depth: d + 2) } }),
                ("shared", { out.write(f.shared ? "true" : "false") }),
                ("unwritten", { out.write(f.unwritten ? "true" : "false") }),
            ])
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
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f && $0 != 0x22 && $0 != 0x5c }) {
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
