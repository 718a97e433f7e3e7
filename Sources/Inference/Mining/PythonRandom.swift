import Foundation

/// CPython's `random` module, as far as `mine_hard_negatives(sampling_strategy="random")` uses it:
/// `random.seed(n)` for an integer n and `random.sample(range(n), k)`. Our own because the picks
/// must be Python's, draw for draw: MT19937 seeded by `init_by_array`, `_randbelow` by rejection
/// over `getrandbits`, and the two branches of `Random.sample` (CPython 3.11 `Lib/random.py`,
/// `Modules/_randommodule.c`).
package struct PythonRandom: Sendable {
    private var mt = [UInt32](repeating: 0, count: 624)
    private var position = 625

    /// `random.seed(seed)`: the integer's 32-bit words, least significant first (at least one).
    package init(seed: UInt64) {
        var key: [UInt32] = [UInt32(truncatingIfNeeded: seed)]
        if seed >> 32 != 0 { key.append(UInt32(truncatingIfNeeded: seed >> 32)) }
        initGenrand(19_650_218)
        var i = 1, j = 0
        for _ in 0..<max(624, key.count) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30)
            mt[i] = (mt[i] ^ (prev &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1
            j += 1
            if i >= 624 { mt[0] = mt[623]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<623 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30)
            mt[i] = (mt[i] ^ (prev &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= 624 { mt[0] = mt[623]; i = 1 }
        }
        mt[0] = 0x8000_0000
        position = 624
    }

    private mutating func initGenrand(_ s: UInt32) {
        mt[0] = s
        for i in 1..<624 { mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i) }
    }

    /// MT19937's next 32-bit output.
    package mutating func nextUInt32() -> UInt32 {
        if position >= 624 {
            for k in 0..<624 {
                let y = (mt[k] & 0x8000_0000) | (mt[(k + 1) % 624] & 0x7FFF_FFFF)
                mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
            }
            position = 0
        }
        var y = mt[position]
        position += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

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
