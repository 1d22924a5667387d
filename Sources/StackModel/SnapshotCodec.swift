import FoundationEssentials

/// A snapshot file could not be read: names the file and what is wrong with it.
public struct SnapshotFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
    public init(file: String, message: String) { self.file = file; self.message = message }
}

/// The snapshot file format: JSON with snake_case keys and a `format` and `version` header,
/// readable by other tools. Loading checks the header first, so a file from a newer dmstack
/// is refused with its version rather than half-read.
public enum SnapshotCodec {
    public static func encode(_ snapshot: SystemSnapshot) throws -> Data {
        try JSONOutputEncoder.make().encode(snapshot)
    }

    struct Header: Decodable { var format: String?; var version: Int? }

    public static func decode(_ data: Data, file: String) throws(SnapshotFileError) -> SystemSnapshot {
        let decoder = JSONOutputEncoder.decoder()
        let header: Header
        do { header = try decoder.decode(Header.self, from: data) } catch {
            throw SnapshotFileError(file: file, message: "not a dmstack snapshot (not a JSON object)")
        }
        guard header.format == SystemSnapshot.formatName else {
            throw SnapshotFileError(file: file, message: "not a dmstack snapshot (format is \(header.format.map { "'\($0)'" } ?? "missing"), expected '\(SystemSnapshot.formatName)')")
        }
        guard let version = header.version else { throw SnapshotFileError(file: file, message: "snapshot has no version") }
        guard version <= SystemSnapshot.currentVersion else {
            throw SnapshotFileError(file: file, message: "snapshot format version \(version) is newer than this dmstack reads (\(SystemSnapshot.currentVersion)); use a newer dmstack")
        }
        guard version >= 1 else { throw SnapshotFileError(file: file, message: "snapshot format version \(version) is not valid") }
        let snapshot: SystemSnapshot
        do {
            snapshot = try decoder.decode(SystemSnapshot.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw SnapshotFileError(file: file, message: "corrupt snapshot: missing '\(key.stringValue)' at \(pathText(context.codingPath))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw SnapshotFileError(file: file, message: "corrupt snapshot: wrong value at \(pathText(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) {
            throw SnapshotFileError(file: file, message: "corrupt snapshot at \(pathText(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw SnapshotFileError(file: file, message: "corrupt snapshot: \(error)")
        }
        // Sizes and ranges bound every later computation: no device exceeds 2^54 sectors.
        for d in snapshot.devices {
            guard d.size <= maxSectors, (d.partition?.start ?? 0) <= maxSectors,
                  d.badblocks.allSatisfy({ $0.start <= maxSectors && $0.length <= maxSectors - $0.start }) else {
                throw SnapshotFileError(file: file, message: "corrupt snapshot: device \(d.kernelName) has a size, start or bad range beyond \(maxSectors) sectors")
            }
        }
        if let what = snapshot.metadata?.implausible {
            throw SnapshotFileError(file: file, message: "corrupt snapshot: the metadata of \(what) has a block size of 0 or runs beyond \(maxSectors) sectors")
        }
        for r in snapshot.pmem.regions where !r.badblocks.allSatisfy({ $0.start <= maxSectors && $0.length <= maxSectors - $0.start }) {
            throw SnapshotFileError(file: file, message: "corrupt snapshot: region \(r.name) has a bad range beyond \(maxSectors) sectors")
        }
        return snapshot
    }

    static func pathText(_ path: [CodingKey]) -> String {
        path.isEmpty ? "the top level" : path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
}

/// The one JSON style of every dmstack output: sorted snake_case keys, pretty, raw integers.
public enum JSONOutputEncoder {
    public static func make() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }

    /// Its reader: snake_case keys back to property names.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}

/// Writes a snapshot as `capture` reads the machine: the devices, mounts and metadata first,
/// then each filesystem's reverse map block by block as its records arrive, its paths, and
/// the file uses last, each piece handed to `sink` as soon as it is made. Memory holds one
/// block, never the whole map. The document is the one `SnapshotCodec.encode` makes of the
/// same snapshot, apart from the order of the last keys and the layout of the blocks (one
/// line each), so `SnapshotCodec.decode` and `jq` read it alike.
public struct SnapshotStreamWriter {
    public typealias Sink = ([UInt8]) throws -> Void
    let sink: Sink
    let lineEncoder: JSONEncoder
    var state: State = .maps(first: true)
    var builder = ReverseMapBlockBuilder()
    var firstBlock = true
    /// Records written to the map being written.
    public private(set) var recordCount = 0
    /// File sizes the records carried (the FIEMAP walk's) or the capture learned by naming
    /// the files (`appendSize`: GETFSMAP carries none), written as the map's `file_sizes`.
    var sizes: [UInt64: UInt64] = [:]

    enum State { case maps(first: Bool), records, paths, done }

    /// Writes `snapshot` (its reverse maps and file uses left out) up to where the maps go.
    public init(_ snapshot: SystemSnapshot, sink: @escaping Sink) throws {
        self.sink = sink
        lineEncoder = JSONEncoder()
        lineEncoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        lineEncoder.keyEncodingStrategy = .convertToSnakeCase
        var head = snapshot
        head.reverseMaps = nil
        head.fileUses = nil
        var bytes = Array(try SnapshotCodec.encode(head))
        // The encoder's object ends with "\n}": the maps follow its last key.
        while let last = bytes.last, last == UInt8(ascii: "}") || last == UInt8(ascii: "\n") || last == UInt8(ascii: " ") { bytes.removeLast() }
        try sink(bytes + Array(",\n  \"reverse_maps\" : [".utf8))
    }

    /// Starts the map of one filesystem.
    public mutating func beginMap(mountpoint: String, device: String, type: String) throws {
        guard case .maps(let first) = state else { preconditionFailure("beginMap inside a map") }
        let fields = "{\"device\":\(try json(device)),\"mountpoint\":\(try json(mountpoint)),\"type\":\(try json(type)),\"record_blocks\":["
        try sink(Array(((first ? "\n" : ",\n") + fields).utf8))
        state = .records
        builder = ReverseMapBlockBuilder()
        firstBlock = true
        recordCount = 0
        sizes = [:]
    }

    /// One record of the map begun last.
    public mutating func append(_ record: ReverseMapRecord) throws {
        if let full = builder.add(record) { try write(full) }
        if let inode = record.inode, let size = record.fileSize { sizes[inode] = size }
        recordCount += 1
    }

    /// Whether the map being written knows `inode`'s size.
    public func knowsSize(of inode: UInt64) -> Bool { sizes[inode] != nil }

    /// The size of a named file whose records carried none (GETFSMAP's): simulate on the
    /// snapshot then clips its lost ranges at its end, as the live answer does (issue 18
    /// point 5).
    public mutating func appendSize(inode: UInt64, size: UInt64) { sizes[inode] = size }

    /// The names of some of the map's inodes: called once or more (a capture asks for the
    /// names of a bounded number of inodes at a time), after the last record.
    public mutating func appendPaths(_ paths: [UInt64: [String]]) throws {
        if case .records = state {
            if let last = builder.flush() { try write(last) }
            try sink(Array("\n],\"path_blocks\":[".utf8))
            state = .paths
            firstBlock = true
        }
        guard case .paths = state else { preconditionFailure("appendPaths outside a map") }
        var first = firstBlock
        let groups = paths.filter { !$0.value.isEmpty }.sorted { ($0.value[0], $0.key) < ($1.value[0], $1.key) }
        var pathBuilder = PathBlockBuilder()
        for (inode, names) in groups {
            for name in names {
                if let full = pathBuilder.add(inode, name) { try writeLine(full, first: &first) }
            }
        }
        if let last = pathBuilder.flush() { try writeLine(last, first: &first) }
        firstBlock = first
    }

    /// Ends the map with how it was read.
    public mutating func endMap(notes: [String]) throws {
        if case .records = state { try appendPaths([:]) }
        guard case .paths = state else { preconditionFailure("endMap outside a map") }
        let fileSizes = sizes.isEmpty ? "" : ",\"file_sizes\":\(try json(FileSizes(sizes)))"
        try sink(Array("\n]\(fileSizes),\"notes\":\(try json(notes))}".utf8))
        sizes = [:]
        state = .maps(first: false)
    }

    /// Ends the map with the names of its inodes and how it was read.
    public mutating func endMap(paths: [UInt64: [String]], notes: [String]) throws {
        try appendPaths(paths)
        try endMap(notes: notes)
    }

    /// Ends the document with every file use.
    public mutating func finish(fileUses: [FileUse]) throws {
        guard case .maps = state else { preconditionFailure("finish inside a map") }
        let uses = String(decoding: try JSONOutputEncoder.make().encode(fileUses), as: UTF8.self)
        try sink(Array("\n  ],\n  \"file_uses\" : \(uses)\n}\n".utf8))
        state = .done
    }

    mutating func write(_ block: ReverseMapBlock) throws {
        var first = firstBlock
        try writeLine(block, first: &first)
        firstBlock = first
    }

    func writeLine(_ value: some Encodable, first: inout Bool) throws {
        try sink(Array((first ? "\n" : ",\n").utf8) + Array(try lineEncoder.encode(value)))
        first = false
    }

    func json(_ value: some Encodable) throws -> String { String(decoding: try lineEncoder.encode(value), as: UTF8.self) }
}
