import StackModel
import Testing

/// `dmstack remove`'s plan on the machine of HolderRecordTests: what is frozen, unmounted and
/// removed top-down, and what redundancy keeps up.
@Suite("Removal plans")
struct RemovalPlanTests {
    func plan(_ leaf: String, users: [FileUse] = [], inventory: Inventory = HolderRecordTests.machine(), force: Bool = false) throws -> RemovalPlan {
        var planner = ImpactPlannerTests.planner(users: users)
        planner = ImpactPlanner(inventory: inventory, reverseMap: planner.reverseMap, users: planner.users)
        let impact = try planner.plan(leaf: leaf, range: nil, event: .remove)
        return try inventory.removal(of: leaf, impact: impact, force: force)
    }

    @Test func aLeafUnderTheFilesystemTakesEveryLayerAboveItTopDown() throws {
        let mapper = FileUse(pid: 7, command: "app", device: "253:2", inode: 131, how: "mmap", path: "/mnt/x/a", address: "a-b", fileOffset: 0, fileLength: 4096)
        let p = try plan("pmem0", users: [mapper])
        #expect(p.freeze == ["/mnt/x"] && p.unmount == ["/mnt/x"])
        // top before the two volumes it is built on.
        #expect(p.layers.map(\.name) == ["top", "b", "a"])
        #expect(p.processes.map(\.pid) == [7])
        #expect(p.invalidate.map(\.path) == ["/mnt/x/a", "/mnt/x/copy"])
        #expect(p.degraded.isEmpty && !p.keepsServing)
    }

    @Test func theExternalLogsLeafUnmountsTheFilesystemButRemovesOnlyTheLogVolume() throws {
        let p = try plan("pmem1")
        #expect(p.freeze == ["/mnt/x"] && p.unmount == ["/mnt/x"])
        #expect(p.layers.map(\.name) == ["log"])
    }

    @Test func aRaid1MemberKeepsTheVolumeUp() throws {
        let p = try plan("loop0")
        #expect(p.layers.isEmpty && p.freeze.isEmpty && p.unmount.isEmpty)
        #expect(p.degraded == ["r1"] && p.keepsServing && p.staying.isEmpty)
        #expect(p.warnings == ["r1 is a raid1 without metadata devices: md cannot record the failed leg and blocks writes (md_wait_for_blocked_rdev) until the raid is repaired or reloaded"])
    }

    @Test func notALeafOrNotOursIsRefused() throws {
        #expect(throws: RemovalError(category: .notALeaf, message: "top is a dm device, not a leaf; `dmstack teardown top` removes dm devices")) {
            try plan("top")
        }
        var snapshot = HolderRecordTests.machine().snapshot
        let i = snapshot.devices.firstIndex { $0.kernelName == "dm-3" }!
        snapshot.devices[i].dm!.uuid = "LVM-xyz"
        #expect(throws: RemovalError(category: .notOwned, message: "log is not dmstack's (uuid 'LVM-xyz'); --force to remove it anyway")) {
            try plan("pmem1", inventory: Inventory(snapshot))
        }
        #expect(try plan("pmem1", inventory: Inventory(snapshot), force: true).layers.map(\.name) == ["log"])
    }

    @Test func aFilesystemMountedInsideOneThatGoesIsRefusedFirst() throws {
        var snapshot = HolderRecordTests.machine().snapshot
        snapshot.mounts.append(Mount(mountId: 2, major: 7, minor: 2, root: "/", mountpoint: "/mnt/x/inner", fsType: "ext4", source: "/dev/loop2",
                                     options: ["rw"], superOptions: ["rw"]))
        #expect(throws: RemovalError(category: .inUse, message: "/mnt/x/inner (/dev/loop2) is mounted inside /mnt/x, which the removal unmounts; unmount it first")) {
            try plan("pmem0", inventory: Inventory(snapshot))
        }
        // Not inside: /mnt/xy is a sibling.
        snapshot.mounts[1].mountpoint = "/mnt/xy"
        #expect(try plan("pmem0", inventory: Inventory(snapshot)).unmount == ["/mnt/x"])
    }
}
