import StackModel
import Testing

/// Holder chains recorded from a machine, then re-read after it changed: every path, every
/// role, gone devices kept, replacements and reloads reported.
@Suite("Holder chains")
struct HolderRecordTests {
    static let context = HolderContext(resolvePath: { path in
        // /dev/mapper/NAME → the dm kernel name, as realpath would.
        ["/dev/mapper/log": "dm-3", "/dev/mapper/top": "dm-2", "/dev/pmem1": "pmem1"][path]
    }, blockSize: { mountpoint, _ in mountpoint == nil ? nil : 4096 }, now: "T1")

    /// pmem0 carries two linear volumes `a` and `b`, concatenated by `top` (an XFS on /mnt/x
    /// whose external log is `log`, a linear on pmem1); loop0 and loop1 are the legs of a
    /// raid1 `r1` holding an unmounted ext4.
    /// `topProbeError`: the probe of `top` failed with this reason (its filesystem unknown).
    static func machine(pmem1Gone: Bool = false, topTable: [String]? = nil, r1Legs: [String] = ["loop0", "loop1"], topProbeError: String? = nil) -> Inventory {
        func dm(_ k: String, _ minor: UInt32, _ name: String, size: UInt64, slaves: [String], table: [String], deps: [String],
                holders: [String] = [], fs: FilesystemInfo? = nil) -> BlockDevice {
            BlockDevice(kernelName: k, major: 253, minor: minor, size: size, holders: holders, slaves: slaves,
                        dm: DeviceMapperInfo(name: name, uuid: "DMSTACK-t:\(name)", suspended: false, openCount: 1, table: table, status: [], deps: deps),
                        filesystem: fs)
        }
        let legNumbers = ["loop0": "7:0", "loop1": "7:1", "loop2": "7:2"]
        var devices = [
            BlockDevice(kernelName: "pmem0", major: 259, minor: 0, size: 4096, holders: ["dm-0", "dm-1"], pmemNamespace: "namespace0.0"),
            BlockDevice(kernelName: "loop0", major: 7, minor: 0, size: 2048, holders: r1Legs.contains("loop0") ? ["dm-4"] : [], loopBackingFile: "/img0"),
            BlockDevice(kernelName: "loop1", major: 7, minor: 1, size: 2048, holders: r1Legs.contains("loop1") ? ["dm-4"] : [], loopBackingFile: "/img1"),
            BlockDevice(kernelName: "loop2", major: 7, minor: 2, size: 2048, holders: r1Legs.contains("loop2") ? ["dm-4"] : [], loopBackingFile: "/img2"),
            dm("dm-0", 0, "a", size: 2048, slaves: ["pmem0"], table: ["0 2048 linear 259:0 0"], deps: ["259:0"], holders: ["dm-2"]),
            dm("dm-1", 1, "b", size: 2048, slaves: ["pmem0"], table: ["0 2048 linear 259:0 2048"], deps: ["259:0"], holders: ["dm-2"]),
            dm("dm-2", 2, "top", size: 4096, slaves: ["dm-0", "dm-1"],
               table: topTable ?? ["0 2048 linear 253:0 0", "2048 2048 linear 253:1 0"], deps: ["253:0", "253:1"],
               fs: FilesystemInfo(type: "xfs", uuid: "X", blockSize: 512)),
            dm("dm-3", 3, "log", size: 1024, slaves: pmem1Gone ? [] : ["pmem1"], table: ["0 1024 linear 259:1 0"], deps: ["259:1"]),
            dm("dm-4", 4, "r1", size: 2048, slaves: r1Legs, table: ["0 2048 raid raid1 1 0 2 - \(legNumbers[r1Legs[0]]!) - \(legNumbers[r1Legs[1]]!)"],
               deps: r1Legs.map { legNumbers[$0]! }, fs: FilesystemInfo(type: "ext4", uuid: "E", blockSize: 1024)),
        ]
        if let topProbeError, let top = devices.firstIndex(where: { $0.kernelName == "dm-2" }) {
            devices[top].filesystem = nil
            devices[top].probeError = topProbeError
        }
        if !pmem1Gone {
            devices.append(BlockDevice(kernelName: "pmem1", major: 259, minor: 1, size: 2048, holders: ["dm-3"], pmemNamespace: "namespace1.0"))
        }
        let mounts = [Mount(mountId: 1, major: 253, minor: 2, root: "/", mountpoint: "/mnt/x", fsType: "xfs", source: "/dev/mapper/top",
                            options: ["rw"], superOptions: ["rw", "logdev=/dev/mapper/log"])]
        let pmem = PmemInventory(regions: [], namespaces: [
            PmemNamespace(name: "namespace0.0", region: "region0", mode: "fsdax", size: 2 << 20, uuid: "U0", claimedBy: "pfn0.0", blockDevice: "pmem0"),
            PmemNamespace(name: "namespace1.0", region: "region1", mode: "fsdax", size: 1 << 20, uuid: nil,
                          claimedBy: pmem1Gone ? nil : "pfn1.0", blockDevice: pmem1Gone ? nil : "pmem1"),
        ])
        return Inventory(SystemSnapshot(host: HostInfo(hostname: "h", kernel: "k", capturedAt: "T0", dmstackVersion: "0"),
                                        devices: devices, mounts: mounts, pmem: pmem))
    }

    static func paths(_ r: HolderRecord) -> [String] {
        r.chains.map { c in "\(c.role.rawValue): " + c.path.map { r.layer($0)!.name }.joined(separator: ">") }.sorted()
    }

    @Test func mountedXFSRecordsEveryPathAndItsLog() throws {
        let r = try Self.machine().holderRecord(name: nil, target: .filesystem("/mnt/x/"), registeredBy: "test", context: Self.context)
        #expect(r.name == "/mnt/x" && r.kind == .filesystem)
        #expect(r.filesystem == FilesystemIdentity(type: "xfs", uuid: "X", label: nil, blockSize: 4096, mountpoint: "/mnt/x"))
        // pmem0 reaches the holder through both a and b; the log is its own role.
        #expect(Self.paths(r) == ["data: pmem0>a>top", "data: pmem0>b>top", "log: pmem1>log"])
        #expect(r.layers.count == 6 && r.leaves.map(\.name) == ["pmem0", "pmem1"])
        #expect(r.layer("ns-uuid:U0")?.namespace?.claimedBy == "pfn0.0")
        #expect(r.layer("namespace:namespace1.0")?.isLeaf == true, "a label-less namespace is known by its name")
        #expect(r.layer("dm-uuid:DMSTACK-t:top")?.device.dm?.table.count == 2)
        #expect(r.top(.data)?.name == "top" && r.top(.log)?.name == "log" && r.top(.realtime) == nil)
        #expect(r.state == .ok)
        // As a tree per leaf: pmem0 branches to a and b, both up to top.
        let trees = r.leafTrees()
        #expect(trees.map(\.identity) == ["ns-uuid:U0", "namespace:namespace1.0"])
        #expect(trees[0].above.map(\.identity) == ["dm-uuid:DMSTACK-t:a", "dm-uuid:DMSTACK-t:b"])
        #expect(trees[0].above.allSatisfy { $0.above.map(\.identity) == ["dm-uuid:DMSTACK-t:top"] })
        #expect(trees[1].roles == [.log])
    }

    @Test func theSameFilesystemByDeviceAndByUUID() throws {
        let m = Self.machine()
        let byDevice = try m.holderRecord(name: nil, target: .filesystem("/dev/mapper/top"), registeredBy: "t", context: Self.context)
        let byUUID = try m.holderRecord(name: nil, target: .filesystem("UUID=X"), registeredBy: "t", context: Self.context)
        #expect(byDevice == byUUID && byDevice.name == "/mnt/x")
        // Unmounted, found by bare UUID on the raid (its legs show the same superblock below it).
        let ext4 = try m.holderRecord(name: nil, target: .filesystem("E"), registeredBy: "t", context: Self.context)
        #expect(ext4.name == "UUID=E" && ext4.filesystem?.mountpoint == nil && ext4.filesystem?.blockSize == 1024)
        #expect(Self.paths(ext4) == ["data: loop0>r1", "data: loop1>r1"])
        #expect(ext4.layer("loop:/img0") != nil)
    }

    @Test func badTargetsSayWhy() {
        let m = Self.machine()
        func message(_ t: HolderTarget, name: String? = nil) -> String {
            do { _ = try m.holderRecord(name: name, target: t, registeredBy: "t", context: Self.context); return "registered" } catch {
                return error.message
            }
        }
        #expect(message(.filesystem("/nowhere")) == "/nowhere is not a mountpoint")
        #expect(message(.filesystem("/dev/nothing")) == "no block device '/dev/nothing'")
        #expect(message(.filesystem("log")) == "log holds no filesystem (a device an application uses directly: --raw /dev/mapper/log --name NAME)")
        #expect(message(.filesystem("UUID=nope")) == "no filesystem with UUID nope")
        #expect(message(.raw(device: "log")) == "a raw holder needs --name")
        #expect(message(.raw(device: "log"), name: "db") == "registered")
        // A probe that could not open the device says so, not "holds no filesystem" (issue 18).
        let denied = Self.machine(topProbeError: "Operation not permitted")
        for target in [HolderTarget.filesystem("/mnt/x"), .filesystem("top")] {
            do { _ = try denied.holderRecord(name: nil, target: target, registeredBy: "t", context: Self.context); Issue.record("registered \(target)") } catch {
                #expect(error.message == "cannot probe /dev/mapper/top for its filesystem: Operation not permitted (run as root)")
            }
        }
    }

    @Test func aGoneLeafIsKeptWithItsChain() throws {
        let r = try Self.machine().holderRecord(name: nil, target: .filesystem("/mnt/x"), registeredBy: "t", context: Self.context)
        var later = Self.context
        later.now = "T2"
        let (after, changes) = r.refreshed(in: Self.machine(pmem1Gone: true), context: later)
        #expect(changes == ["pmem1 (259:1) gone"])
        #expect(after.layer("namespace:namespace1.0")?.state == .gone && after.layer("namespace:namespace1.0")?.since == "T2")
        #expect(Self.paths(after) == Self.paths(r), "the chain through the gone leaf is kept as it was")
        #expect(!after.layers.contains { $0.identity.hasPrefix("devt:") }, "the dev_t the table still names is the recorded leaf")
        #expect(after.state == .degraded && after.registeredAt == "T1" && after.refreshedAt == "T2")
        // A second look finds nothing new and keeps the time it was first found gone.
        later.now = "T3"
        let (again, none) = after.refreshed(in: Self.machine(pmem1Gone: true), context: later)
        #expect(none.isEmpty && again.layer("namespace:namespace1.0")?.since == "T2")
        // And back.
        let (back, returned) = again.refreshed(in: Self.machine(), context: later)
        #expect(returned == ["pmem1 (259:1) is back"] && back.state == .ok)
    }

    @Test func reloadsAndReplacedMembersAreReported() throws {
        let m = Self.machine()
        let xfs = try m.holderRecord(name: nil, target: .filesystem("/mnt/x"), registeredBy: "t", context: Self.context)
        let grown = Self.machine(topTable: ["0 2048 linear 253:0 0", "2048 2048 linear 253:1 0", "4096 8 zero"])
        #expect(xfs.refreshed(in: grown, context: Self.context).changes
            == ["top: table reloaded: 0 2048 linear 253:0 0; 2048 2048 linear 253:1 0 -> 0 2048 linear 253:0 0; 2048 2048 linear 253:1 0; 4096 8 zero"])
        let raid = try m.holderRecord(name: nil, target: .filesystem("UUID=E"), registeredBy: "t", context: Self.context)
        let (after, changes) = raid.refreshed(in: Self.machine(r1Legs: ["loop0", "loop2"]), context: Self.context)
        #expect(changes.contains("loop2 (7:2) joined the chain") && changes.contains("loop1 (7:1) left the chain"))
        #expect(after.layer("loop:/img1")?.state == .detached && after.state == .degraded)
        #expect(Self.paths(after) == ["data: loop0>r1", "data: loop1>r1", "data: loop2>r1"])
    }

    @Test func aVanishedHolderIsKeptWhole() throws {
        let m = Self.machine()
        let raw = try m.holderRecord(name: "db", target: .raw(device: "/dev/mapper/log"), hook: ["/bin/notify", "db"], registeredBy: "t", context: Self.context)
        #expect(raw.kind == .raw && raw.hook == ["/bin/notify", "db"] && Self.paths(raw) == ["data: pmem1>log"])
        var snapshot = m.snapshot
        snapshot.devices.removeAll { $0.kernelName == "dm-3" || $0.kernelName == "pmem1" }
        let (after, changes) = raw.refreshed(in: Inventory(snapshot), context: Self.context)
        #expect(changes.first == "device log not found")
        #expect(after.state == .gone && after.layers.allSatisfy { $0.state == .gone } && Self.paths(after) == Self.paths(raw))
    }

    @Test func aGoneLeafStillTranslatesThroughTheRecordedTables() throws {
        let r = try Self.machine().holderRecord(name: nil, target: .filesystem("/mnt/x"), registeredBy: "t", context: Self.context)
        let gone = Self.machine(pmem1Gone: true)
        #expect((try? gone.device("pmem1")) == nil)
        let (inventory, added) = gone.adding(recorded: r.layers.map(\.device))
        #expect(added.map(\.kernelName) == ["pmem1"], "only what the live system lacks is added")
        let rows = try Translator(try inventory.topology().0).up(from: "pmem1", SectorRange(start: 100, length: 8))
        #expect(summary(rows) == ["log 100+8 lost"])
    }
}
