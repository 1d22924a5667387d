/// A kernel release as `uname -r` prints it (`6.12.117+deb12-amd64`, `6.1.0-57-amd64`): the
/// major and minor numbers decide which fsdax failure rules apply.
public struct KernelVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    /// The release as given.
    public var release: String

    /// Nil when `release` does not start with `MAJOR.MINOR`.
    public init?(_ release: String) {
        let digits = release.prefix { $0.isNumber || $0 == "." }.split(separator: ".", omittingEmptySubsequences: false)
        guard digits.count >= 2, let major = Int(digits[0]), let minor = Int(digits[1]) else { return nil }
        (self.major, self.minor, self.release) = (major, minor, release)
    }

    public init(major: Int, minor: Int) { (self.major, self.minor, self.release) = (major, minor, "\(major).\(minor)") }

    public static func < (a: KernelVersion, b: KernelVersion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
    public static func == (a: KernelVersion, b: KernelVersion) -> Bool { (a.major, a.minor) == (b.major, b.minor) }
    public func hash(into h: inout Hasher) { h.combine(major); h.combine(minor) }
    public var description: String { release }
}

/// Which kernel's fsdax failure path an impact's actions follow. The ranges are those of the
/// kernel changes themselves:
/// - `flagZero` (6.0–6.7): kill_dax() (drivers/dax/super.c) calls
///   `dax_holder_notify_failure(dax_dev, 0, U64_MAX, 0)`: an unbind reaches XFS as a plain
///   failure of the whole device; xfs_dax_notify_failure (fs/xfs/xfs_notify_failure.c)
///   forces SHUTDOWN_CORRUPT_ONDISK (seen on Debian's 6.1.0-57 by the kernel-behaviour
///   suite: "Corruption of on-disk metadata (0x10) detected at xfs_dax_notify_failure"): no
///   task is signalled, no page invalidated. Kernels before 6.0 have no dax holder at all
///   and are given these rules too, with a note.
/// - `preRemove` (6.8–6.13): kill_dax() passes MF_MEM_PRE_REMOVE; xfs_dax_notify_failure
///   freezes (xfs_dax_notify_failure_freeze), walks the rmap killing every mapper
///   (mf_dax_kill_procs, collect_procs_fsdax: SIGBUS BUS_MCEERR_AO), invalidates
///   (invalidate_inode_pages2_range), shuts down (SHUTDOWN_FORCE_UMOUNT) and thaws; it
///   returns -EOPNOTSUPP for the realtime device.
/// - `realtimeRmap` (6.14+): as `preRemove`, and the realtime device is walked through its
///   realtime group rmap (xfs_dax_notify_dev_failure with XG_TYPE_RTG).
public enum KernelRuleSet: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    case flagZero = "6.0-6.7"
    case preRemove = "6.8-6.13"
    case realtimeRmap = "6.14+"

    /// The rules of `version`.
    public static func of(_ version: KernelVersion) -> KernelRuleSet {
        if version < KernelVersion(major: 6, minor: 8) { return .flagZero }
        if version < KernelVersion(major: 6, minor: 14) { return .preRemove }
        return .realtimeRmap
    }

    /// What the set does, in a few words (the text's `kernel rules:` line).
    public var summary: String {
        switch self {
        case .flagZero: "unbind notifies XFS with flags 0: shutdown only (no MF_MEM_PRE_REMOVE)"
        case .preRemove: "MF_MEM_PRE_REMOVE: freeze, signal every mapper, invalidate, shut down, thaw; no realtime rmap"
        case .realtimeRmap: "MF_MEM_PRE_REMOVE, and the realtime device through its rmap"
        }
    }

    public var description: String { rawValue }
}

/// The rules an impact was planned with, and where they were chosen from: the running
/// kernel (live), the kernel a snapshot recorded, or `--kernel VERSION`.
public struct KernelRules: Encodable, Sendable, Hashable {
    public enum Source: String, Encodable, Sendable, Hashable {
        /// `uname` of the live machine.
        case running
        /// The kernel recorded in the snapshot (`host.kernel`).
        case snapshot
        /// `--kernel VERSION`.
        case option
    }
    /// The rule set: `6.0-6.7`, `6.8-6.13` or `6.14+`.
    public var set: KernelRuleSet
    /// The kernel release the set was chosen from, as given.
    public var kernel: String
    public var source: Source
    /// Set when the release could not be read (the 6.8-6.13 rules are then used) or predates
    /// the dax holder (before 6.0), saying so.
    public var note: String?

    public init(set: KernelRuleSet, kernel: String, source: Source, note: String? = nil) {
        (self.set, self.kernel, self.source, self.note) = (set, kernel, source, note)
    }

    /// The rules for `release` (from `source`); a release that does not parse gets the
    /// 6.8-6.13 rules and a note saying so, never a failure.
    public static func choose(release: String, source: Source) -> KernelRules {
        guard let version = KernelVersion(release) else {
            return KernelRules(set: .preRemove, kernel: release, source: source,
                               note: "kernel release '\(release)' not understood: the \(KernelRuleSet.preRemove) rules are used")
        }
        let note = version < KernelVersion(major: 6, minor: 0)
            ? "kernel \(release) predates the dax holder (6.0): it tells no filesystem of a pmem removal or failure; the \(KernelRuleSet.flagZero) rules are shown for what should happen"
            : nil
        return KernelRules(set: .of(version), kernel: release, source: source, note: note)
    }

    /// `--kernel VERSION`: nil when it does not start with MAJOR.MINOR.
    public static func option(_ text: String) -> KernelRules? {
        guard KernelVersion(text) != nil else { return nil }
        return choose(release: text, source: .option)
    }

    /// One line: `kernel rules: 6.8-6.13 (MF_MEM_PRE_REMOVE: ...), from the running kernel 6.12.117+deb12-amd64`.
    public var line: String {
        let from = switch source {
        case .running: "the running kernel"
        case .snapshot: "the kernel recorded in the snapshot"
        case .option: "--kernel"
        }
        return "kernel rules: \(set) (\(set.summary)), from \(from) \(kernel)" + (note.map { "; \($0)" } ?? "")
    }
}
