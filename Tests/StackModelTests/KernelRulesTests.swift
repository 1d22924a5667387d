import StackModel
import TestSupport
import Testing

/// Which kernel's rules an impact follows (KernelRules.swift), and what each set decides: an
/// XFS directly on a pmem leaf, and the XFS of ImpactPlannerTests, which sits on dm volumes.
@Suite("Kernel rules per version")
struct KernelRulesTests {
    @Test(arguments: [
        ("6.1.0-57-amd64", KernelRuleSet.flagZero), ("6.7.12", .flagZero), ("6.8", .preRemove),
        ("6.12.117+deb12-amd64", .preRemove), ("6.13.0-rc1", .preRemove), ("6.14.2-arch1", .realtimeRmap),
        ("6.18.44-fc-v1045", .realtimeRmap), ("7.0", .realtimeRmap), ("5.15.0-91-generic", .flagZero),
    ])
    func theReleaseChoosesTheSet(_ release: String, _ set: KernelRuleSet) {
        let rules = KernelRules.choose(release: release, source: .running)
        #expect(rules.set == set && rules.kernel == release)
        // Only a kernel without the dax holder gets a note.
        #expect((rules.note != nil) == release.hasPrefix("5."))
    }

    @Test func aReleaseNotUnderstoodIsSaidAndGetsThePreRemoveRules() {
        let rules = KernelRules.choose(release: "k", source: .snapshot)
        #expect(rules.set == .preRemove && rules.note?.contains("'k' not understood") == true)
        #expect(KernelRules.option("k") == nil && KernelRules.option("six") == nil && KernelRules.option("6") == nil)
        #expect(KernelRules.option("6.1")?.source == .option)
        #expect(rules.line.hasPrefix("kernel rules: 6.8-6.13 (MF_MEM_PRE_REMOVE"))
    }

    /// XFS directly on pmem0 (4096 sectors): AG headers, then inode 131 mapped by pid 7.
    static func direct(kernel: String, users: [FileUse]) -> ImpactPlanner {
        let pmem0 = BlockDevice(kernelName: "pmem0", major: 259, minor: 0, size: 4096, pmemNamespace: "namespace0.0")
        let mount = Mount(mountId: 1, major: 259, minor: 0, root: "/", mountpoint: "/mnt/p", fsType: "xfs", source: "/dev/pmem0",
                          options: ["rw"], superOptions: ["rw", "dax=always"])
        let pmem = PmemInventory(regions: [], namespaces: [
            PmemNamespace(name: "namespace0.0", region: "region0", mode: "fsdax", size: 2 << 20, uuid: "U0", claimedBy: "pfn0.0", blockDevice: "pmem0"),
        ])
        let inventory = Inventory(SystemSnapshot(host: HostInfo(hostname: "h", kernel: kernel, capturedAt: "T0", dmstackVersion: "0"),
                                                 devices: [pmem0], mounts: [mount], pmem: pmem))
        return ImpactPlanner(inventory: inventory, reverseMap: { _, _, ranges in
            let all = [ReverseMapRecord(physical: 0, length: 4096, metadata: "static fs metadata"),
                       ReverseMapRecord(physical: 8192, length: 1 << 20, inode: 131, offset: 0)]
            return ReverseMapAnswer(records: all.filter { r in ranges.contains { $0.offset < r.end && r.physical < $0.end } }, paths: [131: ["/mnt/p/a"]])
        }, users: { _, inodes in users.filter { inodes.contains($0.inode) } })
    }

    static let mapper = FileUse(pid: 7, command: "app", device: "259:0", inode: 131, how: "mmap", path: "/mnt/p/a",
                                address: "a-b", fileOffset: 0, fileLength: 8192)

    @Test func beforeSixEightAnUnbindOnlyShutsXFSDown() throws {
        let impact = try Self.direct(kernel: "6.1.0-57-amd64", users: [Self.mapper]).plan(leaf: "pmem0", range: nil, event: .remove)
        #expect(impact.kernelRules.set == .flagZero && impact.kernelRules.source == .snapshot)
        let fs = try #require(impact.filesystems.first)
        #expect(ImpactPlannerTests.actions(fs) == ["shutdown /mnt/p"])
        #expect(fs.actions[0].reason.contains("SHUTDOWN_CORRUPT_ONDISK") && fs.processes.map(\.pid) == [7])
        #expect(fs.notes.contains { $0.contains("keeps reading the old bytes") })
        #expect(fs.kernelAlone.hasPrefix("shutdown only"))
    }

    @Test func sixEightAndLaterFreezeSignalEveryMapperShutDownAndThaw() throws {
        for kernel in ["6.12.117+deb12-amd64", "6.14.1"] {
            let impact = try Self.direct(kernel: kernel, users: [Self.mapper]).plan(leaf: "pmem0", range: nil, event: .remove)
            let fs = try #require(impact.filesystems.first)
            #expect(ImpactPlannerTests.actions(fs) == ["freeze /mnt/p", "unmap pid 7 (app) a-b", "kill pid 7 (app)", "invalidate /mnt/p/a",
                                                       "shutdown /mnt/p", "thaw /mnt/p"], "\(kernel)")
            #expect(fs.kernelAlone.contains("MF_MEM_PRE_REMOVE"))
        }
    }

    @Test func aFailureOnAPageIsTheSameOnEveryVersion() throws {
        var seen: [[String]] = []
        for kernel in ["6.1.0-57-amd64", "6.12.117+deb12-amd64", "6.14.1"] {
            let impact = try Self.direct(kernel: kernel, users: [Self.mapper]).plan(leaf: "pmem0", range: SectorRange(start: 16, length: 8), event: .failure)
            let fs = try #require(impact.filesystems.first)
            seen.append(ImpactPlannerTests.actions(fs))
            #expect(fs.kernelAlone.contains("BUS_MCEERR_AR"))
        }
        #expect(seen.allSatisfy { $0 == ["unmap pid 7 (app) a-b", "kill pid 7 (app)", "invalidate /mnt/p/a"] })
    }

    /// Over dm: the same actions (what should happen), and the kernel alone does nothing on
    /// removal and only the per-page kill on a failure.
    @Test func throughDmTheKernelAloneDoesLess() throws {
        var planner = ImpactPlannerTests.planner()
        planner.rules = KernelRules.option("6.12.117+deb12-amd64")
        let remove = try planner.plan(leaf: "pmem0", range: nil, event: .remove)
        #expect(remove.kernelRules.source == .option && remove.kernelRules.set == .preRemove)
        let r = try #require(remove.filesystems.first)
        #expect(r.actions.first?.action == .freeze)
        #expect(r.kernelAlone.hasPrefix("nothing: ") && r.kernelAlone.contains("register no dax holder"))
        let failure = try planner.plan(leaf: "pmem0", range: SectorRange(start: 16, length: 1), event: .failure)
        let f = try #require(failure.filesystems.first)
        #expect(f.kernelAlone.hasPrefix("the generic per-page kill") && f.kernelAlone.contains("blind to reflink"))
        // The same planner under 6.1's rules: shutdown only, the kernel alone still nothing.
        planner.rules = KernelRules.option("6.1")
        let old = try #require(try planner.plan(leaf: "pmem0", range: nil, event: .remove).filesystems.first)
        #expect(ImpactPlannerTests.actions(old) == ["shutdown /mnt/x"] && old.kernelAlone.hasPrefix("nothing: "))
    }
}
