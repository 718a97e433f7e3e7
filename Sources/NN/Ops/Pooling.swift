import IO

/// How token states become one sentence vector (sentence-transformers' Pooling module).
package enum PoolingMode: String, Sendable {
    /// Mean over the attention mask, special tokens included — sentence-transformers' default.
    case mean
    /// The first token's state.
    case cls
    /// Element-wise max over the tokens.
    case max
}

/// emb[B, C] from hidden[T, C] over packed sequences (`offsets`, B + 1 entries).
/// `argmax` (B·C entries) is filled for `.max` so the backward pass can route gradients.
package func poolingForward(
    _ emb: UnsafeMutablePointer<Float>, _ hidden: UnsafePointer<Float>, offsets: [Int], C: Int,
    mode: PoolingMode, argmax: UnsafeMutablePointer<Int32>? = nil
) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.pooling, t0) }
    let B = offsets.count - 1
    for b in 0..<B {
        let start = offsets[b], len = offsets[b + 1] - start
        let e = emb + b * C
        switch mode {
        case .mean:
            e.update(repeating: 0, count: C)
            for t in start..<(start + len) {
                let h = hidden + t * C
                for c in 0..<C { e[c] += h[c] }
            }
            // sentence-transformers divides by max(count, 1e-9).
            let inv = 1 / max(Float(len), 1e-9)
            for c in 0..<C { e[c] *= inv }
        case .cls:
            e.update(from: hidden + start * C, count: C)
        case .max:
            for c in 0..<C {
                var best = -Float.infinity
                var arg = start
                for t in start..<(start + len) where hidden[t * C + c] > best {
                    best = hidden[t * C + c]
                    arg = t
                }
                e[c] = len > 0 ? best : 0
                argmax?[b * C + c] = Int32(arg)
            }
        }
    }
}

/// dhidden[T, C] (overwritten) from demb[B, C].
package func poolingBackward(
    _ dhidden: UnsafeMutablePointer<Float>, _ demb: UnsafePointer<Float>, offsets: [Int], C: Int,
    mode: PoolingMode, argmax: UnsafePointer<Int32>? = nil
) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.pooling, t0) }
    let B = offsets.count - 1
    dhidden.update(repeating: 0, count: (offsets.last ?? 0) * C)
    for b in 0..<B {
        let start = offsets[b], len = offsets[b + 1] - start
        let d = demb + b * C
        switch mode {
        case .mean:
            let inv = 1 / max(Float(len), 1e-9)
            for t in start..<(start + len) {
                let dh = dhidden + t * C
                for c in 0..<C { dh[c] = d[c] * inv }
            }
        case .cls:
            if len > 0 { (dhidden + start * C).update(from: d, count: C) }
        case .max:
            guard let argmax, len > 0 else { continue }
            for c in 0..<C { dhidden[Int(argmax[b * C + c]) * C + c] += d[c] }
        }
    }
}

/// out[B, C] = x / max(‖x‖₂, 1e-12) per row (torch.nn.functional.normalize); saves the norms.
package func normalizeRowsForward(_ out: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>,
                                 _ x: UnsafePointer<Float>, rows: Int, C: Int) {
    for r in 0..<rows {
        let xr = x + r * C, o = out + r * C
        let n = dot(xr, xr, C).squareRoot()
        norms[r] = n
        let inv = 1 / max(n, 1e-12)
        for c in 0..<C { o[c] = xr[c] * inv }
    }
}

/// dx[B, C] (overwritten) from dout, given the forward's output y = x/‖x‖ and saved norms:
/// dx = (dout - y·(y·dout)) / ‖x‖ where ‖x‖ > eps; dout / eps where the norm was clamped.
package func normalizeRowsBackward(_ dx: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                                  y: UnsafePointer<Float>, norms: UnsafePointer<Float>, rows: Int, C: Int) {
    for r in 0..<rows {
        let d = dout + r * C, yr = y + r * C, g = dx + r * C
        let n = norms[r]
        if n > 1e-12 {
            let s = dot(yr, d, C)
            let inv = 1 / n
            for c in 0..<C { g[c] = (d[c] - yr[c] * s) * inv }
        } else {
            for c in 0..<C { g[c] = d[c] / 1e-12 }
        }
    }
}
