import Foundation
import JSONSchemaCheck
import Testing

/// lvm2's volumes through the real binary, offline: Tests/Fixtures/lvm/raid1-linear.json (see
/// its README) is VG `gt-probe` with a raid1 `r-1` over loop0 and loop1 and a linear `lin` on
/// loop2, as lvm built them in the test VM.
@Suite("lvm names in the CLI")
struct LvmCLITests {
    static let snapshot = CLITests.packageRoot.appendingPathComponent("Tests/Fixtures/lvm/raid1-linear.json").path

    func run(_ arguments: [String]) throws -> String {
        let result = try CLITests.run(arguments + ["--snapshot", Self.snapshot])
        // The fixture has no reverse map of /mnt/lin: its owners are unknown, the answer partial.
        let partial = arguments.first == "simulate" && arguments.contains("gt-probe/lin")
        #expect(result.status == (partial ? 2 : 0), "dmstack \(arguments.joined(separator: " ")): \(result.stderr)")
        if partial { #expect(result.stdout.contains("\"not-in-snapshot\""), "\(result.stdout)") }
        return result.stdout
    }

    @Test func treeShowsVolumesWithTheirPartsUnderThem() throws {
        #expect(try run(["tree"]) == """
            NAME                     MAJ:MIN  SIZE  TABLE     FSTYPE       MOUNTPOINTS  PMEM  STATE
            gt-probe/r-1             254:4     16M  raid1 2…
            ├─gt-probe/r-1:rmeta_0   254:0      4M  linear
            │ └─loop0                7:0       48M            LVM2_member
            ├─gt-probe/r-1:rimage_0  254:1     16M  linear
            │ └─loop0                7:0       48M            LVM2_member
            ├─gt-probe/r-1:rmeta_1   254:2      4M  linear
            │ └─loop1                7:1       48M            LVM2_member
            └─gt-probe/r-1:rimage_1  254:3     16M  linear
              └─loop1                7:1       48M            LVM2_member
            gt-probe/lin             254:5      8M  linear    xfs          /mnt/lin
            └─loop2                  7:2       48M            LVM2_member

            """)
        // Any spelling of a volume roots the tree at it.
        for spelled in ["gt-probe/lin", "/dev/gt-probe/lin", "gt--probe-lin", "/dev/mapper/gt--probe-lin"] {
            #expect(try run(["tree", spelled]).split(separator: "\n").dropFirst().first?.hasPrefix("gt-probe/lin ") == true, "\(spelled)")
        }
    }

    @Test(arguments: [["tree", "--json"], ["tree", "--json", "--inverse"], ["simulate", "--json", "loop1", "--range", "10248+8"],
                      ["simulate", "--json", "gt-probe/lin", "--range", "0+8"], ["show", "--json", "gt-probe/r-1:rmeta_1"],
                      ["translate", "--json", "loop0", "2048+16"]])
    func jsonConformsAndNamesVolumes(arguments: [String]) throws {
        let out = try run(arguments)
        let (_, problems) = JSONSchemaCheck.parse(out)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))")
        #expect(out.contains("\"gt-probe/"))
        #expect(!out.contains("\"gt--probe-r--1\""), "the dm name where the lvm name belongs")
    }

    @Test func showSaysWhichVolumeAPartBelongsTo() throws {
        let out = try run(["show", "gt--probe-r--1_rmeta_1"])
        #expect(out.hasPrefix("name           gt-probe/r-1:rmeta_1\n"))
        #expect(out.contains("\nlvm            volume gt-probe/r-1, internal part rmeta_1\n"), "\(out)")
        #expect(out.contains("\nabove          gt-probe/r-1\n"), "\(out)")
    }

    @Test func treeJSONMarksInternalParts() throws {
        let (value, _) = JSONSchemaCheck.parse(try run(["tree", "--json", "gt-probe/r-1"]))
        let root = try #require(((value as? [String: Any])?["tree"] as? [[String: Any]])?.first)
        let lvm = try #require(root["lvm"] as? [String: Any])
        #expect(lvm["vg"] as? String == "gt-probe" && lvm["lv"] as? String == "r-1" && lvm["internal"] as? Bool == false && lvm["component"] == nil)
        let parts = (root["children"] as! [[String: Any]]).map { $0["lvm"] as! [String: Any] }
        #expect(parts.map { $0["component"] as? String } == ["rmeta_0", "rimage_0", "rmeta_1", "rimage_1"])
        #expect(parts.allSatisfy { $0["internal"] as? Bool == true && $0["lv"] as? String == "r-1" })
        // A PV is no lvm volume.
        #expect((root["children"] as! [[String: Any]]).allSatisfy { (($0["children"] as! [[String: Any]])[0])["lvm"] == nil })
    }
}
