import Foundation
import TestSupport
import Testing

/// `apply` and `teardown` SIGKILLed after each of their steps (DMSTACK_FAULT=kill@K): `list`
/// names the interrupted change and the step, text and JSON; the next apply converges to the
/// stack a clean apply builds (same tables, the filesystem mounted, data kept across a
/// teardown and re-apply); an interrupted teardown run again leaves `dmsetup ls` as before;
/// a kill between a device's create and its table load (a device sysfs does not show) too.
@Suite("VM: crash-safe apply and teardown", .serialized, .enabled(if: Live.hasDeviceMapper, "needs root and device-mapper (runs in the test VM: make test-vm)"))
struct VMCrashTests {
    typealias Run = VMApplyTests.Run
    static let mountpoint = "/tmp/dmstack-crash/top"

    /// Every volume's `dmsetup table` with the volumes' own major:minor replaced by their
    /// names (a volume made again may get another minor).
    static func tables(_ names: [String]) throws -> [String] {
        var numbers: [(String, String)] = []
        for line in try Live.sh("dmsetup info -c --noheadings -o name,major,minor --separator ' '").split(separator: "\n") {
            let w = line.split(separator: " ").map(String.init)
            if w.count == 3, names.contains(w[0]) { numbers.append(("\(w[1]):\(w[2])", w[0])) }
        }
        return try names.map { n in
            var t = try Live.sh("dmsetup table \(n)").trimmingCharacters(in: .whitespacesAndNewlines)
            for (mm, name) in numbers { t = t.replacingOccurrences(of: " \(mm) ", with: " {\(name)} ") }
            return "\(n): \(t)"
        }
    }

    static func interrupted(_ options: String) throws -> [[String: Any]] {
        try Live.json("list --json \(options)")["interrupted"] as! [[String: Any]]
    }

    @Test func everyStepKilledThenApplyConvergesAndTeardownCleans() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let a = try Live.loop(size: "64M", cleanup: &cleanup), b = try Live.loop(size: "64M", cleanup: &cleanup)
        let state = try Live.temporary("/tmp/dmstack-crash-state-XXXXXX", recursive: true, cleanup: &cleanup)
        let options = "--state-dir \(state)"
        let spec = try VMApplyTests.write("""
            name: crash
            volumes:
              base:
                targets: [{type: linear, members: [{device: \(a), size: 16M}, {device: \(b), size: 16M}]}]
              top:
                targets: [{type: linear, members: [VOLUME=base]}]
                filesystem: {type: ext4, mountpoint: \(Self.mountpoint)}
              side:
                targets: [{type: striped, chunk: 64K, members: [{device: \(a), offset: 16M}, {device: \(b), offset: 16M}]}]
            """)
        cleanup.append("rm -f \(spec)")
        cleanup.append("rm -rf /tmp/dmstack-crash")
        cleanup.append("\(Live.dmstack) teardown crash \(options)")
        let names = ["base", "side", "top"]
        let before = try VMApplyTests.dmsetupLs()
        let steps = (try Live.json("apply \(spec) --dry-run --json \(options)")["apply"] as! [String: Any])["steps"] as! [String]
        #expect(steps.count >= 5, "\(steps)")
        // The reference: a clean apply's tables.
        #expect(try VMApplyTests.dmstack("apply \(spec) \(options)").status == 0)
        let reference = try Self.tables(names)
        #expect(try Self.interrupted(options).isEmpty)
        #expect(try VMApplyTests.dmstack("teardown crash \(options)").status == 0)
        #expect(try VMApplyTests.dmsetupLs() == before)

        for k in 1...steps.count {
            let killed = try VMApplyTests.dmstack("apply \(spec) \(options)", environment: "DMSTACK_FAULT=kill@\(k)")
            #expect(killed.status == 137, "kill@\(k): status \(killed.status): \(killed.err)")
            let open = try Self.interrupted(options)
            #expect(open.count == 1 && open.first?["command"] as? String == "apply" && open.first?["done"] as? Int == k
                    && open.first?["running"] as? Bool == false && open.first?["last_done"] as? String == steps[k - 1], "kill@\(k): \(open)")
            let text = try VMApplyTests.dmstack("list \(options)")
            #expect(text.out.contains("INTERRUPTED: apply crash started ") && text.out.contains("\(k) of \(steps.count) steps done, the last: \(steps[k - 1])"), "kill@\(k): \(text.out)")
            let again = try VMApplyTests.dmstack("apply \(spec) \(options)")
            #expect(again.status == 0, "re-apply after kill@\(k): \(again.err)")
            #expect(try Self.tables(names) == reference, "re-apply after kill@\(k)")
            #expect(try Live.sh("findmnt -n -o SOURCE \(Self.mountpoint)").trimmingCharacters(in: .whitespacesAndNewlines) == "/dev/mapper/top")
            #expect(try Self.interrupted(options).isEmpty, "after the re-apply of kill@\(k)")
            if k == steps.count {
                // Data through the converged stack survives a teardown and a re-apply.
                try Live.sh("dd if=/dev/urandom of=\(Self.mountpoint)/f bs=64K count=8 status=none && sync")
                let sum = try VMApplyTests.sha("\(Self.mountpoint)/f")
                #expect(try VMApplyTests.dmstack("teardown crash \(options)").status == 0)
                #expect(try VMApplyTests.dmstack("apply \(spec) \(options)").status == 0)
                #expect(try VMApplyTests.sha("\(Self.mountpoint)/f") == sum)
            }
            // A teardown killed after its k-th removal (3 volumes), then run again.
            if k <= names.count {
                let torn = try VMApplyTests.dmstack("teardown crash \(options)", environment: "DMSTACK_FAULT=kill@\(k)")
                #expect(torn.status == 137, "teardown kill@\(k): \(torn.err)")
                let left = try Self.interrupted(options)
                #expect(left.count == 1 && left.first?["command"] as? String == "teardown" && left.first?["done"] as? Int == k, "teardown kill@\(k): \(left)")
            }
            let done = try VMApplyTests.dmstack("teardown crash \(options)")
            #expect(done.status == 0, "teardown after kill@\(k): \(done.err)")
            if k == names.count { #expect(done.out.contains("nothing left; the interrupted teardown of it is finished"), "\(done.out)") }
            #expect(try VMApplyTests.dmsetupLs() == before, "dmsetup ls after kill@\(k)")
            #expect(try Self.interrupted(options).isEmpty, "intent left after kill@\(k)")
            _ = try? Live.sh("rm -rf /tmp/dmstack-crash")
        }

        // Killed inside a step, between a device's create and its table load: the device has
        // no table and, on these kernels, no /sys/block entry (dm adds the disk at the first
        // load); libdevmapper's list finds it. Re-apply converges; so does a teardown.
        for then in ["apply", "teardown"] {
            let killed = try VMApplyTests.dmstack("apply \(spec) \(options)", environment: "DMSTACK_FAULT=kill-after-create@2")
            #expect(killed.status == 137, "kill-after-create@2: \(killed.status): \(killed.err)")
            // `dmsetup info NAME`: "Tables present:    None" for a device without a table.
            let tableless = names.filter { n in
                ((try? Live.sh("dmsetup info \(n) 2>/dev/null")) ?? "").split(separator: "\n")
                    .contains { $0.hasPrefix("Tables present:") && $0.hasSuffix("None") }
            }
            #expect(tableless.count == 1, "a device without a table: \(tableless)")
            let open = try Self.interrupted(options)
            #expect(open.count == 1 && open.first?["done"] as? Int == 1, "kill-after-create@2: \(open)")
            let again = try VMApplyTests.dmstack("\(then == "apply" ? "apply \(spec)" : "teardown crash") \(options)")
            #expect(again.status == 0, "\(then) after kill-after-create@2: \(again.err)")
            #expect(again.out.contains("(no table"), "\(then): \(again.out)")
            if then == "apply" {
                #expect(try Self.tables(names) == reference, "re-apply after kill-after-create@2")
                #expect(try VMApplyTests.dmstack("teardown crash \(options)").status == 0)
            }
            #expect(try VMApplyTests.dmsetupLs() == before, "dmsetup ls after kill-after-create@2 and \(then)")
            #expect(try Self.interrupted(options).isEmpty, "intent left after kill-after-create@2 and \(then)")
            _ = try? Live.sh("rm -rf /tmp/dmstack-crash")
        }
    }
}
