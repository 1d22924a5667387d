import Foundation
import TestSupport
import Testing

/// `apply`, `teardown` and `list` on real device-mapper in the test VM: every target type built
/// from one spec and checked against dmsetup and lsblk; data written through the top devices
/// survives teardown and re-apply; a fault at each step leaves `dmsetup ls` as it was.
@Suite("VM: apply and teardown", .serialized, .enabled(if: Live.hasDeviceMapper, "needs root and device-mapper (runs in the test VM: make test-vm)"))
struct VMApplyTests {
    struct Run { var status: Int32; var out: String; var err: String }

    /// `dmstack ARGS` with its status, stdout and stderr (no throw on failure).
    static func dmstack(_ arguments: String, environment: String = "") throws -> Run {
        let dir = try Live.sh("mktemp -d /tmp/dmstack-run-XXXXXX").trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? Live.sh("rm -rf \(dir)") }
        print("vm-apply: dmstack \(arguments)")
        // A hang becomes a failure (status 124) instead of stalling the suite.
        let status = (try? Live.sh("\(environment) timeout 300 \(Live.dmstack) \(arguments) >\(dir)/out 2>\(dir)/err; echo $?")).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? -1
        return Run(status: status, out: try String(contentsOfFile: "\(dir)/out", encoding: .utf8), err: try String(contentsOfFile: "\(dir)/err", encoding: .utf8))
    }

    static func write(_ text: String) throws -> String {
        let file = try Live.sh("mktemp /tmp/dmstack-spec-XXXXXX.yaml").trimmingCharacters(in: .whitespacesAndNewlines)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    static func dmsetupLs() throws -> String { try Live.sh("dmsetup ls | sort") }

    /// Direct children of NAME in `lsblk -s` (what it is built on).
    static func lsblkMembers(_ name: String) throws -> Set<String> {
        let json = try JSONSerialization.jsonObject(with: Data(try Live.sh("lsblk -J -s -o NAME /dev/mapper/\(name)").utf8)) as! [String: Any]
        let top = (json["blockdevices"] as! [[String: Any]])[0]
        return Set((top["children"] as? [[String: Any]] ?? []).map { $0["name"] as! String })
    }

    static func sha(_ path: String, bytes: Int = 1 << 20) throws -> String {
        try Live.sh("head -c \(bytes) \(path) | sha256sum").prefix(64).description
    }

    @Test func everyTargetTypeFromOneSpecSurvivesTeardownAndReapply() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        var l: [String] = []
        for i in 0..<14 { l.append(try Live.loop(size: i == 11 ? "160M" : "32M", cleanup: &cleanup)) }
        let key = try Live.sh("mktemp /tmp/dmstack-key-XXXXXX").trimmingCharacters(in: .whitespacesAndNewlines)
        cleanup.append("rm -f \(key)")
        try Live.sh("head -c 64 /dev/urandom > \(key)")
        let pmem = FileManager.default.fileExists(atPath: "/dev/pmem0")
        let spec = try Self.write("""
            name: every
            volumes:
              lin:
                targets:
                  - type: linear
                    members: [{device: \(l[0]), size: 8M}, {device: \(l[1]), size: 8M}]
              str:
                targets:
                  - {type: striped, chunk: 64K, size: 16M, members: [{device: \(l[0]), offset: 8M}, {device: \(l[1]), offset: 8M}]}
              r5:
                targets:
                  - {type: raid5, chunk: 64K, nosync: true, members: [\(l[2]), \(l[3]), \(l[4])]}
              m5:
                targets: [{type: linear, members: [{device: \(l[7]), size: 4M}]}]
              m6:
                targets: [{type: linear, members: [{device: \(l[7]), offset: 4M, size: 4M}]}]
              r1:
                targets:
                  - type: raid1
                    members: [{device: \(l[5]), metadata: VOLUME=m5}, {device: \(l[6]), metadata: VOLUME=m6}]
              mir:
                targets: [{type: mirror, region_size: 512K, members: [\(l[8]), \(l[9])]}]
              cr:
                targets: [{type: crypt, device: VOLUME=lin, key_file: \(key)}]
                filesystem: {type: ext4, mountpoint: /tmp/dmstack-every/cr, label: every-cr}
              cow:
                targets: [{type: linear, members: [{device: \(l[0]), offset: 24M, size: 4M}]}]
              org:
                targets: [{type: snapshot-origin, device: \(l[10])}]
              snp:
                targets: [{type: snapshot, origin: \(l[10]), cow: VOLUME=cow, chunk: 4K}]
              tmeta:
                targets: [{type: linear, members: [{device: \(l[1]), offset: 24M, size: 4M}]}]
              pool:
                targets: [{type: thin-pool, metadata: VOLUME=tmeta, data: \(l[11]), block_size: 64K}]
              thn:
                targets: [{type: thin, pool: VOLUME=pool, id: 7, size: 512M}]
                filesystem: {type: xfs, mountpoint: /tmp/dmstack-every/thn}
              cmeta:
                targets: [{type: linear, members: [{device: \(l[0]), offset: 28M, size: 4M}]}]
              ccache:
                targets: [{type: linear, members: [{device: \(l[1]), offset: 28M, size: 4M}]}]
              cch:
                targets: [{type: cache, metadata: VOLUME=cmeta, cache: VOLUME=ccache, origin: \(l[13]), block_size: 64K}]
              dly:
                targets: [{type: delay, device: {device: \(l[7]), offset: 8M}, delay: 0, size: 8M}]
              flk:
                targets: [{type: flakey, device: {device: \(l[7]), offset: 16M}, up: 100, down: 0, size: 8M}]
              ends:
                targets: [{type: zero, size: 1M}, {type: error, size: 1M}]
            \(pmem ? """
              wc:
                targets: [{type: writecache, origin: \(l[12]), cache: /dev/pmem0, mode: pmem}]
            """ : "")
            """)
        cleanup.append("rm -f \(spec)")
        cleanup.append("\(Live.dmstack) teardown every")
        let before = try Self.dmsetupLs()
        let applied = try Self.dmstack("apply \(spec)")
        #expect(applied.status == 0, "apply: \(applied.err)\(applied.out)")
        guard applied.status == 0 else { return }

        // Idempotent: a second plan is all unchanged, and its tables are what dmsetup shows.
        let again = try Self.dmstack("apply --dry-run --json \(spec)")
        #expect(again.status == 0, "re-plan: \(again.err)")
        guard again.status == 0 else { return }
        let plan = try Live.document(again.out)
        let report = plan["apply"] as! [String: Any]
        #expect(report["changes"] as? Bool == false, "\(again.out)")
        let volumes = report["volumes"] as! [[String: Any]]
        #expect(volumes.count == (pmem ? 21 : 20))
        for v in volumes {
            let name = v["name"] as! String
            #expect(v["action"] as? String == "unchanged", "\(name)")
            let live = try Live.sh("dmsetup table \(name)").split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }.joined(separator: "\n")
            #expect((v["table"] as! [String]).joined(separator: "\n") == live, "\(name): spec vs dmsetup table")
            #expect(try Live.sh("dmsetup info -c --noheadings -o uuid \(name)").trimmingCharacters(in: .whitespacesAndNewlines) == "DMSTACK-every:\(name)")
        }
        let applyAgain = try Self.dmstack("apply \(spec)")
        #expect(applyAgain.status == 0 && !applyAgain.out.contains("create "), "\(applyAgain.out)")

        // lsblk agrees with every volume's table on what it is built on (the devices named
        // major:minor in it), and by name for a few written out.
        func blockName(_ mm: String) -> String {
            if let dm = try? String(contentsOfFile: "/sys/dev/block/\(mm)/dm/name", encoding: .utf8) { return dm.trimmingCharacters(in: .whitespacesAndNewlines) }
            return URL(fileURLWithPath: "/sys/dev/block/\(mm)").resolvingSymlinksInPath().lastPathComponent
        }
        for v in volumes {
            let name = v["name"] as! String
            let words = (v["table"] as! [String]).flatMap { $0.split(separator: " ").dropFirst(3) }
            let devices = words.filter { w in let p = w.split(separator: ":"); return p.count == 2 && p.allSatisfy { $0.allSatisfy(\.isNumber) } }
            #expect(try Self.lsblkMembers(name) == Set(devices.map { blockName(String($0)) }), "\(name): lsblk -s vs its table")
        }
        func k(_ dev: String) -> String { String(dev.dropFirst(5)) }
        #expect(try Self.lsblkMembers("lin") == [k(l[0]), k(l[1])])
        #expect(try Self.lsblkMembers("r1") == [k(l[5]), k(l[6]), "m5", "m6"])
        #expect(try Self.lsblkMembers("cr") == ["lin"])
        #expect(try Self.lsblkMembers("snp") == [k(l[10]), "cow"])
        #expect(try Self.lsblkMembers("thn") == ["pool"])
        #expect(try Self.lsblkMembers("cch") == ["cmeta", "ccache", k(l[13])])

        // list: every volume, in stack `every`.
        let list = try Live.json("list --json")
        let listed = (list["volumes"] as! [[String: Any]]).filter { $0["stack"] as? String == "every" }
        #expect(listed.count == volumes.count)
        #expect(listed.first { $0["name"] as? String == "cr" }?["mountpoints"] as? [String] == ["/tmp/dmstack-every/cr"])

        // apply registered both filesystems as holders, each with its chains down to the loops.
        func holderLeaves() throws -> [String: Set<String>] {
            let holders = try Live.json("holders list --json")["holders"] as! [[String: Any]]
            return Dictionary(uniqueKeysWithValues: holders.filter { ($0["name"] as! String).hasPrefix("/tmp/dmstack-every/") }.map {
                ($0["name"] as! String, Set(($0["leaves"] as! [[String: Any]]).map { $0["name"] as! String }))
            })
        }
        #expect(try holderLeaves() == ["/tmp/dmstack-every/cr": [k(l[0]), k(l[1])], "/tmp/dmstack-every/thn": [k(l[1]), k(l[11])]])

        // Known data through the top devices, then teardown and re-apply: all of it still there.
        try Live.sh("dd if=/dev/urandom of=/tmp/dmstack-every/thn/file bs=1M count=2 status=none && sync")
        try Live.sh("dd if=/dev/urandom of=/tmp/dmstack-every/cr/file bs=64K count=4 status=none && sync")
        var sums: [String: String] = ["thn/file": try Self.sha("/tmp/dmstack-every/thn/file"), "cr/file": try Self.sha("/tmp/dmstack-every/cr/file")]
        for dev in ["str", "r5", "r1", "mir", "snp", "cch", "dly"] + (pmem ? ["wc"] : []) {
            try Live.sh("dd if=/dev/urandom of=/dev/mapper/\(dev) bs=64K count=16 oflag=direct status=none")
            sums[dev] = try Self.sha("/dev/mapper/\(dev)")
        }
        let down = try Self.dmstack("teardown \(spec)")
        #expect(down.status == 0, "teardown: \(down.err)")
        #expect(try Self.dmsetupLs() == before, "teardown left devices")
        #expect(down.out.contains("unregistered holder /tmp/dmstack-every/cr"), "\(down.out)")
        #expect(try holderLeaves().isEmpty, "teardown unregisters the holders of what it removed")
        let reapplied = try Self.dmstack("apply \(spec)")
        #expect(reapplied.status == 0, "re-apply: \(reapplied.err)")
        #expect(reapplied.out.contains("ext4 present; kept") && reapplied.out.contains("xfs present; kept"), "\(reapplied.out)")
        #expect(reapplied.out.contains("thin id 7 exists already"), "\(reapplied.out)")
        #expect(reapplied.out.contains("holds thin metadata; kept"), "\(reapplied.out)")
        for (what, sum) in sums {
            let path = what.contains("/") ? "/tmp/dmstack-every/\(what)" : "/dev/mapper/\(what)"
            #expect(try Self.sha(path) == sum, "\(what) changed across teardown and re-apply")
        }
        #expect(try holderLeaves().keys.sorted() == ["/tmp/dmstack-every/cr", "/tmp/dmstack-every/thn"])
        let last = try Self.dmstack("teardown every")
        #expect(last.status == 0, "\(last.err)")
        #expect(try Self.dmsetupLs() == before)
        #expect(try holderLeaves().isEmpty)
    }

    /// A fault at each step: the run fails naming the cause, and `dmsetup ls`, the mounts and
    /// the mountpoint directories are as they were before it.
    @Test func faultsRollBackEverything() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let a = try Live.loop(size: "64M", cleanup: &cleanup), b = try Live.loop(size: "64M", cleanup: &cleanup)
        let busy = try Live.loop(size: "32M", cleanup: &cleanup)
        try Live.sh("mkfs.ext4 -q \(busy) && mkdir -p /tmp/dmstack-busy-member && mount \(busy) /tmp/dmstack-busy-member")
        cleanup.append("umount /tmp/dmstack-busy-member")
        func spec(second: String = "{type: linear, members: [VOLUME=base]}", fs: String = "{type: ext4, mountpoint: /tmp/dmstack-fault/top}") -> String {
            """
            name: fault
            volumes:
              base:
                targets: [{type: linear, members: [{device: \(a), size: 16M}, {device: \(b), size: 16M}]}]
              top:
                targets: [\(second)]
                filesystem: \(fs)
              side:
                targets: [{type: striped, chunk: 64K, members: [{device: \(a), offset: 16M}, {device: \(b), offset: 16M}]}]
            """
        }
        let cases: [(what: String, spec: String, env: String, status: Int32, message: String)] = [
            ("missing member", spec(second: "{type: linear, members: [/dev/loop-nothere]}"), "", 1, "member /dev/loop-nothere does not exist"),
            ("member too small", spec(second: "{type: linear, members: [{device: \(a), offset: 60M, size: 8M}]}"), "", 1, "is too small"),
            ("member in use", spec(second: "{type: linear, members: [\(busy)]}"), "", 3, "mounted on /tmp/dmstack-busy-member"),
            ("invalid table", spec(second: "{type: crypt, device: VOLUME=base, cipher: nonsense-cipher-plain, key_file: /etc/hostname}"), "", 1, "cannot load a table into dm device top"),
            ("mkfs failure", spec(fs: "{type: ext4, mountpoint: /tmp/dmstack-fault/top, mkfs_options: [--no-such-option]}"), "", 1, "mkfs.ext4 failed"),
            ("mount failure", spec(fs: "{type: ext4, mountpoint: /tmp/dmstack-fault/top, options: [no_such_option]}"), "", 1, "mount on /tmp/dmstack-fault/top"),
            ("ioctl failing midway", spec(), "DMSTACK_FAULT=resume:2", 1, "injected failure"),
            ("load failing midway", spec(), "DMSTACK_FAULT=load:3", 1, "cannot load a table into dm device side"),
        ]
        for c in cases {
            let file = try Self.write(c.spec)
            defer { _ = try? Live.sh("rm -f \(file)") }
            let before = try Self.dmsetupLs(), mountsBefore = try Live.sh("cut -d' ' -f5 /proc/self/mountinfo | sort")
            let r = try Self.dmstack("apply \(file)", environment: c.env)
            #expect(r.status == c.status, "\(c.what): status \(r.status): \(r.err)")
            #expect(r.err.contains(c.message), "\(c.what): \(r.err)")
            #expect(r.err.split(separator: "\n").count == 1, "\(c.what): one line: \(r.err)")
            #expect(try Self.dmsetupLs() == before, "\(c.what): dmsetup ls changed")
            #expect(try Live.sh("cut -d' ' -f5 /proc/self/mountinfo | sort") == mountsBefore, "\(c.what): mounts changed")
            #expect(!FileManager.default.fileExists(atPath: "/tmp/dmstack-fault"), "\(c.what): mountpoint left behind")
            if r.status == 0 { _ = try? Self.dmstack("teardown fault") }
            _ = try? Live.sh("rm -rf /tmp/dmstack-fault")
        }
    }

    /// Teardown refuses while a process works inside the filesystem, naming it; refuses a
    /// device that is not dmstack's; and goes ahead once the process is gone. A grown spec
    /// reloads the table in place, keeping the data.
    @Test func teardownRefusesBusyAndForeignAndGrowKeepsData() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let a = try Live.loop(size: "64M", cleanup: &cleanup)
        let small = try Self.write("name: grow\nvolumes:\n  gv:\n    targets: [{type: linear, members: [{device: \(a), size: 16M}]}]\n    filesystem: {type: ext4, mountpoint: /tmp/dmstack-grow}\n")
        cleanup.append("rm -f \(small)")
        cleanup.append("\(Live.dmstack) teardown grow")
        let applied = try Self.dmstack("apply \(small)")
        #expect(applied.status == 0, "\(applied.out)\(applied.err)")
        try Live.sh("dd if=/dev/urandom of=/tmp/dmstack-grow/f bs=64K count=8 status=none && sync")
        let sum = try Self.sha("/tmp/dmstack-grow/f")
        let big = try Self.write(try String(contentsOfFile: small, encoding: .utf8).replacingOccurrences(of: "size: 16M", with: "size: 48M"))
        cleanup.append("rm -f \(big)")
        let grown = try Self.dmstack("apply \(big)")
        #expect(grown.status == 0 && grown.out.contains("reloaded, grows from 16 MiB to 48 MiB"), "\(grown.out)\(grown.err)")
        #expect(try Live.sh("blockdev --getsz /dev/mapper/gv").trimmingCharacters(in: .whitespacesAndNewlines) == "98304")
        #expect(try Self.sha("/tmp/dmstack-grow/f") == sum)
        let moved = try Self.write(try String(contentsOfFile: small, encoding: .utf8).replacingOccurrences(of: "size: 16M", with: "offset: 1M, size: 16M"))
        cleanup.append("rm -f \(moved)")
        let refused = try Self.dmstack("apply \(moved)")
        #expect(refused.status == 3 && refused.err.contains("cannot be changed in place"), "\(refused.err)")

        // Started directly, not through a shell whose output pipe it would inherit.
        let sleeper = try TestProcess.start("/bin/sleep", ["600"], directory: "/tmp/dmstack-grow")
        defer { _ = try? Live.sh("kill -KILL \(sleeper.processIdentifier) 2>/dev/null") }
        let pid = "\(sleeper.processIdentifier)"
        print("vm-apply: sleeper pid \(pid)")
        let busy = try Self.dmstack("teardown grow")
        #expect(busy.status == 3, "\(busy.err)")
        #expect(busy.err.contains("pid \(pid) (sleep): cwd /tmp/dmstack-grow"), "\(busy.err)")
        #expect(try Live.sh("dmsetup ls").contains("gv"), "nothing removed while refused")
        try Live.sh("kill -KILL \(pid); sleep 1")
        print("vm-apply: sleeper killed")

        try Live.sh("dmsetup create dmt-foreign --table '0 2048 linear \(a) 100000'")
        cleanup.append("dmsetup remove dmt-foreign")
        let foreign = try Self.dmstack("teardown dmt-foreign")
        #expect(foreign.status == 3 && foreign.err.contains("not dmstack's"), "\(foreign.err)")
        let done = try Self.dmstack("teardown grow")
        #expect(done.status == 0, "\(done.err)")
        #expect(!(try Live.sh("dmsetup ls")).contains("gv"))
    }
}
