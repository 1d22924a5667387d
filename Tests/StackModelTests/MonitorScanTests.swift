import StackModel
import Testing

/// What a monitor pass finds on the machine of HolderRecordTests: a registered leaf gone,
/// a bad range, a degraded raid; and nothing on a healthy machine.
@Suite("Monitor findings")
struct MonitorScanTests {
    @Test func aHealthyMachineHasNothingToSay() throws {
        let m = HolderRecordTests.machine()
        let r = try m.holderRecord(name: nil, target: .filesystem("/mnt/x"), registeredBy: "t", context: HolderRecordTests.context)
        #expect(m.monitorFindings(records: [r], byId: [:]).isEmpty)
    }

    @Test func aGoneLeafABadRangeAndADeadLeg() throws {
        var r = try HolderRecordTests.machine().holderRecord(name: nil, target: .filesystem("/mnt/x"), registeredBy: "t", context: HolderRecordTests.context)
        r.refreshedAt = "T5"
        var snapshot = HolderRecordTests.machine(pmem1Gone: true).snapshot
        let p0 = snapshot.devices.firstIndex { $0.kernelName == "pmem0" }!
        snapshot.devices[p0].badblocks = [SectorRange(start: 64, length: 8)]
        let r1 = snapshot.devices.firstIndex { $0.kernelName == "dm-4" }!
        snapshot.devices[r1].dm!.status = ["0 2048 raid raid1 2 AD 2048/2048 idle 0 0 -"]
        let findings = Inventory(snapshot).monitorFindings(records: [r], byId: [:])
        #expect(findings.count == 3)
        guard case .leafGone(let leaf, let holders, let lastSeen) = findings[0] else { Issue.record("\(findings)"); return }
        #expect(leaf.device.kernelName == "pmem1" && holders == ["/mnt/x"] && lastSeen == "T5")
        #expect(Set(findings.dropFirst()) == [.badRange(device: "pmem0", identity: "ns-uuid:U0", range: SectorRange(start: 64, length: 8)),
                                              .degraded(device: "r1", identity: "dm-uuid:DMSTACK-t:r1", health: "AD", members: ["loop0", "loop1"])])
        // Once recorded gone, the leaf is not found again.
        var refreshed = r
        for i in refreshed.layers.indices where refreshed.layers[i].device.kernelName == "pmem1" { refreshed.layers[i].state = .gone }
        #expect(Inventory(snapshot).monitorFindings(records: [refreshed], byId: [:]).count == 2)
    }
}
