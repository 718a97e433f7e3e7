// Our own: twenty lines, and the library avoids Foundation (whose Data.base64EncodedString would do).

/// Standard base64 (RFC 4648, `+/`, `=` padding), as Python's `base64.b64encode` writes it.
package enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Length of the encoding of `n` bytes.
    package static func encodedCount(_ n: Int) -> Int { (n + 2) / 3 * 4 }

    /// Appends the encoding of `bytes` to `out`.
    package static func encode<C: Collection>(_ bytes: C, into out: inout [UInt8]) where C.Element == UInt8, C.Index == Int {
        out.reserveCapacity(out.count + encodedCount(bytes.count))
        var i = bytes.startIndex
        while i + 3 <= bytes.endIndex {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(v >> 18)]); out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)]); out.append(alphabet[Int(v & 63)])
            i += 3
        }
        let rest = bytes.endIndex - i
        if rest > 0 {
            let v = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out.append(alphabet[Int(v >> 18)]); out.append(alphabet[Int(v >> 12 & 63)])
            out.append(rest == 2 ? alphabet[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
    }

    package static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        encode(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
