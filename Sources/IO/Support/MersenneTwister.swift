/// MT19937, the 32-bit Mersenne Twister that both PyTorch's CPU generator and CPython's `random`
/// run: 624 words of state, init_genrand, the twist and the tempered output. How a seed becomes the
/// state is the caller's (torch: init_genrand of the seed; CPython: init_by_array on top of it).
/// Our own because the streams must be those libraries', draw for draw.
package struct MersenneTwister: Sendable {
    package static let words = 624
    /// The state words; a caller that seeds its own way edits them, then calls `restart()`.
    package var state = [UInt32](repeating: 0, count: words)
    private var index = words

    /// init_genrand(seed).
    package init(seed: UInt32) {
        state[0] = seed
        for i in 1..<Self.words { state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i) }
    }

    /// The next output twists the state first (after editing `state`).
    package mutating func restart() { index = Self.words }

    /// The next 32-bit output.
    package mutating func next() -> UInt32 {
        if index >= Self.words { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        let n = Self.words
        for k in 0..<n {
            let y = (state[k] & 0x8000_0000) | (state[(k + 1) % n] & 0x7FFF_FFFF)
            state[k] = state[(k + 397) % n] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
        }
        index = 0
    }
}
