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
