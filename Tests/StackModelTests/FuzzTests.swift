import Foundation
import StackModel
import TestSupport
import Testing

/// Garbage and near-miss inputs: never a crash, always an error that names where and what.
@Suite("Fuzzing the parsers and the translator")
struct FuzzTests {
    static let validLines = [
        "0 2048 linear /dev/pmem0 0", "0 1024 striped 2 8 /dev/a 0 /dev/b 16",
        "0 1024 mirror core 2 1024 nosync 2 /dev/a 0 /dev/b 0 1 handle_errors",
        "0 1024 raid raid5_ls 3 64 region_size 1024 3 - /dev/a - /dev/b - /dev/c",
        "0 1024 raid raid10 5 64 raid10_copies 2 raid10_format far 4 - /dev/a - /dev/b - /dev/c - /dev/d",
        "0 1024 crypt aes-xts-plain64 :32:logon:k 0 /dev/a 0 1 allow_discards",
        "0 1024 multipath 0 0 1 1 round-robin 0 2 1 8:16 1000 8:32 1000",
        "0 1024 snapshot /dev/o /dev/c P 8", "0 1024 thin-pool /dev/m /dev/d 128 0 1 skip_block_zeroing",
        "0 1024 thin /dev/mapper/pool 3", "0 1024 cache /dev/m /dev/c /dev/o 64 1 writeback smq 0",
        "0 1024 writecache p /dev/o /dev/c 4096 2 start_sector 8", "0 1024 integrity /dev/a 0 4 J 0",
        "0 1024 delay /dev/a 0 0 /dev/b 0 10", "0 1024 flakey /dev/a 0 1 1", "0 1024 zero", "0 1024 partition /dev/sda 2048",
    ]
    static let tokens = ["0", "1", "-1", "-", "x", "", ":", "::", "/dev/", "8:", ":16", "18446744073709551615",
                         "18446744073709551616", "99999999999999999999", "4294967296", "P", "raid", "raid5_ls",
                         "linear", "striped", "mirror", "core", "disk", "#", "\t", "é", "\u{0}", "1e3", "0x10", "253:0"]

    @Test(arguments: 0..<40)
    func mutatedTablesFailCleanly(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<250 {
            var words = Self.validLines.randomElement(using: &rng)!.split(separator: " ").map(String.init)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let i = Int.random(in: 0..<words.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: words[i] = Self.tokens.randomElement(using: &rng)!
                case 1: words.remove(at: i); if words.isEmpty { words = ["0"] }
                case 2: words.insert(Self.tokens.randomElement(using: &rng)!, at: i)
                default: words.append(Self.tokens.randomElement(using: &rng)!)
                }
            }
            let text = (Bool.random(using: &rng) ? "dev: " : "") + words.joined(separator: " ")
            do {
                let set = try TableSet.parse(text)
                // Whatever parses must translate without trapping.
                if let t = try? Translator(Topology(tables: set)) {
                    for name in set.names {
                        _ = try? t.down(from: name, SectorRange(start: 0, length: 1))
                    }
                    for node in t.topology.nodes where node.isLeaf {
                        _ = try? t.up(from: node.name, SectorRange(start: 0, length: 1 << 20))
                    }
                }
            } catch {
                #expect(error.description.hasPrefix("line "), "\(text) → \(error.description)")
                #expect(error.description.split(separator: ":").count >= 3, "\(text) → \(error.description)")
            }
        }
    }

    @Test(arguments: 0..<20)
    func randomBytesAsTables(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<200 {
            let bytes = (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let text = String(decoding: bytes, as: UTF8.self)
            do { _ = try TableSet.parse(text) } catch {
                #expect(error.description.hasPrefix("line "))
            }
        }
    }

    @Test(arguments: 0..<20)
    func randomRanges(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let pieces = ["0", "7", "512", "4096", "+", "-", "B", "s", "KiB", "MiB", "GiB", "TiB", "KB", " ", "x",
                      "18014398509481984", "99999999999999999999", "1.5", "٣"]
        for _ in 0..<300 {
            let text = (0..<Int.random(in: 0...6, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            do {
                let r = try RangeParser.parse(text)
                #expect(r.length > 0 && r.end <= maxSectors)
            } catch {
                #expect(error.description.hasPrefix("invalid range '\(text)': "))
            }
        }
    }

    @Test(arguments: 0..<10)
    func randomMetadata(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<100 {
            var bytes = (0..<Int.random(in: 0..<4096, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if bytes.count >= 16 && Bool.random(using: &rng) {
                // A valid header with garbage after it.
                bytes.replaceSubrange(0..<16, with: [0x53, 0x6e, 0x41, 0x70, 1, 0, 0, 0, 1, 0, 0, 0, UInt8.random(in: 1...4, using: &rng), 0, 0, 0])
            }
            let read = TargetTranslationTests.reader(bytes)
            do { _ = try SnapshotExceptionStore.read(source: "cow", read) } catch {
                #expect("\(error)".hasPrefix("cow: "))
            }
            do { _ = try WritecacheMapping.read(source: "wc", read) } catch {
                #expect("\(error)".hasPrefix("wc: "))
            }
            let xml = bytes
            do { _ = try ThinPoolMapping.parseThinDump(xml, source: "x") } catch { #expect(error.description.hasPrefix("x: ")) }
        }
    }

    /// Text that looks like a dump, with numbers up to UInt64.max: the dump reader must never
    /// trap on it.
    @Test(arguments: 0..<10)
    func randomXMLText(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let pieces = ["<superblock ", "data_block_size=\"128\" ", "block_size=\"8\"", "<device dev_id=\"1\">", "</device>",
                      "<range_mapping origin_begin=\"0\" data_begin=\"5\" length=\"2\"/>", "<single_mapping origin_block=\"9\" data_block=\"1\"/>",
                      "<mapping cache_block=\"1\" origin_block=\"2\" dirty=\"true\"/>", "</superblock>", ">", "/>", "<", "&", "&amp;",
                      "\"", "=", "é", "中", "x", " ", "\n", "<!--", "-->", "<?xml version=\"1.0\"?>", "<![CDATA[", "]]>", "<a:b c:d=\"1\">",
                      "<device dev_id=\"2\"><range_mapping origin_begin=\"18446744073709551615\" data_begin=\"18446744073709551615\" length=\"18446744073709551615\"/>",
                      "<superblock data_block_size=\"18446744073709551615\" block_size=\"18446744073709551615\">",
                      "<mapping cache_block=\"18446744073709551615\" origin_block=\"9223372036854775808\" dirty=\"true\"/>"]
        for _ in 0..<150 {
            let text = (0..<Int.random(in: 0...12, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            do { _ = try ThinPoolMapping.parseThinDump(Array(text.utf8), source: "t") } catch { #expect(error.description.hasPrefix("t: ")) }
            do { _ = try CacheMapping.parseCacheDump(Array(text.utf8), source: "c") } catch { #expect(error.description.hasPrefix("c: ")) }
        }
    }

    @Test func cyclesAreRefusedNotFollowed() {
        #expect(throws: TopologyError.cycle(["a", "b"])) {
            try Topology(tables: TableSet.parse("a: 0 8 linear /dev/mapper/b 0\nb: 0 8 linear a 0"))
        }
        #expect(throws: TopologyError.self) { try Topology(tables: TableSet.parse("a: 0 8 linear a 0")) }
    }
}
