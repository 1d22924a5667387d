import Foundation

/// Checks dmstack's real `--json` output against the schemas in docs/json, so the documented
/// JSON cannot drift from what the commands print. Every test that parses a command's JSON goes
/// through `JSONSchemaCheck.errors(in:)`.
///
/// Only the part of JSON Schema draft 2020-12 the schemas use is understood (type, properties,
/// required, additionalProperties, items, enum, const, local $ref, $defs, anyOf, minimum);
/// any other keyword in a schema is an error, so a schema cannot claim what is not checked.
public enum JSONSchemaCheck {
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let directory = packageRoot.appendingPathComponent("docs/json")

    /// The schema of each top-level key a command prints (`{"tree": ...}` is tree.schema.json).
    public static let schemaByTopLevelKey: [String: String] = [
        "tree": "tree", "device": "show", "translations": "translate", "impact": "simulate",
        "apply": "apply", "teardown": "teardown", "volumes": "list", "holder": "holder",
        "holders": "holders", "refresh": "holders-refresh", "remove": "remove", "events": "events", "damage": "damage",
    ]

    static let keywords: Set<String> = [
        "$schema", "$id", "$comment", "title", "description", "examples", "type", "properties", "required",
        "additionalProperties", "items", "enum", "const", "$ref", "$defs", "anyOf", "minimum",
    ]

    nonisolated(unsafe) private static var cache: [String: [String: Any]] = [:]
    private static let lock = NSLock()

    /// The parsed schema docs/json/NAME.schema.json.
    public static func schema(_ name: String) throws -> [String: Any] {
        lock.lock()
        defer { lock.unlock() }
        if let s = cache[name] { return s }
        let url = directory.appendingPathComponent("\(name).schema.json")
        let s = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        cache[name] = s
        return s
    }

    /// Which schema a printed document follows: by its one top-level key (`list`: volumes and interrupted), a snapshot by its
    /// `format`, a notification event by its `key` and `kind`.
    public static func schemaName(for document: Any) -> String? {
        guard let object = document as? [String: Any] else { return nil }
        if object["format"] != nil && object["devices"] != nil { return "snapshot" }
        if object["key"] != nil && object["kind"] != nil && object["severity"] != nil { return "event" }
        // `list` prints its volumes and, beside them, the changes that did not finish.
        if object.count == 2 && object["volumes"] != nil && object["interrupted"] != nil { return "list" }
        guard object.count == 1, let key = object.keys.first else { return nil }
        return schemaByTopLevelKey[key]
    }

    /// What is wrong with `document` against its schema ([] when it conforms); one entry when
    /// no schema documents it.
    public static func errors(in document: Any) -> [String] {
        guard let name = schemaName(for: document) else {
            return ["no schema in docs/json documents an output with keys \(((document as? [String: Any])?.keys.sorted() ?? []))"]
        }
        return errors(in: document, schema: name)
    }

    public static func errors(in document: Any, schema name: String) -> [String] {
        do {
            let root = try compiled(name, definition: nil)
            var found: [String] = []
            var path: [Step] = []
            try validate(Value(document), root, path: &path, into: &found)
            return found.sorted().map { "\(name).schema.json: \($0)" }
        } catch {
            return ["\(name).schema.json: \(error)"]
        }
    }

    /// Parses `text` as JSON and returns it with the schema errors (a parse failure is one).
    public static func parse(_ text: String) -> (Any?, [String]) {
        guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else {
            return (nil, ["not JSON: \(text.prefix(200))"])
        }
        return (value, errors(in: value))
    }

    /// Defects of a schema as documentation: a keyword the checker does not understand, an
    /// object with properties that accepts more, a property without a description.
    public static func lint(_ name: String) throws -> [String] {
        let root = try schema(name)
        var found: [String] = []
        func walk(_ node: Any, _ path: String) {
            guard let s = node as? [String: Any] else { return }
            for key in s.keys where !keywords.contains(key) { found.append("\(path): unsupported keyword \(key)") }
            if let properties = s["properties"] as? [String: Any] {
                if (s["additionalProperties"] as? Bool) != false {
                    found.append("\(path): an object with properties must say additionalProperties: false")
                }
                for (key, value) in properties {
                    let p = value as? [String: Any] ?? [:]
                    if (p["description"] as? String ?? "").isEmpty { found.append("\(path).\(key): no description") }
                    walk(value, "\(path).\(key)")
                }
                for key in s["required"] as? [String] ?? [] where properties[key] == nil {
                    found.append("\(path): required \(key) is not a property")
                }
            }
            if let items = s["items"] { walk(items, "\(path)[]") }
            if let more = s["additionalProperties"] as? [String: Any] { walk(more, "\(path){}") }
            for (i, option) in (s["anyOf"] as? [Any] ?? []).enumerated() { walk(option, "\(path)|\(i)") }
            for (key, def) in s["$defs"] as? [String: Any] ?? [:] { walk(def, "\(path)#\(key)") }
            if let ref = s["$ref"] as? String, (try? target(of: ref, from: name)) == nil { found.append("\(path): unresolved \(ref)") }
        }
        walk(root, name)
        if (root["description"] as? String ?? "").isEmpty { found.append("\(name): no description") }
        return found
    }

    /// A document value, converted once from what JSONSerialization returns: checking it
    /// then needs no dynamic casts (whole-device outputs have hundreds of thousands of values,
    /// and the VM runs the tests on an emulated CPU).
    indirect enum Value: Equatable, CustomStringConvertible {
        case null, boolean(Bool), integer(Int64), number(Double), string(String), array([Value]), object([String: Value])

        init(_ any: Any) {
            // Strings and containers first: asking a String whether it is an NSNumber bridges it.
            if let s = any as? String {
                self = .string(s)
            } else if let o = any as? [String: Any] {
                self = .object(o.mapValues(Value.init))
            } else if let a = any as? [Any] {
                self = .array(a.map(Value.init))
            } else if let n = any as? NSNumber {
                // JSONSerialization keeps the literal's kind: c for true/false, d for a fraction.
                switch UInt8(bitPattern: n.objCType.pointee) {
                case UInt8(ascii: "c"): self = .boolean(n.boolValue)
                case UInt8(ascii: "d"), UInt8(ascii: "f"): self = .number(n.doubleValue)
                default: self = .integer(n.int64Value)
                }
            } else {
                self = .null
            }
        }

        var typeName: String {
            switch self {
            case .null: "null"
            case .boolean: "boolean"
            case .integer: "integer"
            case .number: "number"
            case .string: "string"
            case .array: "array"
            case .object: "object"
            }
        }

        /// As JSON would write it (containers abridged), for messages.
        var description: String {
            switch self {
            case .null: "null"
            case .boolean(let b): "\(b)"
            case .integer(let i): "\(i)"
            case .number(let d): "\(d)"
            case .string(let s): "\"\(s)\""
            case .array(let a): "[\(a.count) items]"
            case .object(let o): "{\(o.keys.sorted().joined(separator: ", "))}"
            }
        }

        var number: Double? {
            switch self {
            case .integer(let i): Double(i)
            case .number(let d): d
            default: nil
            }
        }
    }

    /// A schema node with its keywords read once.
    final class Node {
        var file = ""
        var ref: String?
        var anyOf: [Node] = []
        var types: [String]?
        var choices: [Value]?
        var constant: Value?
        var minimum: Double?
        var properties: [String: Node] = [:]
        var required: [String] = []
        var closed = false
        var more: Node?
        var items: Node?
    }

    nonisolated(unsafe) private static var nodes: [String: Node] = [:]

    struct SchemaError: Error, CustomStringConvertible { var description: String }

    /// The compiled root of docs/json/NAME.schema.json, or its definition `definition`.
    static func compiled(_ name: String, definition: String?) throws -> Node {
        let key = "\(name)#\(definition ?? "")"
        lock.lock()
        let cached = nodes[key]
        lock.unlock()
        if let cached { return cached }
        let root = try schema(name)
        var source: Any = root
        if let definition {
            guard let d = (root["$defs"] as? [String: Any])?[definition] else { throw SchemaError(description: "no definition \(definition)") }
            source = d
        }
        let node = compile(source, file: name)
        lock.lock()
        nodes[key] = node
        lock.unlock()
        return node
    }

    static func compile(_ any: Any, file: String) -> Node {
        let s = any as? [String: Any] ?? [:]
        let n = Node()
        n.file = file
        n.ref = s["$ref"] as? String
        n.anyOf = (s["anyOf"] as? [Any] ?? []).map { compile($0, file: file) }
        if let t = s["type"] { n.types = (t as? [String]) ?? [t as? String ?? ""] }
        n.choices = (s["enum"] as? [Any])?.map(Value.init)
        n.constant = s["const"].map(Value.init)
        n.minimum = (s["minimum"] as? NSNumber)?.doubleValue
        n.properties = (s["properties"] as? [String: Any] ?? [:]).mapValues { compile($0, file: file) }
        n.required = s["required"] as? [String] ?? []
        switch s["additionalProperties"] {
        case let b as Bool: n.closed = !b
        case let more as [String: Any]: n.more = compile(more, file: file)
        default: break
        }
        n.items = s["items"].map { compile($0, file: file) }
        return n
    }

    /// The node a `$ref` names: `#/$defs/NAME` in the same schema, or
    /// `OTHER.schema.json#/$defs/NAME` in another file of docs/json (a shape two outputs share
    /// is documented once); its own refs resolve in the file it lives in.
    static func target(of ref: String, from file: String) throws -> Node {
        let parts = ref.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].hasPrefix("/$defs/"), parts[0].isEmpty || parts[0].hasSuffix(".schema.json") else {
            throw SchemaError(description: "unsupported $ref \(ref)")
        }
        let other = parts[0].isEmpty ? file : String(parts[0].dropLast(".schema.json".count))
        return try compiled(other, definition: String(parts[1].dropFirst("/$defs/".count)))
    }

    /// Where in a document a check is: kept as a stack and spelled only for an error.
    enum Step { case key(String), index(Int) }

    static func spell(_ path: [Step]) -> String {
        path.reduce("$") { s, step in
            switch step {
            case .key(let k): "\(s).\(k)"
            case .index(let i): "\(s)[\(i)]"
            }
        }
    }

    static func validate(_ value: Value, _ n: Node, path: inout [Step], into found: inout [String]) throws {
        if let ref = n.ref { try validate(value, try target(of: ref, from: n.file), path: &path, into: &found) }
        if !n.anyOf.isEmpty {
            var fits = false
            for option in n.anyOf {
                var sub: [String] = []
                try validate(value, option, path: &path, into: &sub)
                if sub.isEmpty { fits = true; break }
            }
            if !fits { found.append("\(spell(path)): matches none of anyOf") }
        }
        let actual = value.typeName
        if let allowed = n.types, !(allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))) {
            found.append("\(spell(path)): \(actual), expected \(allowed.joined(separator: " or "))")
            return
        }
        if let choices = n.choices, !choices.contains(value) { found.append("\(spell(path)): \(value) is not one of \(choices)") }
        if let c = n.constant, c != value { found.append("\(spell(path)): \(value) is not \(c)") }
        if let minimum = n.minimum, let x = value.number, x < minimum { found.append("\(spell(path)): \(x) is below \(minimum)") }
        switch value {
        case .object(let object):
            for key in n.required where object[key] == nil { found.append("\(spell(path)): missing required \(key)") }
            for (key, v) in object {
                if let p = n.properties[key] ?? n.more {
                    path.append(.key(key))
                    try validate(v, p, path: &path, into: &found)
                    path.removeLast()
                } else if n.closed {
                    found.append("\(spell(path)): undocumented key \(key)")
                }
            }
        case .array(let array):
            guard let items = n.items else { break }
            for (i, v) in array.enumerated() {
                path.append(.index(i))
                try validate(v, items, path: &path, into: &found)
                path.removeLast()
            }
        default:
            break
        }
    }
}
