import Foundation
import Testing

/// `dmstack holders` on real filesystems and loop devices: XFS (with external log and
/// realtime devices), ext4, partitions, a raw holder whose device goes away, 8 processes
/// writing at once, and a damaged registry. Root and loop devices; host and VM.
@Suite("Live: holder registry", .serialized, .enabled(if: Live.hasLoop, "needs root and /dev/loop-control"))
struct HolderLiveTests {
    func trimmed(_ s: String) -> String { s.trimmed }

    /// A fresh state directory for one test (removed by cleanup) and the option naming it.
    func stateDir(_ cleanup: inout [String]) throws -> String {
        "--state-dir \(try Live.temporary("/tmp/dmstack-state-XXXXXX", recursive: true, cleanup: &cleanup))"
    }

    func mountDir(_ cleanup: inout [String]) throws -> String {
        try Live.temporary("/tmp/dmstack-mnt-XXXXXX", cleanup: &cleanup)
    }

    func holder(_ name: String, _ state: String) throws -> [String: Any] {
        try Live.json("holders show --json \(name) \(state)")["holder"] as! [String: Any]
    }

    /// "role: leaf>...>top" per chain, by kernel name, from `holders show --json`.
    func chains(_ h: [String: Any]) -> [String] {
        let names = Dictionary(uniqueKeysWithValues: (h["layers"] as! [[String: Any]]).map {
            ($0["identity"] as! String, ($0["device"] as! [String: Any])["kernel_name"] as! String)
        })
        return (h["chains"] as! [[String: Any]]).map { c in
            "\(c["role"]!): " + (c["path"] as! [String]).map { names[$0]! }.joined(separator: ">")
        }.sorted()
    }

    /// `dmstack ARGS`, expected to fail: (exit status, stderr + stdout).
    func failing(_ arguments: String) -> (Int32, String) {
        do { _ = try Live.sh("\(Live.dmstack) \(arguments)"); return (0, "") } catch let e as Live.CommandError {
            return (e.status, e.output)
        } catch { return (-1, "\(error)") }
    }

    @Test func xfsWithExternalLogAndRealtimeHasAChainPerDevice() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let state = try stateDir(&cleanup)
        let data = try Live.loop(size: "320M", cleanup: &cleanup)
        let log = try Live.loop(size: "64M", cleanup: &cleanup)
        let rt = try Live.loop(size: "64M", cleanup: &cleanup)
        let mnt = try mountDir(&cleanup)
        // A kernel without CONFIG_XFS_RT refuses a realtime section (ENOSYS, as this CI
        // host's does): then the log alone is checked.
        try Live.sh("mkfs.xfs -q -f -l logdev=\(log) -r rtdev=\(rt) \(data)")
        let realtime = (try? Live.sh("mount -o logdev=\(log),rtdev=\(rt) \(data) \(mnt)")) != nil
        if !realtime {
            try Live.sh("mkfs.xfs -q -f -l logdev=\(log) \(data)")
            try Live.sh("mount -o logdev=\(log) \(data) \(mnt)")
        }
        cleanup.append("umount \(mnt)")
        let out = try Live.sh("\(Live.dmstack) holders register \(mnt) \(state)")
        #expect(out.hasPrefix("registered \(mnt): \(realtime ? 3 : 2) chains"), "\(out)")
        let h = try holder(mnt, state)
        let k = { (dev: String) in String(dev.dropFirst(5)) }
        #expect(chains(h) == ["data: \(k(data))", "log: \(k(log))"] + (realtime ? ["realtime: \(k(rt))"] : []))
        let fs = h["filesystem"] as! [String: Any]
        let uuid = trimmed(try Live.sh("blkid -p -o value -s UUID \(data)"))
        #expect(fs["type"] as? String == "xfs" && fs["uuid"] as? String == uuid && fs["mountpoint"] as? String == mnt)
        let bsize = trimmed(try Live.sh("xfs_info \(mnt) | sed -n 's/^data *= *bsize=\\([0-9]*\\).*/\\1/p'"))
        #expect(fs["block_size"] as? Int == Int(bsize), "xfs_info says bsize=\(bsize)")
        // Each leaf is known by its backing file, which survives a reboot, not by loopN.
        let ids = (h["layers"] as! [[String: Any]]).map { $0["identity"] as! String }
        #expect(ids.allSatisfy { $0.hasPrefix("loop:/tmp/dmstack-test-") }, "\(ids)")
        // The same filesystem by device and by UUID is the same entry, not a new one.
        #expect(try Live.sh("\(Live.dmstack) holders register \(data) \(state)").hasPrefix("updated \(mnt)"))
        #expect(try Live.sh("\(Live.dmstack) holders register UUID=\(uuid) \(state)").hasPrefix("updated \(mnt)"))
        let list = try Live.json("holders list --json \(state)")["holders"] as! [[String: Any]]
        #expect(list.map { $0["name"] as! String } == [mnt] && list[0]["state"] as? String == "ok" && list[0]["chains"] as? Int == (realtime ? 3 : 2))
        // Text form: a tree per leaf with its role.
        let text = try Live.sh("\(Live.dmstack) holders show \(mnt) \(state)")
        #expect(text.contains("leaf \(k(log)) (") && text.contains("[log]") && text.contains("[realtime]") == realtime, "\(text)")
        #expect(try Live.sh("\(Live.dmstack) holders unregister \(uuid) \(state)") == "unregistered \(mnt)\n")
        #expect(failing("holders show \(mnt) \(state)").0 == 1)
    }

    @Test func ext4ByUUIDUnmountedThenMounted() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let state = try stateDir(&cleanup)
        let dev = try Live.loop(size: "64M", cleanup: &cleanup)
        // udev re-probes after mkfs; dmstack reads udev's record (as lsblk does), so wait for it.
        try Live.sh("mkfs.ext4 -q -F -b 2048 \(dev) && (udevadm settle 2>/dev/null || true)")
        let uuid = trimmed(try Live.sh("blkid -p -o value -s UUID \(dev)"))
        #expect(try Live.sh("\(Live.dmstack) holders register \(uuid) \(state)").hasPrefix("registered UUID=\(uuid): 1 chain from \(dev.dropFirst(5))"))
        var fs = try holder("UUID=\(uuid)", state)["filesystem"] as! [String: Any]
        #expect(fs["block_size"] as? Int == 2048 && fs["mountpoint"] == nil, "block size from the ext4 superblock")
        let mnt = try mountDir(&cleanup)
        try Live.sh("mount \(dev) \(mnt)"); cleanup.append("umount \(mnt)")
        // Not refreshed yet: show says what changed; refresh records it.
        let h = try holder(uuid, state)
        #expect(h["pending_changes"] as? [String] == ["mounted on \(mnt)"])
        let refresh = try Live.json("holders refresh --json \(state)")["refresh"] as! [String: Any]
        #expect((refresh["holders"] as! [[String: Any]]).map { $0["changes"] as! [String] } == [["mounted on \(mnt)"]])
        fs = try holder(uuid, state)["filesystem"] as! [String: Any]
        #expect(fs["mountpoint"] as? String == mnt && fs["block_size"] as? Int == 2048)
        #expect(try holder(uuid, state)["pending_changes"] as? [String] == [])
    }

    @Test(.enabled(if: Live.loopPartitionsWork, "this kernel does not scan loop partitions; the VM run covers it"))
    func aFilesystemOnAPartition() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let state = try stateDir(&cleanup)
        let disk = try Live.loop(size: "128M", partitioned: true, cleanup: &cleanup)
        try Live.sh("printf 'label: gpt\\n,\\n' | sfdisk -q \(disk) && udevadm settle 2>/dev/null; sleep 0.3")
        try Live.sh("mkfs.ext4 -q -F \(disk)p1")
        let mnt = try mountDir(&cleanup)
        try Live.sh("mount \(disk)p1 \(mnt)"); cleanup.append("umount \(mnt)")
        _ = try Live.sh("\(Live.dmstack) holders register \(mnt) \(state)")
        let h = try holder(mnt, state)
        let name = String(disk.dropFirst(5))
        #expect(chains(h) == ["data: \(name)>\(name)p1"])
        let partuuid = trimmed(try Live.sh("blkid -p -o value -s PART_ENTRY_UUID \(disk)p1"))
        #expect((h["layers"] as! [[String: Any]]).contains { $0["identity"] as? String == "partuuid:\(partuuid)" })
    }

    @Test func aRawHolderWhoseDeviceGoesIsKeptAsGone() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let state = try stateDir(&cleanup)
        let file = trimmed(try Live.sh("mktemp /tmp/dmstack-test-XXXXXX.img"))
        cleanup.append("rm -f \(file)")
        try Live.sh("truncate -s 16M \(file)")
        let dev = trimmed(try Live.sh("losetup -f --show \(file)"))
        let detach = "losetup -d \(dev) 2>/dev/null || true"
        cleanup.append(detach)
        #expect(try Live.sh("\(Live.dmstack) holders register --raw \(dev) --name app --hook '/bin/echo hit' \(state)")
            .hasPrefix("registered app: 1 chain from \(dev.dropFirst(5))"))
        #expect(try holder("app", state)["hook"] as? [String] == ["/bin/echo", "hit"])
        try Live.sh(detach)
        // Gone from the machine, not from the registry: show marks it before any refresh...
        var h = try holder("app", state)
        #expect(h["state"] as? String == "gone")
        #expect((h["leaves"] as! [[String: Any]]).map { $0["state"] as! String } == ["gone"])
        #expect(try Live.sh("\(Live.dmstack) holders show app \(state)").contains("GONE"))
        // ...and refresh records it, with the time, in the history.
        let out = try Live.sh("\(Live.dmstack) holders refresh app \(state)")
        #expect(out.contains("app: gone") && out.contains("\(dev.dropFirst(5))") && out.contains("not found"), "\(out)")
        h = try holder("app", state)
        #expect(chains(h) == ["data: \(dev.dropFirst(5))"])
        #expect((h["layers"] as! [[String: Any]])[0]["since"] as? String != nil)
        #expect((h["history"] as! [[String: Any]]).map { $0["change"] as! String }.contains { $0.hasSuffix("gone") })
    }

    /// 8 processes, 200 rounds each, of `holders register` and `holders refresh` on one
    /// registry: every call succeeds and every entry is there at the end.
    /// Host only: under the VM's emulated CPU the 3,400 runs take 20 minutes, and SQLite's
    /// locking is the same there.
    @Test(.enabled(if: !Live.inVM, "host only (3,400 dmstack runs; 20 minutes under the VM's emulated CPU)"))
    func eightProcessesRegisteringAndRefreshingAtOnce() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let state = try stateDir(&cleanup)
        let dev = try Live.loop(size: "16M", cleanup: &cleanup)
        let errors = trimmed(try Live.sh("mktemp /tmp/dmstack-errors-XXXXXX"))
        cleanup.append("rm -f \(errors)")
        // xargs -P, not `&` and `wait`: a shell started from the test process inherits its
        // blocked SIGCHLD, and its `wait` would never see the workers end.
        let worker = """
            for r in $(seq 0 199); do
                \(Live.dmstack) holders register --raw \(dev) --name w$1-$r \(state) >/dev/null 2>>\(errors) || echo "w$1-$r register failed" >>\(errors)
                if [ $r -gt 0 ]; then
                    \(Live.dmstack) holders refresh w$1-$((r - 1)) \(state) >/dev/null 2>>\(errors) || echo "w$1-$r refresh failed" >>\(errors)
                fi
                if [ $((r % 50)) -eq 49 ]; then \(Live.dmstack) holders refresh \(state) >/dev/null 2>>\(errors) || echo "full refresh failed" >>\(errors); fi
            done
            """
        let script = "seq 0 7 | xargs -P 8 -I{} sh -c '\(worker)' worker {}"
        try Live.sh(script)
        #expect(try Live.sh("cat \(errors)") == "")
        let list = try Live.json("holders list --json \(state)")["holders"] as! [[String: Any]]
        #expect(list.count == 1600)
        #expect(Set(list.map { $0["name"] as! String }) == Set((0..<8).flatMap { w in (0..<200).map { "w\(w)-\($0)" } }))
        #expect(list.allSatisfy { $0["state"] as? String == "ok" })
    }

    /// A filesystem the probe could not open (another user, no udev to answer for it) is
    /// said as that, with the reason, not as "holds no filesystem"; the schema documents the
    /// snapshot's `probe_error`.
    @Test(.enabled(if: !FileManager.default.fileExists(atPath: "/run/udev/data") && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                   "udev answers for the device, so nothing is probed"))
    func aProbeThatCannotOpenTheDeviceSaysWhy() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let dir = try Live.temporary("/tmp/dmstack-state-XXXXXX", recursive: true, cleanup: &cleanup)
        try Live.sh("chown nobody \(dir)")
        let dev = try Live.loop(size: "32M", cleanup: &cleanup)
        // The node as udev makes it (0660 root:disk); something may have left it open to all.
        try Live.sh("mkfs.ext4 -q \(dev) && chmod 0660 \(dev)")
        let asNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups \(Live.dmstack)"
        do { try Live.sh("\(asNobody) holders register \(dev) --state-dir \(dir)/state"); Issue.record("registered without reading the device") } catch let e as Live.CommandError {
            #expect(e.status == 1 && e.output == "dmstack: cannot probe \(dev) for its filesystem: Permission denied (run as root)\n", "\(e.output)")
        }
        let captured = try Live.sh("\(asNobody) capture --state-dir \(dir)/state 2>/dev/null")
        #expect(captured.contains("\"probe_error\" : \"Permission denied\""), "capture does not say the probe failed")
    }

    @Test func badRegistriesAndTargetsGetOneLine() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let dir = try Live.temporary("/tmp/dmstack-state-XXXXXX", recursive: true, cleanup: &cleanup)
        let dev = try Live.loop(size: "16M", cleanup: &cleanup)
        try Live.sh("\(Live.dmstack) holders register --raw \(dev) --name app --state-dir \(dir)")
        // A damaged file: status 1 (a registry that cannot be read), the file named, the way out given.
        try Live.sh("dd if=/dev/urandom of=\(dir)/registry.db bs=4096 count=4 conv=notrunc status=none; rm -f \(dir)/registry.db-wal \(dir)/registry.db-shm")
        var (status, message) = failing("holders list --state-dir \(dir)")
        #expect(status == 1 && message.contains("\(dir)/registry.db is corrupt") && message.contains("--rebuild"), "\(message)")
        #expect(message.split(separator: "\n").count == 1)
        let rebuilt = try Live.sh("\(Live.dmstack) holders refresh --rebuild --state-dir \(dir)")
        #expect(rebuilt.contains("moved the damaged registry to \(dir)/registry.db.corrupt-"), "\(rebuilt)")
        #expect(try Live.json("holders list --json --state-dir \(dir)")["holders"] as? [Any] != nil)
        // Not a mountpoint, nothing there, no filesystem, a name taken: one line each.
        (status, message) = failing("holders register \(dir) --state-dir \(dir)")
        #expect(status == 1 && message == "dmstack: \(dir) is not a mountpoint\n")
        (status, message) = failing("holders register /dev/nonexistent --state-dir \(dir)")
        #expect(status == 1 && message == "dmstack: no block device '/dev/nonexistent'\n")
        (status, message) = failing("holders register \(dev) --state-dir \(dir)")
        #expect(status == 1 && message.contains("holds no filesystem") && message.contains("--raw"), "\(message)")
        try Live.sh("\(Live.dmstack) holders register --raw \(dev) --name app --state-dir \(dir)")
        try Live.sh("mkfs.ext4 -q -F \(dev) && (udevadm settle 2>/dev/null || true)")
        (status, message) = failing("holders register \(dev) --name app --state-dir \(dir)")
        #expect(status == 3 && message.contains("holder 'app' is already registered"), "\(message)")
        (status, message) = failing("holders register --raw \(dev) --state-dir \(dir)")
        #expect(status == 64 && message.contains("--raw needs --name"))
        // A state directory that cannot be made.
        (status, message) = failing("holders register --raw \(dev) --name x --state-dir /proc/dmstack")
        #expect(status == 1 && message.contains("cannot create state directory /proc/dmstack"), "\(message)")
    }
}
