import CYAML
import StackModel

/// Reads a spec file with libyaml's document loader into a `SpecNode` tree, then decodes it
/// strictly (StackModel `StackSpec.decode`). Anchors and aliases work; a document that
/// expands past `maxNodes` (an alias bomb) is refused.
public enum SpecLoader {
    static let maxNodes = 100_000

    /// Loads and decodes `file`; every problem is a `SpecError` naming the file and line.
    public static func load(file: String) throws(SpecError) -> StackSpec {
        let bytes: [UInt8]
        do { bytes = try SectorReader.contents(of: file) } catch {
            throw SpecError(file: file, line: 0, key: "", message: "cannot read: \(error)")
        }
        let base = file.split(separator: "/").last.map(String.init) ?? file
        let stem = base.hasSuffix(".yaml") ? String(base.dropLast(5)) : base.hasSuffix(".yml") ? String(base.dropLast(4)) : base
        return try StackSpec.decode(try parse(bytes, file: file), file: file, defaultName: stem)
    }

    /// The deepest nesting of lists and mappings a spec or configuration may have.
    static let maxDepth = 64

    /// The YAML tree of `bytes` (one document).
    public static func parse(_ bytes: [UInt8], file: String) throws(SpecError) -> SpecNode {
        if let tooDeep = nestingProblem(bytes, file: file) { throw tooDeep }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else { throw SpecError(file: file, line: 0, key: "", message: "libyaml could not start") }
        defer { yaml_parser_delete(&parser) }
        var document = yaml_document_t()
        let loaded = bytes.withUnsafeBufferPointer { buffer -> Int32 in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            return yaml_parser_load(&parser, &document)
        }
        guard loaded != 0 else {
            let problem = parser.problem.map { String(cString: $0) } ?? "unreadable YAML"
            let context = parser.context.map { String(cString: $0) + ": " } ?? ""
            throw SpecError(file: file, line: Int(parser.problem_mark.line) + 1, key: "", message: "not valid YAML: \(context)\(problem)")
        }
        defer { yaml_document_delete(&document) }
        guard let root = yaml_document_get_root_node(&document) else {
            throw SpecError(file: file, line: 1, key: "", message: "is empty")
        }
        var budget = maxNodes
        return try convert(root, document: &document, file: file, budget: &budget, depth: 0)
    }

    /// libyaml's scanner spends time in proportion to the nesting depth on every token (its
    /// flow-level, simple-key and indentation stacks), and its document loader has no depth
    /// limit: 100,000 nested `[` took minutes before `convert` could refuse them. A first pass
    /// over the parser's events stops at the depth `convert` refuses anyway; a syntax error is
    /// left to the loader, which reports it with its line.
    static func nestingProblem(_ bytes: [UInt8], file: String) -> SpecError? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else { return SpecError(file: file, line: 0, key: "", message: "libyaml could not start") }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeBufferPointer { buffer -> SpecError? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var depth = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) != 0 else { return nil }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    depth += 1
                    if depth > maxDepth {
                        return SpecError(file: file, line: Int(event.start_mark.line) + 1, key: "",
                                         message: "too deeply nested (more than \(maxDepth) levels of lists and mappings)")
                    }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT: depth -= 1
                case YAML_STREAM_END_EVENT, YAML_NO_EVENT: return nil
                default: break
                }
            }
        }
    }

    static func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?, _ length: Int) -> String {
        guard let pointer else { return "" }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    static func convert(_ node: UnsafeMutablePointer<yaml_node_t>, document: inout yaml_document_t, file: String,
                        budget: inout Int, depth: Int) throws(SpecError) -> SpecNode {
        let line = Int(node.pointee.start_mark.line) + 1
        budget -= 1
        guard budget > 0, depth < maxDepth else {
            throw SpecError(file: file, line: line, key: "", message: "too deeply nested or too large (more than \(maxNodes) nodes after expanding aliases)")
        }
        switch node.pointee.type {
        case YAML_SCALAR_NODE:
            return SpecNode(.scalar(text(node.pointee.data.scalar.value, node.pointee.data.scalar.length)), line: line)
        case YAML_SEQUENCE_NODE:
            var items: [SpecNode] = []
            var item = node.pointee.data.sequence.items.start
            while let i = item, i != node.pointee.data.sequence.items.top {
                guard let child = yaml_document_get_node(&document, i.pointee) else { break }
                items.append(try convert(child, document: &document, file: file, budget: &budget, depth: depth + 1))
                item = i + 1
            }
            return SpecNode(.sequence(items), line: line)
        case YAML_MAPPING_NODE:
            var entries: [SpecNode.Entry] = []
            var pair = node.pointee.data.mapping.pairs.start
            while let p = pair, p != node.pointee.data.mapping.pairs.top {
                guard let k = yaml_document_get_node(&document, p.pointee.key),
                      let v = yaml_document_get_node(&document, p.pointee.value) else { break }
                let keyLine = Int(k.pointee.start_mark.line) + 1
                guard k.pointee.type == YAML_SCALAR_NODE else {
                    throw SpecError(file: file, line: keyLine, key: "", message: "a key must be a plain word, not a list or mapping")
                }
                let key = text(k.pointee.data.scalar.value, k.pointee.data.scalar.length)
                entries.append(.init(key: key, keyLine: keyLine, value: try convert(v, document: &document, file: file, budget: &budget, depth: depth + 1)))
                pair = p + 1
            }
            return SpecNode(.mapping(entries), line: line)
        default:
            return SpecNode(.scalar(""), line: line)
        }
    }
}
