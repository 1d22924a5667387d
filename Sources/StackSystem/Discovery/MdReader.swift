import StackModel

/// md arrays (`/sys/block/mdX/md/`, Documentation/admin-guide/md.rst; drivers/md/md.c
/// `md_default_attrs`, `rdev_default_attrs`): the array's level, layout, chunk_size,
/// component_size, raid_disks and reshape_position, and for each member directory `dev-*` its
/// block device (the `block` link), slot, offset (the data offset), size, state and
/// bad_blocks, as one `md-<level>` table line and one status line (`MdArray` documents both).
/// Members may be partitions, loop or dm devices; dm devices above md (an LV on an md PV) are
/// dm devices with their own tables.
public enum MdReader: LayerReader {
    public static func layer(name: String, base: String, sysfs: SysfsRoot) -> LayerInfo? {
        let md = "\(base)/md"
        guard let level = sysfs.read("\(md)/level") else { return nil }
        let arrayState = sysfs.read("\(md)/array_state") ?? ""
        let size = sysfs.readNumber("\(base)/size") ?? 0
        // md.c: an array not yet started (inactive, or a container of external metadata) has
        // no level or no size, hence no mapping.
        guard !level.isEmpty, size > 0 else { return LayerInfo(kind: level.isEmpty ? "md" : "md/\(level)", table: [], status: []) }
        // raid_disks reads "N (M)" while a reshape changes the count (md.c raid_disks_show).
        let disks = Int(firstWord(sysfs.read("\(md)/raid_disks"))) ?? 0
        let layout = Int(firstWord(sysfs.read("\(md)/layout"))) ?? 0
        let chunk = (UInt64(firstWord(sysfs.read("\(md)/chunk_size"))) ?? 0) / 512
        // md.c size_show: component_size is in KiB.
        let component = (UInt64(firstWord(sysfs.read("\(md)/component_size"))) ?? 0) * 2
        let reshapeWord = firstWord(sysfs.read("\(md)/reshape_position"))
        let reshape = UInt64(reshapeWord)
        var devices: [MdArray.Member] = []
        var bad: [MemberRange] = []
        for entry in sysfs.list(md) where entry.hasPrefix("dev-") {
            let dir = "\(md)/\(entry)"
            guard let kernelName = sysfs.linkBasename("\(dir)/block"),
                  let number = sysfs.read("/sys/class/block/\(kernelName)/dev") else { continue }
            let slotWord = firstWord(sysfs.read("\(dir)/slot"))
            let slot: MdArray.Member.Slot
            if let n = Int(slotWord), n >= 0, n < disks { slot = .index(n) } else if slotWord == "journal" { slot = .journal } else { slot = .none }
            let state = (sysfs.read("\(dir)/state") ?? "").split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
            // md.c rdev_size_show: KiB.
            let sectors = (UInt64(firstWord(sysfs.read("\(dir)/size"))) ?? 0) * 2
            devices.append(MdArray.Member(slot: slot, device: number, dataOffset: sysfs.readNumber("\(dir)/offset") ?? 0,
                                          sectors: sectors, state: state))
            for r in SystemParsers.badblocks(sysfs.read("\(dir)/bad_blocks") ?? "") { bad.append(MemberRange(device: number, range: r)) }
        }
        // Serving devices first in slot order, then the others: the table reads the same
        // way every time for the same array.
        devices.sort { order($0) < order($1) }
        let array = MdArray(level: level, layout: layout, chunkSectors: chunk, componentSectors: component, raidDisks: disks,
                            reshapePosition: reshape, devices: devices)
        let action = sysfs.read("\(md)/sync_action").map(firstWord)
        let type = "md-\(level)"
        let table = "0 \(size) \(type) " + array.tableArgumentWords.joined(separator: " ")
        let status = "0 \(size) \(type) " + array.statusArguments(arrayState: firstWord(arrayState), syncAction: action, badBlocks: bad).joined(separator: " ")
        return LayerInfo(kind: "md/\(level)", table: [table], status: [status])
    }

    static func order(_ m: MdArray.Member) -> (Int, Int, String) {
        switch m.slot {
        case .index(let n): (0, n, m.device)
        case .journal: (1, 0, m.device)
        case .none: (2, 0, m.device)
        }
    }

    static func firstWord(_ s: String?) -> String {
        String((s ?? "").trimmingSpaces.split(separator: " ").first ?? "")
    }
}
