import ArgumentParser
import StackEngine
import StackModel

/// `dmstack simulate LEAF`: what a removal or a bad range of a leaf hits, and what must happen.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Say what a leaf's removal or bad range hits (layers, filesystems, files, metadata, processes) and what must happen; change nothing.",
        discussion: """
            The range is translated through every table to the top devices (translate), then \
            through each mounted filesystem's reverse map: GETFSMAP where it names owners (XFS \
            with rmapbt), else a FIEMAP walk of its files, with the metadata GETFSMAP does name \
            (ext4). Files are named with every path and the byte ranges lost, clipped to the \
            event; processes that map a lost page or hold a hit file open are listed. Actions \
            follow the kernel's fsdax failure path (fs/xfs/xfs_notify_failure.c, \
            mm/memory-failure.c): --event remove (pre-remove, the whole leaf) freezes, takes \
            every mapper, invalidates, shuts down and thaws, never shutting down for metadata \
            alone; --event failure shuts down on a metadata or log hit and signals the mappers \
            of lost data. These are the rules of kernels 6.8 to 6.13; the rules follow the \
            running kernel (a snapshot: the kernel it recorded; or --kernel): before 6.8 an \
            unbind only shuts XFS down, 6.14+ also walks the realtime device. The text's \
            `kernel rules:` line (JSON kernel_rules) says which applied, and each filesystem's \
            `kernel alone:` line (kernel_alone) what the kernel does by itself: nothing through \
            a dm or md layer on removal, only the per-page kill on a memory failure. Ranges \
            that redundancy saves only get a degraded notice. Default: \
            failure with --range, else remove. A leaf no longer present is taken from the \
            holder registry. Dynamic targets need their metadata as for translate (--thin-dump \
            and the like), or their ranges are unknown and not judged; a live thin pool's is read \
            under a metadata snapshot, released before dmstack exits, also on SIGINT or SIGTERM \
            (test hook: DMSTACK_THIN_HOLD_SECONDS=N holds it N seconds longer). Offsets and lengths of files and metadata are in bytes. JSON: {"impact": {...}}, \
            every field in docs/json/simulate.schema.json. Where dmstack could not learn what it \
            needed (a reverse map not readable or not in the snapshot, owners the map does not \
            report, a dynamic layer's metadata missing, permission), the filesystem or layer says \
            unknown with a reason code and the ranges concerned (UNKNOWN lines in the text, \
            `unknown` in JSON), never an empty answer, and the exit status is 2.
            """
    )

    @Argument(help: "The leaf (a kernel name, /dev path, dm name, lvm vg/lv or major:minor).")
    var leaf: String

    @Option(parsing: .unconditional, help: ArgumentHelp("START+LENGTH or START-END on the leaf; sectors unless suffixed.", valueName: "RANGE"))
    var range: String?

    @Option(help: ArgumentHelp("remove (the whole leaf goes) or failure (a bad range).", valueName: "EVENT"))
    var event: FailureEvent?

    @Flag(name: [.customShort("J"), .long], help: "Print JSON.")
    var json = false

    @Option(name: .customLong("reverse-map"), help: ArgumentHelp("How file owners are found: auto (GETFSMAP where it names them, else a FIEMAP walk), getfsmap, or fiemap.", valueName: "HOW"))
    var reverseMap: ReverseMapStrategy = .auto

    @Option(help: ArgumentHelp("Plan with the rules of this kernel release (MAJOR.MINOR...: before 6.8 an unbind only shuts XFS down; 6.8+ pre-remove; 6.14+ realtime rmap) instead of the running or recorded kernel's.", valueName: "VERSION"))
    var kernel: String?

    @OptionGroup var dynamic: MappingOptions

    @OptionGroup var engine: EngineOptions

    @OptionGroup var registry: RegistryOptions

    func validate() throws {
        if let range { do { _ = try RangeParser.parse(range) } catch { throw ValidationError(error.description) } }
        if let kernel, KernelRules.option(kernel) == nil { throw ValidationError("--kernel '\(kernel)' is not a kernel release (MAJOR.MINOR, as uname -r prints it)") }
        if event == .remove && range != nil { throw ValidationError("--event remove is the whole leaf; --range is for --event failure") }
    }

    func run() throws {
        try reportingStatus {
            var stderr = StandardError()
            let machine = engine.make()
            var inventory = try machine.inventory()
            inventory = try machine.addingGone(leaf, to: inventory, registry: registry)
            let device = try machine.argument(leaf, in: inventory)
            let sectors = try range.map { try RangeParser.parse($0) }
            if let sectors, sectors.start + sectors.length > device.size {
                throw CommandFailure(status: .usage, message: "range \(sectors) is outside \(device.displayName) (\(device.size) sectors)")
            }
            let kind = event ?? (sectors == nil ? .remove : .failure)
            // DMSTACK_TIMING=1: where the time goes, on stderr (for `make bench`).
            let timing = Machine.environment("DMSTACK_TIMING") == "1"
            let time = Machine.time
            let begin = time.monotonicNanoseconds()
            let mappings: DynamicMappings
            do {
                mappings = try machine.dynamicMappings(dynamic.sources, tables: try inventory.tableSet(), in: inventory, around: [device.displayName])
            } catch let e as TableParseError {
                throw CommandFailure(status: .dataError, message: "\(machine.source): \(e)")
            }
            // A FIEMAP walk says how far it got, on a terminal; the line is cleared after it.
            let walking = Walking()
            var options = ReverseMapOptions(strategy: reverseMap)
            if !json && Machine.isTerminal(2) {
                options.progress = { n in walking.shown = true; var e = StandardError(); print("\rdmstack: walking: \(n) inodes", terminator: "", to: &e) }
            }
            var run = ImpactRun(engine: machine, inventory: inventory, mappings: mappings, reverseMapOptions: options, time: time)
            run.rules = kernel.flatMap(KernelRules.option)
            let (impact, spent) = try run.plan(leaf: device.displayName, range: sectors, event: kind)
            if walking.shown { print("\r\u{1b}[K", terminator: "", to: &stderr) }
            if timing {
                print("dmstack: timing: reverse map \(spent.mapNanos / 1000) us, names \(spent.pathNanos / 1000) us, processes \(spent.procNanos / 1000) us, plan \((time.monotonicNanoseconds() - begin) / 1000) us", to: &stderr)
            }
            // Written as it is made: a whole-device impact names every file of the filesystem.
            let out = JSONOutput.standardOutput()
            if json {
                try ImpactJSON(out).write(impact)
            } else {
                Self.render(impact) { out.write($0 + "\n") }
                out.drain()
            }
            // An answer with unknown parts is partial: a script never reads it as all clear.
            return impact.isComplete ? .success : .partial
        }
    }

    /// The first few of a long list, and how many more (--json has them all).
    static func some(_ items: [String], _ limit: Int = 6) -> String {
        items.count <= limit ? items.joined(separator: ", ") : items.prefix(limit).joined(separator: ", ") + ", ... \(items.count - limit) more"
    }

    static func render(_ impact: Impact) -> String {
        var lines: [String] = []
        render(impact) { lines.append($0) }
        return lines.joined(separator: "\n")
    }

    /// The text, a line at a time to `line` as it is made.
    static func render(_ impact: Impact, line: @escaping (String) -> Void) {
        let lines = Lines(line)
        lines.append("simulate \(impact.event.rawValue) \(impact.leaf) \(impact.range)")
        lines.append(impact.kernelRules.line)
        lines.append("layers:")
        for l in impact.layers {
            lines.append("  \(l.device): " + Self.some(l.ranges.map { "\($0.run) \($0.outcome.rawValue)" }))
        }
        for fs in impact.filesystems {
            // Says what was hit (file data, metadata, log, free space, unknown), on which devices.
            let what = fs.hit.isEmpty ? "nothing owned" : fs.hit.joined(separator: ", ")
            lines.append("filesystem \(fs.mountpoint) (\(fs.type) on \(fs.device)): \(what) hit (\(fs.roles.map(\.rawValue).joined(separator: ", ")) device\(fs.roles.count == 1 ? "" : "s"))")
            for u in fs.unknown {
                lines.append("  UNKNOWN: owners of \(u.role.rawValue) device bytes \(Self.some(u.ranges.map(\.description))) not known because \(u.detail) [\(u.reason.rawValue)]")
            }
            if !fs.metadata.isEmpty {
                lines.append("  metadata:")
                for m in fs.metadata {
                    lines.append("    \(m.kind)\(m.inode.map { " of inode \($0)" } ?? "") (\(m.role.rawValue) device bytes "
                        + Self.some(m.ranges.map { "\($0.offset)+\($0.length)" }) + ")")
                }
            }
            if !fs.files.isEmpty {
                lines.append("  files:")
                for f in fs.files {
                    let flags = (f.shared ? " shared" : "") + (f.unwritten ? " unwritten" : "")
                    lines.append("    \(f.paths.isEmpty ? f.path : f.paths.joined(separator: " = ")) (inode \(f.inode)\(flags)): bytes "
                        + Self.some(f.extents.map { "\($0.offset)+\($0.length)" }))
                }
                if let failure = fs.files.readFailure { lines.append("    ... the list stops here: \(failure); more files may be lost") }
            }
            if !fs.processes.isEmpty {
                lines.append("  processes:")
                for p in fs.processes {
                    let mapped = p.address.map { " \($0) (file bytes \(p.fileOffset ?? 0)+\(p.fileLength ?? 0))" } ?? ""
                    lines.append("    pid \(p.pid) (\(p.command)): \(p.how)\(mapped) \(p.path)")
                }
            }
            lines.append("  actions:")
            if fs.actions.isEmpty { lines.append("    none") }
            for a in fs.actions { lines.append("    \(a.action) \(a.target): \(a.reason)") }
            if !fs.kernelAlone.isEmpty { lines.append("  kernel alone: \(fs.kernelAlone)") }
            for n in fs.notes { lines.append("  note: \(n)") }
        }
        for u in impact.mayLose {
            lines.append("may lose on \(u.mountpoint) (\(u.type) on \(u.device)), UNKNOWN outcome because " + u.reasons.joined(separator: "; ")
                + " [\(u.reasonCodes.map(\.rawValue).joined(separator: ", "))]")
            for x in u.unknown {
                lines.append("  UNKNOWN: owners of \(x.role.rawValue) device bytes \(Self.some(x.ranges.map(\.description))) not known because \(x.detail) [\(x.reason.rawValue)]")
            }
            for m in u.metadata { lines.append("  metadata \(m.kind)\(m.inode.map { " of inode \($0)" } ?? ""): bytes " + Self.some(m.ranges.map { "\($0.offset)+\($0.length)" })) }
            for f in u.files { lines.append("  file \(f.paths.isEmpty ? f.path : f.paths.joined(separator: " = ")) (inode \(f.inode)): bytes " + Self.some(f.extents.map { "\($0.offset)+\($0.length)" })) }
            for n in u.notes { lines.append("  note: \(n)") }
        }
        for n in impact.notices { lines.append(n.action == .none ? "UNKNOWN \(n.target): \(n.reason)" : "\(n.action) \(n.target): \(n.reason)") }
        lines.append(impact.summary)
        if !impact.isComplete { lines.append("incomplete answer: some owners or outcomes are UNKNOWN (exit status 2)") }
    }

    /// `append` hands each line on.
    struct Lines {
        let line: (String) -> Void
        init(_ line: @escaping (String) -> Void) { self.line = line }
        func append(_ s: String) { line(s) }
    }
}

/// Whether a walk reported progress, so that its line is cleared only then.
final class Walking: @unchecked Sendable { var shown = false }

extension FailureEvent: ExpressibleByArgument {}
extension ReverseMapStrategy: ExpressibleByArgument {}
