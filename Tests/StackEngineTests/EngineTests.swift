import Foundation
import StackEngine
import StackModel
import StackSystem
import Testing

/// The snapshot engine's answers, the impact use case over it, and capture's reverse maps.
@Suite("Engine")
struct EngineTests {
    /// A snapshot that is not there is a run-time failure (exit 1, as any unreadable input
    /// file); one that is there but malformed is a data error (65).
    @Test func aSnapshotFileIsReadAndItsFailureIsADataError() throws {
        let engine = SnapshotEngine(file: "\(Machines.examples)/raid1-raid5-loop.json")
        #expect(engine.source.hasSuffix("raid1-raid5-loop.json"))
        #expect(try engine.inventory().device("parity").kernelName == "dm-1")
        let missing = SnapshotEngine(file: "/nonexistent.json")
        #expect { try missing.inventory() } throws: { ($0 as? EngineError)?.kind == .failure && "\($0)" == "cannot open /nonexistent.json: No such file or directory" }
        let corrupt = SnapshotEngine(file: "\(Machines.examples)/stack.yaml")
        #expect { try corrupt.inventory() } throws: { ($0 as? EngineError)?.kind == .dataError }
    }

    /// A key file is read no further than one byte past dm-crypt's 512: `/dev/zero` (or a
    /// disk named by mistake) is refused at once instead of read until memory runs out.
    @Test func aKeyFileIsReadNoFurtherThanItsLimit() throws {
        for engine in [SnapshotEngine(snapshot: try Machines.raid()) as any Engine, LiveEngine(dmstackVersion: "test")] {
            guard case .failure(let e) = engine.cryptKey("/dev/zero") else { Issue.record("/dev/zero accepted as a key"); continue }
            #expect(e.message == "key file /dev/zero holds more than 512 bytes; a dm-crypt key is 1 to 512")
        }
    }

    @Test func aSnapshotOnlyPlansAndHasNoRegistryNorDevLinks() throws {
        let engine = SnapshotEngine(snapshot: try Machines.raid())
        #expect(engine.changeRefusal == "--snapshot plans against a captured machine; it needs --dry-run")
        #expect(engine.kernelName(ofPath: "/dev/mapper/parity") == "/dev/mapper/parity" && engine.kernelName(ofPath: "parity") == nil)
        try withStore { store in
            _ = try store.open()
            #expect(try engine.registry(store, readOnly: true) == nil)
            // So a device it lacks is never looked up in this machine's registry.
            let inventory = try engine.inventory()
            let (same, note) = try engine.addingGone("loop9", to: inventory, store: store)
            #expect(note == nil && same.devices.count == inventory.devices.count)
        }
        // An unreadable key file plans with a zero key.
        #expect(try engine.cryptKey("/nonexistent.key").get() == String(repeating: "0", count: 64))
        #expect(LiveEngine(dmstackVersion: "0").changeRefusal == nil)
    }

    @Test func theImpactOfABadRangeNamesFilesFromTheCapturedReverseMap() throws {
        let engine = SnapshotEngine(snapshot: try Machines.snapshot("pmem-linear-striped"))
        let run = ImpactRun(engine: engine, inventory: try engine.inventory(), time: FixedTime("T"))
        let (impact, _) = try run.plan(leaf: "pmem0", range: SectorRange(start: 2048, length: 64), event: .failure)
        #expect(impact.layers.map(\.device) == ["pmem0", "concat"])
        let fs = try #require(impact.filesystems.first)
        #expect(fs.mountpoint == "/tmp/dmstack-mnt/concat")
        #expect(fs.files.map(\.paths) == [["/tmp/dmstack-mnt/concat/data/file1", "/tmp/dmstack-mnt/concat/data/hardlink1"]])
        #expect(fs.files.first?.extents.map { "\($0.offset)+\($0.length)" } == ["950272+32768"])
        // A range outside the leaf is a usage error.
        #expect { try run.plan(leaf: "pmem0", range: SectorRange(start: 1028096, length: 8), event: .failure) } throws: {
            ($0 as? EngineError)?.kind == .usage
        }
    }

    @Test func aRemovalThatACopySurvivesIsDegradedNotLost() throws {
        let engine = SnapshotEngine(snapshot: try Machines.raid())
        let (impact, _) = try ImpactRun(engine: engine, inventory: try engine.inventory()).plan(leaf: "loop0", range: nil, event: .remove)
        #expect(impact.leaf == "loop0" && impact.event == .remove)
        #expect(impact.layers.first { $0.device == "mirror" }?.ranges.allSatisfy { $0.outcome == .degraded } == true)
        #expect(impact.filesystems.isEmpty)
    }

    @Test func captureTakesTheReverseMapsOfTheRegisteredFilesystemsOnly() throws {
        var machine = try Machines.raid()
        let captured = machine.reverseMaps
        let engine = SnapshotEngine(snapshot: machine)
        machine.reverseMaps = nil
        let inventory = Inventory(machine)
        try withStore { store in
            let db = try store.open()
            _ = try HolderService(engine: engine, time: FixedTime("T")).register(.filesystem(Machines.mirror), name: nil, hook: nil, by: "test", in: db)
            let capture = SnapshotCapture(engine: engine)
            let registered = try capture.snapshot(of: inventory, selection: .registered) { db }
            #expect(registered.reverseMaps?.map(\.mountpoint) == [Machines.mirror])
            #expect(registered.reverseMaps?.first?.records == captured?.first { $0.mountpoint == Machines.mirror }?.records)
            #expect(registered.fileUses == [])
            let all = try capture.snapshot(of: inventory, selection: .all) { nil }
            let mountpoints = Set(all.reverseMaps?.map(\.mountpoint) ?? [])
            #expect(mountpoints.isSuperset(of: [Machines.mirror, Machines.parity]))
            #expect(try capture.snapshot(of: inventory, selection: .none) { nil }.reverseMaps == nil)
            // No registry: no registered filesystem.
            #expect(try capture.snapshot(of: inventory, selection: .registered) { nil }.reverseMaps == [])
        }
    }
}

/// Which filesystems `capture --reverse-maps` takes: `all` the ones on a dm, md or pmem
/// stack (not a root on a plain disk), a list of mountpoints exactly those.
@Suite("Capture selection")
struct CaptureSelectionTests {
    /// The raid example with an ext4 root on a plain disk, sdz, mounted.
    static func machine() throws -> SystemSnapshot {
        var machine = try Machines.raid()
        machine.devices.append(BlockDevice(kernelName: "sdz", major: 8, minor: 240, size: 1 << 21, filesystem: FilesystemInfo(type: "ext4", uuid: "root")))
        machine.mounts.append(Mount(mountId: 999, major: 8, minor: 240, root: "/", mountpoint: "/", fsType: "ext4", source: "/dev/sdz",
                                    options: ["rw"], superOptions: ["rw"]))
        return machine
    }

    @Test func allIsTheFilesystemsOnStacks() throws {
        let machine = try Self.machine()
        let inventory = Inventory(machine)
        let capture = SnapshotCapture(engine: SnapshotEngine(snapshot: machine))
        let all = try capture.filesystems(.all, in: inventory) { nil }.map(\.mountpoint)
        #expect(Set(all) == [Machines.mirror, Machines.parity])
        #expect(!all.contains("/"))
        let root = try #require(inventory.mountedFilesystems().first { $0.mountpoint == "/" })
        #expect(!SnapshotCapture.isOnStack(root, in: inventory))
        // Named, the root is taken; a path that is no mountpoint is a usage error naming it.
        #expect(try capture.filesystems(.mountpoints(["/", Machines.mirror + "/"]), in: inventory) { nil }.map(\.mountpoint) == ["/", Machines.mirror])
        #expect { try capture.filesystems(.mountpoints(["/nowhere"]), in: inventory) { nil } } throws: { error in
            (error as? EngineError)?.kind == .usage && "\(error)" == "--reverse-maps: /nowhere is not the mountpoint of a filesystem on a block device"
        }
        #expect(SnapshotCapture.Selection(argument: "/a,/b") == .mountpoints(["/a", "/b"]))
        #expect(SnapshotCapture.Selection(argument: "every") == nil)
    }

    /// What capture streams reads back as what the engine gave: every record and name.
    @Test func theStreamedSnapshotHoldsTheWholeMaps() throws {
        let machine = try Self.machine()
        let capture = SnapshotCapture(engine: SnapshotEngine(snapshot: machine))
        var bytes: [UInt8] = []
        try capture.write(of: Inventory(machine), selection: .all, registry: { nil }) { bytes += $0 }
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("\"version\" : 4") && text.contains("\"record_blocks\":["))
        let back = try SnapshotCodec.decode(Data(bytes), file: "capture")
        for map in back.reverseMaps ?? [] {
            let original = try #require(machine.reverseMaps?.first { $0.mountpoint == map.mountpoint })
            #expect(map.records == original.records && map.paths == original.paths && map.notes == original.notes)
        }
        #expect(back.reverseMaps?.count == 2)
        #expect(back.devices == machine.devices && back.mounts == machine.mounts)
    }
}
