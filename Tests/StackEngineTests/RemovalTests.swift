import Foundation
import StackEngine
import StackModel
import StackSystem
import Testing

/// `remove`'s planning, event and refresh on a snapshot engine: what only the VM's real
/// removals exercised.
@Suite("Removal")
struct RemovalTests {
    static let registeredAt = "2026-01-01T00:00:00Z"
    let engine: SnapshotEngine
    init() throws { engine = SnapshotEngine(snapshot: try Machines.raid()) }

    func plan(_ leaf: String, force: Bool = false) throws -> Removal.Planned {
        try Removal(engine: engine, time: FixedTime("2026-01-01T02:00:00Z")).plan(leaf: leaf, force: force) { _ in DynamicMappings() }
    }

    @Test func aRaid5MemberIsPlannedAsDegradedWithItsDetach() throws {
        let planned = try plan("loop3")
        #expect(planned.device.kernelName == "loop3")
        #expect(planned.impact.event == .remove && planned.impact.leaf == "loop3")
        #expect(planned.detach == .loop(path: "/dev/loop3"))
        // A copy survives: parity stays up, degraded, nothing is frozen or taken down.
        #expect(planned.plan.keepsServing && planned.plan.degraded == ["parity"])
        #expect(planned.plan.layers.isEmpty && planned.plan.freeze.isEmpty)
    }

    @Test func aDeviceThatIsNotALeafOrNotKnownIsAUsageError() throws {
        #expect { try plan("parity") } throws: { ($0 as? EngineError)?.kind == .usage }
        #expect { try plan("nosuch") } throws: { ($0 as? EngineError)?.kind == .usage && "\($0)".contains("no block device 'nosuch'") }
    }

    @Test func theEventIsKeyedAsTheMonitorKeysTheSameLeafGoing() throws {
        try withStore { store in
            let db = try store.open()
            _ = try HolderService(engine: engine, time: FixedTime(Self.registeredAt))
                .register(.filesystem(Machines.parity), name: nil, hook: nil, by: "test", in: db)
            let planned = try plan("loop3")
            let removal = Removal(engine: engine, time: FixedTime("2026-01-01T02:00:00Z"))
            let event = removal.event(planned, registry: db, host: "h")
            #expect(event.origin == "remove" && event.kind == .remove && event.at == "2026-01-01T02:00:00Z")
            #expect(event.key == NotificationEvent.key(kind: .remove, leafIdentity: "loop:/tmp/dmstack-s2-3.img", range: SectorRange(start: 0, length: 655360),
                                                       occurrence: NotificationEvent.goneOccurrence(lastSeen: Self.registeredAt)))
            // A leaf no holder recorded: the occurrence is now.
            let other = try plan("loop0")
            #expect(removal.event(other, registry: db, host: "h").key
                == NotificationEvent.key(kind: .remove, leafIdentity: "loop:/tmp/dmstack-s2-0.img", range: SectorRange(start: 0, length: 655360),
                                         occurrence: "2026-01-01T02:00:00Z"))
        }
    }

    @Test func theHoldersAboveTheLeafAreRefreshedFromTheMachineAfterwards() throws {
        try withStore { store in
            let db = try store.open()
            let service = HolderService(engine: engine, time: FixedTime(Self.registeredAt))
            for mp in [Machines.mirror, Machines.parity] { _ = try service.register(.filesystem(mp), name: nil, hook: nil, by: "test", in: db) }
            let planned = try plan("loop3")
            let after = SnapshotEngine(snapshot: try Machines.raid().removing("loop3"))
            let refreshed = try #require(Removal(engine: engine, time: FixedTime("2026-01-01T02:00:00Z")).refreshHolders(planned, registry: db, after: after))
            #expect(refreshed.map(\.record.name) == [Machines.parity])
            #expect(refreshed[0].changes.contains { $0.contains("loop3") })
            let parity = try #require(try db.find(Machines.parity))
            #expect(parity.layers.first { $0.device.kernelName == "loop3" }?.state == .gone)
            #expect(parity.state == .degraded)
            // The mirror holder is not above the leaf: untouched.
            #expect(try db.find(Machines.mirror)?.refreshedAt == Self.registeredAt)
        }
    }

    @Test func aStateDirectoryOnAFilesystemTheRemovalFreezesIsRefused() throws {
        var planned = try plan("loop3")
        // Freezing the filesystem of the temporary directory: writing there would hang.
        let dir = FileManager.default.temporaryDirectory.path
        planned.plan.freeze = [dir]
        let removal = Removal(engine: engine)
        #expect { try removal.checkNotFrozen(planned, paths: [dir + "/dmstack-state/registry.db"]) } throws: {
            ($0 as? EngineError)?.kind == .refused && "\($0)".contains("which the removal freezes")
        }
        try removal.checkNotFrozen(planned, paths: [])
    }
}

extension RemovalTests {
    @Test func aSnapshotEngineExecutesNothingAndAnnouncesNothing() throws {
        try withStore { store in
            let (dispatcher, sink) = try fileDispatcher(store)
            let planned = try plan("loop3")
            let removal = Removal(engine: engine, time: FixedTime("2026-01-01T02:00:00Z"))
            let event = removal.event(planned, registry: dispatcher.registry, host: "h")
            var logged: [Removal.Step] = []
            let (steps, stopped) = removal.execute(planned, kill: .term, unmountWait: 0, tokens: removal.processTokens(planned), event: event,
                                                   notifications: Notifications(dispatcher)) { logged.append($0) }
            #expect(steps.isEmpty && logged.isEmpty)
            #expect(stopped == Removal.Step(.remove, "loop3", .failed, "--snapshot plans against a captured machine; it needs --dry-run"))
            #expect(try dispatcher.registry.outbox().isEmpty && jsonLines(sink).isEmpty)
        }
    }

    @Test func anEventIsRecordedOnceAndDeliveredAlone() throws {
        try withStore { store in
            let (dispatcher, sink) = try fileDispatcher(store)
            let notifications = Notifications(dispatcher)
            let removal = Removal(engine: engine, time: FixedTime("2026-01-01T02:00:00Z"))
            let first = removal.event(try plan("loop3"), registry: dispatcher.registry, host: "h")
            let other = removal.event(try plan("loop0"), registry: dispatcher.registry, host: "h")
            #expect(try notifications.record(first) && !notifications.record(first) && notifications.record(other))
            let report = try notifications.deliver(only: first.key)
            // Only it: the other event waits in the outbox.
            #expect(report.delivered.map(\.event) == [first.key] && report.undelivered == 0)
            #expect(try dispatcher.registry.undelivered() == 1)
            let payload = try Notifications.payload(first)
            #expect(jsonLines(sink) == [payload])
            #expect(try Notifications.list(dispatcher.registry, limit: 10).map(\.key) == [first.key, other.key])
            #expect(try Notifications.list(nil, limit: 10).isEmpty)
        }
    }
}
