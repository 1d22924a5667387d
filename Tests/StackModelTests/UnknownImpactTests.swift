import StackModel
import TestSupport
import Testing

/// Issue 18 point 1: where dmstack cannot learn what it needs, the answer says `unknown` with a
/// reason code and the ranges concerned, never an empty list of owners that reads as
/// "nothing lost"; and point 5: headings and notes say what was hit on which filesystem type.
/// On the machine of HolderRecordTests (an XFS on `top` over volumes a and b of pmem0).
@Suite("Unknown answers")
struct UnknownImpactTests {
    /// A planner whose reverse map is `map`, on the machine with its filesystem typed `type`.
    static func planner(type: String = "xfs", mappings: DynamicMappings = DynamicMappings(), topTable: [String]? = nil,
                        _ map: @escaping ([ByteRange]) throws -> [ReverseMapRecord]) -> ImpactPlanner {
        var snapshot = HolderRecordTests.machine(topTable: topTable).snapshot
        for i in snapshot.mounts.indices { snapshot.mounts[i].fsType = type }
        return ImpactPlanner(inventory: Inventory(snapshot), mappings: mappings, reverseMap: { _, role, ranges in
            let records = try map(ranges).filter { r in r.role == role && ranges.contains { $0.offset < r.end && r.physical < $0.end } }
            return ReverseMapAnswer(records: records, paths: [131: ["/mnt/x/a"]])
        }, users: { _, _ in [] })
    }

    static func actions(_ fs: FilesystemImpact) -> [String] { fs.actions.map { "\($0.action) \($0.target)" } }

    /// Each way a reverse map can fail to answer, with the reason code the impact must carry.
    static let cases: [(thrown: ReverseMapUnavailable, code: UnknownReason)] = [
        (ReverseMapUnavailable(.notInSnapshot, "the snapshot has no reverse map of /mnt/x"), .notInSnapshot),
        (ReverseMapUnavailable(.permission, "/mnt/x: GETFSMAP needs CAP_SYS_ADMIN"), .permission),
        (ReverseMapUnavailable(.reverseMapUnavailable, "FIEMAP walk of /mnt/x failed: cannot open /mnt/x: No such device"), .reverseMapUnavailable),
    ]

    @Test(arguments: 0..<cases.count)
    func aMapThatCannotBeReadIsUnknownNotNothing(_ n: Int) throws {
        let (thrown, code) = Self.cases[n]
        let planner = Self.planner { _ in throw thrown }
        // pmem0 sectors 16+8 are top's bytes 8192+4096.
        let failure = try planner.plan(leaf: "pmem0", range: SectorRange(start: 16, length: 8), event: .failure)
        let fs = try #require(failure.filesystems.first)
        #expect(fs.files.isEmpty && fs.metadata.isEmpty)
        #expect(fs.unknown.map(\.reason) == [code] && fs.unknown[0].role == .data && fs.unknown[0].detail == thrown.detail)
        #expect(fs.unknown[0].ranges.map(\.description) == ["8192+4096"])
        #expect(fs.hit == ["unknown"])
        // Never "actions: none": what cannot be decided is said.
        #expect(Self.actions(fs) == ["unknown /mnt/x"] && fs.actions[0].reason.contains(code.rawValue) && fs.actions[0].reason.contains("shuts the filesystem down"))
        #expect(!fs.notes.contains { $0.contains("no owner found") })
        #expect(!failure.isComplete)
        #expect(failure.summary.hasSuffix("; owners UNKNOWN on /mnt/x (\(code.rawValue))"))
        #expect(failure.unknownLines == ["UNKNOWN: the owners of /mnt/x's data device bytes 8192+4096 are not known because \(thrown.detail) [\(code.rawValue)]"])

        // Pre-remove: the device goes whoever owns it, so freeze, shutdown and thaw stand.
        let remove = try planner.plan(leaf: "pmem0", range: nil, event: .remove)
        let r = try #require(remove.filesystems.first)
        #expect(Self.actions(r) == ["freeze /mnt/x", "unknown /mnt/x", "shutdown /mnt/x", "thaw /mnt/x"])
        #expect(!remove.isComplete)
    }

    @Test func aMapCutShortKeepsWhatItReadAndSaysTheRestIsUnknown() throws {
        struct Broken: Error, CustomStringConvertible { var description: String { "EIO" } }
        let inventory = HolderRecordTests.machine()
        let planner = ImpactPlanner(inventory: inventory, records: { _, _, _, body in
            try body(ReverseMapRecord(physical: 4096, length: 1 << 20, inode: 131, offset: 0))
            throw Broken()
        }, names: { _, _, body in body(131, "/mnt/x/a"); return [] }, users: { _, _ in [] })
        let impact = try planner.plan(leaf: "pmem0", range: SectorRange(start: 16, length: 8), event: .failure)
        let fs = try #require(impact.filesystems.first)
        #expect(fs.files.map(\.path) == ["/mnt/x/a"])
        #expect(fs.unknown.map(\.reason) == [.cutShort] && fs.unknown[0].detail.contains("stopped after 1 record: EIO"))
        #expect(fs.hit == ["file data", "unknown"] && !impact.isComplete)
        #expect(fs.notes.contains { $0.contains("stopped after 1 record") }, "the note text stays")
    }

    /// GETFSMAP's unknown owner (how ext4 reports file data) reaching the planner, as under
    /// `--reverse-map getfsmap`: owners not reported, for exactly the bytes it covers.
    @Test func anUnknownOwnerRecordIsOwnersNotReported() throws {
        let planner = Self.planner(type: "ext4") { _ in
            [ReverseMapRecord(physical: 0, length: 4096, metadata: "static fs metadata"),
             ReverseMapRecord(physical: 4096, length: 1 << 20, metadata: "unknown")]
        }
        let impact = try planner.plan(leaf: "pmem0", range: SectorRange(start: 0, length: 16), event: .failure)
        let fs = try #require(impact.filesystems.first)
        #expect(fs.metadata.map(\.kind) == ["static fs metadata"])
        #expect(fs.unknown.map(\.reason) == [.ownerNotReported] && fs.unknown[0].ranges.map(\.description) == ["4096+4096"])
        #expect(fs.unknown[0].detail.contains("ext4 reports file data so"))
        #expect(fs.hit == ["metadata", "unknown"])
        #expect(Self.actions(fs) == ["unknown /mnt/x", "shutdown /mnt/x"])
    }

    /// The event monitor and remove record carries what is unknown (`monitor --once` exits 2
    /// on it) and is never `info`; a whole answer's event has none.
    @Test func anEventSaysWhatIsUnknown() throws {
        let unknown = try Self.planner(type: "ext4") { _ in [ReverseMapRecord(physical: 4096, length: 1 << 20, metadata: "unknown")] }
            .plan(leaf: "pmem0", range: SectorRange(start: 16, length: 8), event: .failure)
        let event = NotificationEvent(impact: unknown, leafIdentity: "pmem0", occurrence: "t", at: "t", origin: "monitor", host: "h")
        #expect(event.unknown?.first?.hasPrefix("UNKNOWN: ") == true && event.unknown?.first?.contains("[owner-not-reported]") == true)
        #expect(event.severity != .info)
        let whole = try Self.planner { _ in [ReverseMapRecord(physical: 4096, length: 1 << 20, inode: 131, offset: 0)] }
            .plan(leaf: "pmem0", range: SectorRange(start: 16, length: 8), event: .failure)
        #expect(NotificationEvent(impact: whole, leafIdentity: "pmem0", occurrence: "t", at: "t", origin: "monitor", host: "h").unknown == nil)
    }

    @Test func aWholeAnswerIsComplete() throws {
        let planner = Self.planner { _ in [ReverseMapRecord(physical: 4096, length: 1 << 20, inode: 131, offset: 0)] }
        let impact = try planner.plan(leaf: "pmem0", range: SectorRange(start: 16, length: 8), event: .failure)
        #expect(impact.isComplete && impact.unknownLines.isEmpty && impact.filesystems.first?.unknown == [])
        #expect(impact.filesystems.first?.hit == ["file data"])
    }

    /// Point 5: the heading's words, by what the map found.
    @Test func headingsSayWhatWasHit() throws {
        let planner = Self.planner { _ in
            [ReverseMapRecord(physical: 0, length: 4096, metadata: "static fs metadata"),
             ReverseMapRecord(physical: 4096, length: 4096, metadata: "free space")]
        }
        let metadata = try planner.plan(leaf: "pmem0", range: SectorRange(start: 0, length: 8), event: .failure)
        #expect(metadata.filesystems.first?.hit == ["metadata"], "metadata only is not a data hit")
        let free = try planner.plan(leaf: "pmem0", range: SectorRange(start: 8, length: 8), event: .failure)
        #expect(free.filesystems.first?.hit == ["free space"] && free.isComplete)
        let both = try planner.plan(leaf: "pmem0", range: SectorRange(start: 0, length: 16), event: .failure)
        #expect(both.filesystems.first?.hit == ["metadata", "free space"])
    }

    /// Point 5: the kernel notes belong to the filesystem type whose code they cite.
    @Test func notesAreThoseOfTheFilesystemType() throws {
        let map: ([ByteRange]) -> [ReverseMapRecord] = { _ in [ReverseMapRecord(physical: 4096, length: 1 << 20, inode: 131, offset: 0)] }
        let xfs = try Self.planner(type: "xfs", map).plan(leaf: "pmem0", range: SectorRange(start: 16, length: 8), event: .failure)
        #expect(xfs.filesystems[0].notes.contains { $0.contains("XFS_IGET_INCORE") })
        let ext4 = try Self.planner(type: "ext4", map).plan(leaf: "pmem0", range: SectorRange(start: 16, length: 8), event: .failure)
        #expect(!ext4.filesystems[0].notes.contains { $0.contains("xfs_iget") || $0.contains("XFS_IGET") })
        #expect(ext4.filesystems[0].notes.contains { $0.contains("registers no dax holder for ext4") })
    }

    /// A dynamic layer whose metadata read failed: the layer's unknown ranges carry the code,
    /// and so does the filesystem that may lose data.
    @Test func aLayerWithoutItsMetadataIsUnknownWithItsCode() throws {
        var mappings = DynamicMappings()
        mappings.unavailable["top"] = "cache top's metadata could not be read live: test"
        let table = ["0 4096 cache 253:3 253:0 253:1 64 1 writeback smq 0"]
        let unreadable = try Self.planner(mappings: mappings, topTable: table) { _ in [] }
            .plan(leaf: "pmem0", range: SectorRange(start: 16, length: 1), event: .failure)
        let top = try #require(unreadable.layers.first { $0.device == "top" })
        #expect(top.ranges.map(\.outcome) == [.unknown] && top.ranges.map(\.reason) == [.metadataUnreadable])
        #expect(unreadable.mayLose.first?.reasonCodes == [.metadataUnreadable] && !unreadable.isComplete)
        #expect(unreadable.unknownLines.first == "UNKNOWN: whether /mnt/x loses data is not known because cache top (writeback): cache device hit, its dirty blocks may be the only copy; cache top's metadata could not be read live: test [metadata-unreadable]")
        // Nobody tried: the metadata is missing.
        let missing = try Self.planner(topTable: table) { _ in [] }.plan(leaf: "pmem0", range: SectorRange(start: 16, length: 1), event: .failure)
        #expect(missing.layers.first { $0.device == "top" }?.ranges.map(\.reason) == [.metadataMissing])
        // Lost pieces below carry no code.
        #expect(missing.layers.first { $0.device == "pmem0" }?.ranges.allSatisfy { $0.reason == nil } == true)
    }
}
