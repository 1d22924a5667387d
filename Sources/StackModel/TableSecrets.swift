/// Keys in dm tables must not leave the machine in a snapshot or a report: masked the way
/// `dmsetup table` masks them without `--showkeys` (every key character shown as `0`).
public enum TableSecrets {
    /// One table line (`start length type args`) with its keys masked by its target type
    /// (`TargetType.maskSecrets`); a line too short or of an unknown type is kept as it is.
    /// Works on words, so a line that does not parse is still masked.
    public static func mask(_ line: String) -> String {
        let words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard words.count > 2, let type = TargetTypes.type(named: words[2]) else { return line }
        var arguments = Array(words[3...])
        type.maskSecrets(&arguments)
        return (words[..<3] + arguments).joined(separator: " ")
    }

    /// A key shown as `dmsetup table` shows it: every character `0`.
    static func hidden(_ key: some StringProtocol) -> String { String(repeating: "0", count: key.count) }
}
