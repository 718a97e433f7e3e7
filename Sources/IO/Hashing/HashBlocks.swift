/// The framing SHA-1 and SHA-256 share (FIPS 180-4 §5.1): the message is cut into 64-byte blocks,
/// a partial block waits for more input between updates, and the end is padded with 0x80, zeros
/// and the message length in bits (big-endian) to a whole number of blocks. Each hash supplies only
/// its compression function.
struct HashBlocks: Sendable {
    /// A partial block waiting for more input (fewer than 64 bytes).
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    init() { pending.reserveCapacity(64) }

    /// Feeds `bytes`, calling `compress` on every block completed.
    mutating func update(_ bytes: UnsafeRawBufferPointer, _ compress: (UnsafePointer<UInt8>) -> Void) {
        guard var p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var n = bytes.count
        length &+= UInt64(n)
        if !pending.isEmpty {
            let take = min(64 - pending.count, n)
            pending.append(contentsOf: UnsafeBufferPointer(start: p, count: take))
            p += take
            n -= take
            if pending.count == 64 {
                pending.withUnsafeBufferPointer { compress($0.baseAddress!) }
                pending.removeAll(keepingCapacity: true)
            }
        }
        while n >= 64 {
            compress(p)
            p += 64
            n -= 64
        }
        if n > 0 { pending.append(contentsOf: UnsafeBufferPointer(start: p, count: n)) }
    }

    /// Pads the message and compresses its last block or two.
    mutating func finish(_ compress: (UnsafePointer<UInt8>) -> Void) {
        let bitLength = length &* 8
        var tail: [UInt8] = [0x80]
        let padTo = (pending.count + 1 + 8 + 63) / 64 * 64
        tail += [UInt8](repeating: 0, count: padTo - pending.count - 1 - 8)
        for i in (0..<8).reversed() { tail.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
        tail.withUnsafeBytes { update($0, compress) }
    }

    /// Big-endian words of a 64-byte block, the first `w.count` ≥ 16 of the message schedule.
    static func loadWords(_ block: UnsafePointer<UInt8>, into w: UnsafeMutableBufferPointer<UInt32>) {
        for i in 0..<16 {
            w[i] = UInt32(block[4 * i]) << 24 | UInt32(block[4 * i + 1]) << 16 | UInt32(block[4 * i + 2]) << 8
                | UInt32(block[4 * i + 3])
        }
    }

    /// The digest: the state words, big-endian.
    static func digest(_ words: [UInt32]) -> [UInt8] {
        words.flatMap { w in [UInt8(w >> 24), UInt8(w >> 16 & 0xff), UInt8(w >> 8 & 0xff), UInt8(w & 0xff)] }
    }
}
