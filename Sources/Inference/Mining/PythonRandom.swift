import Foundation
import IO

/// CPython's `random` module, as far as `mine_hard_negatives(sampling_strategy="random")` uses it:
/// `random.seed(n)` for an integer n and `random.sample(range(n), k)`. Our own because the picks
/// must be Python's, draw for draw: MT19937 seeded by `init_by_array`, `_randbelow` by rejection
/// over `getrandbits`, and the two branches of `Random.sample` (CPython 3.11 `Lib/random.py`,
/// `Modules/_randommodule.c`).
package struct PythonRandom: Sendable {
    private var engine: MersenneTwister

    /// `random.seed(seed)`: init_by_array over the integer's 32-bit words, least significant first
    /// (at least one).
    package init(seed: UInt64) {
        var key: [UInt32] = [UInt32(truncatingIfNeeded: seed)]
        if seed >> 32 != 0 { key.append(UInt32(truncatingIfNeeded: seed >> 32)) }
        engine = MersenneTwister(seed: 19_650_218)
        let n = MersenneTwister.words
        var mt = engine.state
        var i = 1, j = 0
        for _ in 0..<max(n, key.count) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30)
            mt[i] = (mt[i] ^ (prev &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1
            j += 1
            if i >= n { mt[0] = mt[n - 1]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<(n - 1) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30)
            mt[i] = (mt[i] ^ (prev &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= n { mt[0] = mt[n - 1]; i = 1 }
        }
        mt[0] = 0x8000_0000
        engine.state = mt
        engine.restart()
    }

    /// MT19937's next 32-bit output.
    package mutating func nextUInt32() -> UInt32 { engine.next() }

    /// `_randbelow(n)`: uniform in 0..<n by rejection over `getrandbits(n.bit_length())`.
    package mutating func below(_ n: Int) -> Int {
        precondition(n > 0 && n <= Int(UInt32.max))
        let bits = Int.bitWidth - n.leadingZeroBitCount
        var r = Int(nextUInt32() >> (32 - bits))
        while r >= n { r = Int(nextUInt32() >> (32 - bits)) }
        return r
    }

    /// `random.sample(range(n), k)`.
    package mutating func sample(range n: Int, count k: Int) -> [Int] {
        precondition(k >= 0 && k <= n, "sample larger than population")
        var setsize = 21
        if k > 5 { setsize += Int(pow(4.0, (log(Double(k * 3)) / log(4.0)).rounded(.up))) }
        var result: [Int] = []
        result.reserveCapacity(k)
        if n <= setsize {
            var pool = Array(0..<n)
            for i in 0..<k {
                let j = below(n - i)
                result.append(pool[j])
                pool[j] = pool[n - i - 1]
            }
        } else {
            var selected = Set<Int>()
            for _ in 0..<k {
                var j = below(n)
                while selected.contains(j) { j = below(n) }
                selected.insert(j)
                result.append(j)
            }
        }
        return result
    }
}
