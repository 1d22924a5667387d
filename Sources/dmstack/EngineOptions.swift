import ArgumentParser
import StackEngine
import StackModel
import StackSystem

/// `--snapshot FILE`, shared by every read command: the live system unless a snapshot is given.
/// The one place that chooses an engine; everything after talks to `Engine`.
struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Read a snapshot written by `dmstack capture` instead of the live system (- reads standard input; at most 4 GiB).", valueName: "FILE"))
    var snapshot: String?

    /// The engine for this run (a snapshot file is parsed here, once).
    func make() -> any Engine {
        snapshot.map { SnapshotEngine(file: $0) } ?? Machine.live
    }
}

/// This machine, for the commands: the engine of commands that always act on it (holders,
/// remove, monitor, capture), its clock, and the process's surroundings (terminal, host name,
/// environment), so that no command file calls the system itself.
enum Machine {
    static var live: any Engine { LiveEngine(dmstackVersion: Dmstack.version) }
    static var time: any TimeSource { SystemTime() }
    /// Holders recorded from this machine.
    static var holders: HolderService { HolderService(engine: live, time: time) }

    static func isTerminal(_ descriptor: Int32) -> Bool { Terminal.isTerminal(descriptor) }
    static func environment(_ name: String) -> String? { Terminal.environment(name) }
    static var hostName: String { Terminal.hostName() }
    /// Whether the locale's character set is UTF-8 (else reports draw in ASCII).
    static var localeIsUTF8: Bool { Terminal.localeIsUTF8 }
    /// The width a table must fit: $COLUMNS when it is a positive number, else the
    /// terminal's when standard output is one, else 80.
    static var outputColumns: Int {
        if let text = environment("COLUMNS"), let n = Int(text), n > 0 { return n }
        return isTerminal(1) ? Terminal.width(1) ?? 80 : 80
    }
    static var processID: Int32 { Terminal.processID }
    /// A line per event as it happens, also into a pipe or a file.
    static func flushOutput() { Terminal.flushOutput() }
    /// The heap's free pages back to the kernel (a monitor's passes).
    static func releaseFreeMemory() { Terminal.releaseFreeMemory() }
    static var heapInUse: Int { Terminal.heapInUse }
    static var libraryVersions: (deviceMapper: String, blkid: String) { (LibraryVersions.deviceMapper, LibraryVersions.blkid) }
}

/// Standard error as a `TextOutputStream`, for `print(..., to:)`.
/// Standard error. Outside a UTF-8 locale the symbols messages use (an arrow in a cycle's
/// devices, a times sign in a run) are spelled in ASCII, as `-i` does for tables; other bytes
/// (a file's own name) are left as they are.
struct StandardError: TextOutputStream {
    static let ascii = !Terminal.localeIsUTF8
    mutating func write(_ string: String) {
        guard Self.ascii, !string.utf8.allSatisfy({ $0 < 0x80 }) else { return Terminal.writeStandardError(string) }
        var out = ""
        for c in string { out += TextLayout.asciiSymbol(c) ?? String(c) }
        Terminal.writeStandardError(out)
    }
}

/// `--state-dir`, shared by every command that reads or writes the holder registry.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: ArgumentHelp(
        "Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).", valueName: "DIR"))
    var stateDir: String?

    var directory: String { HolderRegistry.directory(option: stateDir) }

    var store: RegistryStore { RegistryStore(directory: directory) }
}

extension Engine {
    /// A device argument, an unknown one a usage error.
    func argument(_ name: String, in inventory: Inventory) throws -> BlockDevice {
        do { return try device(name, in: inventory) } catch { throw CommandFailure(status: .usage, message: error.description) }
    }

    /// Commands that change the machine read a snapshot only to plan (`apply`, `teardown`).
    func requireDryRun(_ dryRun: Bool) throws {
        if let changeRefusal, !dryRun { throw CommandFailure(status: .usage, message: changeRefusal) }
    }

    /// `inventory` with the recorded devices of a leaf that is gone, said on stderr.
    func addingGone(_ name: String, to inventory: Inventory, registry: RegistryOptions) throws -> Inventory {
        let (augmented, note) = try addingGone(name, to: inventory, store: registry.store)
        if let note { var stderr = StandardError(); print("dmstack: note: \(note)", to: &stderr) }
        return augmented
    }
}

/// `--config`: the notification sinks and retry policy, for every command that dispatches.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp(
        "dmstack's configuration: notification sinks, retry policy (default $DMSTACK_CONFIG, else /etc/dmstack/config.yaml, else the journal).",
        valueName: "FILE"))
    var config: String?

    func load() throws -> NotifyConfig {
        do { return try ConfigLoader.load(option: config) } catch {
            throw CommandFailure(status: error.kind == .unreadable ? .failure : .dataError, message: error.description)
        }
    }

    /// The registry (created if missing) and a dispatcher with the configured sinks.
    func dispatcher(_ registry: RegistryOptions) throws -> Dispatcher {
        let config = try load()
        return Dispatcher(registry: try registry.store.open(), config: config)
    }

    /// The outbox with the configured sinks.
    func notifications(_ registry: RegistryOptions) throws -> Notifications { Notifications(try dispatcher(registry)) }

    /// The outbox of `registry` with the sinks of `config`.
    static func notifications(_ config: NotifyConfig, _ registry: HolderRegistry) -> Notifications {
        Notifications(Dispatcher(registry: registry, config: config))
    }

    /// The kernel's block and dm events, for a monitor between passes.
    static func kernelEvents() -> KernelEventSource { KernelEventSource() }
}

extension Dispatcher.Report {
    /// One line per failed delivery and a count, on stderr; the exit status: 0 when nothing
    /// is left undelivered, else 2 (partial: recorded, some sinks not reached yet).
    func say(prefix: String = "") -> ExitStatus {
        var stderr = StandardError()
        for f in failed { print("dmstack: \(prefix)event \(f.event) to \(f.sink) not delivered: \(f.detail)", to: &stderr) }
        if undelivered > 0 {
            print("dmstack: \(prefix)\(undelivered) deliveries still pending in the outbox (retried with backoff by `dmstack monitor`, or now by `dmstack events retry`)", to: &stderr)
            return .partial
        }
        return .success
    }
}
