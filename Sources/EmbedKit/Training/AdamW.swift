/// AdamW as torch.optim.AdamW (decoupled weight decay), over a ParameterSet's flat buffers.
/// Per element, in PyTorch's order:
///   θ ← θ·(1 − lr·λ)            (only for tensors with `decay`)
///   m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
///   θ ← θ − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
public final class AdamW: @unchecked Sendable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-8
    public var weightDecay: Float
    /// Steps taken (t in the bias corrections).
    public private(set) var step = 0
    public let m: UnsafeMutablePointer<Float>
    public let v: UnsafeMutablePointer<Float>
    public let count: Int

    public init(parameters: ParameterSet, weightDecay: Float) {
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

    /// One update of every parameter with learning rate `lr`.
    public func update(_ params: ParameterSet, lr: Float) {
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
        for e in params.entries {
            let decayFactor: Float = e.decay ? 1 - lr * wd : 1
            Parallel.chunks(e.count, minChunk: 1 << 15) { r in
                for j in r {
                    let i = e.offset + j
                    let g = grads[i]
                    var p = values[i]
                    if e.decay { p *= decayFactor }
                    let mi = b1 * m[i] + (1 - b1) * g
                    let vi = b2 * v[i] + (1 - b2) * g * g
                    m[i] = mi
                    v[i] = vi
                    values[i] = p - stepSize * (mi / (vi.squareRoot() / bc2Sqrt + eps))
                }
            }
        }
    }

    /// Restores the state saved in a checkpoint.
    public func restore(step: Int, m: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        self.step = step
        self.m.update(from: m, count: count)
        self.v.update(from: v, count: count)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The global L2 norm of all gradients (as torch.nn.utils.clip_grad_norm_ computes it), in Double.
public func gradientNorm(_ params: ParameterSet) -> Double {
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

/// Scales gradients so their global norm is at most `maxNorm`, as clip_grad_norm_ does
/// (coefficient maxNorm / (norm + 1e-6), clamped to 1). Returns the norm before clipping.
@discardableResult
public func clipGradients(_ params: ParameterSet, maxNorm: Double) -> Double {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.clip, t0) }
    let norm = gradientNorm(params)
    let coef = min(maxNorm / (norm + 1e-6), 1)
    if coef < 1 {
        let c = Float(coef), grads = params.grads
        Parallel.chunks(params.count, minChunk: 1 << 16) { r in
            for i in r { grads[i] *= c }
        }
    }
    return norm
}
