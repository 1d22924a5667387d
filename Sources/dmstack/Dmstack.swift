import ArgumentParser

/// The `dmstack` command: device-mapper stacks, their holder chains and what a failure hits.
@main
struct Dmstack: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "dmstack",
        abstract: "Inspect, build and translate Linux device-mapper stacks, and say what a failed leaf hits.",
        discussion: """
            Ranges are in 512-byte sectors unless they carry a suffix, in any case: s, B, K, M, G, \
            T (powers of 1024, as lsblk and lvm read them; KiB, MiB, GiB, TiB too); negative \
            numbers are refused. Commands that print a table (tree, list, translate, holders \
            list, events list) take lsblk's -o/--output COLUMNS, -n/--noheadings, -r/--raw, \
            -b/--bytes and -i/--ascii, fit $COLUMNS (else the terminal, else 80 columns) and \
            print nothing for an empty result under -n or -r; -J is --json everywhere.
            """ + "\n" + ExitStatus.helpText,
        version: version,
        // Every command names itself (commandName): else ArgumentParser derives each name
        // with String(describing:), a scan of every protocol conformance in the binary for
        // each command at every start (a quarter of `dmstack version`'s CPU time).
        subcommands: [Tree.self, Show.self, Capture.self, Translate.self, Simulate.self, Apply.self, Teardown.self, List.self, Holders.self, Remove.self, Monitor.self, Events.self, Damage.self, Metrics.self, Version.self]
    )

    /// ArgumentParser's `main`, with its errors told the dmstack way (`MainFailure`).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard let (text, status) = MainFailure.lines(for: error, root: self) else { exit(withError: error) }
            var stderr = StandardError()
            print(text, to: &stderr)
            exit(withError: ExitCode(status))
        }
    }
}

/// `dmstack version`: this tool and the C libraries it runs with.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print dmstack's version and its libdevmapper and libblkid versions.")

    func run() {
        print("dmstack \(Dmstack.version)")
        print("libdevmapper \(Machine.libraryVersions.deviceMapper)")
        print("libblkid \(Machine.libraryVersions.blkid)")
    }
}
