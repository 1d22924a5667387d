import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// Why a configuration file was not used: it cannot be read (a run-time failure), it is
/// malformed, or anyone but root (or the invoking user) could have changed it (both refused as
/// a bad input file). The message is one line naming the file.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case unreadable, invalid, untrusted }
    public var kind: Kind
    public var message: String
    public var description: String { message }
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// Reads dmstack's configuration file (YAML, decoded strictly by `NotifyConfig.decode`).
public enum ConfigLoader {
    /// `path` if given (it must exist), else $DMSTACK_CONFIG, else /etc/dmstack/config.yaml
    /// if it exists, else the built-in fallback (the journal). The file and the directories
    /// above it must be writable only by root or the invoking user (`TrustedPath`): its exec
    /// hooks run with dmstack's privileges, so a file others could edit is refused before it
    /// is read, as sshd refuses such an authorized_keys.
    public static func load(option: String?) throws(ConfigError) -> NotifyConfig {
        var path = option
        if path == nil, let env = getenv("DMSTACK_CONFIG"), env.pointee != 0 { path = String(cString: env) }
        if path == nil {
            guard Syscall.exists(NotifyConfig.defaultPath) else { return .fallback }
            path = NotifyConfig.defaultPath
        }
        let file = path!
        let bytes: [UInt8]
        do { bytes = try SectorReader.contents(of: file) } catch {
            // The error names the path once: "cannot open config.yaml: No such file or directory".
            throw ConfigError(.unreadable, "\(error)")
        }
        if let problem = TrustedPath.problem(with: file, what: "notification configuration") {
            throw ConfigError(.untrusted, "\(problem); refusing to use it")
        }
        do { return try NotifyConfig.decode(try SpecLoader.parse(bytes, file: file), file: file) } catch {
            throw ConfigError(.invalid, error.description)
        }
    }
}
