/// Keys in dm tables must not leave the machine in a snapshot or a report: masked the way
/// `dmsetup table` masks them without `--showkeys` (every key character shown as `0`).
public enum TableSecrets {
    /// One table line (`start length type args`) with its keys masked: dm-crypt's key
    /// argument (a keyring reference `:size:type:description` is not secret and is kept), and
    /// the key part of dm-integrity's `internal_hash:`, `journal_crypt:` and `journal_mac:`.
    public static func mask(_ line: String) -> String {
        var words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard words.count > 2 else { return line }
        switch words[2] {
        case "crypt" where words.count > 4 && !words[4].hasPrefix(":") && words[4] != "-":
            words[4] = String(repeating: "0", count: words[4].count)
        case "integrity":
            for i in 3..<words.count {
                for prefix in ["internal_hash:", "journal_crypt:", "journal_mac:"] where words[i].hasPrefix(prefix) {
                    let parts = words[i].dropFirst(prefix.count).split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                    if parts.count == 2 { words[i] = prefix + parts[0] + ":" + String(repeating: "0", count: parts[1].count) }
                }
            }
        default: break
        }
        return words.joined(separator: " ")
    }
}
