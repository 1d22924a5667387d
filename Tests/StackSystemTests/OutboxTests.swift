import Foundation
import StackModel
import StackSystem
import Testing

/// The notification outbox in the registry database: idempotent recording, claims that a dead
/// process gives up, backoff and give-up per the retry policy.
@Suite("Notification outbox")
struct OutboxTests {
    static func event(_ n: Int) -> NotificationEvent {
        NotificationEvent(key: EventKey.make(["test", String(n)]), kind: .test, severity: .info, at: "T\(n)", origin: "test",
                          host: "h", leaf: "pmem\(n)", range: "0+8", summary: "event \(n)")
    }

    func withRegistry(_ body: (HolderRegistry) throws -> Void) throws {
        let dir = RegistryTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(try HolderRegistry.open(directory: dir)!)
    }

    @Test func recordingTheSameKeyTwiceKeepsOneEvent() throws {
        try withRegistry { db in
            #expect(try db.enqueue(Self.event(1), payload: "{}", sinks: ["a", "b"], now: 0))
            #expect(try !db.enqueue(Self.event(1), payload: "{}", sinks: ["a", "b", "c"], now: 0))
            let entries = try db.outbox()
            #expect(entries.count == 1)
            #expect(entries[0].deliveries.map(\.sink) == ["a", "b"])
            #expect(try db.undelivered() == 2)
        }
    }

    @Test func aClaimOfALiveProcessIsRespectedAndADeadOneIsTakenOver() throws {
        try withRegistry { db in
            _ = try db.enqueue(Self.event(1), payload: "{}", sinks: ["a"], now: 0)
            let first = try db.claimNext(force: false, now: 1, skip: [], claimant: "1:1", isAlive: { _ in true })
            #expect(first?.sink == "a")
            // Another process while the first still lives: nothing to take.
            #expect(try db.claimNext(force: false, now: 1, skip: [], claimant: "2:2", isAlive: { $0 == "1:1" }) == nil)
            // The first died (SIGKILL) before marking: the delivery is still pending, and taken over.
            let again = try db.claimNext(force: false, now: 1, skip: [], claimant: "2:2", isAlive: { _ in false })
            #expect(again?.event == first?.event && again?.attempts == 0)
        }
    }

    @Test func failuresBackOffThenGiveUpAndForceRetriesThem() throws {
        try withRegistry { db in
            let policy = RetryPolicy(initial: 10, maximum: 25, attempts: 3)
            _ = try db.enqueue(Self.event(1), payload: "{}", sinks: ["a"], now: 0)
            var now = 0.0
            for round in 1...3 {
                let c = try #require(try db.claimNext(force: false, now: now, skip: [], claimant: "me", isAlive: { _ in true }))
                try db.finish(c, delivered: false, status: 1, detail: "no \(round)", policy: policy, now: now, at: "T")
                // Not due before the backoff has passed.
                #expect(try db.claimNext(force: false, now: now + 1, skip: [], claimant: "me", isAlive: { _ in true }) == nil || round == 3)
                now += policy.delay(afterFailures: round)
            }
            let d = try db.outbox()[0].deliveries[0]
            #expect(d.state == "failed" && d.attempts == 3 && d.lastError == "no 3" && d.lastStatus == 1)
            #expect(try db.claimNext(force: false, now: 1e12, skip: [], claimant: "me", isAlive: { _ in true }) == nil)
            let forced = try #require(try db.claimNext(force: true, now: now, skip: [], claimant: "me", isAlive: { _ in true }))
            try db.finish(forced, delivered: true, status: 0, detail: nil, policy: policy, now: now, at: "T9")
            let done = try db.outbox()[0].deliveries[0]
            #expect(done.state == "delivered" && done.attempts == 4 && done.deliveredAt == "T9" && done.lastError == nil)
            #expect(try db.attempts(event: forced.event, sink: "a").map(\.outcome) == ["failed", "failed", "failed", "delivered"])
        }
    }

    @Test func deliveriesGoOutInTheOrderEventsWereRecorded() throws {
        try withRegistry { db in
            for n in [3, 1, 2] { _ = try db.enqueue(Self.event(n), payload: "{}", sinks: ["a"], now: 0) }
            var order: [String] = []
            var skip: Set<String> = []
            while let c = try db.claimNext(force: false, now: 1, skip: skip, claimant: "me", isAlive: { _ in true }) {
                skip.insert(HolderRegistry.deliveryID(c.event, c.sink))
                order.append(c.event)
            }
            #expect(order == [3, 1, 2].map { Self.event($0).key })
        }
    }

    @Test func aRebuildKeepsTheEventsNotYetDelivered() throws {
        let dir = RegistryTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try HolderRegistry.open(directory: dir)!
        _ = try db.enqueue(Self.event(1), payload: "{\"a\":1}", sinks: ["a", "b"], now: 5)
        let c = try #require(try db.claimNext(force: false, now: 6, skip: [], claimant: "me", isAlive: { _ in true }))
        try db.finish(c, delivered: true, status: 0, detail: nil, policy: RetryPolicy(), now: 6, at: "T6")
        let (rebuilt, movedTo, _) = try HolderRegistry.rebuild(directory: dir, now: "2026-01-01T00:00:00Z")
        #expect(movedTo != nil)
        let entries = try rebuilt.outbox()
        #expect(entries.map(\.key) == [Self.event(1).key])
        #expect(entries.first?.deliveries.map(\.state) == ["delivered", "pending"])
        #expect(try rebuilt.claimNext(force: false, now: 7, skip: [], claimant: "me", isAlive: { _ in true })?.payload == "{\"a\":1}")
    }

    @Test func aClaimLooksPastManyRowsHeldByAnotherLiveProcess() throws {
        try withRegistry { db in
            for n in 1...100 { _ = try db.enqueue(Self.event(n), payload: "{}", sinks: ["a"], now: 0) }
            var held: Set<String> = []
            for _ in 1...70 {
                let c = try #require(try db.claimNext(force: false, now: 1, skip: held, claimant: "A", isAlive: { _ in true }))
                held.insert(HolderRegistry.deliveryID(c.event, c.sink))
            }
            let other = try db.claimNext(force: false, now: 1, skip: [], claimant: "B", isAlive: { $0 == "A" })
            #expect(other?.event == Self.event(71).key && other?.payload == "{}")
        }
    }
}

/// Claims and marks a window at a time: one transaction for the window's claims and one for
/// its marks, with the same crash safety as one at a time.
@Suite("Notification outbox windows")
struct OutboxWindowTests {
    func withRegistry(_ body: (HolderRegistry) throws -> Void) throws {
        let dir = RegistryTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(try HolderRegistry.open(directory: dir)!)
    }

    @Test func aWindowIsClaimedOldestFirstAndMarkedTogether() throws {
        try withRegistry { db in
            for n in [3, 1, 2, 5, 4] { _ = try db.enqueue(OutboxTests.event(n), payload: "{\"n\":\(n)}", sinks: ["a", "b"], now: 0) }
            let window = try db.claim(upTo: 4, force: false, now: 1, skip: [], claimant: "me", isAlive: { _ in true })
            #expect(window.map { "\($0.event == OutboxTests.event(3).key ? "3" : $0.event == OutboxTests.event(1).key ? "1" : "?")\($0.sink)" }
                    == ["3a", "3b", "1a", "1b"])
            #expect(window.map(\.payload) == ["{\"n\":3}", "{\"n\":3}", "{\"n\":1}", "{\"n\":1}"])
            try db.finish(window.enumerated().map { i, c in
                DeliveryMark(claimed: c, delivered: i != 1, status: i == 1 ? 7 : 0, detail: i == 1 ? "refused" : nil, now: 1, at: "T1")
            }, policy: RetryPolicy(initial: 10, maximum: 10, attempts: 5))
            let states = try db.outbox().flatMap { e in e.deliveries.map { "\(e.summary) \($0.sink) \($0.state) \($0.attempts)" } }
            #expect(states.prefix(4) == ["event 3 a delivered 1", "event 3 b pending 1", "event 1 a delivered 1", "event 1 b delivered 1"])
            #expect(try db.undelivered() == 7)
            // 3b is not due for 10 s: the next window starts at event 2.
            let next = try db.claim(upTo: 64, force: false, now: 2, skip: [], claimant: "me", isAlive: { _ in true })
            #expect(next.count == 6 && next.first?.event == OutboxTests.event(2).key)
        }
    }

    /// A dispatcher killed between claiming a window and marking it (simulated: its claims
    /// are written, its marks never are): every delivery of the window is sent again by the
    /// next dispatcher once the first is gone, none while it lives, and a late mark of the
    /// dead one's does not overwrite the new owner's.
    @Test func aWindowClaimedButNotMarkedIsRetriedAfterACrash() throws {
        try withRegistry { db in
            for n in 1...5 { _ = try db.enqueue(OutboxTests.event(n), payload: "{}", sinks: ["a"], now: 0) }
            let crashed = try db.claim(upTo: 3, force: false, now: 1, skip: [], claimant: "1:1", isAlive: { _ in true })
            #expect(crashed.count == 3)
            // While 1:1 lives its window is its own.
            let meanwhile = try db.claim(upTo: 64, force: false, now: 1, skip: [], claimant: "2:2", isAlive: { $0 == "1:1" })
            #expect(meanwhile.map(\.event) == [4, 5].map { OutboxTests.event($0).key })
            try db.finish(meanwhile.map { DeliveryMark(claimed: $0, delivered: true, status: 0, detail: nil, now: 1, at: "T1") }, policy: RetryPolicy())
            // 1:1 is gone: its three are taken over, never attempted (attempts 0).
            let takenOver = try db.claim(upTo: 64, force: false, now: 2, skip: [], claimant: "3:3", isAlive: { _ in false })
            #expect(takenOver.map(\.event) == [1, 2, 3].map { OutboxTests.event($0).key } && takenOver.allSatisfy { $0.attempts == 0 })
            try db.finish(crashed.map { DeliveryMark(claimed: $0, delivered: false, status: 1, detail: "late", now: 2, at: "T2") }, policy: RetryPolicy())
            #expect(try db.outbox().prefix(3).allSatisfy { $0.deliveries[0].state == "pending" && $0.deliveries[0].lastError == nil })
            try db.finish(takenOver.map { DeliveryMark(claimed: $0, delivered: true, status: 0, detail: nil, now: 3, at: "T3") }, policy: RetryPolicy())
            #expect(try db.undelivered() == 0)
        }
    }
}
