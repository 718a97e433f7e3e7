/// PyTorch's CPU random generator and `torch.randperm`, bit for bit, so that the batch orders of
/// multi-dataset training are sentence-transformers' own (its samplers shuffle with a shared
/// `torch.Generator`). Written here because no library gives torch's exact stream:
/// tools/make_loss_reference.py checks a Python copy against torch, and the tests check this one
/// against the orders a real SentenceTransformerTrainer produced.
///
/// The engine is the standard 32-bit MT19937 (`at::mt19937`); `manualSeed(s)` is init_genrand of
/// the low 32 bits. `randperm(n)` (n < 2³²/20, aten randperm_cpu) swaps r[i] with r[i + u32() % (n − i)]
/// for i in 0..<n−1, so it consumes exactly max(n − 1, 0) outputs.
package final class TorchGenerator {
    private var mt = [UInt32](repeating: 0, count: 624)
    private var index = 624

    package init(seed: UInt64 = 67_280_421_310_721) { manualSeed(seed) }

    package func manualSeed(_ seed: UInt64) {
        mt[0] = UInt32(truncatingIfNeeded: seed)
        for i in 1..<624 {
            let prev = mt[i - 1]
            mt[i] = 1_812_433_253 &* (prev ^ (prev >> 30)) &+ UInt32(i)
        }
        index = 624
    }

    /// One raw 32-bit output.
    package func nextUInt32() -> UInt32 {
        if index >= 624 { twist() }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private func twist() {
        for i in 0..<624 {
            let y = (mt[i] & 0x8000_0000) | (mt[(i + 1) % 624] & 0x7FFF_FFFF)
            var v = mt[(i + 397) % 624] ^ (y >> 1)
            if y & 1 != 0 { v ^= 0x9908_B0DF }
            mt[i] = v
        }
        index = 0
    }

    /// `torch.randperm(n, generator=self)`.
    package func randperm(_ n: Int) -> [Int] {
        precondition(n < (1 << 32) / 20, "randperm of \(n) elements takes torch's 64-bit path, not reproduced here")
        var r = Array(0..<n)
        if n > 1 {
            for i in 0..<(n - 1) {
                let z = Int(nextUInt32() % UInt32(n - i))
                r.swapAt(i, i + z)
            }
        }
        return r
    }
}
