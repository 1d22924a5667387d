import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// Reads dmstack's configuration file (YAML, decoded strictly by `NotifyConfig.decode`).
public enum ConfigLoader {
    /// `path` if given (it must exist), else $DMSTACK_CONFIG, else /etc/dmstack/config.yaml
    /// if it exists, else the built-in fallback (the journal).
    public static func load(option: String?) throws(SpecError) -> NotifyConfig {
        var path = option
        if path == nil, let env = getenv("DMSTACK_CONFIG"), env.pointee != 0 { path = String(cString: env) }
        if path == nil {
            guard Syscall.exists(NotifyConfig.defaultPath) else { return .fallback }
            path = NotifyConfig.defaultPath
        }
        let file = path!
        let bytes: [UInt8]
        do { bytes = try SectorReader.contents(of: file) } catch {
            throw SpecError(file: file, line: 0, key: "", message: "cannot read (\(error))")
        }
        return try NotifyConfig.decode(try SpecLoader.parse(bytes, file: file), file: file)
    }
}
