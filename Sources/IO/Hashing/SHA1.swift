/// SHA-1, streaming — only to check the hub's ETag of a file kept in plain git (not LFS): that ETag
/// is the git blob id, SHA-1 over `blob <size>\0` followed by the content. Not used for security.
package struct SHA1: Sendable {
    private var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
    private var blocks = HashBlocks()

    package init() {}

    /// A hasher already fed git's blob header, for a blob of `size` bytes.
    package static func gitBlob(size: Int) -> SHA1 {
        var s = SHA1()
        s.update(Array("blob \(size)\0".utf8))
        return s
    }

    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var state = h
        blocks.update(bytes) { SHA1.compress(&state, $0) }
        h = state
    }

    package mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The 20-byte digest. The value is consumed: call on a copy to keep hashing.
    package mutating func finalize() -> [UInt8] {
        var state = h
        blocks.finish { SHA1.compress(&state, $0) }
        h = state
        return HashBlocks.digest([h.0, h.1, h.2, h.3, h.4])
    }

    package mutating func hexDigest() -> String { SHA256.hex(finalize()) }

    private static func compress(_ h: inout (UInt32, UInt32, UInt32, UInt32, UInt32), _ block: UnsafePointer<UInt8>) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { w in
            HashBlocks.loadWords(block, into: w)
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = h
            for i in 0..<80 {
                let f: UInt32
                let k: UInt32
                switch i {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
                default: f = b ^ c ^ d; k = 0xCA62_C1D6
                }
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                e = d; d = c; c = b << 30 | b >> 2; b = a; a = t
            }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
    }
}
