import Foundation
import StackEngine
@testable import StackModel
import StackSystem
import Testing

/// The streamed impact (records folded as they come, files in a compact list, the document
/// written as it is made) against the whole-document encoding, on every bundled example and
/// fixture snapshot: byte for byte.
@Suite("Impact streams")
struct ImpactStreamTests {
    static func streamed(_ impact: Impact) throws -> String {
        var bytes: [UInt8] = []
        try ImpactJSON(ByteStream(blockSize: 7) { bytes += $0 }).write(impact)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func whole(_ impact: Impact) throws -> String {
        String(decoding: try JSONOutputEncoder.make().encode(["impact": impact]), as: UTF8.self) + "\n"
    }

    static let snapshots: [String] = {
        let examples = Machines.examples
        let fixtures = URL(fileURLWithPath: examples).deletingLastPathComponent().appendingPathComponent("Tests/Fixtures").path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: examples)) ?? []
        let lvm = ((try? FileManager.default.contentsOfDirectory(atPath: "\(fixtures)/lvm")) ?? []).map { "\(fixtures)/lvm/\($0)" }
        let translate = ["minimal.json", "newer.json"].map { "\(fixtures)/translate/\($0)" }
        return (names.map { "\(examples)/\($0)" } + lvm + translate).filter { $0.hasSuffix(".json") }.sorted()
    }()

    @Test func streamedJSONEqualsTheWholeEncodingOnEveryExample() throws {
        var compared = 0, withFiles = 0
        for file in Self.snapshots {
            guard let snapshot = try? SnapshotCodec.decode(try Data(contentsOf: URL(fileURLWithPath: file)), file: file) else { continue }
            let engine = SnapshotEngine(snapshot: snapshot)
            let inventory = try engine.inventory()
            let run = ImpactRun(engine: engine, inventory: inventory, time: FixedTime("T"))
            for device in inventory.devices where device.slaves.isEmpty && device.size > 0 {
                for (range, event) in [(nil, FailureEvent.remove), (SectorRange(start: device.size / 2, length: min(device.size / 2, 4096)), .failure)] {
                    guard let (impact, _) = try? run.plan(leaf: device.kernelName, range: range, event: event) else { continue }
                    #expect(try Self.streamed(impact) == Self.whole(impact), "\(file) \(device.kernelName) \(event)")
                    compared += 1
                    if impact.filesystems.contains(where: { !$0.files.isEmpty }) { withFiles += 1 }
                }
            }
        }
        #expect(compared > 20 && withFiles > 3, "compared \(compared), with files \(withFiles)")
    }

    /// Strings the encoder escapes (quotes, backslashes, control characters, non-ASCII) and
    /// empty lists take its own path.
    @Test func escapedStringsAndEmptyListsAreTheEncoders() throws {
        let hits = [
            FileHit(path: "/m/a \"quoted\" \\ back", paths: ["/m/a \"quoted\" \\ back", "/m/new\nline\t/é/✓"], inode: 7,
                    extents: [ByteRange(offset: 0, length: 4096), ByteRange(offset: 1 << 40, length: 1)], shared: true, unwritten: false),
            FileHit(path: "<inode 9>", paths: [], inode: 9, extents: [], shared: false, unwritten: true),
        ]
        let fs = FilesystemImpact(mountpoint: "/m", type: "xfs", device: "dm-0", roles: [.data, .log], metadata: [], files: FileList(hits),
                                  processes: [], actions: [ImpactAction(action: .freeze, target: "/m", reason: "r \u{1}")], notes: [])
        let impact = Impact(event: .remove, leaf: "pmem0", range: SectorRange(start: 0, length: 8), layers: [], filesystems: [fs],
                            notices: [], mayLose: [PossibleLoss(mountpoint: "/m", type: "xfs", device: "dm-0", roles: [.data], reasons: ["why"],
                                                                metadata: [], files: [], notes: [])], summary: "s")
        #expect(try Self.streamed(impact) == Self.whole(impact))
        #expect(Array(fs.files) == hits)
    }
}
