import FoundationEssentials
import StackModel
#if canImport(Glibc)
import Glibc
#endif

/// JSON for every command: one named top-level key, keys sorted and snake_case so output is
/// stable, integers as raw numbers, nothing else on stdout.
enum JSONOutput {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONOutputEncoder.make().encode(value), as: UTF8.self)
    }

    /// Standard output in blocks, by write(2) after what stdio holds, for documents written as
    /// they are made (`ImpactJSON`).
    static func standardOutput() -> ByteStream {
        ByteStream { bytes in
            // What `print` left in stdio's buffer goes first.
            fflush(nil)
            bytes.withUnsafeBufferPointer { all in
                var done = 0
                while done < all.count {
                    let n = Glibc.write(1, all.baseAddress! + done, all.count - done)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { return }
                    done += n
                }
            }
        }
    }
}
