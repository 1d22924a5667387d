import Foundation
import StackModel
import StackSystem
import Testing

/// The deps discovery takes from a dm table instead of DM_TABLE_DEPS: for every dm device of
/// the bundled snapshots (captured in the test VM, deps from the kernel's ioctl) the table's
/// members are the kernel's list. Every other type is compared with the kernel's answer in the
/// VM (`VMTargetTableTests`).
@Suite("dm deps from the table")
struct DeviceMapperDepsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theTablesMembersAreTheKernelsDeps() throws {
        var compared = 0, types = Set<String>()
        let files = try ["examples", "Tests/Fixtures/lvm"].flatMap { folder in
            let dir = Self.root.appendingPathComponent(folder)
            return try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().filter { $0.hasSuffix(".json") }.map { dir.appendingPathComponent($0) }
        }
        for url in files {
            let file = url.lastPathComponent
            let snapshot = try SnapshotCodec.decode(Data(contentsOf: url), file: file)
            for d in snapshot.devices {
                guard let dm = d.dm else { continue }
                guard let deps = DeviceMapperInfo.deps(ofTable: dm.table) else {
                    Issue.record("\(file) \(d.kernelName): no deps from \(dm.table)")
                    continue
                }
                #expect(Set(deps) == Set(dm.deps), "\(file) \(d.kernelName): \(dm.table)")
                #expect(deps.count == Set(deps).count)
                compared += 1
                for line in dm.table { types.insert(String(line.split(separator: " ")[2])) }
            }
        }
        #expect(compared >= 15 && types.count >= 6, "\(compared) devices, types \(types.sorted())")
    }

    @Test func aTableDmstackCannotReadAsksTheKernel() {
        #expect(DeviceMapperInfo.deps(ofTable: []) == [])
        #expect(DeviceMapperInfo.deps(ofTable: ["0 8 linear 7:0 0", "8 8 linear 7:1 0", "16 8 linear 7:0 8"]) == ["7:0", "7:1"])
        #expect(DeviceMapperInfo.deps(ofTable: ["0 8 era 253:0 253:1 128"]) == nil)
        #expect(DeviceMapperInfo.deps(ofTable: ["0 8 linear"]) == nil)
    }
}
