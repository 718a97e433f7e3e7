import CKernels
import IO
#if canImport(Glibc)
import Glibc
#endif

/// The feed-forward activations of Hugging Face configs (`hidden_act`).
package enum Activation: String, Sendable, CaseIterable {
    /// Exact GELU, x·Φ(x) with erf — transformers' "gelu".
    case gelu
    /// The tanh approximation — "gelu_new", "gelu_pytorch_tanh" (same formula), "gelu_fast" is close
    /// but not equal and is not accepted.
    case geluTanh = "gelu_new"
    case relu

    package init?(configName: String) {
        switch configName {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh": self = .geluTanh
        case "relu": self = .relu
        default: return nil
        }
    }
}

private let invSqrt2: Float = 0.707_106_781_186_547_524_4
private let invSqrt2Pi: Float = 0.398_942_280_401_432_677_94
private let sqrt2OverPi: Float = 0.797_884_560_802_865_355_88

/// out[n] = act(x[n])
package func activationForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int, _ act: Activation,
                               isa: KernelISA = .current) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.activationForward, t0) }
    Parallel.chunks(n, minChunk: 4096) { range in
        let o = out + range.lowerBound, xs = x + range.lowerBound, c = range.count
        switch (act, isa) {
        #if arch(x86_64) && !NOREMBED_PORTABLE
        case (.gelu, .avx512): nk_gelu_fwd_avx512(o, xs, c)
        case (.gelu, .avx2): nk_gelu_fwd_avx2(o, xs, c)
        case (.geluTanh, .avx512): nk_gelu_tanh_fwd_avx512(o, xs, c)
        case (.geluTanh, .avx2): nk_gelu_tanh_fwd_avx2(o, xs, c)
        #endif
        case (.gelu, _): map8(out, x, range, gelu8)
        case (.geluTanh, _): map8(out, x, range, geluTanh8)
        case (.relu, _): map8(out, x, range) { $0.replacing(with: 0, where: $0 .< 0) }
        }
    }
}

/// dx[n] = dout[n] · act'(x[n])  (overwrites dx; dx may alias dout)
package func activationBackward(_ dx: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count n: Int,
                                _ act: Activation, isa: KernelISA = .current) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.activationBackward, t0) }
    Parallel.chunks(n, minChunk: 4096) { range in
        let o = dx + range.lowerBound, d = dout + range.lowerBound, xs = x + range.lowerBound, c = range.count
        switch (act, isa) {
        #if arch(x86_64) && !NOREMBED_PORTABLE
        case (.gelu, .avx512): nk_gelu_bwd_avx512(o, d, xs, c)
        case (.gelu, .avx2): nk_gelu_bwd_avx2(o, d, xs, c)
        case (.geluTanh, .avx512): nk_gelu_tanh_bwd_avx512(o, d, xs, c)
        case (.geluTanh, .avx2): nk_gelu_tanh_bwd_avx2(o, d, xs, c)
        #endif
        case (.gelu, _): map8(dx, dout, x, range) { d, v in d * geluDerivative8(v) }
        case (.geluTanh, _): map8(dx, dout, x, range) { d, v in d * geluTanhDerivative8(v) }
        case (.relu, _): map8(dx, dout, x, range) { d, v in d.replacing(with: 0, where: v .<= 0) }
        }
    }
}

// The element formulas, eight lanes at a time with the SIMD erf/tanh/exp (VectorMath.swift), in the
// same order of operations as the scalar forms below.

/// 0.5·v·(1 + erf(v/√2))
@inline(__always)
package func gelu8(_ v: Float8) -> Float8 { 0.5 * v * (1 + verf(v * invSqrt2)) }

/// Φ(v) + v·φ(v)
@inline(__always)
package func geluDerivative8(_ v: Float8) -> Float8 {
    let cdf = 0.5 * (1 + verf(v * invSqrt2))
    let pdf = vexp(-0.5 * v * v) * invSqrt2Pi
    return cdf + v * pdf
}

@inline(__always)
package func geluTanh8(_ v: Float8) -> Float8 {
    0.5 * v * (1 + vtanh(sqrt2OverPi * (v + 0.044715 * v * v * v)))
}

@inline(__always)
package func geluTanhDerivative8(_ v: Float8) -> Float8 {
    let u = sqrt2OverPi * (v + 0.044715 * v * v * v)
    let th = vtanh(u)
    let du = sqrt2OverPi * (1 + 3 * 0.044715 * v * v)
    return 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * du
}

@inline(__always)
package func geluTanh(_ v: Float) -> Float {
    0.5 * v * (1 + tanhf(sqrt2OverPi * (v + 0.044715 * v * v * v)))
}

@inline(__always)
package func geluTanhDerivative(_ v: Float) -> Float {
    let u = sqrt2OverPi * (v + 0.044715 * v * v * v)
    let th = tanhf(u)
    let du = sqrt2OverPi * (1 + 3 * 0.044715 * v * v)
    return 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * du
}

// GEGLU as NorBERT3's feed-forward uses it: u[T, 2I] splits into a = u[:, :I] and gate g = u[:, I:],
// y = a · gelu_tanh(g).

/// y[T, I] = a · gelu_tanh(g)  for u[T, 2I] = [a | g]
package func gegluForward(_ y: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, T: Int, I: Int, isa: KernelISA = .current) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.activationForward, t0) }
    Parallel.chunks(T, minChunk: 8) { range in
        switch isa {
        #if arch(x86_64) && !NOREMBED_PORTABLE
        case .avx512: return nk_geglu_fwd_avx512(y + range.lowerBound * I, u + range.lowerBound * 2 * I, range.count, I)
        case .avx2: return nk_geglu_fwd_avx2(y + range.lowerBound * I, u + range.lowerBound * 2 * I, range.count, I)
        #endif
        default: break
        }
        for t in range {
            let a = u + t * 2 * I, g = a + I
            map8(y + t * I, a, g, 0..<I) { a, g in a * geluTanh8(g) }
        }
    }
}

/// du[T, 2I] (overwritten) from dy[T, I]: da = dy · gelu_tanh(g), dg = dy · a · gelu_tanh'(g)
package func gegluBackward(_ du: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ u: UnsafePointer<Float>, T: Int, I: Int,
                           isa: KernelISA = .current) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.activationBackward, t0) }
    Parallel.chunks(T, minChunk: 8) { range in
        let r0 = range.lowerBound
        switch isa {
        #if arch(x86_64) && !NOREMBED_PORTABLE
        case .avx512: return nk_geglu_bwd_avx512(du + r0 * 2 * I, dy + r0 * I, u + r0 * 2 * I, range.count, I)
        case .avx2: return nk_geglu_bwd_avx2(du + r0 * 2 * I, dy + r0 * I, u + r0 * 2 * I, range.count, I)
        #endif
        default: break
        }
        for t in range {
            let a = u + t * 2 * I, g = a + I, d = dy + t * I
            let da = du + t * 2 * I, dg = da + I
            var i = 0
            while i < I {
                let n = min(8, I - i)
                let dv = n == 8 ? load8(d + i) : loadPartial(d + i, n)
                let av = n == 8 ? load8(a + i) : loadPartial(a + i, n)
                let gv = n == 8 ? load8(g + i) : loadPartial(g + i, n)
                let dav = dv * geluTanh8(gv), dgv = dv * av * geluTanhDerivative8(gv)
                if n == 8 {
                    store8(dav, da + i)
                    store8(dgv, dg + i)
                } else {
                    storePartial(dav, da + i, n)
                    storePartial(dgv, dg + i, n)
                }
                i += 8
            }
        }
    }
}
