/// Random numbers for training, in two flavours:
/// - `CounterRandom`: stateless (hash of key and counter), so dropout masks can be drawn in parallel,
///   identically whatever the thread count, and resume needs only the step number;
/// - `SplitMix64`: a small sequential generator (shuffling), whose state is one UInt64 to checkpoint.
package struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    package var state: UInt64

    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 finalizer: a bijective 64-bit mixer with good avalanche.
    @inline(__always)
    package static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

package struct CounterRandom: Sendable {
    package let key: UInt64

    /// A stream identified by a seed and up to three more numbers (e.g. step, layer, site).
    package init(seed: UInt64, _ a: UInt64 = 0, _ b: UInt64 = 0, _ c: UInt64 = 0) {
        var k = SplitMix64.mix(seed ^ 0x5851_F42D_4C95_7F2D)
        k = SplitMix64.mix(k ^ a)
        k = SplitMix64.mix(k ^ (b &* 0x9E37_79B9_7F4A_7C15))
        key = SplitMix64.mix(k ^ (c &* 0xD1B5_4A32_D192_ED03))
    }

    /// The stream of one sequence within this one (keyed by the sequence's place in the batch).
    @inline(__always)
    package func sequence(_ id: Int) -> CounterRandom {
        CounterRandom(key: SplitMix64.mix(key ^ (UInt64(truncatingIfNeeded: id) &* 0xA076_1D64_78BD_642F)))
    }

    private init(key: UInt64) { self.key = key }

    @inline(__always)
    package func bits(_ i: Int) -> UInt64 {
        SplitMix64.mix(key &+ UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// Uniform in [0, 1) with 24 bits, as a Float.
    @inline(__always)
    package func uniform(_ i: Int) -> Float {
        Float(bits(i) >> 40) * (1.0 / 16_777_216.0)
    }
}
