import Foundation
import StackEngine
import StackModel
import Testing

/// Issue 18 points 1 and 11 over the snapshot engine: a filesystem the snapshot has no map of
/// is unknown (not-in-snapshot), a capture that cannot read a map keeps it unknown in the file,
/// and a capture with a redactor still simulates the same files under tokens.
@Suite("Unknown answers and redaction over engines")
struct UnknownEngineTests {
    /// pmem-linear-striped: XFS on `stripe`, pmem1 sector 517248 is file2's (the README tour).
    static func impact(_ snapshot: SystemSnapshot) throws -> Impact {
        let engine = SnapshotEngine(snapshot: snapshot)
        return try ImpactRun(engine: engine, inventory: try engine.inventory()).plan(leaf: "pmem1", range: SectorRange(start: 517248, length: 8), event: .failure).impact
    }

    @Test func aFilesystemNotInTheSnapshotIsUnknownAndACaptureKeepsItSo() throws {
        var machine = try Machines.snapshot("pmem-linear-striped")
        let whole = try Self.impact(machine)
        #expect(whole.isComplete && whole.filesystems.first?.files.count == 2)
        machine.reverseMaps = []
        let none = try Self.impact(machine)
        let fs = try #require(none.filesystems.first)
        #expect(fs.unknown.map(\.reason) == [.notInSnapshot] && fs.files.isEmpty && !none.isComplete)
        #expect(fs.unknown[0].detail.hasPrefix("the snapshot has no reverse map of /tmp/dmstack-mnt/stripe"))
        // Captured from that engine, the map that could not be read is kept as unknown owners.
        let captured = try SnapshotCapture(engine: SnapshotEngine(snapshot: machine)).snapshot(of: Inventory(machine), selection: .all) { nil }
        let map = try #require(captured.reverseMaps?.first)
        #expect(map.notes.contains { $0.contains("could not be read at capture (not-in-snapshot)") })
        let again = try Self.impact(captured)
        #expect(again.filesystems.first?.unknown.map(\.reason) == [.ownerNotReported] && !again.isComplete)
    }

    @Test func aRedactedCaptureSimulatesTheSameFilesUnderTokens() throws {
        let machine = try Machines.snapshot("pmem-linear-striped")
        let redactor = PathRedactor(key: SipHash24(k0: 7, k1: 9))
        let captured = try SnapshotCapture(engine: SnapshotEngine(snapshot: machine), redactor: redactor)
            .snapshot(of: Inventory(machine), selection: .all) { nil }
        let text = String(decoding: try SnapshotCodec.encode(captured), as: UTF8.self)
        #expect(!text.contains("dmstack-mnt") && !text.contains("reflink2"))
        let plain = try Self.impact(machine), redacted = try Self.impact(captured)
        #expect(redacted.isComplete)
        let restore = { (p: String) in p.split(separator: "/", omittingEmptySubsequences: false).map { redactor.names[String($0)] ?? String($0) }.joined(separator: "/") }
        // Files are sorted by path, so tokens sort them otherwise: compared as (path, extents).
        let named = (redacted.filesystems.first?.files ?? []).map { "\(restore($0.path)) \($0.extents)" }.sorted()
        #expect(named == (plain.filesystems.first?.files ?? []).map { "\($0.path) \($0.extents)" }.sorted() && named.count == 2)
    }
}
