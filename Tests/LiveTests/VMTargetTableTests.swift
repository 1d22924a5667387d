import Foundation
import StackModel
import Testing

/// Every dm target type dmstack registers, created for real in the test VM: what the kernel
/// prints as its table (`dmsetup table`, the kernel's `*_status` STATUSTYPE_TABLE) must parse
/// into that type and print back word for word (emit(parse(x)) == x), so the typed values
/// `apply` compares are the kernel's own.
@Suite("VM: the kernel's printed tables", .serialized, .enabled(if: Live.hasDeviceMapper, "needs root and device-mapper (runs in the test VM: make test-vm)"))
struct VMTargetTableTests {
    @Test func everyTargetTypePrintsBackAsTheKernelPrintsIt() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        try Live.sh("for m in dm-mirror dm-raid dm-snapshot dm-thin-pool dm-crypt dm-delay dm-flakey dm-cache dm-cache-smq dm-writecache dm-integrity dm-multipath dm-round-robin raid10 crc32c; do modprobe $m 2>/dev/null || true; done")
        let l = try (0..<4).map { _ in try Live.loop(size: "48M", cleanup: &cleanup) }
        func create(_ name: String, _ table: String) throws {
            try Live.sh("printf '%s\\n' '\(table.replacingOccurrences(of: " | ", with: "' '"))' | dmsetup create tt-\(name) || { dmesg | tail -3 >&2; exit 1; }")
            cleanup.append("dmsetup remove --retry tt-\(name)")
        }
        func dev(_ name: String) -> String { "/dev/mapper/tt-\(name)" }
        // Building blocks: 8 MiB slices of new (sparse, so zeroed) loops. Slices that only
        // redundancy targets read (nosync) are shared; every target that writes metadata on
        // creation (COW header, pool, cache and writecache superblocks, integrity) has its own.
        for i in 0..<18 { try create("s\(i)", "0 16384 linear \(l[i % 4]) \(16384 * (i / 4) + 2048)") }
        try create("linear", "0 8192 linear \(l[0]) 0 | 8192 8192 linear \(l[1]) 0")
        try create("striped", "0 16384 striped 2 128 \(dev("s0")) 0 \(dev("s1")) 0")
        try create("mirror", "0 8192 mirror core 2 1024 nosync 2 \(dev("s0")) 0 \(dev("s1")) 0 1 handle_errors")
        try create("raid1", "0 16384 raid raid1 3 0 region_size 1024 2 - \(dev("s0")) - \(dev("s1"))")
        try create("raid5", "0 32768 raid raid5_ls 2 128 nosync 3 - \(dev("s0")) - \(dev("s1")) - \(dev("s2"))")
        // Debian's 6.1 refuses a dm-raid raid10 without metadata devices ("md/raid10:mdX:
        // unsupported raid10 layout: 0x0"): these legs have them.
        try create("raid10", "0 16384 raid raid10 6 128 nosync raid10_copies 2 raid10_format far 4 " + (0..<4).map { "\(dev("s\($0 + 14)")) \(dev("s\($0)"))" }.joined(separator: " "))
        try create("crypt", "0 8192 crypt aes-xts-plain64 \(String(repeating: "ab", count: 32)) 7 \(dev("s4")) 0 1 allow_discards")
        try create("delay", "0 8192 delay \(dev("s4")) 0 10 \(dev("s5")) 0 20")
        try create("flakey", "0 8192 flakey \(dev("s4")) 0 60 0 1 drop_writes")
        try create("zero", "0 8192 zero")
        try create("error", "0 8192 error")
        try create("origin", "0 16384 snapshot-origin \(dev("s6"))")
        try create("snap", "0 16384 snapshot \(dev("s6")) \(dev("s7")) P 16")
        try create("pool", "0 16384 thin-pool \(dev("s8")) \(dev("s9")) 128 0 1 skip_block_zeroing")
        try Live.sh("dmsetup message tt-pool 0 'create_thin 1'; dmsetup message tt-pool 0 'create_thin 2'")
        try create("thin", "0 32768 thin \(dev("pool")) 1")
        try create("thinext", "0 16384 thin \(dev("pool")) 2 \(dev("s5"))")
        try create("cache", "0 16384 cache \(dev("s11")) \(dev("s12")) \(dev("s1")) 128 1 writethrough smq 0")
        try create("writecache", "0 16384 writecache s \(dev("s0")) \(dev("s13")) 4096 2 high_watermark 60")
        try create("integrity", "0 8192 integrity \(dev("s10")) 0 4 D 2 interleave_sectors:1024 internal_hash:crc32c")
        // Multipath is request-based: its paths must be request-based devices (loops), not dm.
        try create("multipath", "0 8192 multipath 0 0 1 1 service-time 0 2 2 \(l[2]) 1 100 \(l[3]) 1 100")

        let printed = try Live.sh("dmsetup table")
        let set = try TableSet.parse(printed)
        var seen = Set<String>()
        for line in printed.split(separator: "\n") where line.hasPrefix("tt-") {
            let name = String(line[..<line.firstIndex(of: ":")!])
            let words = line.dropFirst(name.count + 1).split(separator: " ").joined(separator: " ")
            let targets = try #require(set.tables[name]).targets
            let target = try #require(targets.first { $0.line.hasPrefix(words.split(separator: " ").prefix(2).joined(separator: " ") + " ") })
            #expect(target.line == words, "\(name): the kernel printed '\(words)', dmstack prints '\(target.line)'")
            #expect(TargetTypes.type(named: target.typeName) != nil, "\(name): \(target.typeName) is not registered")
            seen.insert(target.typeName)
        }
        #expect(set.warnings.filter { $0.contains("tt-") }.isEmpty, "\(set.warnings)")
        // Discovery takes a device's deps from its table: they must be DM_TABLE_DEPS's.
        for line in try Live.sh("dmsetup deps -o devno").split(separator: "\n") where line.hasPrefix("tt-") {
            let name = String(line[..<line.firstIndex(of: ":")!])
            let kernel = Set(line.split(separator: "(").dropFirst().map { $0.prefix { $0 != ")" }.replacingOccurrences(of: ", ", with: ":") })
            let table = try Live.sh("dmsetup table \(name)").split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
            #expect(DeviceMapperInfo.deps(ofTable: table).map(Set.init) == kernel, "\(name): deps \(kernel.sorted()), table \(table)")
        }
        // Every registered name but snapshot-merge (it needs a merging origin), partition and
        // md's levels (not dm targets: md arrays are read from sysfs, VMMdTests) was printed
        // by the kernel here.
        let registered = Set(TargetTypes.all.flatMap { $0.names }.filter { !$0.hasPrefix("md-") }).subtracting(["snapshot-merge", "partition"])
        #expect(registered.subtracting(seen).isEmpty, "not created: \(registered.subtracting(seen).sorted())")
    }
}
