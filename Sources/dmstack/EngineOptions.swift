import ArgumentParser
import StackEngine
import StackModel
import StackSystem

/// `--snapshot FILE`, shared by every read command: the live system unless a snapshot is given.
struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Read a snapshot written by `dmstack capture` instead of the live system.", valueName: "FILE"))
    var snapshot: String?

    var engine: Engine {
        snapshot.map { SnapshotEngine(file: $0) } ?? LiveEngine(dmstackVersion: Dmstack.version)
    }

    /// The machine, live or captured, with every failure turned into a documented status.
    func inventory() throws -> Inventory {
        do {
            return Inventory(try engine.snapshot())
        } catch let e as SnapshotFileError {
            throw CommandFailure(status: .dataError, message: e.description)
        } catch {
            throw CommandFailure(status: .failure, message: "cannot read \(engine.source): \(error)")
        }
    }

    /// Commands that change the machine read a snapshot only to plan (`apply`, `teardown`).
    func requireDryRun(_ dryRun: Bool) throws {
        if snapshot != nil && !dryRun {
            throw CommandFailure(status: .usage, message: "--snapshot plans against a captured machine; it needs --dry-run")
        }
    }

    /// A device argument: on the live system a /dev symlink (by-id, by-uuid, mapper) is
    /// followed to its node first.
    func device(_ name: String, in inventory: Inventory) throws -> BlockDevice {
        let resolved = snapshot == nil ? DevicePath.resolve(name) : name
        do { return try inventory.device(resolved) } catch {
            if resolved != name, let d = try? inventory.device(name) { return d }
            throw CommandFailure(status: .usage, message: error.description)
        }
    }
}
