import FoundationEssentials
import ArgumentParser
import StackEngine
import StackModel

/// `dmstack show`: everything about one device.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show everything about one device: identity, table, status, what is above and below, filesystem, mounts, pmem.",
        discussion: """
            DEV is a kernel name (dm-3, pmem0), a dm name, an lvm volume (vg/lv, or \
            vg/lv:rimage_1 for one of lvm's internal parts), a /dev path (by-id, mapper and \
            /dev/vg/lv links are followed on the live system) or major:minor. JSON: {"device": {...}}, every \
            field in docs/json/show.schema.json.
            """
    )

    @OptionGroup var engine: EngineOptions

    @Flag(name: [.customShort("J"), .long], help: "Print JSON: {\"device\": {...}}.")
    var json = false

    @Argument(help: "The device.")
    var device: String

    func run() throws {
        try reportingFailures {
            let machine = engine.make()
            let inventory = try machine.inventory()
            // A corrupt table or a cycle is refused as tree and translate refuse it.
            try Tree.refusingCorrupt(machine.source) { () throws(TreeError) in try inventory.checkStacks() }
            let report = inventory.report(try machine.argument(device, in: inventory))
            if json {
                print(try JSONOutput.encode(["device": report]))
            } else {
                print(Self.render(report))
            }
        }
    }

    static func render(_ r: DeviceReport) -> String {
        var lines: [String] = []
        func field(_ key: String, _ value: String?) {
            if let value, !value.isEmpty { lines.append(key + String(repeating: " ", count: max(1, 15 - key.count)) + value) }
        }
        field("name", r.name)
        field("kernel name", r.kernelName)
        field("major:minor", r.majorMinor)
        field("path", r.path)
        field("size", "\(HumanSize.format(r.size)) (\(r.sectors) sectors, \(r.size) bytes)")
        field("type", r.type)
        field("read-only", r.readOnly ? "yes" : nil)
        field("block size", "\(r.logicalBlockSize)")
        if let p = r.partition { field("partition", "\(p.number) of \(p.parent), start sector \(p.start)") }
        if let dm = r.dm {
            field("dm uuid", dm.uuid)
            if let lv = r.lvm { field("lvm", "volume \(lv.volume)" + (lv.component.map { ", internal part \($0)" } ?? (lv.isInternal ? ", internal" : ""))) }
            field("open count", "\(dm.openCount)")
        }
        field("state", r.state.joined(separator: ", "))
        field("below", r.below.joined(separator: ", "))
        field("above", r.above.joined(separator: ", "))
        field("leaves", r.leaves.joined(separator: ", "))
        if let f = r.filesystem {
            field("filesystem", [f.type, f.version.map { "version \($0)" }].compactMap { $0 }.joined(separator: " "))
            field("fs uuid", f.uuid)
            field("label", f.label)
            field("partuuid", f.partUuid)
            field("partition table", f.partitionTableType)
        }
        for m in r.mounts {
            field("mounted on", "\(m.mountpoint) (\(m.fsType)\(m.dax ? ", dax" : "")\(m.logDevice.map { ", log \($0)" } ?? "")\(m.realtimeDevice.map { ", rt \($0)" } ?? ""))")
        }
        for role in r.servesAs { field("serves as", role) }
        if let ns = r.pmemNamespace {
            field("namespace", "\(ns.name) in \(ns.region), \(ns.mode), \(HumanSize.format(ns.size))\(ns.claimedBy.map { ", claimed by \($0)" } ?? "")")
            field("namespace uuid", ns.uuid)
        }
        field("loop file", r.loopBackingFile)
        field("badblocks", r.badblocks.isEmpty ? nil : r.badblocks.map { "\($0.start)+\($0.length)" }.joined(separator: ", "))
        if let dm = r.dm {
            lines.append("")
            lines.append("table:")
            lines += dm.table.isEmpty ? ["  (none)"] : dm.table.map { "  \($0)" }
            lines.append("status:")
            lines += dm.status.isEmpty ? ["  (none)"] : dm.status.map { "  \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}
