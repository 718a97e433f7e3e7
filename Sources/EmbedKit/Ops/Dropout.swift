/// Inverted dropout as torch.nn.Dropout: keep with probability 1-p and scale by 1/(1-p).
/// The mask comes from a counter-based generator, so the backward pass regenerates it instead of
/// storing it, and the result is the same whatever the thread count.
///
/// out[n] = x[n] · keep(i) / (1-p)   (out may alias x; the backward pass is the same call on gradients)
public func dropout(
    _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int,
    p: Float, rng: CounterRandom, indexOffset: Int = 0
) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.dropout, t0) }
    guard p > 0 else {
        if UnsafePointer(out) != x { out.update(from: x, count: n) }
        return
    }
    let scale = 1 / (1 - p)
    Parallel.chunks(n, minChunk: 8192) { range in
        for i in range {
            out[i] = rng.uniform(indexOffset + i) >= p ? x[i] * scale : 0
        }
    }
}
