import StackModel
import Testing

/// lvm2's volumes named as its users know them, from nothing but the dm name and uuid: as
/// `dmsetup info -c -o name,uuid` showed them in the test VM (lvm2 2.03.16).
@Suite("lvm names")
struct LvmVolumeTests {
    static let vgID = "qkp718eBj1xHWJ6xK2ElI75wWWC3BVF9"
    static func uuid(_ lv: String, layer: String? = nil) -> String {
        "LVM-\(vgID)\(String((lv + String(repeating: "x", count: 32)).prefix(32)))" + (layer.map { "-\($0)" } ?? "")
    }

    @Test(arguments: [
        ("gt--probe-r--1", "gt-probe/r-1", "gt-probe", "r-1", nil, false),
        ("gt--probe-r--1_rimage_0", "gt-probe/r-1:rimage_0", "gt-probe", "r-1", "rimage_0", true),
        ("gt--probe-r--1_rmeta_1", "gt-probe/r-1:rmeta_1", "gt-probe", "r-1", "rmeta_1", true),
        ("vg-pool", "vg/pool", "vg", "pool", nil, false),
        ("vg-pool-tpool", "vg/pool:tpool", "vg", "pool", "tpool", true),
        ("vg-pool_tdata", "vg/pool:tdata", "vg", "pool", "tdata", true),
        ("vg-pool_tmeta", "vg/pool:tmeta", "vg", "pool", "tmeta", true),
        ("vg-orig-real", "vg/orig:real", "vg", "orig", "real", true),
        ("vg-snap-cow", "vg/snap:cow", "vg", "snap", "cow", true),
        ("vg-lv_corig", "vg/lv:corig", "vg", "lv", "corig", true),
        ("vg-cpool_cpool_cdata", "vg/cpool:cpool_cdata", "vg", "cpool", "cpool_cdata", true),
        ("vg-fast_cvol", "vg/fast:cvol", "vg", "fast", "cvol", true),
        ("vg-lv_wcorig", "vg/lv:wcorig", "vg", "lv", "wcorig", true),
        ("vg-lv_mlog_mimage_0", "vg/lv:mlog_mimage_0", "vg", "lv", "mlog_mimage_0", true),
        ("vg-lv_rimage_0_imeta", "vg/lv:rimage_0_imeta", "vg", "lv", "rimage_0_imeta", true),
        ("vg-lv_rimage_0-real", "vg/lv:rimage_0-real", "vg", "lv", "rimage_0-real", true),
        ("vg-lvol0_pmspare", "vg/lvol0:pmspare", "vg", "lvol0", "pmspare", true),
        ("vg-pvmove0", "vg/pvmove0", "vg", "pvmove0", nil, true),
        // An LV the user named `lv-real` is not the `real` layer of `lv`.
        ("vg-lv--real", "vg/lv-real", "vg", "lv-real", nil, false),
        ("my--vg-my__lv", "my-vg/my__lv", "my-vg", "my__lv", nil, false),
    ] as [(String, String, String, String, String?, Bool)])
    func namesFromTheDmName(dm: String, name: String, vg: String, lv: String, component: String?, hidden: Bool) throws {
        let v = try #require(LvmVolume(dmName: dm, uuid: Self.uuid("l")))
        #expect(v.name == name && v.vg == vg && v.lv == lv && v.component == component && v.isInternal == hidden)
        #expect(v.volume == "\(vg)/\(lv)")
    }

    @Test func onlyLvmsUuidsAreLvms() {
        #expect(LvmVolume(dmName: "vg-lv", uuid: "DMSTACK-s:lv") == nil)
        #expect(LvmVolume(dmName: "vg-lv", uuid: "LVM-xyz") == nil)
        #expect(LvmVolume(dmName: "vg-lv", uuid: "") == nil)
        // A name that does not split into VG and LV stays a dm name.
        #expect(LvmVolume(dmName: "lonely", uuid: Self.uuid("l")) == nil)
        #expect(LvmVolume(dmName: "-lv", uuid: Self.uuid("l")) == nil)
        // Nor one with more parts than VG, LV and layer: two such devices would share a name.
        #expect(LvmVolume(dmName: "vg-lv-x-1", uuid: Self.uuid("l")) == nil)
        #expect(LvmVolume(dmName: "vg-lv-real", uuid: Self.uuid("l"))?.name == "vg/lv:real")
    }

    /// As lvm built it in the VM: VG `gt-probe` on loop0..2 with a raid1 `r-1` on loop0+loop1
    /// and a linear `lin` on loop2 carrying a mounted XFS.
    static func machine() -> Inventory {
        func lv(_ k: String, _ minor: UInt32, _ name: String, size: UInt64, slaves: [String], table: [String], holders: [String] = [],
                fs: FilesystemInfo? = nil) -> BlockDevice {
            let deps = slaves.map { $0.hasPrefix("loop") ? "7:\($0.dropFirst(4))" : "254:\($0.dropFirst(3))" }
            return BlockDevice(kernelName: k, major: 254, minor: minor, size: size, holders: holders, slaves: slaves,
                               dm: DeviceMapperInfo(name: name, uuid: uuid(name), suspended: false, openCount: 1, table: table, status: [], deps: deps),
                               filesystem: fs)
        }
        let pv = FilesystemInfo(type: "LVM2_member", uuid: "PV", blockSize: 512)
        let devices = [
            BlockDevice(kernelName: "loop0", major: 7, minor: 0, size: 98304, holders: ["dm-0", "dm-1"], filesystem: pv, loopBackingFile: "/p0"),
            BlockDevice(kernelName: "loop1", major: 7, minor: 1, size: 98304, holders: ["dm-2", "dm-3"], filesystem: pv, loopBackingFile: "/p1"),
            BlockDevice(kernelName: "loop2", major: 7, minor: 2, size: 98304, holders: ["dm-5"], filesystem: pv, loopBackingFile: "/p2"),
            lv("dm-0", 0, "gt--probe-r--1_rmeta_0", size: 8192, slaves: ["loop0"], table: ["0 8192 linear 7:0 2048"], holders: ["dm-4"]),
            lv("dm-1", 1, "gt--probe-r--1_rimage_0", size: 32768, slaves: ["loop0"], table: ["0 32768 linear 7:0 10240"], holders: ["dm-4"]),
            lv("dm-2", 2, "gt--probe-r--1_rmeta_1", size: 8192, slaves: ["loop1"], table: ["0 8192 linear 7:1 2048"], holders: ["dm-4"]),
            lv("dm-3", 3, "gt--probe-r--1_rimage_1", size: 32768, slaves: ["loop1"], table: ["0 32768 linear 7:1 10240"], holders: ["dm-4"]),
            lv("dm-4", 4, "gt--probe-r--1", size: 32768, slaves: ["dm-0", "dm-1", "dm-2", "dm-3"],
               table: ["0 32768 raid raid1 4 0 nosync region_size 4096 2 254:0 254:1 254:2 254:3"]),
            lv("dm-5", 5, "gt--probe-lin", size: 16384, slaves: ["loop2"], table: ["0 16384 linear 7:2 43008"],
               fs: FilesystemInfo(type: "xfs", uuid: "X", blockSize: 4096)),
        ]
        let mounts = [Mount(mountId: 1, major: 254, minor: 5, root: "/", mountpoint: "/mnt/lin", fsType: "xfs", source: "/dev/mapper/gt--probe-lin",
                            options: ["rw"], superOptions: ["rw"])]
        return Inventory(SystemSnapshot(host: HostInfo(hostname: "h", kernel: "k", capturedAt: "T0", dmstackVersion: "0"),
                                        devices: devices, mounts: mounts, pmem: PmemInventory(regions: [], namespaces: [])))
    }

    @Test func everySpellingOfAVolumeFindsIt() throws {
        let inventory = Self.machine()
        for spelled in ["gt-probe/r-1", "/dev/gt-probe/r-1", "gt--probe-r--1", "/dev/mapper/gt--probe-r--1", "dm-4", "/dev/dm-4", "254:4"] {
            #expect(try inventory.device(spelled).kernelName == "dm-4", "\(spelled)")
        }
        #expect(try inventory.device("gt-probe/r-1:rimage_1").kernelName == "dm-3")
        let (topology, _) = try inventory.topology()
        for spelled in ["gt-probe/r-1", "/dev/gt-probe/r-1", "gt--probe-r--1", "/dev/mapper/gt--probe-r--1", "254:4"] {
            #expect(topology.name(of: try topology.resolve(spelled)) == "gt-probe/r-1", "\(spelled)")
        }
    }

    @Test func theTreeGroupsLvmsPartsUnderTheirVolume() throws {
        let forest = try Self.machine().tree()
        #expect(forest.map(\.name) == ["gt-probe/r-1", "gt-probe/lin"])
        let raid = forest[0]
        #expect(raid.lvm == LvmVolume(vg: "gt-probe", lv: "r-1"))
        #expect(raid.children.map(\.name) == ["gt-probe/r-1:rmeta_0", "gt-probe/r-1:rimage_0", "gt-probe/r-1:rmeta_1", "gt-probe/r-1:rimage_1"])
        #expect(raid.children.allSatisfy { $0.lvm?.isInternal == true && $0.lvm?.lv == "r-1" })
        #expect(raid.children[1].lvm?.component == "rimage_0" && raid.children[1].children.map(\.name) == ["loop0"])
        #expect(raid.children[0].children[0].lvm == nil)
        let inverse = try Self.machine().tree(roots: ["loop0"], inverse: true)
        #expect(inverse[0].children.map(\.name) == ["gt-probe/r-1:rmeta_0", "gt-probe/r-1:rimage_0"])
        #expect(inverse[0].children.allSatisfy { $0.children.map(\.name) == ["gt-probe/r-1"] })
    }

    @Test func simulateNamesTheVolumeAndItsParts() throws {
        let planner = ImpactPlanner(inventory: Self.machine(), reverseMap: { _, _, _ in ReverseMapAnswer(records: [], paths: [:], notes: []) },
                                    users: { _, _ in [] })
        let impact = try planner.plan(leaf: "loop1", range: SectorRange(start: 10240 + 8, length: 8), event: .failure)
        #expect(impact.layers.map(\.device) == ["loop1", "gt-probe/r-1:rimage_1", "gt-probe/r-1"])
        #expect(impact.degradedDevices == ["gt-probe/r-1"] && impact.filesystems.isEmpty)
        let lost = try planner.plan(leaf: "loop2", range: SectorRange(start: 43008, length: 8), event: .failure)
        #expect(lost.layers.map(\.device) == ["loop2", "gt-probe/lin"])
        #expect(lost.filesystems.map(\.device) == ["gt-probe/lin"])
    }

    @Test func removeRefusesAPhysicalVolumeNamingWhatLvmWouldDo() throws {
        let inventory = Self.machine()
        let planner = ImpactPlanner(inventory: inventory, reverseMap: { _, _, _ in ReverseMapAnswer(records: [], paths: [:], notes: []) },
                                    users: { _, _ in [] })
        let impact = try planner.plan(leaf: "loop2", range: nil, event: .remove)
        #expect(throws: RemovalError(category: .notOwned, message: "lvm volume gt-probe/lin is built on loop2 and would lose data; lvm keeps its volumes in its own metadata, "
            + "so dmstack leaves their dm devices to lvm. Move their extents off it first (`pvmove /dev/loop2` then `vgreduce gt-probe /dev/loop2`), "
            + "or deactivate them (`lvchange -an gt-probe/lin`, or the whole group: `vgchange -an gt-probe`); --force takes lvm's dm devices down behind its back")) {
            try inventory.removal(of: "loop2", impact: impact, force: false)
        }
        #expect(try inventory.removal(of: "loop2", impact: impact, force: true).layers.map(\.name) == ["gt--probe-lin"])
        // A raid leg's PV: the volume keeps serving; lvm is told how to repair it afterwards.
        let leg = try inventory.removal(of: "loop1", impact: try planner.plan(leaf: "loop1", range: nil, event: .remove), force: false)
        #expect(leg.layers.isEmpty && leg.degraded == ["gt-probe/r-1"] && leg.staying == ["gt-probe/r-1:rimage_1", "gt-probe/r-1:rmeta_1"])
        #expect(leg.warnings == ["loop1 is a physical volume of gt-probe: gt-probe/r-1 keeps serving degraded; afterwards `lvconvert --repair gt-probe/r-1` "
            + "rebuilds on another physical volume, and `vgreduce --removemissing gt-probe` forgets the missing one"])
    }

    @Test(arguments: ["gt--probe-lin", "gt-probe/lin"]) func teardownOfAnLvmVolumeNamesLvchange(spelled: String) throws {
        do {
            _ = try Self.machine().teardown(spelled, force: false)
            Issue.record("teardown of an lvm volume was not refused")
        } catch {
            #expect(error.category == .notOwned)
            #expect(error.message == "gt-probe/lin is lvm's (dm gt--probe-lin, uuid '\(Self.uuid("gt--probe-lin"))'): `lvchange -an gt-probe/lin` deactivates it; --force to remove it anyway")
        }
    }

    @Test func removeOfAnLvmVolumeIsNoLeaf() throws {
        let inventory = Self.machine()
        let planner = ImpactPlanner(inventory: inventory, reverseMap: { _, _, _ in ReverseMapAnswer(records: [], paths: [:], notes: []) },
                                    users: { _, _ in [] })
        let impact = try planner.plan(leaf: "gt-probe/lin", range: nil, event: .remove)
        #expect(throws: RemovalError(category: .notALeaf, message: "gt-probe/lin is an lvm volume, not a leaf; lvm deactivates its volumes (`lvchange -an gt-probe/lin`)")) {
            try inventory.removal(of: "/dev/gt-probe/lin", impact: impact, force: false)
        }
    }
}
