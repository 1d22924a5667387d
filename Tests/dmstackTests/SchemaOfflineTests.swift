import Foundation
import Testing

/// Every JSON Schema in docs/json resolves offline, from its own file: the README's one-liner
/// (`jsonschema.validate(document, schema)`, no registry) follows every `$ref` without a
/// network, because each `$id` is a URL and a `$ref` to another file would be fetched from it.
@Suite("JSON Schemas resolve offline")
struct SchemaOfflineTests {
    static let folder = CLITests.packageRoot.appendingPathComponent("docs/json")

    static func schemas() throws -> [(name: String, schema: [String: Any])] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().filter { $0.hasSuffix(".schema.json") }.map { name in
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent(name)))
            return (name, try #require(object as? [String: Any], "\(name) is not a JSON object"))
        }
    }

    /// Every `$ref` in `value`, with the JSON pointer of the object holding it.
    static func refs(_ value: Any, at path: String = "") -> [(path: String, ref: String)] {
        if let object = value as? [String: Any] {
            return object.sorted { $0.key < $1.key }.flatMap { key, child in
                key == "$ref" ? [(path, child as? String ?? "")] : refs(child, at: "\(path)/\(key)")
            }
        }
        if let array = value as? [Any] { return array.enumerated().flatMap { refs($1, at: "\(path)/\($0)") } }
        return []
    }

    /// The value a local JSON pointer (`#/$defs/NAME/...`) names, nil if none.
    static func resolve(_ ref: String, in schema: [String: Any]) -> Any? {
        guard ref.hasPrefix("#/") else { return nil }
        var node: Any = schema
        for part in ref.dropFirst(2).split(separator: "/") {
            let key = part.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let object = node as? [String: Any], let next = object[key] { node = next } else if let array = node as? [Any], let i = Int(key), array.indices.contains(i) { node = array[i] } else { return nil }
        }
        return node
    }

    /// A JSON value as sorted-key JSON text, to compare two of them.
    static func canonical(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    @Test func everyRefIsLocalAndResolves() throws {
        let all = try Self.schemas()
        #expect(all.count >= 14)
        var total = 0
        for (name, schema) in all {
            for (path, ref) in Self.refs(schema) {
                total += 1
                #expect(ref.hasPrefix("#/"), "\(name)\(path): $ref \(ref) leaves the file (resolved against its $id, a network URL)")
                #expect(Self.resolve(ref, in: schema) != nil, "\(name)\(path): $ref \(ref) does not resolve")
            }
        }
        #expect(total > 20)
    }

    /// A shape two outputs share is copied into the schemas that use it, each copy saying
    /// where from (`$comment`: "A copy of FILE#/$defs/NAME"); the copies stay identical.
    @Test func copiedDefinitionsMatchTheirOrigin() throws {
        let all = try Self.schemas()
        let byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0.schema) })
        var copies = 0
        for (name, schema) in all {
            for (key, value) in schema["$defs"] as? [String: Any] ?? [:] {
                guard var copy = value as? [String: Any], let comment = copy["$comment"] as? String, comment.hasPrefix("A copy of ") else { continue }
                copies += 1
                let ref = comment.dropFirst("A copy of ".count).prefix { $0 != "," && $0 != " " }
                let parts = ref.split(separator: "#", maxSplits: 1).map(String.init)
                let origin = try #require(parts.count == 2 ? byName[parts[0]] : nil, "\(name) $defs/\(key): \(comment)")
                let original = try #require(Self.resolve("#" + parts[1], in: origin) as? [String: Any], "\(name) $defs/\(key): \(ref) not found")
                #expect(parts[1] == "/$defs/\(key)", "\(name) $defs/\(key) copies \(ref) under another name")
                copy["$comment"] = nil
                #expect(try Self.canonical(copy) == Self.canonical(original), "\(name) $defs/\(key) differs from \(ref): copy it again")
            }
        }
        #expect(copies >= 9)
    }

    /// The checker itself: a file ref and a dangling ref are found.
    @Test func checkerFindsForeignAndDanglingRefs() {
        let schema: [String: Any] = ["$defs": ["a": ["type": "string"]], "items": ["$ref": "other.schema.json#/$defs/a"], "x": [["$ref": "#/$defs/b"]]]
        let refs = Self.refs(schema)
        #expect(refs.map(\.ref).sorted() == ["#/$defs/b", "other.schema.json#/$defs/a"])
        #expect(Self.resolve("#/$defs/b", in: schema) == nil && Self.resolve("#/$defs/a", in: schema) != nil)
        #expect(refs.first { $0.ref == "#/$defs/b" }?.path == "/x/0")
    }
}
