import IO

/// Inverted dropout as torch.nn.Dropout: keep with probability 1-p and scale by 1/(1-p).
/// The mask comes from a counter-based generator, so the backward pass regenerates it instead of
/// storing it, and the result is the same whatever the thread count.
///
/// out[n] = x[n] · keep(i) / (1-p)   (out may alias x; the backward pass is the same call on gradients)
package func dropout(
    _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int,
    p: Float, rng: CounterRandom, indexOffset: Int = 0
) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.dropout, t0) }
    guard p > 0 else {
        if UnsafePointer(out) != x { out.update(from: x, count: n) }
        return
    }
    Parallel.chunks(n, minChunk: 8192) { range in
        dropoutKernel(out, x, range, p: p, rng: rng, indexOffset: indexOffset)
    }
}

/// Dropout over the rows of packed sequences, [T, width]: each sequence draws from its own stream,
/// `rng.sequence(id)`, indexed from its own first element — so its mask does not depend on which
/// other sequences share the batch. `offsets` (B + 1) and `ids` (B) describe the sequences.
package func dropoutSequences(
    _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, offsets: [Int], sequenceIDs: [Int]?, width: Int,
    p: Float, rng: CounterRandom
) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.dropout, t0) }
    let n = offsets.count - 1
    guard p > 0 else {
        if UnsafePointer(out) != x { out.update(from: x, count: (offsets.last ?? 0) * width) }
        return
    }
    offsets.withUnsafeBufferPointer { off in
        // Sequences in contiguous groups per worker: their elements are contiguous too.
        Parallel.chunks(n, minChunk: 4) { range in
            for b in range {
                let start = off[b] * width, end = off[b + 1] * width
                dropoutKernel(out + start, x + start, 0..<(end - start), p: p, rng: rng.sequence(sequenceIDs?[b] ?? b),
                              indexOffset: 0)
            }
        }
    }
}

/// out[i] = keep(indexOffset + i) ? x[i] / (1−p) : 0 over `range`, on the calling thread.
/// keep(j) is `rng.uniform(j) >= p`, decided on the integer behind it: uniform(j) is k·2⁻²⁴ with
/// k = bits(j) >> 40, which is ≥ p exactly when k ≥ ⌈p·2²⁴⌉ (p·2²⁴ is exact in Double). Same mask,
/// without an integer-to-float conversion per element.
@inline(__always)
func dropoutKernel(
    _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ range: Range<Int>,
    p: Float, rng: CounterRandom, indexOffset: Int
) {
    let scale = 1 / (1 - p)
    let threshold = UInt64((Double(p) * 16_777_216).rounded(.up))
    for i in range {
        out[i] = rng.bits(indexOffset &+ i) >> 40 >= threshold ? x[i] * scale : 0
    }
}
