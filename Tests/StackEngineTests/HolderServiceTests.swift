import Foundation
import StackEngine
import StackModel
import StackSystem
import Testing

/// Registering, showing, refreshing and rebuilding holders over a snapshot engine and a
/// temporary registry.
@Suite("Holder service")
struct HolderServiceTests {
    static let t1 = "2026-01-01T00:00:00Z", t2 = "2026-01-02T00:00:00Z"

    func service(_ snapshot: SystemSnapshot, at time: String = t1) -> HolderService {
        HolderService(engine: SnapshotEngine(snapshot: snapshot), time: FixedTime(time))
    }

    @Test func registeringRecordsEveryChainAndAgainUpdatesIt() throws {
        try withStore { store in
            let db = try store.open()
            let first = try service(try Machines.raid()).register(.filesystem(Machines.parity), name: nil, hook: nil, by: "test", in: db)
            #expect(first.created && first.record.name == Machines.parity)
            #expect(first.record.kind == .filesystem && first.record.filesystem?.type == "xfs")
            #expect(first.record.leaves.map(\.device.kernelName).sorted() == ["loop2", "loop3", "loop4"])
            #expect(first.record.chains.count == 3 && first.record.registeredAt == Self.t1)
            // Again by another spelling (its device): the same holder, updated.
            let again = try service(try Machines.raid(), at: Self.t2).register(.filesystem("/dev/mapper/parity"), name: nil, hook: nil, by: "test", in: db)
            #expect(!again.created && again.record.name == Machines.parity)
            #expect(try db.all().count == 1)
        }
    }

    @Test func aTargetWithoutAFilesystemIsAFailure() throws {
        try withStore { store in
            let db = try store.open()
            #expect { try service(try Machines.raid()).register(.filesystem("/nowhere"), name: nil, hook: nil, by: "test", in: db) } throws: {
                ($0 as? EngineError)?.kind == .failure
            }
            #expect(try db.all().isEmpty)
        }
    }

    @Test func currentShowsWhatChangedWithoutSavingIt() throws {
        try withStore { store in
            let db = try store.open()
            _ = try service(try Machines.raid()).register(.filesystem(Machines.parity), name: nil, hook: nil, by: "test", in: db)
            let stored = try db.all()
            let (records, warning) = service(try Machines.raid().removing("loop4"), at: Self.t2).current(stored)
            #expect(warning == nil)
            #expect(records[0].record.layers.first { $0.device.kernelName == "loop4" }?.state == .gone)
            #expect(!records[0].pending.isEmpty && records[0].record.refreshedAt == Self.t1)
            // Nothing saved.
            #expect(try db.all() == stored)
        }
    }

    @Test func currentWithoutAReadableMachineGivesTheStoredRecordsAndAWarning() throws {
        try withStore { store in
            let db = try store.open()
            _ = try service(try Machines.raid()).register(.filesystem(Machines.parity), name: nil, hook: nil, by: "test", in: db)
            let broken = HolderService(engine: SnapshotEngine(file: "/nonexistent/snapshot.json"), time: FixedTime(Self.t2))
            let (records, warning) = broken.current(try db.all())
            #expect(records.map(\.record) == (try db.all()) && records.allSatisfy(\.pending.isEmpty))
            #expect(warning?.hasPrefix("showing the registry as last refreshed: cannot open /nonexistent/snapshot.json") == true, "\(warning ?? "")")
        }
    }

    @Test func refreshRecordsAGoneDeviceAndABackOne() throws {
        try withStore { store in
            let db = try store.open()
            _ = try service(try Machines.raid()).register(.filesystem(Machines.parity), name: nil, hook: nil, by: "test", in: db)
            let gone = try service(try Machines.raid().removing("loop2"), at: Self.t2).refresh([], in: db)
            #expect(gone.map(\.record.name) == [Machines.parity])
            #expect(gone[0].record.state == .degraded && !gone[0].changes.isEmpty)
            #expect(try db.find(Machines.parity)?.layers.first { $0.device.kernelName == "loop2" }?.since == Self.t2)
            // Back: present again, and a refresh with no change says none.
            let back = try service(try Machines.raid(), at: "2026-01-03T00:00:00Z").refresh([Machines.parity], in: db)
            #expect(back[0].record.state == .ok && !back[0].changes.isEmpty)
            #expect(try service(try Machines.raid(), at: "2026-01-04T00:00:00Z").refresh([], in: db)[0].changes.isEmpty)
            #expect(try !db.history(Machines.parity).isEmpty)
        }
    }

    @Test func rebuildMovesADamagedRegistryAsideAndRegistersWhatDmstackMade() throws {
        try withStore { store in
            _ = try store.open()
            try Data("not a database".utf8).write(to: URL(fileURLWithPath: store.path))
            #expect(throws: EngineError.self) { try store.open().all() }
            // The example's volumes as `apply` names them: DMSTACK-STACK:VOLUME.
            var machine = try Machines.raid()
            for i in machine.devices.indices { if let name = machine.devices[i].dm?.name { machine.devices[i].dm?.uuid = "DMSTACK-example:\(name)" } }
            let rebuilt = try service(machine).rebuild(store, inventory: Inventory(machine))
            #expect(rebuilt.movedTo?.hasPrefix(store.path + ".corrupt-") == true)
            #expect(rebuilt.salvaged.isEmpty)
            #expect(try rebuilt.registry.all().map(\.name).sorted() == [Machines.mirror, Machines.parity])
            #expect(try rebuilt.registry.all().allSatisfy { $0.registeredBy == "apply example" })
        }
    }
}

extension HolderServiceTests {
    @Test func aRawDeviceUserIsRecordedWithItsHookFoundListedAndForgotten() throws {
        try withStore { store in
            let db = try store.open()
            let machine = service(try Machines.raid())
            let raw = try machine.register(.raw(device: "mirror"), name: "db", hook: ["/usr/bin/true", "x"], by: "test", in: db)
            #expect(raw.created && raw.record.kind == .raw && raw.record.hook == ["/usr/bin/true", "x"])
            #expect(raw.record.filesystem == nil)
            #expect(raw.record.leaves.map(\.device.kernelName).sorted() == ["loop0", "loop1"])
            #expect(try machine.find("db", in: db)?.name == "db")
            #expect(try machine.all(in: db).map(\.name) == ["db"] && machine.all(in: nil).isEmpty)
            #expect(try machine.unregister("db", in: db) && !machine.unregister("db", in: db))
        }
    }
}
