import CCrypto

/// SHA-256 (FIPS 180-4), streaming. The hub names LFS files by the SHA-256 of their content (the
/// `lfs.oid` of a tree listing, the `X-Linked-Etag` of a download), so checking it is how a
/// download proves it is the file the repository commit points to. OpenSSL's libcrypto does the
/// work (with the CPU's SHA instructions where it has them): multi-GB weight files are hashed
/// after every download, and it is several times faster than portable Swift (BENCHMARKS.md).
package struct SHA256: @unchecked Sendable {
    private var context = SHA256_CTX()

    package init() { SHA256_Init(&context) }

    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        SHA256_Update(&context, base, bytes.count)
    }

    package mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    package mutating func update(_ text: String) { update(Array(text.utf8)) }

    /// The 32-byte digest. The value is consumed: call on a copy to keep hashing.
    package mutating func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        SHA256_Final(&digest, &context)
        return digest
    }

    /// The digest as 64 lower-case hex digits, the form the hub uses.
    package mutating func hexDigest() -> String { SHA256.hex(finalize()) }

    package static func hash(_ bytes: [UInt8]) -> String {
        var h = SHA256()
        h.update(bytes)
        return h.hexDigest()
    }
}

extension SHA256 {
    /// Lower-case hex of bytes.
    package static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
