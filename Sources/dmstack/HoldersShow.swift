import ArgumentParser
import StackEngine
import StackModel

extension Holders {
    struct ShowHolder: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show a holder's chains as a tree per leaf, checked against the live system.",
            discussion: """
                NAME is a holder name, a mountpoint or a filesystem UUID. Each leaf is shown \
                with the layers above it up to the holder's device; a device that is gone is \
                still shown, marked GONE with the time it was first found gone. Changes the \
                live system shows since the last refresh are listed (`holders refresh` \
                records them). JSON: {"holder": {...}}, every field in \
                docs/json/holder.schema.json.
                """
        )

        @Argument(help: "A holder name, mountpoint or filesystem UUID.")
        var name: String

        @Flag(name: [.customShort("J"), .long], help: "Print JSON.")
        var json = false

        @OptionGroup var registry: RegistryOptions

        func run() throws {
            try reportingFailures {
                guard let db = try registry.store.openExisting(), let stored = try Machine.holders.find(name, in: db) else {
                    throw CommandFailure(status: .failure, message: "no holder '\(name)' registered in \(registry.directory)")
                }
                let (record, pending) = Holders.current([stored])[0].pair
                let history: [(at: String, change: String)]
                history = try Machine.holders.history(stored.name, in: db)
                let view = HolderView(record, history: history, pending: pending)
                if json {
                    print(try JSONOutput.encode(["holder": view]))
                } else {
                    print(view.render(record))
                }
            }
        }
    }

    struct Unregister: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unregister",
            abstract: "Forget a holder and its history.",
            discussion: "NAME is a holder name, a mountpoint or a filesystem UUID. Exit status 1 if none is registered."
        )

        @Argument(help: "A holder name, mountpoint or filesystem UUID.")
        var name: String

        @OptionGroup var registry: RegistryOptions

        func run() throws {
            try reportingFailures {
                guard let db = try registry.store.openExisting(readOnly: false), let stored = try Machine.holders.find(name, in: db) else {
                    throw CommandFailure(status: .failure, message: "no holder '\(name)' registered in \(registry.directory)")
                }
                try Machine.holders.unregister(stored.name, in: db)
                print("unregistered \(stored.name)")
            }
        }
    }
}

extension HolderService.Current {
    var pair: (HolderRecord, [String]) { (record, pending) }
}
