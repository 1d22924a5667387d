/// A table file could not be parsed: names the line, the field and what was wrong.
public struct TableParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var field: String
    public var message: String
    public var description: String { "line \(line): \(field): \(message)" }
}

/// Tables as `dmsetup table` prints them, for one device (unnamed: the device `top`) or
/// several (`name: start length target args`).
public struct TableSet: Hashable, Sendable {
    /// Device names in the order they first appear.
    public var names: [String]
    public var tables: [String: DeviceTable]
    /// Non-fatal remarks, e.g. a target type dmstack does not know.
    public var warnings: [String]

    public static let unnamedDevice = "top"

    public init(names: [String] = [], tables: [String: DeviceTable] = [:], warnings: [String] = []) {
        self.names = names
        self.tables = tables
        self.warnings = warnings
    }

    /// Parses table text; blank lines and lines starting with `#` are ignored.
    public static func parse(_ text: String) throws(TableParseError) -> TableSet {
        var set = TableSet()
        var lineOf: [String: [UInt64: Int]] = [:] // device → target start → its line
        var lineNumber = 0
        var sawUnnamed = false, sawNamed = false
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var words = rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if words.isEmpty || words[0].hasPrefix("#") { continue }
            var name = unnamedDevice
            if words[0].hasSuffix(":") && !isUnsigned(words[0].dropLast()) {
                name = String(words[0].dropLast())
                guard !name.isEmpty else { throw TableParseError(line: lineNumber, field: "name", message: "empty device name before ':'") }
                words.removeFirst()
                sawNamed = true
                if set.tables[name] == nil { set.names.append(name); set.tables[name] = DeviceTable(targets: []) }
                // `dmsetup table` prints a device without a table as just its name.
                if words.isEmpty { continue }
            } else {
                sawUnnamed = true
                if set.tables[name] == nil { set.names.append(name); set.tables[name] = DeviceTable(targets: []) }
            }
            if sawNamed && sawUnnamed {
                throw TableParseError(line: lineNumber, field: "name", message: "mixes named (`name: ...`) and unnamed lines; name every device")
            }
            var parser = TargetParser(line: lineNumber, words: words)
            let target = try parser.parse(warnings: &set.warnings)
            set.tables[name]!.targets.append(target)
            lineOf[name, default: [:]][target.start] = lineNumber
        }
        for name in set.names {
            var table = set.tables[name]!
            table.targets.sort { $0.start < $1.start }
            var expected: UInt64 = 0
            for t in table.targets {
                guard t.start == expected else {
                    throw TableParseError(line: lineOf[name]?[t.start] ?? 0, field: "start", message: "device \(name): target at sector \(t.start) leaves a gap or overlap (expected start \(expected))")
                }
                expected = t.start + t.length
            }
            set.tables[name] = table
        }
        return set
    }
}

/// The largest sector number or count dmstack accepts: block device offsets are `loff_t`
/// (signed 64-bit bytes), so no device exceeds 2^63 bytes = 2^54 sectors. Bounding every input
/// here keeps all translation arithmetic far from overflow.
public let maxSectors: UInt64 = 1 << 54

@inline(__always)
func isUnsigned<S: StringProtocol>(_ s: S) -> Bool {
    !s.isEmpty && s.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
}

/// Reads the argument words of one target line, naming the field on every error.
struct TargetParser {
    let line: Int
    let words: [String]
    var position = 0
    var targetName = ""

    init(line: Int, words: [String]) {
        self.line = line
        self.words = words
    }

    func fail(_ field: String, _ message: String) -> TableParseError {
        TableParseError(line: line, field: targetName.isEmpty ? field : "\(targetName) \(field)", message: message)
    }

    mutating func word(_ field: String) throws(TableParseError) -> String {
        guard position < words.count else { throw fail(field, "missing") }
        defer { position += 1 }
        return words[position]
    }

    mutating func number(_ field: String, positive: Bool = false) throws(TableParseError) -> UInt64 {
        let w = try word(field)
        guard isUnsigned(w), let v = UInt64(w) else { throw fail(field, "expected an unsigned integer, got '\(w)'") }
        guard v <= maxSectors else { throw fail(field, "\(v) exceeds \(maxSectors), the largest sector count a Linux block device can have (2^63 bytes)") }
        if positive && v == 0 { throw fail(field, "must be greater than zero") }
        return v
    }

    mutating func count(_ field: String, max: UInt64 = 1 << 16) throws(TableParseError) -> Int {
        let v = try number(field)
        guard v <= max else { throw fail(field, "\(v) is larger than the \(max) allowed") }
        return Int(v)
    }

    mutating func device(_ field: String) throws(TableParseError) -> String {
        let w = try word(field)
        guard !w.isEmpty, w != "-" else { throw fail(field, "expected a device, got '\(w)'") }
        return w
    }

    mutating func skip(_ n: Int, _ field: String) throws(TableParseError) {
        guard position + n <= words.count else { throw fail(field, "expected \(n) more word(s), found \(words.count - position)") }
        position += n
    }

    var remaining: Int { words.count - position }

    func noMore() throws(TableParseError) {
        if position < words.count { throw fail("arguments", "unexpected extra word '\(words[position])'") }
    }

    mutating func parse(warnings: inout [String]) throws(TableParseError) -> Target {
        let start = try number("start")
        let length = try number("length", positive: true)
        guard start + length <= maxSectors else { throw fail("length", "start + length exceeds \(maxSectors) sectors") }
        let name = try word("target type")
        targetName = name
        let argumentStart = position
        let kind = try parseKind(name, length: length, warnings: &warnings)
        return Target(start: start, length: length, kind: kind, arguments: Array(words[argumentStart...]))
    }

    mutating func parseKind(_ name: String, length: UInt64, warnings: inout [String]) throws(TableParseError) -> TargetKind {
        switch name {
        case "linear":
            let d = try device("device"); let o = try number("offset"); try noMore()
            return .linear(device: d, offset: o)
        case "partition":
            let d = try device("parent"); let o = try number("start"); try noMore()
            return .partition(parent: d, start: o)
        case "striped":
            let n = try count("stripe count", max: 1 << 20)
            guard n >= 1 else { throw fail("stripe count", "must be at least 1") }
            let chunk = try number("chunk size", positive: true)
            // dm-stripe.c stripe_ctr: "Target length not divisible by number of stripes" and
            // "... by chunk size".
            guard length % UInt64(n) == 0 else { throw fail("stripe count", "target length \(length) is not divisible by \(n) stripes") }
            guard (length / UInt64(n)) % chunk == 0 else { throw fail("chunk size", "target length per stripe \(length / UInt64(n)) is not divisible by chunk size \(chunk)") }
            var stripes: [MemberDevice] = []
            for i in 0..<n {
                let d = try device("stripe \(i) device"); let o = try number("stripe \(i) offset")
                stripes.append(MemberDevice(device: d, offset: o))
            }
            try noMore()
            return .striped(StripedTarget(chunkSectors: chunk, stripes: stripes))
        case "mirror":
            return .mirror(try parseMirror())
        case "raid":
            return .raid(try parseRaid(length: length))
        case "crypt":
            let cipher = try word("cipher"); _ = try word("key"); _ = try number("iv offset")
            let d = try device("device"); let o = try number("offset")
            if remaining > 0 { let n = try count("optional parameter count"); try skip(n, "optional parameters") }
            try noMore()
            return .crypt(cipher: cipher, device: d, offset: o)
        case "delay":
            var paths: [MemberDevice] = []
            let roles = ["read", "write", "flush"]
            for role in roles where remaining > 0 || paths.isEmpty {
                let d = try device("\(role) device"); let o = try number("\(role) offset"); _ = try number("\(role) delay")
                paths.append(MemberDevice(device: d, offset: o))
            }
            try noMore()
            return .delay(paths: paths)
        case "flakey":
            let d = try device("device"); let o = try number("offset")
            _ = try number("up interval"); _ = try number("down interval")
            if remaining > 0 { let n = try count("feature count"); try skip(n, "features") }
            try noMore()
            return .flakey(device: d, offset: o)
        case "zero": try noMore(); return .zero
        case "error": try noMore(); return .error
        case "multipath":
            return .multipath(try parseMultipath())
        case "snapshot-origin":
            let o = try device("origin"); try noMore()
            return .snapshotOrigin(origin: o)
        case "snapshot", "snapshot-merge":
            let o = try device("origin"); let c = try device("COW device")
            let p = try word("persistent flag")
            guard ["P", "N", "PO", "p", "n"].contains(p) else { throw fail("persistent flag", "expected P, N or PO, got '\(p)'") }
            let chunk = try number("chunk size", positive: true)
            if remaining > 0 { let n = try count("feature count"); try skip(n, "features") }
            try noMore()
            return .snapshot(SnapshotTarget(origin: o, cow: c, persistent: p.uppercased().hasPrefix("P"), chunkSectors: chunk, merging: name == "snapshot-merge"))
        case "thin-pool":
            let m = try device("metadata device"); let d = try device("data device")
            let b = try number("data block size", positive: true); _ = try number("low water mark")
            if remaining > 0 { let n = try count("feature count"); try skip(n, "features") }
            try noMore()
            return .thinPool(ThinPoolTarget(metadata: m, data: d, blockSectors: b))
        case "thin":
            let p = try device("pool device"); let id = try number("device id")
            let origin = remaining > 0 ? try device("external origin") : nil
            try noMore()
            return .thin(ThinTarget(pool: p, deviceID: id, externalOrigin: origin))
        case "cache":
            let m = try device("metadata device"); let c = try device("cache device"); let o = try device("origin device")
            let b = try number("block size", positive: true)
            let nf = try count("feature count")
            var writeback = true
            for _ in 0..<nf {
                let f = try word("feature")
                if f == "writethrough" || f == "passthrough" { writeback = false }
            }
            let policy = try word("policy")
            let np = try count("policy argument count"); try skip(np, "policy arguments")
            try noMore()
            return .cache(CacheTarget(metadata: m, cache: c, origin: o, blockSectors: b, writeback: writeback, policy: policy))
        case "writecache":
            let t = try word("type")
            guard t == "p" || t == "s" else { throw fail("type", "expected p or s, got '\(t)'") }
            let o = try device("origin device"); let c = try device("cache device")
            let b = try number("block size", positive: true)
            guard b >= 512, b & (b - 1) == 0 else { throw fail("block size", "\(b) is not a power of two of at least 512 bytes") }
            var startSector: UInt64 = 0
            if remaining > 0 {
                let n = try count("optional argument count")
                var consumed = 0
                while consumed < n {
                    let key = try word("optional argument"); consumed += 1
                    let takesValue = ["start_sector", "high_watermark", "low_watermark", "writeback_jobs",
                                      "autocommit_blocks", "autocommit_time", "max_age", "pause_writeback"].contains(key)
                    if takesValue {
                        guard consumed < n else { throw fail(key, "missing value") }
                        let v = try number(key); consumed += 1
                        if key == "start_sector" { startSector = v }
                    }
                }
            }
            try noMore()
            return .writecache(WritecacheTarget(persistentMemory: t == "p", origin: o, cache: c, blockBytes: b, startSector: startSector))
        case "integrity":
            let d = try device("device"); let s = try number("start")
            _ = try word("tag size"); let mode = try word("mode")
            var meta: String?
            if remaining > 0 {
                let n = try count("optional argument count")
                for _ in 0..<n {
                    let a = try word("optional argument")
                    if a.hasPrefix("meta_device:") { meta = String(a.dropFirst("meta_device:".count)) }
                }
            }
            try noMore()
            return .integrity(IntegrityTarget(device: d, start: s, mode: mode, metaDevice: meta))
        default:
            let devices = words[position...].filter(Self.looksLikeDevice)
            position = words.count
            warnings.append("line \(line): unknown target type '\(name)': kept as opaque with devices \(devices.isEmpty ? "none" : devices.joined(separator: ", ")); its mapping is unknown")
            return .opaque(name: name, devices: devices)
        }
    }

    /// A word an unknown target probably uses as a device: a path or `major:minor`.
    static func looksLikeDevice(_ w: String) -> Bool {
        if w.hasPrefix("/dev/") { return true }
        let parts = w.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 2 && isUnsigned(parts[0]) && isUnsigned(parts[1])
    }

    mutating func parseMirror() throws(TableParseError) -> MirrorTarget {
        // dm-raid1.c mirror_ctr + dm-log.c: core takes <region> [sync|nosync];
        // disk takes <log dev> <region> [sync|nosync]; clustered-* likewise; userspace <uuid> ...
        let logType = try word("log type")
        let n = try count("log argument count")
        let logStart = position
        try skip(n, "log arguments")
        var logDevice: String?
        if logType.hasSuffix("disk") {
            guard n >= 2 else { throw fail("log arguments", "a \(logType) log needs <log device> <region size>") }
            logDevice = words[logStart]
        }
        let legCount = try count("mirror count")
        guard legCount >= 1 else { throw fail("mirror count", "must be at least 1") }
        var legs: [MemberDevice] = []
        for i in 0..<legCount {
            let d = try device("leg \(i) device"); let o = try number("leg \(i) offset")
            legs.append(MemberDevice(device: d, offset: o))
        }
        if remaining > 0 { let f = try count("feature count"); try skip(f, "features") }
        try noMore()
        return MirrorTarget(logType: logType, logDevice: logDevice, legs: legs)
    }

    mutating func parseMultipath() throws(TableParseError) -> MultipathTarget {
        // dm-mpath.c multipath_ctr: <#features> <features> <#hw args> <hw args> <#groups>
        // <initial group> (<selector> <#sel args> <sel args> <#paths> <#path args> (<path> <args>)+)+
        let nf = try count("feature count"); try skip(nf, "features")
        let nh = try count("hardware handler argument count"); try skip(nh, "hardware handler arguments")
        let groups = try count("priority group count")
        _ = try number("initial priority group")
        var paths: [String] = []
        for g in 0..<groups {
            _ = try word("group \(g + 1) path selector")
            let ns = try count("group \(g + 1) selector argument count"); try skip(ns, "selector arguments")
            let np = try count("group \(g + 1) path count")
            let na = try count("group \(g + 1) path argument count")
            for p in 0..<np {
                paths.append(try device("group \(g + 1) path \(p) device"))
                try skip(na, "path arguments")
            }
        }
        try noMore()
        return MultipathTarget(paths: paths, groupCount: groups)
    }

    mutating func parseRaid(length: UInt64) throws(TableParseError) -> RaidTarget {
        let typeName = try word("raid type")
        guard let type = RaidTarget.types[typeName] else {
            throw fail("raid type", "unknown raid type '\(typeName)' (known: \(RaidTarget.types.keys.sorted().joined(separator: ", ")))")
        }
        let nParams = try count("raid parameter count")
        guard nParams >= 1 else { throw fail("raid parameter count", "needs at least the chunk size") }
        let paramEnd = position + nParams
        guard paramEnd <= words.count else { throw fail("raid parameters", "expected \(nParams) words, found \(words.count - position)") }
        var chunk = try number("chunk size")
        var copies = 2, format = type.format ?? .near, useNearSets = false
        var dataOffset: UInt64 = 0
        var journal: String?
        while position < paramEnd {
            let key = try word("raid parameter")
            guard let arity = RaidTarget.parameterArity[key] else { throw fail("raid parameter", "unknown parameter '\(key)'") }
            guard position + arity <= paramEnd else { throw fail(key, "missing value") }
            switch key {
            case "raid10_copies":
                copies = Int(try number(key))
                guard copies >= 2 else { throw fail(key, "must be at least 2") }
            case "raid10_format":
                let f = try word(key)
                guard let v = Raid10Format(rawValue: f) else { throw fail(key, "expected near, far or offset, got '\(f)'") }
                format = v
            case "raid10_use_near_sets": useNearSets = true
            case "data_offset": dataOffset = try number(key)
            case "journal_dev": journal = try device(key)
            default: try skip(arity, key)
            }
        }
        let nDevs = try count("device count", max: 253)
        guard nDevs >= 1 else { throw fail("device count", "must be at least 1") }
        var legs: [RaidTarget.Leg] = []
        for i in 0..<nDevs {
            let m = try word("leg \(i) metadata device"); let d = try word("leg \(i) data device")
            // dm-raid.c parse_dev_params: a metadata device without a data device is refused.
            if m != "-" && d == "-" { throw fail("leg \(i) data device", "a metadata device needs a data device") }
            legs.append(RaidTarget.Leg(metadata: m == "-" ? nil : m, data: d == "-" ? nil : d))
        }
        try noMore()
        let level = type.level
        if level == 1 { chunk = 0 } else {
            // dm-raid.c parse_raid_params: chunk size must be a power of two of at least 8.
            guard chunk >= 8, chunk & (chunk - 1) == 0 else { throw fail("chunk size", "\(chunk) is not a power of two of at least 8 sectors") }
        }
        guard nDevs > type.parity else { throw fail("device count", "\(typeName) needs more than \(type.parity) devices") }
        if level == 6 && nDevs < 4 { throw fail("device count", "\(typeName) needs at least 4 devices") }
        if level == 10 && copies > nDevs { throw fail("raid10_copies", "\(copies) copies need at least as many devices, have \(nDevs)") }
        // dm-raid.c rs_set_dev_and_array_sectors: the length must divide evenly.
        let dataStripes = UInt64(nDevs - type.parity)
        if level != 1 && level != 10 && length % dataStripes != 0 {
            throw fail("length", "target length \(length) is not divisible by \(dataStripes) data devices")
        }
        if level == 10 && (length * UInt64(copies)) % UInt64(nDevs) != 0 {
            throw fail("length", "target length \(length) × \(copies) copies is not divisible by \(nDevs) devices")
        }
        return RaidTarget(typeName: typeName, level: level, algorithm: type.algorithm, parityDevices: type.parity,
                          chunkSectors: chunk, raid10Format: format, raid10Copies: level == 10 ? copies : 1,
                          raid10UseNearSets: useNearSets, dataOffset: dataOffset, journalDevice: journal, legs: legs)
    }
}
