import FoundationEssentials
import StackModel

/// JSON for every command: one named top-level key, keys sorted and snake_case so output is
/// stable, integers as raw numbers, nothing else on stdout.
enum JSONOutput {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONOutputEncoder.make().encode(value), as: UTF8.self)
    }
}
