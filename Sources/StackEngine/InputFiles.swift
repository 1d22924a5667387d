import StackModel
import StackSystem

/// A spec file (YAML) read and decoded; a malformed one is a data error naming its line.
public enum SpecFile {
    public static func load(_ path: String) throws(EngineError) -> StackSpec {
        let bytes: [UInt8]
        do { bytes = try InputFile.contents(of: path, limit: InputFile.specLimit, what: "the spec") } catch {
            // An unreadable spec is a run-time failure naming it, as an unreadable snapshot,
            // table, dump or config is; a malformed one is a data error.
            throw error.kind == .dataError ? error : EngineError(.failure, error.message)
        }
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let stem = base.hasSuffix(".yaml") ? String(base.dropLast(5)) : base.hasSuffix(".yml") ? String(base.dropLast(4)) : base
        do { return try StackSpec.decode(try SpecLoader.parse(bytes, file: path), file: path, defaultName: stem) } catch {
            throw EngineError(.dataError, error.description)
        }
    }
}

/// An input file a command names (a table file, a metadata dump, a spec, a snapshot), read
/// whole, with a size limit so that a wrong file (/dev/zero, a disk image) is refused with
/// a one-line data error instead of taking the machine's memory.
public enum InputFile {
    /// Snapshots: a capture of a filesystem with tens of millions of files stays well below.
    public static let snapshotLimit = 4 << 30
    /// Table files (`translate --table`): a million dm table lines are about 100 MiB.
    public static let tableLimit = 256 << 20
    /// Metadata dumps (thin_dump XML and the like), which grow with the pool's mappings.
    public static let dumpLimit = 4 << 30
    /// Stack specs (YAML), written by hand or by a script.
    public static let specLimit = 16 << 20

    /// The bytes of a table file; see `contents(of:limit:what:check:)`.
    public static func contents(of path: String) throws(EngineError) -> [UInt8] {
        try contents(of: path, limit: tableLimit, what: "the table file")
    }

    /// The bytes of `path` (`-`: standard input), at most `limit`: an unreadable file is a
    /// failure naming it, one past the limit (or refused by `check`) a data error.
    public static func contents(of path: String, limit: Int, what: String, check: (([UInt8]) -> String?)? = nil) throws(EngineError) -> [UInt8] {
        do { return try BoundedInput.read(path, limit: limit, what: what, check: check) } catch let e as BoundedInput.Refused {
            throw EngineError(.dataError, e.description)
        } catch { throw EngineError(.failure, "\(error)") }
    }

    /// The first bytes of a snapshot must open a JSON object: anything else (zeros, a disk
    /// image, YAML) is refused after the first read rather than after the limit.
    public static func snapshotStart(_ bytes: [UInt8]) -> String? {
        guard let first = bytes.first(where: { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }) else {
            return bytes.count < 4096 ? nil : "not a dmstack snapshot (only blanks)"
        }
        return first == UInt8(ascii: "{") ? nil : "not a dmstack snapshot (not a JSON object)"
    }
}
