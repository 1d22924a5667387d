import Foundation
import Testing

/// Holder chains over real dm stacks on pmem in the test VM: an XFS whose data device is a
/// concatenation of two volumes on pmem0 (the leaf reached by two paths) and whose external
/// log is a volume on pmem1; then pmem1's pfn is unbound, as a removal would, and the chain
/// through it must still be known, marked gone, and still translate.
@Suite("VM: holder chains over pmem", .serialized,
       .enabled(if: Live.hasDeviceMapper && VMLiveTests.hasTwoPmem, "needs root, device-mapper and two fsdax pmem devices (the test VM)"))
struct VMHolderTests {
    func trimmed(_ s: String) -> String { s.trimmed }

    @Test func theLogLeafUnboundIsStillKnownAsALogChain() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let state = try Live.temporary("/tmp/dmstack-state-XXXXXX", recursive: true, cleanup: &cleanup)
        let pfn = URL(fileURLWithPath: "/sys/class/block/pmem1/device").resolvingSymlinksInPath().lastPathComponent
        #expect(pfn.hasPrefix("pfn"), "pmem1 is claimed by \(pfn)")
        // Rebinding comes last of all: after the dm devices that hold the old dev_t are gone.
        cleanup.append("[ -e /sys/class/block/pmem1 ] || echo \(pfn) > /sys/bus/nd/drivers/nd_pmem/bind")
        // 2 x 192 MiB of data (mkfs.xfs wants 300 MiB at least), a 64 MiB log.
        try Live.sh("dmsetup create hA -u DMSTACK-htest:hA --table '0 393216 linear /dev/pmem0 0'")
        cleanup.append("dmsetup remove hA")
        try Live.sh("dmsetup create hB -u DMSTACK-htest:hB --table '0 393216 linear /dev/pmem0 393216'")
        cleanup.append("dmsetup remove hB")
        try Live.sh("dmsetup create hdata -u DMSTACK-htest:hdata --table \"$(printf '0 393216 linear /dev/mapper/hA 0\\n393216 393216 linear /dev/mapper/hB 0')\"")
        cleanup.append("dmsetup remove hdata")
        try Live.sh("dmsetup create hlog -u DMSTACK-htest:hlog --table '0 131072 linear /dev/pmem1 0'")
        cleanup.append("dmsetup remove hlog")
        try Live.sh("mkfs.xfs -q -f -l logdev=/dev/mapper/hlog /dev/mapper/hdata")
        let mnt = try Live.temporary("/tmp/dmstack-mnt-XXXXXX", cleanup: &cleanup)
        try Live.sh("mount -o logdev=/dev/mapper/hlog /dev/mapper/hdata \(mnt)")
        cleanup.append("umount \(mnt)")

        _ = try Live.sh("\(Live.dmstack) holders register \(mnt) --state-dir \(state)")
        func show() throws -> [String: Any] { try Live.json("holders show --json \(mnt) --state-dir \(state)")["holder"] as! [String: Any] }
        func chains(_ h: [String: Any]) -> [String] {
            let names = Dictionary(uniqueKeysWithValues: (h["layers"] as! [[String: Any]]).map {
                ($0["identity"] as! String, ($0["device"] as! [String: Any])["kernel_name"] as! String)
            })
            let dmNames = Dictionary(uniqueKeysWithValues: (h["layers"] as! [[String: Any]]).map {
                ($0["identity"] as! String, (($0["device"] as! [String: Any])["dm"] as? [String: Any])?["name"] as? String ?? names[$0["identity"] as! String]!)
            })
            return (h["chains"] as! [[String: Any]]).map { "\($0["role"]!): " + ($0["path"] as! [String]).map { dmNames[$0]! }.joined(separator: ">") }.sorted()
        }
        var h = try show()
        #expect(chains(h) == ["data: pmem0>hA>hdata", "data: pmem0>hB>hdata", "log: pmem1>hlog"])
        #expect(h["state"] as? String == "ok")
        let layers = h["layers"] as! [[String: Any]]
        let pmem1 = try #require(layers.first { ($0["device"] as! [String: Any])["kernel_name"] as? String == "pmem1" })
        #expect((pmem1["namespace"] as? [String: Any])?["claimed_by"] as? String == pfn)
        #expect((pmem1["identity"] as! String).hasPrefix("ns-uuid:") || (pmem1["identity"] as! String).hasPrefix("namespace:"))
        #expect(layers.contains { $0["identity"] as? String == "dm-uuid:DMSTACK-htest:hlog" })
        let table = ((layers.first { $0["identity"] as? String == "dm-uuid:DMSTACK-htest:hdata" }?["device"] as? [String: Any])?["dm"] as? [String: Any])?["table"] as? [String]
        #expect(table == trimmed(try Live.sh("dmsetup table hdata")).split(separator: "\n").map(String.init))
        // The tree per leaf: pmem0 branches to hA and hB, both up to hdata.
        let pmem0Tree = (h["leaves"] as! [[String: Any]]).first { $0["name"] as? String == "pmem0" }
        #expect((pmem0Tree?["above"] as? [[String: Any]])?.map { $0["name"] as! String } == ["hA", "hB"])

        // What the leaf's sector 100 becomes above, while it is here.
        let before = try Live.json("translate --json pmem1 100+8")["translations"] as! [[String: Any]]
        #expect(before.map { "\($0["device"]!) \($0["start"]!)" } == ["hlog 100"])

        try Live.sh("sync; echo \(pfn) > /sys/bus/nd/drivers/nd_pmem/unbind")
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/block/pmem1"))
        // Known without a refresh: the chain with the leaf marked gone, a log hit.
        h = try show()
        #expect(chains(h) == ["data: pmem0>hA>hdata", "data: pmem0>hB>hdata", "log: pmem1>hlog"])
        #expect(h["state"] as? String == "degraded")
        let leaves = Dictionary(uniqueKeysWithValues: (h["leaves"] as! [[String: Any]]).map { ($0["name"] as! String, $0) })
        #expect(leaves["pmem1"]?["state"] as? String == "gone" && leaves["pmem1"]?["roles"] as? [String] == ["log"])
        #expect(leaves["pmem0"]?["state"] as? String == "present")
        let text = try Live.sh("\(Live.dmstack) holders show \(mnt) --state-dir \(state)")
        #expect(text.contains("GONE") && text.contains("[log]"), "\(text)")
        // refresh records it; the record keeps the leaf.
        let refreshed = try Live.sh("\(Live.dmstack) holders refresh --state-dir \(state)")
        #expect(refreshed.contains("pmem1 (259:") && refreshed.contains(") gone"), "\(refreshed)")
        h = try show()
        #expect(chains(h).contains("log: pmem1>hlog") && (h["pending_changes"] as? [String])?.isEmpty == true)
        // And a range on the vanished leaf still translates, through the registry.
        let after = try Live.sh("\(Live.dmstack) translate --json pmem1 100+8 --state-dir \(state) 2>&1")
        #expect(after.contains("pmem1 is not on the live system") && after.contains("\"device\" : \"hlog\""), "\(after)")
        // simulate too: the gone leaf's range is the filesystem's log, a shutdown.
        let simulated = try Live.sh("\(Live.dmstack) simulate --json pmem1 --range 100+8 --state-dir \(state) 2>/dev/null")
        let impact = try Live.document(simulated)["impact"] as! [String: Any]
        let fs = (impact["filesystems"] as! [[String: Any]]).first
        #expect(fs?["mountpoint"] as? String == mnt && fs?["roles"] as? [String] == ["log"], "\(simulated)")
        #expect((fs?["actions"] as? [[String: Any]])?.map { $0["action"] as! String } == ["shutdown"])
        let list = try Live.json("holders list --json --state-dir \(state)")["holders"] as! [[String: Any]]
        #expect(list.first?["state"] as? String == "degraded")
    }
}
