import ArgumentParser
import FoundationEssentials
import StackEngine
import StackModel

/// `dmstack capture`: this machine as one snapshot file, for offline analysis elsewhere.
struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Write a snapshot of this machine's block devices for offline use (--snapshot FILE).",
        discussion: """
            The snapshot holds every block device (sysfs), dm table, status and deps \
            (libdevmapper), filesystem signature (libblkid), mount and pmem region and \
            namespace, as versioned JSON (docs/json/snapshot.schema.json). Run it as root so devices can be probed. With it go \
            the reverse maps of the chosen filesystems and every process's open and mapped \
            files on them, so `simulate --snapshot` names files, metadata and processes \
            offline. --reverse-maps registered (the default): the filesystems registered \
            with `dmstack holders register`; all: every mounted filesystem on a dm or md \
            device or a pmem namespace, or on a device with one below it (a root on a plain \
            disk is left out); a comma-separated list of mountpoints: exactly those, \
            whatever they are on; none: no map. The file is written as the maps are read \
            (a reverse map in blocks of delta-coded columns, a dozen bytes or so a record) \
            and put in place whole: a failed capture leaves no file. `--snapshot` reads \
            files of up to 4 GiB.

            What the file tells whoever reads it: every path of every file in the captured \
            reverse maps, the mount points, the paths processes have open or mapped and their \
            command names, loop backing files, the host name, device, dm and lvm names, \
            filesystem labels and UUIDs. Crypt keys are masked. Before sending a snapshot to a \
            vendor, use --redact-paths (with -o FILE): each path component is replaced by h and \
            16 hex digits of SipHash-2-4 under a random 128-bit key (a keyed hash, so names \
            cannot be guessed by hashing a dictionary; dmstack links no crypto library for \
            HMAC-SHA256), in the maps, mounts, file uses, loop backing files and paths in \
            notes; one name is one token everywhere, so the snapshot still simulates. The key \
            and every token's name go to FILE.names (mode 0600): keep it, to read the answers \
            back; --redact-key HEX reuses a key (the same names give the same tokens). Names \
            that are not paths (host, devices, labels, commands) are not redacted.
            """
    )

    @Option(name: .customLong("reverse-maps"), help: ArgumentHelp("Which filesystems' reverse maps to include: registered, all (those on dm, md or pmem stacks), none, or MOUNTPOINT[,MOUNTPOINT...].", valueName: "WHICH"))
    var reverseMaps: SnapshotCapture.Selection = .registered

    @OptionGroup var registry: RegistryOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to FILE instead of standard output.", valueName: "FILE"))
    var output: String?

    @Flag(name: .customLong("redact-paths"), help: "Replace each path component by a keyed hash (SipHash-2-4); the key and name map go to FILE.names (needs -o FILE).")
    var redactPaths = false

    @Option(name: .customLong("redact-key"), help: ArgumentHelp("With --redact-paths: the 128-bit key, 32 hex digits (default: a random one).", valueName: "HEX"))
    var redactKey: String?

    func validate() throws {
        if redactPaths && output == nil { throw ValidationError("--redact-paths needs -o FILE: the key and the name map are written beside it") }
        if redactKey != nil && !redactPaths { throw ValidationError("--redact-key is for --redact-paths") }
        if let redactKey, SipHash24(hex: redactKey) == nil { throw ValidationError("--redact-key: '\(redactKey)' is not 32 hex digits") }
    }

    func run() throws {
        try reportingFailures {
            let machine = Machine.live
            let inventory = try machine.inventory()
            var random = SystemRandomNumberGenerator()
            let key = redactKey.flatMap(SipHash24.init(hex:)) ?? SipHash24(k0: random.next(), k1: random.next())
            let capture = SnapshotCapture(engine: machine, redactor: redactPaths ? PathRedactor(key: key) : nil)
            try capture.write(of: inventory, selection: reverseMaps, registry: { try registry.store.openExisting() }, to: output)
            if redactPaths, let output {
                let names = SnapshotCapture.nameMapPath(for: output)
                try capture.writeNameMap(to: names)
                var stderr = StandardError()
                print("dmstack: capture: paths redacted (SipHash-2-4); key and name map in \(names): keep it, send only \(output)", to: &stderr)
            }
        }
    }
}

extension SnapshotCapture.Selection: ExpressibleByArgument {
    /// The words completions offer (a list of mountpoints is the other choice).
    public static var allValueStrings: [String] { ["registered", "all", "none"] }
    public static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }

    public var defaultValueDescription: String {
        switch self {
        case .registered: "registered"
        case .all: "all"
        case .none: "none"
        case .mountpoints(let paths): paths.joined(separator: ",")
        }
    }
}
