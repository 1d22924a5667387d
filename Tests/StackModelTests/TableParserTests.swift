import StackModel
import Testing

@Suite("Table parsing")
struct TableParserTests {
    @Test func unnamedTableIsTop() throws {
        let set = try TableSet.parse("0 2048 linear /dev/pmem0 0\n")
        #expect(set.names == ["top"])
        #expect(set.tables["top"]!.targets[0].kind as? LinearTarget == LinearTarget(device: "/dev/pmem0", offset: 0))
    }

    @Test func namedMultiDeviceOutputAsDmsetupPrintsIt() throws {
        let text = """
        vg-lv: 0 409600 linear 8:16 2048
        vg-lv: 409600 409600 linear 8:32 2048
        empty:
        other: 0 100 zero
        """
        let set = try TableSet.parse(text)
        #expect(set.names == ["vg-lv", "empty", "other"])
        #expect(set.tables["vg-lv"]!.size == 819200)
        #expect(set.tables["empty"]!.targets.isEmpty)
        #expect(set.tables["vg-lv"]!.memberDevices == ["8:16", "8:32"])
    }

    /// Examples from the kernel's Documentation/admin-guide/device-mapper/*.rst.
    @Test(arguments: [
        ("0 2097152 linear /dev/sda 0", "linear"),
        ("0 1027584 striped 2 256 /dev/hda 0 /dev/hdb 0", "striped"),  // striped.rst, made valid (see StripedRaidTests)
        ("0 1028160 mirror core 1 1024 2 /dev/sda 0 /dev/sdb 0 1 handle_errors", "mirror"),
        ("0 1960893648 raid raid4 1 2048 5 - 8:17 - 8:33 - 8:49 - 8:65 - 8:81", "raid"), // dm-raid.rst
        ("0 1960893648 raid raid4 4 2048 sync min_recovery_rate 20 5 8:17 8:18 8:33 8:34 8:49 8:50 8:65 8:66 8:81 8:82", "raid"),
        ("0 2097152 crypt aes-cbc-essiv:sha256 babebabebabebabebabebabebabebabe 0 /dev/sdb 0", "crypt"), // dm-crypt.rst
        ("0 2097152 crypt aes-xts-plain64 :32:logon:my_prefix:my_key 0 /dev/sdb 0 2 allow_discards sector_size:4096", "crypt"),
        ("0 2097152 delay /dev/sdb 0 500", "delay"), // delay.rst
        ("0 2097152 delay /dev/sdb 0 0 /dev/sdc 0 500", "delay"),
        ("0 2097152 flakey /dev/sdb 0 30 30 1 drop_writes", "flakey"),
        ("0 2097152 zero", "zero"),
        ("0 2097152 error", "error"),
        ("0 71014400 multipath 0 0 4 1 round-robin 0 1 1 8:48 1000 round-robin 0 1 1 8:64 1000 round-robin 0 1 1 8:80 1000 round-robin 0 1 1 8:96 1000", "multipath"),
        ("0 71014400 multipath 2 queue_if_no_path pg_init_retries 1 alua 1 1 service-time 0 2 2 8:48 1 100 8:32 1 100", "multipath"),
        ("0 2097152 snapshot-origin /dev/vg/base", "snapshot-origin"), // snapshot.rst
        ("0 2097152 snapshot /dev/vg/base /dev/vg/cow P 16", "snapshot"),
        ("0 2097152 snapshot-merge /dev/vg/base /dev/vg/cow PO 16", "snapshot-merge"),
        ("0 20971520 thin-pool /dev/sdc1 /dev/sdc2 128 32768 1 skip_block_zeroing", "thin-pool"), // thin-provisioning.rst
        ("0 2097152 thin /dev/mapper/pool 0", "thin"),
        ("0 2097152 thin /dev/mapper/pool 1 /dev/image", "thin"),
        ("0 41943040 cache /dev/mapper/metadata /dev/mapper/ssd /dev/mapper/origin 512 1 writeback default 0", "cache"), // cache.rst
        ("0 41943040 cache /dev/mapper/metadata /dev/mapper/ssd /dev/mapper/origin 1024 1 writeback mq 4 sequential_threshold 1024 random_threshold 8", "cache"),
        ("0 41943040 writecache p /dev/mapper/origin /dev/pmem0 4096 0", "writecache"), // writecache.rst
        ("0 41943040 writecache s /dev/sdb /dev/sdc 4096 4 start_sector 2048 high_watermark 50", "writecache"),
        ("0 2097152 integrity /dev/sdb 0 4 J 2 journal_sectors:8192 interleave_sectors:32768", "integrity"),
        ("0 1000 partition /dev/sda 2048", "partition"),
    ])
    func kernelDocumentationExamples(line: String, type: String) throws {
        let set = try TableSet.parse(line)
        #expect(set.tables["top"]!.targets[0].typeName == type)
        #expect(set.warnings.isEmpty)
        // Each type prints its arguments back as the kernel's table form: emit(parse(x)) == x.
        #expect(set.tables["top"]!.targets[0].line == line)
        #expect(TargetTypes.type(named: type) != nil)
    }

    @Test func raidParameters() throws {
        let t = try TableSet.parse("0 819200 raid raid10 5 64 raid10_copies 3 raid10_format far 3 - /dev/a - /dev/b - /dev/c").tables["top"]!.targets[0]
        guard let r = t.kind as? RaidTarget else { Issue.record("not raid"); return }
        #expect(r.level == 10 && r.raid10Copies == 3 && r.raid10Format == .far && r.chunkSectors == 64)
        #expect(t.members.map(\.device) == ["/dev/a", "/dev/b", "/dev/c"])
        let meta = try TableSet.parse("0 409600 raid raid1 3 0 region_size 1024 2 /dev/m0 /dev/d0 /dev/m1 /dev/d1").tables["top"]!.targets[0]
        #expect(meta.members.map(\.role) == [.metadata, .data, .metadata, .data])
    }

    @Test func memberRolesForDynamicTargets() throws {
        let t = try TableSet.parse("0 100 cache /dev/meta /dev/ssd /dev/slow 64 1 writethrough smq 0").tables["top"]!.targets[0]
        #expect(t.members.map(\.role) == [.metadata, .cache, .origin])
        guard let c = t.kind as? CacheTarget else { Issue.record("not cache"); return }
        #expect(c.writeback == false && c.policy == "smq")
    }

    @Test func opaqueTargetKeepsItsDevices() throws {
        let set = try TableSet.parse("era0: 0 2048 era /dev/meta 253:4 8192")
        #expect((set.tables["era0"]!.targets[0].kind as? OpaqueTarget)?.devices == ["/dev/meta", "253:4"])
        #expect(set.tables["era0"]!.targets[0].typeName == "era")
        #expect(set.warnings.count == 1)
        #expect(set.warnings[0].contains("unknown target type 'era'"))
    }

    /// Every malformed line names its line and its field.
    @Test(arguments: [
        ("0 x linear /dev/a 0", "line 1: length"),
        ("0 0 linear /dev/a 0", "line 1: length: must be greater than zero"),
        ("0 10 linear /dev/a", "line 1: linear offset: missing"),
        ("0 10 linear /dev/a 0 extra", "line 1: linear arguments: unexpected extra word 'extra'"),
        ("0 10", "line 1: target type: missing"),
        ("0 10 striped 2 0 /dev/a 0 /dev/b 0", "line 1: striped chunk size: must be greater than zero"),
        ("0 9 striped 2 8 /dev/a 0 /dev/b 0", "line 1: striped stripe count: target length 9 is not divisible by 2 stripes"),
        ("0 24 striped 2 8 /dev/a 0 /dev/b 0", "line 1: striped chunk size: target length per stripe 12 is not divisible by chunk size 8"),
        ("0 16 striped 2 8 /dev/a 0", "line 1: striped stripe 1 device: missing"),
        ("0 16 raid raid7 1 8 2 - /dev/a - /dev/b", "line 1: raid raid type: unknown raid type 'raid7'"),
        ("0 16 raid raid5_ls 1 12 3 - /dev/a - /dev/b - /dev/c", "line 1: raid chunk size: 12 is not a power of two"),
        ("0 16 raid raid5_ls 2 8 bogus 3 - /dev/a - /dev/b - /dev/c", "line 1: raid raid parameter: unknown parameter 'bogus'"),
        ("0 16 raid raid1 1 0 2 /dev/m - - /dev/b", "line 1: raid leg 0 data device: a metadata device needs a data device"),
        ("0 16 snapshot /dev/a /dev/b X 8", "line 1: snapshot persistent flag: expected P, N or PO, got 'X'"),
        ("0 16 writecache p /dev/a /dev/b 1000 0", "line 1: writecache block size: 1000 is not a power of two"),
        ("0 16 linear /dev/a 0\n16 8 linear /dev/b 0\n32 8 linear /dev/c 0", "line 3: start: device top: target at sector 32 leaves a gap"),
        ("a: 0 8 linear /dev/x 0\n0 8 linear /dev/y 0", "line 2: name: mixes named"),
        ("0 16 multipath 0 0 1 1 round-robin 0 2 1 8:16 1000", "line 1: multipath group 1 path 1 device: missing"),
    ])
    func malformedLinesNameLineAndField(text: String, message: String) {
        #expect(throws: TableParseError.self) { try TableSet.parse(text) }
        do { _ = try TableSet.parse(text) } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }
}

@Suite("Table secrets")
struct TableSecretsTests {
    @Test(arguments: [
        ("0 819200 crypt aes-xts-plain64 0123456789abcdef0123456789abcdef 0 253:0 0", "0 819200 crypt aes-xts-plain64 00000000000000000000000000000000 0 253:0 0"),
        ("0 8 crypt aes-xts-plain64 :32:logon:my:key 0 8:0 0 1 allow_discards", "0 8 crypt aes-xts-plain64 :32:logon:my:key 0 8:0 0 1 allow_discards"),
        ("0 8 integrity 8:0 0 32 J 2 internal_hash:hmac(sha256):abcd journal_sectors:8", "0 8 integrity 8:0 0 32 J 2 internal_hash:hmac(sha256):0000 journal_sectors:8"),
        ("0 8 linear 8:0 0", "0 8 linear 8:0 0"),
    ])
    func keysAreMaskedAsDmsetupDoes(line: String, masked: String) throws {
        #expect(TableSecrets.mask(line) == masked)
        _ = try TableSet.parse(TableSecrets.mask(line)) // still a valid table
    }
}

@Suite("State from dm status")
struct StateTests {
    func state(_ status: String, table: String) -> [String] {
        let d = BlockDevice(kernelName: "dm-0", major: 254, minor: 0, size: 8,
                            dm: DeviceMapperInfo(name: "x", uuid: "", suspended: false, openCount: 0, table: [table], status: [status], deps: []))
        let snapshot = SystemSnapshot(host: HostInfo(hostname: "h", kernel: "k", capturedAt: "t", dmstackVersion: "0"), devices: [d], mounts: [], pmem: PmemInventory())
        return Inventory(snapshot).state(of: d)
    }

    @Test(arguments: [
        ("0 8 raid raid1 2 AA 8/8 idle 0 0 -", [String]()),
        ("0 8 raid raid1 2 A- 8/8 idle 0 0 -", ["degraded"]),
        ("0 8 raid raid5_ls 3 ADA 8/8 idle 0 0 -", ["degraded"]),
        ("0 8 raid raid1 2 Aa 4/8 recover 0 0 -", ["recovering"]),
    ])
    func raidHealth(status: String, expected: [String]) {
        #expect(state(status, table: "0 8 raid raid1 1 0 2 - 7:0 - 7:1") == expected)
    }

    @Test(arguments: [
        ("0 8 mirror 2 7:0 7:1 8/8 1 AA 1 core", [String]()),
        ("0 8 mirror 2 7:0 7:1 8/8 1 AD 1 core", ["degraded"]),
        ("0 8 mirror 2 7:0 7:1 8/8 1 SA 1 core", ["degraded"]),
    ])
    func mirrorHealth(status: String, expected: [String]) {
        #expect(state(status, table: "0 8 mirror core 1 1024 2 7:0 0 7:1 0") == expected)
    }

    @Test func malformedStatusNeverTraps() {
        for status in ["0 8 mirror -5 a b c d", "0 8 mirror 9223372036854775807 x", "0 8 mirror 2", "0 8 raid raid1", "0 8 mirror"] {
            _ = state(status, table: "0 8 linear 7:0 0")
        }
    }

    @Test func otherStates() {
        #expect(state("0 8 snapshot Invalid", table: "0 8 snapshot 7:0 7:1 P 8") == ["invalid"])
        #expect(state("0 8 thin-pool Fail", table: "0 8 thin-pool 7:0 7:1 128 0") == ["failed"])
        #expect(state("0 8 multipath 2 0 0 0 1 1 A 0 2 0 8:16 A 0 8:32 F 1", table: "0 8 multipath 0 0 1 1 round-robin 0 2 1 8:16 1 8:32 1") == ["degraded"])
    }
}
