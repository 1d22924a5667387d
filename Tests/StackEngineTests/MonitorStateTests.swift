import Foundation
import StackEngine
import StackModel
import StackSystem
import Testing

/// The monitor's kept device states (registry migration 3): a range cleared and bad again, a
/// leg repaired and failing again, is a new event; the same failure seen by a restarted monitor
/// is not; and a gone leaf whose kernel name another device took is planned as recorded.
@Suite("Monitor states")
struct MonitorStateTests {
    let passes = MonitorPassTests()

    /// A pass with a monitor opened afresh on the same state directory (a restart).
    func restartedPass(_ now: SystemSnapshot, _ store: RegistryStore) throws -> [NotificationEvent] {
        let (dispatcher, _) = try fileDispatcher(store)
        return try passes.pass(now, dispatcher).events
    }

    @Test func aRangeClearedAndPoisonedAgainIsANewEventAndARestartRaisesNothingOld() throws {
        try withStore { store in
            let (dispatcher, sink) = try passes.registered(store)
            let healthy = try Machines.raid()
            let range = SectorRange(start: 4096, length: 8)
            let bad = healthy.withBadblocks("loop0", [range])
            let identity = "loop:/tmp/dmstack-s2-0.img"
            let first = try passes.pass(bad, dispatcher).events
            #expect(first.map(\.key) == [NotificationEvent.key(kind: .failure, leafIdentity: identity, range: range, occurrence: "badblocks")])
            #expect(try restartedPass(bad, store).isEmpty)
            // Cleared: no new failure, only the ledger's resolution of the first (an
            // Alertmanager alert's end); the state kept as clear.
            #expect(try passes.pass(healthy, dispatcher).events.map(\.resolves) == [first.first?.key])
            let kept = try dispatcher.registry.seenStates()
            #expect(kept == [SeenState(identity: identity, aspect: "badblocks 4096+8", state: "clear", epoch: 1, changedAt: MonitorPassTests.passAt)])
            // Poisoned again: a second event with its own key, once, also across a restart.
            let again = try passes.pass(bad, dispatcher).events
            #expect(again.map(\.key) == [NotificationEvent.key(kind: .failure, leafIdentity: identity, range: range, occurrence: "badblocks again 2")])
            #expect(again.first?.degraded == ["mirror"])
            #expect(try restartedPass(bad, store).isEmpty)
            #expect(try passes.pass(bad, dispatcher).events.isEmpty)
            #expect(jsonLines(sink).count == 3, "the first, its resolution, the second")
            #expect(try dispatcher.registry.seenStates().map(\.epoch) == [2])
        }
    }

    @Test func aLegFailingAgainAfterARepairIsANewEvent() throws {
        try withStore { store in
            let (dispatcher, _) = try passes.registered(store)
            let healthy = try Machines.raid()
            let dead = healthy.withStatus("mirror", ["0 653312 raid raid1 2 AD 653312/653312 idle 0 0 -"])
            let identity = "dm-uuid:DMSTACK-example-mirror"
            #expect(try passes.pass(dead, dispatcher).events.map(\.key) == [EventKey.make(["degraded", identity, "AD"])])
            #expect(try passes.pass(dead, dispatcher).events.isEmpty)
            // Repaired (healthy status): only the resolution of the first; then the leg dies again.
            #expect(try passes.pass(healthy, dispatcher).events.map(\.resolves) == [EventKey.make(["degraded", identity, "AD"])])
            #expect(try passes.pass(dead, dispatcher).events.map(\.key) == [EventKey.make(["degraded", identity, "AD", "again 2"])])
            #expect(try restartedPass(dead, store).isEmpty)
        }
    }

    @Test func aGoneDevicesRangesAreNotCleared() throws {
        try withStore { store in
            let (dispatcher, _) = try passes.registered(store)
            let range = SectorRange(start: 0, length: 8)
            let bad = try Machines.raid().withBadblocks("loop1", [range])
            #expect(try passes.pass(bad, dispatcher).events.count == 1)
            // loop1 away for a pass says nothing of its ranges: back with the same range, no event.
            _ = try passes.pass(bad.removing("loop1"), dispatcher)
            #expect(try dispatcher.registry.seenStates().first { $0.aspect == "badblocks 0+8" }?.state == "bad")
        }
    }

    @Test func aGoneLeafWhoseNameAndNumberAnotherLoopFileTookIsPlannedAsRecorded() throws {
        try withStore { store in
            let (dispatcher, _) = try passes.registered(store)
            var now = try Machines.raid()
            var squatter = try #require(now.devices.first { $0.kernelName == "loop3" })
            now = now.removing("loop3")
            // loop3 again, same dev_t, attached to another file, smaller, nothing built on it.
            squatter.loopBackingFile = "/tmp/dmstack-other.img"
            squatter.size = 2048
            squatter.holders = []
            now.devices.append(squatter)
            let events = try passes.pass(now, dispatcher).events
            #expect(events.count == 1)
            let event = try #require(events.first)
            // A's size and A's stack (raid5 "parity" lost a member), not the new loop3's.
            #expect(event.kind == .remove && event.leaf == "loop3" && event.range == "0+655360")
            #expect(event.degraded == ["parity"])
            #expect(event.key == NotificationEvent.key(kind: .remove, leafIdentity: "loop:/tmp/dmstack-s2-3.img", range: SectorRange(start: 0, length: 655360),
                                                       occurrence: NotificationEvent.goneOccurrence(lastSeen: MonitorPassTests.registeredAt)))
        }
    }

    @Test func theStatesAdvanceByTheRules() {
        var s = SeenStates([SeenState(identity: "a", aspect: "health", state: "clear", epoch: 3, changedAt: "T0"),
                            SeenState(identity: "gone", aspect: "badblocks 0+8", state: "bad", epoch: 1, changedAt: "T0")])
        #expect(s.failing(identity: "a", aspect: "health", state: "AD", at: "T1").epoch == 4)
        #expect(s.failing(identity: "a", aspect: "health", state: "DD", at: "T1").epoch == 4)
        #expect(s.failing(identity: "b", aspect: "badblocks 8+8", state: "bad", at: "T1").epoch == 1)
        s.finish(failingKeys: [SeenStates.failingKey(identity: "a", aspect: "health")], observed: ["a", "b"], at: "T2")
        #expect(s.byKey.values.sorted { $0.identity < $1.identity }.map { "\($0.identity) \($0.state) \($0.epoch)" } == ["a DD 4", "b clear 1", "gone bad 1"])
        #expect(s.changed.count == 4)
    }
}
