import IO

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
    private var engine = MersenneTwister(seed: 0)

    package init(seed: UInt64 = 67_280_421_310_721) { manualSeed(seed) }

    package func manualSeed(_ seed: UInt64) { engine = MersenneTwister(seed: UInt32(truncatingIfNeeded: seed)) }

    /// One raw 32-bit output.
    package func nextUInt32() -> UInt32 { engine.next() }

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
