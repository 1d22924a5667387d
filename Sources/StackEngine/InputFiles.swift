import StackModel
import StackSystem

/// A spec file (YAML) read and decoded; a malformed one is a data error naming its line.
public enum SpecFile {
    public static func load(_ path: String) throws(EngineError) -> StackSpec {
        do { return try SpecLoader.load(file: path) } catch { throw EngineError(.dataError, error.description) }
    }
}

/// An input file a command names (a table file), read whole.
public enum InputFile {
    /// The bytes of `path`; an unreadable file is a failure naming it.
    public static func contents(of path: String) throws(EngineError) -> [UInt8] { try MetadataSources.read(path) }
}
