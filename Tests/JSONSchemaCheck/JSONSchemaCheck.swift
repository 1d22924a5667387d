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
        "holders": "holders", "refresh": "holders-refresh", "remove": "remove", "events": "events",
    ]

    static let keywords: Set<String> = [
        "$schema", "$id", "title", "description", "examples", "type", "properties", "required",
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

    /// Which schema a printed document follows: by its one top-level key, a snapshot by its
    /// `format`, a notification event by its `key` and `kind`.
    public static func schemaName(for document: Any) -> String? {
        guard let object = document as? [String: Any] else { return nil }
        if object["format"] != nil && object["devices"] != nil { return "snapshot" }
        if object["key"] != nil && object["kind"] != nil && object["severity"] != nil { return "event" }
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
            let root = try schema(name)
            var found: [String] = []
            validate(document, root, root: root, path: "$", into: &found)
            return found.map { "\(name).schema.json: \($0)" }
        } catch {
            return ["\(name).schema.json: cannot read: \(error)"]
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
            if let ref = s["$ref"] as? String, resolve(ref, root) == nil { found.append("\(path): unresolved \(ref)") }
        }
        walk(root, name)
        if (root["description"] as? String ?? "").isEmpty { found.append("\(name): no description") }
        return found
    }

    /// A `$ref`: `#/$defs/NAME` in the same schema, or `OTHER.schema.json#/$defs/NAME` in
    /// another file of docs/json (a shape two outputs share is documented once). The schema
    /// the definition lives in comes back with it: its own refs resolve there.
    static func resolve(_ ref: String, _ root: [String: Any]) -> (node: [String: Any], root: [String: Any])? {
        let parts = ref.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].hasPrefix("/$defs/") else { return nil }
        var base = root
        if !parts[0].isEmpty {
            guard parts[0].hasSuffix(".schema.json"),
                  let other = try? schema(String(parts[0].dropLast(".schema.json".count))) else { return nil }
            base = other
        }
        guard let node = (base["$defs"] as? [String: Any])?[String(parts[1].dropFirst("/$defs/".count))] as? [String: Any] else { return nil }
        return (node, base)
    }

    static func typeName(_ value: Any) -> String {
        if value is NSNull { return "null" }
        if let n = value as? NSNumber {
            // JSONSerialization keeps the literal's kind: c for true/false, d for a fraction.
            switch String(cString: n.objCType) {
            case "c": return "boolean"
            case "d", "f": return "number"
            default: return "integer"
            }
        }
        if value is String { return "string" }
        if value is [Any] { return "array" }
        if value is [String: Any] { return "object" }
        return "unknown"
    }

    static func validate(_ value: Any, _ schemaNode: Any, root: [String: Any], path: String, into found: inout [String]) {
        guard let s = schemaNode as? [String: Any] else { return }
        if let ref = s["$ref"] as? String {
            guard let target = resolve(ref, root) else { found.append("\(path): unresolved \(ref)"); return }
            validate(value, target.node, root: target.root, path: path, into: &found)
        }
        if let options = s["anyOf"] as? [Any] {
            let fits = options.contains { option in
                var sub: [String] = []
                validate(value, option, root: root, path: path, into: &sub)
                return sub.isEmpty
            }
            if !fits { found.append("\(path): matches none of anyOf") }
        }
        let actual = typeName(value)
        if let t = s["type"] {
            let allowed = (t as? [String]) ?? [t as? String ?? ""]
            if !(allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))) {
                found.append("\(path): \(actual), expected \(allowed.joined(separator: " or "))")
                return
            }
        }
        if let choices = s["enum"] as? [Any], !choices.contains(where: { same($0, value) }) {
            found.append("\(path): \(value) is not one of \(choices)")
        }
        if let c = s["const"], !same(c, value) { found.append("\(path): \(value) is not \(c)") }
        if let minimum = (s["minimum"] as? NSNumber)?.doubleValue, let n = value as? NSNumber, actual != "boolean", n.doubleValue < minimum {
            found.append("\(path): \(n) is below \(minimum)")
        }
        if let object = value as? [String: Any] {
            let properties = s["properties"] as? [String: Any] ?? [:]
            for key in s["required"] as? [String] ?? [] where object[key] == nil {
                found.append("\(path): missing required \(key)")
            }
            for (key, v) in object.sorted(by: { $0.key < $1.key }) {
                if let p = properties[key] {
                    validate(v, p, root: root, path: "\(path).\(key)", into: &found)
                } else if let more = s["additionalProperties"] as? [String: Any] {
                    validate(v, more, root: root, path: "\(path).\(key)", into: &found)
                } else if (s["additionalProperties"] as? Bool) == false {
                    found.append("\(path): undocumented key \(key)")
                }
            }
        }
        if let array = value as? [Any], let items = s["items"] {
            for (i, v) in array.enumerated() { validate(v, items, root: root, path: "\(path)[\(i)]", into: &found) }
        }
    }

    static func same(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case let (x as String, y as String): return x == y
        case let (x as NSNumber, y as NSNumber): return x == y
        case (is NSNull, is NSNull): return true
        default: return false
        }
    }
}
