/// A dm device lvm2 activated, named as lvm's users know it, read from nothing but its dm uuid
/// and dm name (no lvm tool is asked, so a snapshot names it as the live machine does):
///
/// - the uuid is `LVM-` + the VG's 32-character id + the LV's 32-character id, then `-LAYER`
///   for some devices (lvm2 lib/misc/lvm-string.c `build_dm_uuid`, `UUID_PREFIX`);
/// - the dm name is `VG-LV` or `VG-LV-LAYER`, every `-` inside VG and LV doubled
///   (libdm `dm_build_dm_name`; read back as `dm_split_lvm_name`/`_unquote` do in
///   device_mapper/libdm-string.c: `--` is a `-`, a single `-` ends the component);
/// - lvm's own sub-volumes carry a suffix no user LV may contain (lib/misc/lvm-string.c
///   `_lvname_has_reserved_component_string`, `_lvname_has_reserved_string`): `_rimage_N`,
///   `_rmeta_N`, `_tdata`, `_tmeta`, `_cdata`, `_cmeta`, `_corig`, `_cpool`, `_cvol`, `_wcorig`,
///   `_mimage_N`, `_mlog`, `_vdata`, `_imeta`, `_iorig`, `_pmspare`, `_vorigin`; names starting
///   `pvmove` or `snapshot` are lvm's too (`_lvname_has_reserved_prefix`).
///
/// dmstack names such a device `VG/LV` (as lvm's `display_lvname` and /dev/VG/LV do) and an
/// internal one `VG/LV:PART`, where LV is the volume the user made and PART what lvm made of it
/// (`rimage_1`, `tdata`, `real`, `cow`, `tpool`, `cpool_cdata`): a colon is in no VG or LV name
/// (lib/misc/lvm-string.c `_validate_name`: letters, digits, `.`, `_`, `-`, `+`), nor a `/` in
/// any dm name, so the name never collides with another device's.
public struct LvmVolume: Codable, Sendable, Hashable {
    /// The volume group.
    public var vg: String
    /// The logical volume the user created and names in lvm commands (`lv` for `lv_rimage_1`,
    /// `pool` for `pool_tdata` and the `pool-tpool` layer).
    public var lv: String
    /// What part of `lv` this device is, nil for the LV itself: a sub-volume's reserved suffix
    /// without its leading `_` (`rimage_1`, `tmeta`, `corig`), a dm layer (`real`, `cow`,
    /// `tpool`), or both joined by `-` (`rimage_0-real`).
    public var component: String?
    /// An lvm-internal device (a sub-volume, a layer, a pvmove or merging snapshot volume):
    /// lvm lists it only with `lvs -a`, in brackets, and users never name it.
    public var isInternal: Bool

    public init(vg: String, lv: String, component: String? = nil, isInternal: Bool? = nil) {
        self.vg = vg
        self.lv = lv
        self.component = component
        self.isInternal = isInternal ?? (component != nil)
    }

    enum CodingKeys: String, CodingKey { case vg, lv, component, isInternal = "internal" }

    /// `vg/lv`, or `vg/lv:component` for a part of it.
    public var name: String { "\(vg)/\(lv)" + (component.map { ":\($0)" } ?? "") }

    /// The LV users know: `vg/lv`.
    public var volume: String { "\(vg)/\(lv)" }

    /// The lvm2 volume a dm device is, nil when its uuid is not lvm's or its name does not
    /// split into a VG and an LV.
    public init?(dmName: String, uuid: String) {
        // LVM- + 32-character VG id + 32-character LV id (lib/uuid/uuid.h ID_LEN).
        guard uuid.hasPrefix("LVM-"), uuid.utf8.count >= 4 + 64 else { return nil }
        var rest = Substring(dmName)
        let vg = Self.unquote(&rest), lvName = Self.unquote(&rest), layer = Self.unquote(&rest)
        // libdm's names have at most three parts (VG, LV, layer): more is not lvm's, and
        // dropping it would give two devices one name.
        guard !vg.isEmpty, !lvName.isEmpty, rest.isEmpty else { return nil }
        var lv = lvName
        var parts: [String] = []
        if let cut = Self.componentStart(lvName) {
            lv = String(lvName[..<cut])
            parts.append(String(lvName[lvName.index(after: cut)...]))
        }
        if !layer.isEmpty { parts.append(layer) }
        let reserved = Self.reservedPrefixes.contains { lvName.hasPrefix($0) } || Self.reservedStrings.contains { s in lvName.indices.contains { lvName[$0...].hasPrefix(s) } }
        self.init(vg: vg, lv: lv, component: parts.isEmpty ? nil : parts.joined(separator: "-"), isInternal: !parts.isEmpty || reserved)
    }

    /// Suffixes lvm reserves for its sub-volumes (lib/misc/lvm-string.c).
    static let reservedStrings = ["_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_wcorig", "_mimage", "_mlog", "_rimage", "_rmeta",
                                  "_tdata", "_tmeta", "_vdata", "_imeta", "_iorig", "_pmspare", "_vorigin"]
    static let reservedPrefixes = ["pvmove", "snapshot"]

    /// Where the first reserved suffix of an LV name starts (its `_`), if any: everything
    /// before it is the volume the user made (`cpool` in `cpool_cpool_cdata`).
    static func componentStart(_ name: String) -> String.Index? {
        var i = name.index(after: name.startIndex)
        while i < name.endIndex {
            if name[i] == "_" && reservedStrings.contains(where: { name[i...].hasPrefix($0) }) { return i }
            i = name.index(after: i)
        }
        return nil
    }

    /// One component of a dm name, as libdm's `_unquote` reads it: `--` is a `-`, a single `-`
    /// (not the last character) ends it; `rest` is left after that `-`.
    static func unquote(_ rest: inout Substring) -> String {
        var out = ""
        var i = rest.startIndex
        while i < rest.endIndex {
            let c = rest[i], next = rest.index(after: i)
            if c == "-" && next < rest.endIndex {
                if rest[next] == "-" { out.append("-"); i = rest.index(after: next); continue }
                rest = rest[next...]
                return out
            }
            out.append(c)
            i = next
        }
        rest = rest[rest.endIndex...]
        return out
    }
}

extension DeviceMapperInfo {
    /// The lvm2 volume this device is, if lvm activated it.
    public var lvm: LvmVolume? { LvmVolume(dmName: name, uuid: uuid) }
}

extension Inventory {
    /// Why `remove` leaves lvm's volumes alone, and what lvm would do instead, when any of
    /// `going` (the devices above `leaf` that would be taken down) is lvm's: lvm keeps its
    /// volumes in its own metadata, so tearing their dm devices down behind it leaves it
    /// believing them active. Moving the extents off the physical volume (`pvmove`, then
    /// `vgreduce`: lvm2 tools/pvmove.c, tools/vgreduce.c) keeps every volume; deactivating
    /// them (`lvchange -an`, `vgchange -an`) is lvm's own teardown. Nil when none is lvm's.
    func lvmRefusal(leaf: BlockDevice, going: [BlockDevice]) -> String? {
        let lvm = going.filter { $0.dm?.lvm != nil }.sorted { ($0.major, $0.minor) < ($1.major, $1.minor) }
        guard !lvm.isEmpty else { return nil }
        var volumes: [String] = [], groups: [String] = []
        for d in lvm {
            let v = d.dm!.lvm!
            if !volumes.contains(v.volume) { volumes.append(v.volume) }
            if !groups.contains(v.vg) { groups.append(v.vg) }
        }
        // The physical volumes on the leaf: what lvm's volumes are built on that is not lvm's.
        let mine = Set(going.map(\.kernelName) + [leaf.kernelName])
        var pvs: [(pv: BlockDevice, vg: String)] = []
        for d in lvm {
            for b in below(d) where b.dm?.lvm == nil && mine.contains(b.kernelName) && !pvs.contains(where: { $0.pv.kernelName == b.kernelName }) {
                pvs.append((b, d.dm!.lvm!.vg))
            }
        }
        let owned = volumes.count == 1 ? "lvm volume \(volumes[0]) is" : "lvm volumes \(volumes.joined(separator: ", ")) are"
        var out = "\(owned) built on \(leaf.displayName) and would lose data; lvm keeps its volumes in its own metadata, so dmstack leaves their dm devices to lvm. "
        if !pvs.isEmpty {
            let moves = pvs.map { "`pvmove \($0.pv.path)` then `vgreduce \($0.vg) \($0.pv.path)`" }
            out += "Move their extents off it first (\(moves.joined(separator: "; "))), or deactivate them"
        } else {
            out += "Deactivate them"
        }
        out += " (`lvchange -an \(volumes.joined(separator: " "))`, or the whole group: \(groups.map { "`vgchange -an \($0)`" }.joined(separator: ", "))); "
        return out + "--force takes lvm's dm devices down behind its back"
    }

    /// What to tell lvm after a removal that left its volumes degraded (a raid leg's PV gone):
    /// lvm2 `lvconvert --repair` rebuilds the leg on another PV, `vgreduce --removemissing`
    /// forgets the PV (tools/lvconvert.c, tools/vgreduce.c).
    func lvmRepairWarnings(leaf: BlockDevice, staying: [BlockDevice]) -> [String] {
        let lvs = staying.compactMap { $0.dm?.lvm }
        guard !lvs.isEmpty else { return [] }
        var volumes: [String] = [], groups: [String] = []
        for v in lvs {
            if !volumes.contains(v.volume) { volumes.append(v.volume) }
            if !groups.contains(v.vg) { groups.append(v.vg) }
        }
        return ["\(leaf.displayName) is a physical volume of \(groups.joined(separator: ", ")): \(volumes.joined(separator: ", ")) \(volumes.count == 1 ? "keeps" : "keep") serving degraded; "
                + "afterwards `lvconvert --repair \(volumes.joined(separator: " "))` rebuilds on another physical volume, and "
                + groups.map { "`vgreduce --removemissing \($0)`" }.joined(separator: ", ") + " forgets the missing one"]
    }
}
