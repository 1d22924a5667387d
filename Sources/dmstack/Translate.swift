import ArgumentParser
import FoundationEssentials
import StackEngine
import StackModel

/// `dmstack translate`: a range on one device → the ranges it becomes above (or below).
struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Translate a sector range through every dm table, up to the top devices or down to the leaves.",
        discussion: """
            Up (the default): DEV is a member as the tables write it (a path, a dm name or \
            major:minor); the result is the ranges of the devices above it, composed to the top, \
            each with the outcome of losing the range (lost, degraded, unknown) judged over all \
            paths at once. --down: DEV is a device with a table; the result is every leaf range \
            holding it: each copy, the data chunk and the parity of its stripe; a range no \
            device holds (zero or error target, an unprovisioned thin block) is unaffected. \
            JSON: {"translations": [...]}, every field in docs/json/translate.schema.json.

            One leg of a striped or raid layout stays one row: a run, written \
            START+LENGTH/STRIDE×COUNT (`0+128/256×1000` is 1000 ranges of 128 sectors, the \
            i-th at 0 + i×256); in JSON the row's and each hop's `stride` and `count`. Layers \
            that remap blocks one by one (thin, cache, snapshot, writecache, integrity, raid10 \
            with far copies) \
            follow a run piece by piece, at most 1000000 pieces a query; past that the rest is \
            `unknown` and says so. A row of unknown outcome carries a reason code (JSON \
            reason_code, first in the REASON column) and makes the exit status 2: the answer \
            is incomplete.

            Without --table the tables are the live system's (read through libdevmapper, \
            partitions as layers), or those of a snapshot with --snapshot FILE. A device that \
            is no longer on the live system is taken from the holder registry (see `dmstack \
            holders`), with the devices and tables it recorded. \
            With --table FILE the tables come from a file in the format of `dmsetup table` \
            (several devices as `name: start length target args`; a single unnamed table is the \
            device `top`; a partition is written `start length partition PARENT START`). \
            Dynamic targets need their metadata, or their ranges are `unknown`: give \
            --thin-dump POOL=FILE (thin_dump XML, or the pool's metadata device or an image of it; \
            a live pool's metadata is read without it, under a metadata snapshot), --cache-dump CACHE=FILE (cache_dump XML), \
            --snapshot-store SNAP=FILE (the COW device or an image of it), \
            --writecache-metadata WC=FILE (the cache device or an image of it) and \
            --integrity-superblock INT=FILE (the integrity data device or an image of it).
            """
    )

    @Option(name: .long, help: ArgumentHelp("Read tables from FILE instead of the live system (at most 256 MiB).", valueName: "FILE"))
    var table: String?

    @OptionGroup var engine: EngineOptions

    @OptionGroup var registry: RegistryOptions

    @Flag(name: .long, help: "Translate from a device down to the leaves instead of up.")
    var down = false

    @Flag(name: [.customShort("J"), .long], help: "Print JSON: {\"translations\": [...]}.")
    var json = false

    @OptionGroup var output: TableOptions<Translate>

    @OptionGroup var dynamic: MappingOptions

    @Argument(help: "The device the range is on.")
    var device: String

    @Argument(help: "START+LENGTH or START-END (end exclusive); sectors unless suffixed s, B, K, M, G, T (KiB...; any case).")
    var range: String

    func validate() throws {
        do { _ = try RangeParser.parse(range) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        try reportingStatus {
            let sectors = try RangeParser.parse(range)
            var stderr = StandardError()
            let topology: Topology
            let source: String
            var name = device
            // Dynamic metadata that was asked for and could not be read: why rows are unknown.
            var unavailable: [String: String] = [:]
            if let tableFile = table {
                let tables = try loadTables(tableFile)
                for w in tables.warnings { print("dmstack: warning: \(tableFile): \(w)", to: &stderr) }
                source = tableFile
                let mappings = try dynamic.sources.load(tables: tables, canonical: Topology.plainName)
                unavailable = mappings.unavailable
                do { topology = try Topology(tables: tables, mappings: mappings) } catch {
                    throw CommandFailure(status: .dataError, message: "\(tableFile): \(error)")
                }
            } else {
                let machine = engine.make()
                var inventory = try machine.inventory()
                source = machine.source
                // A leaf that is gone: its chains as the registry recorded them.
                inventory = try machine.addingGone(device, to: inventory, registry: registry)
                name = try machine.argument(device, in: inventory).displayName
                do {
                    let tables = try inventory.tableSet()
                    let mappings = try machine.dynamicMappings(dynamic.sources, tables: tables, in: inventory, around: [name])
                    unavailable = mappings.unavailable
                    let (t, warnings) = try inventory.topology(mappings: mappings)
                    for w in warnings { print("dmstack: warning: \(source): \(w)", to: &stderr) }
                    topology = t
                } catch let failure as EngineError {
                    throw failure
                } catch {
                    throw CommandFailure(status: .dataError, message: "\(source): \(error)")
                }
            }
            let translator = Translator(topology)
            var rows: [Translation]
            do {
                rows = down ? try translator.down(from: name, sectors) : try translator.up(from: name, sectors)
                rows = Translation.withReasonCodes(rows, unavailable: unavailable)
            } catch let error as TopologyError {
                switch error {
                case .cycle: throw CommandFailure(status: .dataError, message: "\(source): \(error)")
                case .unknownDevice, .rangeOutsideDevice: throw CommandFailure(status: .usage, message: "\(error)")
                }
            }
            if json {
                print(try JSONOutput.encode(["translations": rows]))
            } else if !rows.isEmpty {
                print(output.render(rows))
            } else if !output.quietWhenEmpty {
                print("\(device) \(sectors): no device \(down ? "below" : "above") it")
            }
            // Rows whose outcome is unknown make the answer incomplete (issue 18): said once on
            // stderr, so that standard output stays the table, and exit status 2.
            let unknown = rows.filter { $0.outcome == .unknown }
            guard unknown.isEmpty else {
                let codes = Set(unknown.compactMap(\.reasonCode?.rawValue)).sorted()
                print("dmstack: incomplete answer: \(unknown.count) row\(unknown.count == 1 ? "" : "s") of unknown outcome [\(codes.joined(separator: ", "))] (exit status 2)", to: &stderr)
                return .partial
            }
            return .success
        }
    }

    func loadTables(_ path: String) throws -> TableSet {
        let bytes = try InputFile.contents(of: path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CommandFailure(status: .dataError, message: "\(path): not UTF-8 text")
        }
        do { return try TableSet.parse(text) } catch {
            throw CommandFailure(status: .dataError, message: "\(path): \(error)")
        }
    }

    static let columns = ReportColumns<Translation>(all: [
        ReportColumn(name: "DEVICE", header: "DEVICE", help: "the device the range becomes a range of") { r, _ in r.device },
        ReportColumn(name: "START", header: "START", alignment: .right, help: "first sector (bytes with -b)") { r, layout in
            String(layout.bytes ? r.start * sectorBytes : r.start)
        },
        ReportColumn(name: "LENGTH", header: "LENGTH", alignment: .right, help: "sectors (bytes with -b); a run of COUNT ranges STRIDE apart is LENGTH/STRIDE, then a times sign and COUNT") { r, layout in
            let unit: UInt64 = layout.bytes ? sectorBytes : 1
            return r.count.map { "\(r.length * unit)/\((r.stride ?? r.length) * unit)×\($0)" } ?? "\(r.length * unit)"
        },
        ReportColumn(name: "OUTCOME", header: "OUTCOME", help: "lost, degraded or unknown") { r, _ in r.outcome.rawValue },
        ReportColumn(name: "KIND", header: "KIND", help: "what the range is on that device") { r, _ in r.kind.rawValue },
        ReportColumn(name: "REASON", header: "REASON", narrows: true, help: "why, for an outcome that needs one; an unknown one's reason code first") { r, _ in
            [r.reasonCode?.rawValue, r.reason].compactMap { $0 }.joined(separator: ": ")
        },
        ReportColumn(name: "PATH", header: "PATH", narrows: true, help: "every hop with its target, and the reason in brackets") { r, _ in
            r.path.map { hop in
                "\(hop.device) \(hop.run)" + (hop.target.map { " (\($0)\(hop.role.map { $0 == "data" ? "" : " \($0)" } ?? ""))" } ?? "")
            }.joined(separator: " → ") + (r.reason.map { " [\($0)]" } ?? "")
        },
    ], defaults: ["DEVICE", "START", "LENGTH", "OUTCOME", "KIND", "PATH"])
}

extension Translate: ColumnReport {}
