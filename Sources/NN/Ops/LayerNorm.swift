// LayerNorm over the last dimension, as torch.nn.functional.layer_norm (biased variance).
// The affine weight and bias are optional: NorBERT3 uses LayerNorms without them.

import CKernels
import IO


/// out[T, C] = (x - μ) / √(σ² + eps) · w + b;  saves mean[T] and rstd[T] for the backward pass.
package func layerNormForward(
    _ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?,
    T: Int, C: Int, eps: Float, isa: KernelISA = .current
) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.layerNormForward, t0) }
    Parallel.chunks(T, minChunk: 16) { range in
        let r0 = range.lowerBound
        switch isa {
        #if arch(x86_64) && !NOREMBED_PORTABLE
        case .avx512: return nk_layernorm_fwd_avx512(out + r0 * C, mean + r0, rstd + r0, x + r0 * C, w, b, range.count, C, eps)
        case .avx2: return nk_layernorm_fwd_avx2(out + r0 * C, mean + r0, rstd + r0, x + r0 * C, w, b, range.count, C, eps)
        #endif
        default: break
        }
        for t in range {
            let xt = x + t * C
            let m = sum(xt, C) / Float(C)
            let v = sumOfSquaredDeviations(xt, C, from: m)
            let r = 1 / (v / Float(C) + eps).squareRoot()
            mean[t] = m
            rstd[t] = r
            let ot = out + t * C
            switch (w, b) {
            case let (w?, b?): for i in 0..<C { ot[i] = (xt[i] - m) * r * w[i] + b[i] }
            case let (w?, nil): for i in 0..<C { ot[i] = (xt[i] - m) * r * w[i] }
            default: for i in 0..<C { ot[i] = (xt[i] - m) * r }
            }
        }
    }
}

/// Given dout[T, C]: dx[T, C] (overwritten, or added to when `accumulate`), dw[C] += Σ dout·x̂,
/// db[C] += Σ dout.
package func layerNormBackward(
    dx: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?,
    dout: UnsafePointer<Float>, x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
    w: UnsafePointer<Float>?, T: Int, C: Int, accumulate: Bool = false, isa: KernelISA = .current
) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.layerNormBackward, t0) }
    // dx per token, in parallel; dnorm = dout · w, x̂ = (x - μ)·rstd,
    // dx = rstd · (dnorm - mean(dnorm) - x̂ · mean(dnorm · x̂)).
    Parallel.chunks(T, minChunk: 16) { range in
        let r0 = range.lowerBound, acc: Int32 = accumulate ? 1 : 0
        switch isa {
        #if arch(x86_64) && !NOREMBED_PORTABLE
        case .avx512: return nk_layernorm_bwd_avx512(dx + r0 * C, dout + r0 * C, x + r0 * C, mean + r0, rstd + r0, w, range.count, C, acc)
        case .avx2: return nk_layernorm_bwd_avx2(dx + r0 * C, dout + r0 * C, x + r0 * C, mean + r0, rstd + r0, w, range.count, C, acc)
        #endif
        default: _ = acc
        }
        let dnorm = UnsafeMutablePointer<Float>.allocate(capacity: C)
        defer { dnorm.deallocate() }
        for t in range {
            let xt = x + t * C, dt = dout + t * C, dxt = dx + t * C
            let m = mean[t], r = rstd[t]
            if let w { for i in 0..<C { dnorm[i] = dt[i] * w[i] } } else { dnorm.update(from: dt, count: C) }
            var s1: Float = 0, s2: Float = 0
            for i in 0..<C {
                s1 += dnorm[i]
                s2 += dnorm[i] * (xt[i] - m) * r
            }
            s1 /= Float(C)
            s2 /= Float(C)
            if accumulate {
                for i in 0..<C { dxt[i] += r * (dnorm[i] - s1 - (xt[i] - m) * r * s2) }
            } else {
                for i in 0..<C { dxt[i] = r * (dnorm[i] - s1 - (xt[i] - m) * r * s2) }
            }
        }
    }
    // Parameter gradients: sums over tokens, per feature, in token order (deterministic).
    if dw != nil || db != nil {
        Parallel.chunks(C, minChunk: 64) { range in
            switch isa {
            #if arch(x86_64) && !NOREMBED_PORTABLE
            case .avx512: return nk_layernorm_param_grads_avx512(dw, db, dout, x, mean, rstd, T, C, range.lowerBound, range.upperBound)
            case .avx2: return nk_layernorm_param_grads_avx2(dw, db, dout, x, mean, rstd, T, C, range.lowerBound, range.upperBound)
            #endif
            default: break
            }
            for t in 0..<T {
                let xt = x + t * C, dt = dout + t * C
                let m = mean[t], r = rstd[t]
                if let dw { for i in range { dw[i] += dt[i] * (xt[i] - m) * r } }
                if let db { for i in range { db[i] += dt[i] } }
            }
        }
    }
}
