import StackModel

/// What the live readers share: the device node of a table member, and a read of it that
/// turns every failure into the reason the target's ranges are `unknown`.
enum LiveMetadataDevice {
    /// `/dev/KERNELNAME` of a table member (tables name members by major:minor).
    static func node(_ member: String, role: String, of device: String, _ inventory: Inventory) throws(LiveMetadataError) -> String {
        guard let d = try? inventory.device(member) else {
            throw LiveMetadataError("\(device): its \(role) \(member) is not a block device of this system")
        }
        return "/dev/\(d.kernelName)"
    }

    /// Opens `path` read-only with O_DIRECT (what the device holds now, not a page cached
    /// before the kernel wrote it) at `base` and runs `body` on it.
    static func reading<T>(_ path: String, base: UInt64 = 0, what: String, _ body: (SectorReader) throws -> T) throws(LiveMetadataError) -> T {
        do {
            let reader = try SectorReader(path: path, base: base, direct: true)
            return try body(reader)
        } catch let e as MappingParseError {
            throw LiveMetadataError("\(what) could not be read live: \(e)")
        } catch {
            throw LiveMetadataError("\(what) could not be read live from \(path): \(error)")
        }
    }

    /// The status words of `target` of dm device `device` (after `<start> <length> <type>`),
    /// from the inventory's `dmsetup status` lines.
    static func status(of target: Target, device: String, _ inventory: Inventory) -> [String] {
        guard let lines = (try? inventory.device(device))?.dm?.status else { return [] }
        for line in lines {
            let words = line.split(separator: " ").map(String.init)
            if words.count >= 3, UInt64(words[0]) == target.start { return Array(words.dropFirst(3)) }
        }
        return []
    }
}
