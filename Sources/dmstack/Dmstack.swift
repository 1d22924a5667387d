import ArgumentParser

/// The `dmstack` command: device-mapper stacks, their holder chains and what a failure hits.
@main
struct Dmstack: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "dmstack",
        abstract: "Inspect, build and translate Linux device-mapper stacks, and say what a failed leaf hits.",
        discussion: """
            Ranges are in 512-byte sectors unless they carry a suffix (s, B, KiB, MiB, GiB, TiB).
            Exit status: 0 success, 1 runtime failure, 2 partial success, 3 refused for safety, \
            64 usage error (bad arguments or range), 65 malformed input file (table, spec, snapshot).
            """,
        version: version,
        // Every command names itself (commandName): else ArgumentParser derives each name
        // with String(describing:), a scan of every protocol conformance in the binary for
        // each command at every start (a quarter of `dmstack version`'s CPU time).
        subcommands: [Tree.self, Show.self, Capture.self, Translate.self, Simulate.self, Apply.self, Teardown.self, List.self, Holders.self, Remove.self, Monitor.self, Events.self, Version.self]
    )
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
