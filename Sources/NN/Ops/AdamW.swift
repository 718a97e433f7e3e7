import CKernels
import IO

/// AdamW as torch.optim.AdamW (decoupled weight decay), over a ParameterSet's flat buffers.
/// Per element, in PyTorch's order:
///   θ ← θ·(1 − lr·λ)            (only for tensors with `decay`)
///   m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
///   θ ← θ − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
package final class AdamW: @unchecked Sendable {
    package var beta1: Float = 0.9
    package var beta2: Float = 0.999
    package var eps: Float = 1e-8
    package var weightDecay: Float
    /// Steps taken (t in the bias corrections).
    package private(set) var step = 0
    package let m: UnsafeMutablePointer<Float>
    package let v: UnsafeMutablePointer<Float>
    package let count: Int

    package init(parameters: ParameterSet, weightDecay: Float) {
        count = parameters.count
        self.weightDecay = weightDecay
        m = .allocate(capacity: max(count, 1))
        m.initialize(repeating: 0, count: max(count, 1))
        v = .allocate(capacity: max(count, 1))
        v.initialize(repeating: 0, count: max(count, 1))
    }

    deinit {
        m.deallocate()
        v.deallocate()
    }

    /// One update of every parameter with learning rate `lr`. `gradScale` multiplies every gradient
    /// as it is read: pass the clipping coefficient here (see `clipCoefficient`) instead of scaling
    /// the gradients in place first, which saves two passes over them with bit-identical results.
    package func update(_ params: ParameterSet, lr: Float, gradScale: Float = 1, isa: KernelISA = .current) {
        precondition(params.count == count)
        let t0 = OpProfiler.shared.begin()
        defer { OpProfiler.shared.end(.adamW, t0) }
        step += 1
        let t = Float(step)
        let bc1 = 1 - pow(beta1, t)
        let bc2 = 1 - pow(beta2, t)
        let stepSize = lr / bc1
        let bc2Sqrt = bc2.squareRoot()
        let (b1, b2, eps, wd) = (beta1, beta2, self.eps, weightDecay)
        let m = self.m, v = self.v, values = params.values, grads = params.grads
        let entries = params.entries
        // One parallel region over the flat buffers (fixed halves), each worker walking the tensors
        // that overlap its range; per element the same operations in the same order as torch's
        // single-tensor AdamW, eight lanes at a time.
        Parallel.chunks(count, minChunk: 1 << 15) { range in
            for e in entries {
                let lo = max(range.lowerBound, e.offset), hi = min(range.upperBound, e.offset + e.count)
                guard lo < hi else { continue }
                let decayFactor: Float = e.decay ? 1 - lr * wd : 1
                switch isa {
                #if arch(x86_64) && !NOREMBED_PORTABLE
                case .avx512:
                    nk_adamw_avx512(values + lo, grads + lo, m + lo, v + lo, hi - lo, gradScale, e.decay ? 1 : 0, decayFactor,
                                    b1, b2, stepSize, bc2Sqrt, eps)
                    continue
                case .avx2:
                    nk_adamw_avx2(values + lo, grads + lo, m + lo, v + lo, hi - lo, gradScale, e.decay ? 1 : 0, decayFactor,
                                  b1, b2, stepSize, bc2Sqrt, eps)
                    continue
                #endif
                default: break
                }
                @inline(__always) func lanes(_ g0: Float8, _ p0: Float8, _ m0: Float8, _ v0: Float8) -> (Float8, Float8, Float8) {
                    let g = gradScale == 1 ? g0 : g0 * gradScale
                    let p = e.decay ? p0 * decayFactor : p0
                    let mi = b1 * m0 + (1 - b1) * g
                    let vi = b2 * v0 + (1 - b2) * g * g
                    return (p - stepSize * (mi / (sqrt8(vi) / bc2Sqrt + eps)), mi, vi)
                }
                var i = lo
                while i + 8 <= hi {
                    let (p, mi, vi) = lanes(load8(grads + i), load8(values + i), load8(m + i), load8(v + i))
                    store8(p, values + i)
                    store8(mi, m + i)
                    store8(vi, v + i)
                    i += 8
                }
                if i < hi {
                    let n = hi - i
                    let (p, mi, vi) = lanes(loadPartial(grads + i, n), loadPartial(values + i, n), loadPartial(m + i, n), loadPartial(v + i, n))
                    storePartial(p, values + i, n)
                    storePartial(mi, m + i, n)
                    storePartial(vi, v + i, n)
                }
            }
        }
    }

    /// Restores the state saved in a checkpoint.
    package func restore(step: Int, m: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        self.step = step
        self.m.update(from: m, count: count)
        self.v.update(from: v, count: count)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The global L2 norm of all gradients (as torch.nn.utils.clip_grad_norm_ computes it), in Double.
package func gradientNorm(_ params: ParameterSet) -> Double {
    let parts = Parallel.workers
    var partial = [Double](repeating: 0, count: parts)
    let grads = params.grads, n = params.count
    partial.withUnsafeMutableBufferPointer { out in
        let o = out.baseAddress!
        Parallel.forEach(parts) { k in
            let r = (n * k / parts)..<(n * (k + 1) / parts)
            var acc = SIMD8<Double>()
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let g = SIMD8<Double>(load8(grads + i))
                acc += g * g
                i += 8
            }
            var s = acc.sum()
            while i < r.upperBound { s += Double(grads[i]) * Double(grads[i]); i += 1 }
            o[k] = s
        }
    }
    return partial.reduce(0, +).squareRoot()
}

/// The factor clip_grad_norm_ scales gradients by: maxNorm / (norm + 1e-6), clamped to 1. Pass it to
/// `AdamW.update(_:lr:gradScale:)` to clip without a separate pass over the gradients:
///
///     let norm = gradientNorm(params)
///     optimizer.update(params, lr: lr, gradScale: clipCoefficient(norm: norm, maxNorm: 1))
package func clipCoefficient(norm: Double, maxNorm: Double) -> Float {
    Float(min(maxNorm / (norm + 1e-6), 1))
}

/// Scales gradients so their global norm is at most `maxNorm`, as clip_grad_norm_ does
/// (coefficient maxNorm / (norm + 1e-6), clamped to 1). Returns the norm before clipping.
@discardableResult
package func clipGradients(_ params: ParameterSet, maxNorm: Double) -> Double {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.clip, t0) }
    let norm = gradientNorm(params)
    let coef = clipCoefficient(norm: norm, maxNorm: maxNorm)
    if coef < 1 {
        let c = coef, grads = params.grads
        Parallel.chunks(params.count, minChunk: 1 << 16) { r in
            for i in r { grads[i] *= c }
        }
    }
    return norm
}
