import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What the running kernel really does on a pmem removal and a memory failure, compared with
/// what `dmstack simulate` said just before, on the same machine (issue 19). Runs in a pass of
/// its own at the end of a boot (Tests/VM/guest.sh, DMSTACK_KERNEL_BEHAVIOUR=1), on Debian's
/// 6.1 and 6.12 (`make test` boots both): an unbind under a DAX-mounted XFS leaves a
/// filesystem that cannot be unmounted safely (6.1 oopses in dax_disassociate_entry), so the
/// unbinding tests come last and leave their mount behind.
///
/// Processes are `Tests/VM/sigbus-probe.c`: mappers that record the SIGBUS they get (si_code,
/// offset), and a process that only holds a file open. Not run: a memory failure on a
/// *reflinked* DAX page through dm-linear, which oopsed 6.12 (NULL dereference in
/// dax_lock_folio from memory_failure: the generic path meets a page whose mapping is
/// PAGE_MAPPING_DAX_SHARED; VM.md): the kernel's generic path cannot take that case at all.
@Suite("VM: the kernel's own behaviour against simulate", .serialized,
       // pmem0, not both: the tests before the last leave pmem1 unbound.
       .enabled(if: Live.hasDeviceMapper && FileManager.default.fileExists(atPath: "/sys/class/block/pmem0") && ProcessInfo.processInfo.environment["DMSTACK_KERNEL_BEHAVIOUR"] == "1",
                "needs the test VM's pass for kernel behaviour (Tests/VM/guest.sh sets DMSTACK_KERNEL_BEHAVIOUR=1): its unbinds leave filesystems behind"))
struct VMKernelBehaviourTests {
    static let probe = "/tmp/dmstack-sigbus-probe"

    /// The probe built once per boot from Tests/VM/sigbus-probe.c.
    static func buildProbe() throws {
        if FileManager.default.isExecutableFile(atPath: probe) { return }
        try Live.sh("cc -O2 -Wall -o \(probe) \(Live.packageRoot.path)/Tests/VM/sigbus-probe.c")
    }

    struct Probe {
        var role: String, pid: Int32, out: String
        /// `BUS_MCEERR_AO`, `BUS_MCEERR_AR`, ... or nil when it got no SIGBUS.
        var signal: String? {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            return text.split(separator: " ").first { $0.hasPrefix("code=") }.map { String($0.dropFirst(5)) }
        }
        var offset: Int? {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("offset=") }.flatMap { Int($0.dropFirst(7)) }
        }
    }

    static func start(_ mode: String, _ file: String, role: String, dir: String, extra: [String] = [], cleanup: inout [String]) throws -> Probe {
        let out = "\(dir)/\(role).sig"
        let p = try TestProcess.start(probe, [mode, file, out] + extra, inheritOutput: true)
        cleanup.append("kill -KILL \(p.processIdentifier) 2>/dev/null || true")
        var waited = 0
        while !FileManager.default.fileExists(atPath: "\(out).ready") && waited < 200 { usleep(50_000); waited += 1 }
        #expect(FileManager.default.fileExists(atPath: "\(out).ready"), "probe \(role) did not start")
        return Probe(role: role, pid: p.processIdentifier, out: out)
    }

    /// XFS (rmapbt, reflink) on `device`, mounted -o dax on a new directory; `a` (4 MiB), its
    /// reflinked copy `b`, `c` (4 MiB), `d` (1 MiB).
    static func filesystem(on device: String, cleanup: inout [String], unmount: Bool = true) throws -> String {
        let mnt = try Live.temporary("/tmp/dmstack-kb-XXXXXX", recursive: true, cleanup: &cleanup)
        try Live.sh("wipefs -q -a \(device); mkfs.xfs -q -f -m rmapbt=1,reflink=1 \(device) && mount -o dax \(device) \(mnt)")
        if unmount { cleanup.append("umount \(mnt)") }
        #expect(try Live.sh("findmnt -n -o OPTIONS \(mnt)").contains("dax"), "\(device) is not mounted with DAX")
        try Live.sh("""
            head -c 4194304 /dev/urandom > \(mnt)/a && cp --reflink=always \(mnt)/a \(mnt)/b && \
            head -c 4194304 /dev/urandom > \(mnt)/c && head -c 1048576 /dev/urandom > \(mnt)/d && sync
            """)
        return mnt
    }

    /// The pids `simulate` plans to kill (its `kill` actions), and the actions in order.
    static func plan(_ fs: [String: Any]?) -> (kills: Set<Int32>, actions: [String], reasons: [String]) {
        let actions = (fs?["actions"] as? [[String: Any]]) ?? []
        let kills = actions.filter { $0["action"] as? String == "kill" }.compactMap { a -> Int32? in
            guard let t = a["target"] as? String, let r = t.range(of: #"pid (\d+)"#, options: .regularExpression) else { return nil }
            return Int32(t[r].dropFirst(4))
        }
        return (Set(kills), actions.compactMap { $0["action"] as? String }, actions.compactMap { $0["reason"] as? String })
    }

    /// Kernel log lines since `mark` (a line count of dmesg) naming XFS on `name`.
    static func xfsLog(_ name: String, after mark: Int) throws -> [String] {
        try Live.sh("dmesg").split(separator: "\n").dropFirst(mark).map(String.init).filter { $0.contains("XFS (\(name))") }
    }
    static func dmesgMark() throws -> Int { try Live.sh("dmesg").split(separator: "\n").count }

    static func simulate(_ args: String) throws -> [String: Any] {
        // simulate may exit 2 (partial) on a whole-device impact; the JSON is still whole.
        let r = try TestProcess.shell("\(Live.dmstack) simulate \(args) --json")
        #expect(r.status == 0 || r.status == 2, "simulate \(args): \(r.stderr)")
        return try Live.document(r.stdout)["impact"] as! [String: Any]
    }

    /// Records what was seen, for the README's table and the log (`➜` lines are not counted).
    static func record(_ text: String) { print("kernel-behaviour \(try! Live.sh("uname -r").trimmed): \(text)") }

    func pfn(_ pmem: String) -> String {
        URL(fileURLWithPath: "/sys/class/block/\(pmem)/device").resolvingSymlinksInPath().lastPathComponent
    }

    // MARK: memory failure (MADV_HWPOISON) on one DAX page

    /// Direct XFS on pmem0: the poisoning task gets BUS_MCEERR_AR at the page; simulate's
    /// failure of that page's sectors names both reflink owners and plans a kill for it.
    @Test func aMemoryFailureOnADirectDaxPageSignalsTheToucher() throws {
        try Self.buildProbe()
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let mnt = try Self.filesystem(on: "/dev/pmem0", cleanup: &cleanup)
        let dir = try Live.temporary("/tmp/dmstack-kbp-XXXXXX", recursive: true, cleanup: &cleanup)
        let page = 5
        // The page's sectors on pmem0, from FIEMAP of `a` (one extent: XFS allocates 4 MiB at once).
        let fiemap = try Live.sh("xfs_io -c 'fiemap -v' \(mnt)/a").split(separator: "\n").dropFirst(2).first.map(String.init) ?? ""
        let block = try #require(fiemap.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first.flatMap { Int($0.split(separator: ".").first ?? "") },
                                 "fiemap of a: \(fiemap)")
        let sectors = "\(block + page * 8)+8"
        // Mappers of both reflink owners, then simulate "just before", then the poisoner (it
        // poisons at once). The mappers touched every page before the poison: the kernel's
        // late kill leaves them alone until they touch it again.
        let other = try Self.start("map", "\(mnt)/b", role: "reflink-mapper", dir: dir, cleanup: &cleanup)
        let witness = try Self.start("map", "\(mnt)/a", role: "a-mapper", dir: dir, cleanup: &cleanup)
        let impact = try Self.simulate("pmem0 --range \(sectors)")
        let mark = try Self.dmesgMark()
        let poisoner = try Self.start("poison", "\(mnt)/a", role: "poisoner", dir: dir, extra: ["\(page)"], cleanup: &cleanup)
        var waited = 0
        while poisoner.signal == nil && waited < 100 { usleep(100_000); waited += 1 }
        usleep(1_000_000)
        let fs = (impact["filesystems"] as? [[String: Any]])?.first
        let files = Set(((fs?["files"] as? [[String: Any]]) ?? []).compactMap { $0["path"] as? String })
        let (kills, _, reasons) = Self.plan(fs)
        Self.record("direct MADV_HWPOISON page \(page) of a (pmem0 \(sectors)): poisoner \(poisoner.signal ?? "none") offset \(poisoner.offset ?? -1), "
                    + "reflink mapper \(other.signal ?? "none"), a mapper \(witness.signal ?? "none"); log: \(try Self.xfsLog("pmem0", after: mark).joined(separator: " | ")); "
                    + "\((try? String(contentsOfFile: "\(poisoner.out).poison", encoding: .utf8))?.trimmed ?? "madvise did not return")")
        // The kernel: AR to the task that touched the page, at that page.
        #expect(poisoner.signal == "BUS_MCEERR_AR" && poisoner.offset.map { $0 / 4096 } == page)
        // dmstack: both reflink owners, every mapper of the page killed (the kernel's late kill
        // signals the others only once they touch it: the reason says AR vs AO).
        #expect(files.isSuperset(of: ["\(mnt)/a", "\(mnt)/b"]), "\(files)")
        #expect(kills.isSuperset(of: [witness.pid, other.pid]), "\(kills)")
        #expect(reasons.contains { $0.contains("BUS_MCEERR_AR") && $0.contains("early kill") })
        // A task the kernel signalled with no touch (early kill) would have to be in dmstack's list.
        for p in [other, witness] { if let s = p.signal { #expect(kills.contains(p.pid), "kernel sent \(s) to \(p.role), which dmstack did not list") } }
        #expect((fs?["kernel_alone"] as? String)?.contains("BUS_MCEERR_AR") == true)
    }

    /// Through a dm-linear: the generic per-page kill still reaches the toucher (AR); simulate
    /// says the kernel alone does only that.
    @Test func aMemoryFailureThroughDmLinearIsTheGenericPerPageKill() throws {
        try Self.buildProbe()
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        try Live.sh("dmsetup create kblin -u DMSTACK-kb:kblin --table \"0 $(blockdev --getsz /dev/pmem1) linear /dev/pmem1 0\"")
        cleanup.append("dmsetup remove kblin")
        let mnt = try Self.filesystem(on: "/dev/mapper/kblin", cleanup: &cleanup)
        let dir = try Live.temporary("/tmp/dmstack-kbp-XXXXXX", recursive: true, cleanup: &cleanup)
        let page = 3
        let fiemap = try Live.sh("xfs_io -c 'fiemap -v' \(mnt)/c").split(separator: "\n").dropFirst(2).first.map(String.init) ?? ""
        let block = try #require(fiemap.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first.flatMap { Int($0.split(separator: ".").first ?? "") })
        let name = try Live.sh("basename $(readlink -f /dev/mapper/kblin)").trimmed
        let witness = try Self.start("map", "\(mnt)/c", role: "c-mapper", dir: dir, cleanup: &cleanup)
        let impact = try Self.simulate("pmem1 --range \(block + page * 8)+8")
        let mark = try Self.dmesgMark()
        // `c` is not reflinked: a shared DAX page through dm oopses 6.12 (see the suite).
        let poisoner = try Self.start("poison", "\(mnt)/c", role: "poisoner", dir: dir, extra: ["\(page)"], cleanup: &cleanup)
        var waited = 0
        while poisoner.signal == nil && waited < 100 { usleep(100_000); waited += 1 }
        let fs = (impact["filesystems"] as? [[String: Any]])?.first
        let (kills, _, _) = Self.plan(fs)
        Self.record("dm-linear MADV_HWPOISON page \(page) of c: poisoner \(poisoner.signal ?? "none") offset \(poisoner.offset ?? -1); log: "
                    + "\(try Self.xfsLog(name, after: mark).joined(separator: " | ")); \((try? String(contentsOfFile: "\(poisoner.out).poison", encoding: .utf8))?.trimmed ?? "madvise did not return")")
        #expect(poisoner.signal == "BUS_MCEERR_AR" && poisoner.offset.map { $0 / 4096 } == page)
        #expect(kills.contains(witness.pid))
        // The kernel told no filesystem: nothing in XFS's log, and simulate says so.
        #expect(try Self.xfsLog(name, after: mark).filter { $0.lowercased().contains("shut") }.isEmpty)
        #expect((fs?["kernel_alone"] as? String)?.hasPrefix("the generic per-page kill") == true)
    }

    /// `dmstack remove` of the pmem under a dm-linear XFS does what the kernel does for a
    /// direct one (6.8+): every mapper gets SIGBUS, the filesystem stops; run before the
    /// unbinding tests, it leaves pmem1 bound again.
    @Test func dmstackRemoveThroughDmLinearSignalsTheMappers() throws {
        try Self.buildProbe()
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let pfn1 = pfn("pmem1")
        cleanup.append("[ -e /sys/class/block/pmem1 ] || echo \(pfn1) > /sys/bus/nd/drivers/nd_pmem/bind")
        try Live.sh("dmsetup create kbrm -u DMSTACK-kb:kbrm --table \"0 $(blockdev --getsz /dev/pmem1) linear /dev/pmem1 0\"")
        cleanup.append("dmsetup remove kbrm 2>/dev/null || true")
        let mnt = try Self.filesystem(on: "/dev/mapper/kbrm", cleanup: &cleanup)
        let dir = try Live.temporary("/tmp/dmstack-kbp-XXXXXX", recursive: true, cleanup: &cleanup)
        let probes = try [("map", "a"), ("map", "b"), ("map", "c"), ("open", "d")].map { mode, f in
            try Self.start(mode, "\(mnt)/\(f)", role: "\(mode)-\(f)", dir: dir, cleanup: &cleanup)
        }
        let impact = try Self.simulate("pmem1 --event remove")
        let fs = (impact["filesystems"] as? [[String: Any]])?.first
        let (kills, _, _) = Self.plan(fs)
        // What the kernel would do if told: every mapper on 6.8+, nobody under 6.0-6.7's rules.
        let old = (impact["kernel_rules"] as? [String: Any])?["set"] as? String == "6.0-6.7"
        #expect(kills == (old ? [] : Set(probes.filter { $0.role.hasPrefix("map") }.map(\.pid))), "simulate kills \(kills)")
        #expect((fs?["kernel_alone"] as? String)?.hasPrefix("nothing: ") == true)
        let r = try TestProcess.shell("\(Live.dmstack) remove pmem1 --yes --kill bus --state-dir \(dir)/state")
        #expect(r.status == 0 || r.status == 2, "remove: \(r.stdout)\(r.stderr)")
        var waited = 0
        while probes.contains(where: { $0.role.hasPrefix("map") && $0.signal == nil }) && waited < 50 { usleep(100_000); waited += 1 }
        Self.record("dmstack remove through dm-linear: " + probes.map { "\($0.role) \($0.signal ?? "none")" }.joined(separator: ", "))
        // Every mapper SIGBUS (dmstack sends it with kill(2): SI_USER, not BUS_MCEERR_AO); the
        // open-only holder too (remove signals holders: they would hold the unmount).
        for p in probes { #expect(p.signal != nil, "\(p.role) got nothing") }
        #expect((try? Live.sh("findmnt -n \(mnt)")) == nil, "still mounted")
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/block/pmem1"))
    }

    // MARK: unbind (last: the filesystems stay mounted)

    /// Through a dm-linear the kernel tells nobody: mappers keep running, XFS logs no
    /// notification (no xfs_dax_notify_failure, no forced unmount, no on-disk corruption);
    /// simulate said "kernel alone: nothing ... until I/O fails". 6.1 was seen shutting the
    /// filesystem down for a log write to the vanished device (SHUTDOWN_LOG_IO_ERROR, 0x2)
    /// within the two seconds: that is the I/O failing, not a notification.
    @Test func anUnbindThroughDmLinearReachesNobody() throws {
        try Self.buildProbe()
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        if !FileManager.default.fileExists(atPath: "/sys/class/block/pmem1") {
            try Live.sh("echo \(try Live.sh("ls /sys/bus/nd/devices | grep '^pfn1\\.' | head -1").trimmed) > /sys/bus/nd/drivers/nd_pmem/bind")
        }
        try Live.sh("dmsetup create kbun -u DMSTACK-kb:kbun --table \"0 $(blockdev --getsz /dev/pmem1) linear /dev/pmem1 0\"")
        let mnt = try Self.filesystem(on: "/dev/mapper/kbun", cleanup: &cleanup, unmount: false)
        let name = try Live.sh("basename $(readlink -f /dev/mapper/kbun)").trimmed
        let dir = try Live.temporary("/tmp/dmstack-kbp-XXXXXX", recursive: true, cleanup: &cleanup)
        let probes = try [("map", "a"), ("map", "b"), ("open", "d")].map { mode, f in
            try Self.start(mode, "\(mnt)/\(f)", role: "\(mode)-\(f)", dir: dir, cleanup: &cleanup)
        }
        let fs = (try Self.simulate("pmem1 --event remove")["filesystems"] as? [[String: Any]])?.first
        let mark = try Self.dmesgMark()
        try Live.sh("echo \(pfn("pmem1")) > /sys/bus/nd/drivers/nd_pmem/unbind")
        usleep(2_000_000)
        let log = try Self.xfsLog(name, after: mark)
        Self.record("unbind through dm-linear: " + probes.map { "\($0.role) \($0.signal ?? "none")" }.joined(separator: ", ") + "; XFS log: \(log.isEmpty ? "nothing" : log.joined(separator: " | "))")
        for p in probes { #expect(p.signal == nil, "\(p.role) got \(p.signal ?? "")") }
        #expect(log.filter { $0.contains("notify") || $0.contains("User initiated") || $0.contains("on-disk metadata") }.isEmpty, "\(log)")
        #expect((fs?["kernel_alone"] as? String)?.hasPrefix("nothing: ") == true)
    }

    /// Directly on pmem0: what the kernel did on unbind (signals, shutdown) is what simulate
    /// said under the running kernel's rules: 6.1 shuts down only, 6.12 signals every mapper
    /// BUS_MCEERR_AO, leaves the open-only holder alone and shuts down.
    @Test func anUnbindUnderDirectXFSDoesWhatSimulateSaid() throws {
        try Self.buildProbe()
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let mnt = try Self.filesystem(on: "/dev/pmem0", cleanup: &cleanup, unmount: false)
        let dir = try Live.temporary("/tmp/dmstack-kbp-XXXXXX", recursive: true, cleanup: &cleanup)
        let probes = try [("map", "a"), ("map", "b"), ("map", "c"), ("open", "d")].map { mode, f in
            try Self.start(mode, "\(mnt)/\(f)", role: "\(mode)-\(f)", dir: dir, cleanup: &cleanup)
        }
        let impact = try Self.simulate("pmem0 --event remove")
        let rules = impact["kernel_rules"] as? [String: Any]
        let release = try Live.sh("uname -r").trimmed
        #expect(rules?["source"] as? String == "running" && rules?["kernel"] as? String == release)
        let fs = (impact["filesystems"] as? [[String: Any]])?.first
        let (kills, actions, reasons) = Self.plan(fs)
        let mark = try Self.dmesgMark()
        try Live.sh("echo \(pfn("pmem0")) > /sys/bus/nd/drivers/nd_pmem/unbind")
        usleep(2_000_000)
        let log = try Self.xfsLog("pmem0", after: mark)
        let shutDown = log.contains { $0.lowercased().contains("shut") }
        Self.record("unbind under direct XFS (rules \(rules?["set"] ?? "?")): " + probes.map { "\($0.role) \($0.signal ?? "none")" }.joined(separator: ", ")
                    + "; XFS log: \(log.joined(separator: " | ")); simulate actions: \(actions.joined(separator: ", "))")
        let signalled = Set(probes.filter { $0.signal != nil }.map(\.pid))
        // Every process the kernel signalled is in dmstack's list, and no other.
        #expect(signalled == kills, "kernel signalled \(signalled), simulate kills \(kills)")
        // The same signal kind: simulate's kill reasons say BUS_MCEERR_AO for pre-remove.
        for p in probes where p.signal != nil {
            #expect(p.signal == "BUS_MCEERR_AO" && reasons.contains { $0.contains("BUS_MCEERR_AO") }, "\(p.role) got \(p.signal ?? "")")
        }
        // Shut down exactly when simulate says so; the order of simulate's actions is the kernel's.
        #expect(shutDown == actions.contains("shutdown"), "log: \(log)")
        let order = actions.filter { ["freeze", "shutdown", "thaw"].contains($0) }
        #expect(order == ["freeze", "shutdown", "thaw"] || order == ["shutdown"], "\(actions)")
        // The open-only holder: never signalled by the kernel.
        #expect(probes.first { $0.role == "open-d" }?.signal == nil)
    }
}
