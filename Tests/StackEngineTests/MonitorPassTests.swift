import Foundation
import StackEngine
import StackModel
import StackSystem
import Testing

/// One monitor pass over the registry (the machine as it was registered) and a snapshot engine
/// (the machine now): each kind of finding gives its event, the same findings seen again give
/// none, and a finding whose impact cannot be computed still gives its event.
@Suite("Monitor pass")
struct MonitorPassTests {
    static let registeredAt = "2026-01-01T00:00:00Z"
    static let passAt = "2026-01-01T01:00:00Z"

    /// Registers both raid filesystems from the machine as captured; returns the dispatcher
    /// and its sink file.
    func registered(_ store: RegistryStore) throws -> (Dispatcher, String) {
        let (dispatcher, sink) = try fileDispatcher(store)
        let service = HolderService(engine: SnapshotEngine(snapshot: try Machines.raid()), time: FixedTime(Self.registeredAt))
        for mp in [Machines.mirror, Machines.parity] {
            _ = try service.register(.filesystem(mp), name: nil, hook: nil, by: "test", in: dispatcher.registry)
        }
        return (dispatcher, sink)
    }

    func pass(_ now: SystemSnapshot, _ dispatcher: Dispatcher) throws -> (events: [NotificationEvent], notes: [String], report: Dispatcher.Report) {
        var events: [NotificationEvent] = [], notes: [String] = []
        let report = try MonitorPass(engine: SnapshotEngine(snapshot: now), dispatcher: dispatcher, time: FixedTime(Self.passAt), host: "test-host")
            .run(note: { notes.append($0) }) { events.append($0) }
        return (events, notes, report)
    }

    /// The ledger's file probe grows with the damage: a running monitor (interval set) does it
    /// only when the interval has passed since the last one; `--once` (0) every pass.
    @Test func theDamagedFilesAreProbedOnTheirOwnCadence() throws {
        try withStore { store in
            let (dispatcher, _) = try registered(store)
            let db = dispatcher.registry
            func run(interval: Double) throws {
                var monitor = MonitorPass(engine: SnapshotEngine(snapshot: try Machines.raid()), dispatcher: dispatcher, time: FixedTime(Self.passAt), host: "h")
                monitor.fileCheckInterval = interval
                _ = try monitor.run(note: { _ in }) { _ in }
            }
            try run(interval: 300)
            #expect(try db.monitorState("last_file_check") == Self.passAt, "the first pass probes")
            try db.setMonitorState("last_file_check", "2999-01-01T00:00:00Z")
            try run(interval: 300)
            #expect(try db.monitorState("last_file_check") == "2999-01-01T00:00:00Z", "not due: not probed")
            try run(interval: 0)
            #expect(try db.monitorState("last_file_check") == Self.passAt, "interval 0: every pass")
        }
    }

    @Test func anUnchangedMachineGivesNoEvent() throws {
        try withStore { store in
            let (dispatcher, _) = try registered(store)
            let result = try pass(try Machines.raid(), dispatcher)
            #expect(result.events.isEmpty && result.notes.isEmpty)
        }
    }

    @Test func aGoneLeafGivesOneRemoveEventThroughTheRecordedChainsAndRefreshesItsHolder() throws {
        try withStore { store in
            let (dispatcher, sink) = try registered(store)
            let now = try Machines.raid().removing("loop3")
            let first = try pass(now, dispatcher)
            #expect(first.events.count == 1)
            let event = try #require(first.events.first)
            #expect(event.kind == .remove && event.leaf == "loop3" && event.range == "0+655360")
            #expect(event.origin == "monitor" && event.host == "test-host" && event.at == Self.passAt)
            // The key is the one `remove` computes for the same leaf: last seen at registration.
            #expect(event.key == NotificationEvent.key(kind: .remove, leafIdentity: "loop:/tmp/dmstack-s2-3.img", range: SectorRange(start: 0, length: 655360),
                                                       occurrence: NotificationEvent.goneOccurrence(lastSeen: Self.registeredAt)))
            // raid5 keeps serving without one member: degraded, nothing lost.
            #expect(event.degraded == ["parity"])
            #expect(!event.summary.contains("impact not computed"))
            #expect(first.report.delivered.count == 1 && first.report.failed.isEmpty)
            #expect(jsonLines(sink).count == 1)
            // The holder above it was refreshed: the leaf is recorded gone, still known.
            let parity = try #require(try dispatcher.registry.find(Machines.parity))
            #expect(parity.layers.first { $0.device.kernelName == "loop3" }?.state == .gone)
            #expect(parity.refreshedAt == Self.passAt)
            #expect(try dispatcher.registry.find(Machines.mirror)?.refreshedAt == Self.registeredAt)
            // Seen again: nothing new, nothing sent again.
            let second = try pass(now, dispatcher)
            #expect(second.events.isEmpty && second.notes.isEmpty)
            #expect(jsonLines(sink).count == 1)
        }
    }

    @Test func aBadRangeGivesAFailureEventWithItsImpactOnce() throws {
        try withStore { store in
            let (dispatcher, _) = try registered(store)
            let now = try Machines.raid().withBadblocks("loop0", [SectorRange(start: 4096, length: 8)])
            let first = try pass(now, dispatcher)
            let event = try #require(first.events.first)
            #expect(first.events.count == 1)
            #expect(event.kind == .failure && event.leaf == "loop0" && event.range == "4096+8")
            #expect(event.key == NotificationEvent.key(kind: .failure, leafIdentity: "loop:/tmp/dmstack-s2-0.img",
                                                       range: SectorRange(start: 4096, length: 8), occurrence: "badblocks"))
            // The mirror's other leg holds a copy: degraded, not lost.
            #expect(event.degraded == ["mirror"])
            #expect(try pass(now, dispatcher).events.isEmpty)
        }
    }

    @Test func aDeadRaidLegGivesADegradedEventOncePerHealthState() throws {
        try withStore { store in
            let (dispatcher, _) = try registered(store)
            let now = try Machines.raid().withStatus("mirror", ["0 653312 raid raid1 2 AD 653312/653312 idle 0 0 -"])
            let event = try #require(try pass(now, dispatcher).events.first)
            #expect(event.kind == .degraded && event.severity == .warning && event.leaf == "mirror" && event.range == "-")
            #expect(event.summary == "mirror lost redundancy (health AD, members loop0 loop1): it keeps serving; replace the failed member")
            #expect(event.key == EventKey.make(["degraded", "dm-uuid:DMSTACK-example-mirror", "AD"]))
            #expect(try pass(now, dispatcher).events.isEmpty)
            // Another health state is another event.
            let worse = now.withStatus("mirror", ["0 653312 raid raid1 2 DD 653312/653312 idle 0 0 -"])
            #expect(try pass(worse, dispatcher).events.map(\.key) == [EventKey.make(["degraded", "dm-uuid:DMSTACK-example-mirror", "DD"])])
        }
    }

    @Test func aFindingWhoseImpactFailsStillGivesItsEventAndTheRestOfThePassRuns() throws {
        try withStore { store in
            let (dispatcher, sink) = try registered(store)
            // A bad range past the end of loop2 cannot be translated; the one on loop0 can.
            let now = try Machines.raid()
                .withBadblocks("loop2", [SectorRange(start: 655360, length: 8)])
                .withBadblocks("loop0", [SectorRange(start: 0, length: 8)])
            let result = try pass(now, dispatcher)
            #expect(Set(result.events.map(\.leaf)) == ["loop0", "loop2"])
            let failed = try #require(result.events.first { $0.leaf == "loop2" })
            #expect(failed.kind == .failure && failed.severity == .critical)
            #expect(failed.summary.hasPrefix("bad range 655360+8 on loop2; impact not computed: "))
            let computed = try #require(result.events.first { $0.leaf == "loop0" })
            #expect(!computed.summary.contains("impact not computed"))
            // Both were delivered.
            #expect(jsonLines(sink).count == 2 && result.report.failed.isEmpty)
            #expect(try pass(now, dispatcher).events.isEmpty)
        }
    }
}
