import StackModel
import TestSupport
import Testing

/// The decisions of `simulate`, on the machine of HolderRecordTests (an XFS on `top` over two
/// volumes on pmem0, its external log on pmem1, a raid1 over two loops), with reverse maps and
/// process tables given by the test.
@Suite("Impact decisions")
struct ImpactPlannerTests {
    /// The XFS's data device `top` starts with 4 KiB of static metadata, then inode 131's data
    /// (file bytes 0..<1 MiB at device bytes 4096..<4096+1 MiB), then free space.
    static func planner(users: [FileUse] = []) -> ImpactPlanner {
        ImpactPlanner(inventory: HolderRecordTests.machine(), reverseMap: { fs, role, ranges in
            #expect(fs.mountpoint == "/mnt/x" && role == .data)
            let all = [
                ReverseMapRecord(physical: 0, length: 4096, metadata: "static fs metadata"),
                ReverseMapRecord(physical: 4096, length: 1 << 20, inode: 131, offset: 0, shared: true),
                ReverseMapRecord(physical: 4096, length: 1 << 20, inode: 132, offset: 8192, shared: true),
                ReverseMapRecord(physical: 4096 + 1 << 20, length: 1 << 30, metadata: "free space"),
            ]
            let wanted = all.filter { r in ranges.contains { $0.offset < r.end && r.physical < $0.end } }
            return ReverseMapAnswer(records: wanted, paths: [131: ["/mnt/x/a", "/mnt/x/hard"], 132: ["/mnt/x/copy"]])
        }, users: { _, inodes in users.filter { inodes.contains($0.inode) } })
    }

    static func actions(_ fs: FilesystemImpact) -> [String] { fs.actions.map { "\($0.action) \($0.target)" } }

    @Test func aDataSectorNamesEveryOwnerAndSignalsTheMappers() throws {
        let mapper = FileUse(pid: 42, command: "db", device: "253:2", inode: 131, how: "mmap", path: "/mnt/x/a",
                             address: "7f00-9f00", fileOffset: 0, fileLength: 8192)
        let far = FileUse(pid: 43, command: "far", device: "253:2", inode: 131, how: "mmap", path: "/mnt/x/a",
                          address: "1000-2000", fileOffset: 1 << 19, fileLength: 4096)
        let reader = FileUse(pid: 44, command: "cat", device: "253:2", inode: 132, how: "fd 3", path: "/mnt/x/copy")
        // pmem0 sector 16 is top's sector 16 (a's first half): device bytes 8192..<8704.
        let impact = try Self.planner(users: [mapper, far, reader]).plan(leaf: "pmem0", range: SectorRange(start: 16, length: 1), event: .failure)
        #expect(impact.layers.map(\.device) == ["pmem0", "a", "top"])
        let fs = try #require(impact.filesystems.first)
        #expect(fs.roles == [.data] && fs.metadata.isEmpty)
        #expect(fs.files.map(\.path) == ["/mnt/x/a", "/mnt/x/copy"])
        let files = Array(fs.files)
        #expect(files[0].paths == ["/mnt/x/a", "/mnt/x/hard"] && files[0].extents == [ByteRange(offset: 4096, length: 512)])
        #expect(files[1].extents == [ByteRange(offset: 8192 + 4096, length: 512)] && files[1].shared)
        // The mapper of the lost page and the open descriptor; not the mapping of another page.
        #expect(fs.processes.map(\.pid) == [42, 44])
        #expect(Self.actions(fs) == ["unmap pid 42 (db) 7f00-9f00", "kill pid 42 (db)", "invalidate the 2 files listed"])
        #expect(fs.actions[1].reason.contains("BUS_MCEERR_AR") && fs.actions[1].reason.contains("BUS_MCEERR_AO"))
        #expect(impact.summary == "failure pmem0 16+1: 1 filesystem hit, 2 files, 0 metadata kinds, 2 processes")
    }

    @Test func metadataOnFailureShutsDownButNotOnPreRemove() throws {
        let failure = try Self.planner().plan(leaf: "pmem0", range: SectorRange(start: 0, length: 1), event: .failure)
        let fs = try #require(failure.filesystems.first)
        #expect(fs.metadata.map(\.kind) == ["static fs metadata"] && fs.files.isEmpty)
        #expect(Self.actions(fs) == ["shutdown /mnt/x"] && fs.actions[0].reason.contains("want_shutdown"))
        #expect(failure.summary.hasSuffix("; shut down /mnt/x"))
        // The whole leaf with warning: freeze, every mapper, invalidate, forced unmount, thaw.
        let mapper = FileUse(pid: 7, command: "app", device: "253:2", inode: 132, how: "mmap", path: "/mnt/x/copy",
                             address: "a-b", fileOffset: 1 << 19, fileLength: 4096)
        let remove = try Self.planner(users: [mapper]).plan(leaf: "pmem0", range: nil, event: .remove)
        let r = try #require(remove.filesystems.first)
        #expect(remove.range == SectorRange(start: 0, length: 4096))
        #expect(Self.actions(r) == ["freeze /mnt/x", "unmap pid 7 (app) a-b", "kill pid 7 (app)", "invalidate the 2 files listed",
                                    "shutdown /mnt/x", "thaw /mnt/x"])
        #expect(r.actions[2].reason.contains("collect_procs_fsdax") && r.actions[4].reason.contains("SHUTDOWN_FORCE_UMOUNT"))
    }

    @Test func theLogDeviceAndFreeSpace() throws {
        let log = try Self.planner().plan(leaf: "pmem1", range: SectorRange(start: 8, length: 8), event: .failure)
        let fs = try #require(log.filesystems.first)
        #expect(fs.roles == [.log] && fs.metadata.map(\.kind) == ["log"] && fs.metadata[0].ranges == [ByteRange(offset: 4096, length: 4096)])
        #expect(Self.actions(fs) == ["shutdown /mnt/x"] && fs.actions[0].reason.contains("log"))
        // pmem0's sector 3000 is b's 952, top's 3000: free space.
        let free = try Self.planner().plan(leaf: "pmem0", range: SectorRange(start: 3000, length: 8), event: .failure)
        #expect(free.filesystems.first?.actions == [] && free.filesystems.first?.notes == ["the range holds only free space: nothing is lost"])
    }

    @Test func redundancyMeansANoticeOnly() throws {
        let impact = try Self.planner().plan(leaf: "loop1", range: SectorRange(start: 0, length: 64), event: .failure)
        #expect(impact.filesystems.isEmpty)
        // The leg's range is lost; from the raid up it is only degraded.
        #expect(impact.layers.map { "\($0.device) \($0.ranges.map(\.outcome.rawValue))" } == ["loop1 [\"lost\"]", "r1 [\"degraded\"]"])
        #expect(impact.notices.map { "\($0.action) \($0.target)" } == ["notify-degraded r1"])
        #expect(impact.summary.hasSuffix("; degraded r1"))
        // Lost sectors on a device nothing mounts are said, not acted on.
        let bare = try Self.planner().plan(leaf: "loop2", range: SectorRange(start: 0, length: 8), event: .failure)
        #expect(bare.notices.map(\.action) == [.lost] && bare.notices[0].reason.contains("no mounted filesystem on loop2"))
    }

    /// The binary search over merged ranges finds exactly what a scan finds.
    @Test func overlappingAgreesWithAScan() {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<300 {
            let ranges = ByteRange.merged((0..<Int.random(in: 0...20, using: &rng)).map { _ in
                ByteRange(offset: UInt64.random(in: 0..<1000, using: &rng), length: UInt64.random(in: 1...50, using: &rng))
            })
            let start = UInt64.random(in: 0..<1100, using: &rng), end = start + UInt64.random(in: 1...200, using: &rng)
            #expect(Array(ByteRange.overlapping(ranges, start, end)) == ranges.filter { $0.offset < end && start < $0.end })
        }
    }
}
