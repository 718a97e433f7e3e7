import IO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if arch(x86_64) && canImport(_Builtin_intrinsics.intel) && !NOREMBED_PORTABLE
import _Builtin_intrinsics.intel
#endif

// Eight-lane exp, erf, tanh and sqrt for the element-wise ops (GELU, GEGLU, softmax, AdamW),
// replacing one libm call per element. exp, erf and tanh are a range reduction plus polynomials
// whose coefficients were fitted for this code (weighted least squares iterated to minimax, Lawson's
// method, against 40-digit references); VectorMathTests compares each with glibc's expf/erff/tanhf
// over dense sweeps of float bit patterns and bounds the difference in ulps.
//
// On x86-64 the lane primitives are SSE2 intrinsics on 4-lane vectors. The package builds for
// baseline x86-64 (no AVX, FMA or SSE4.1): round-to-nearest comes from the 1.5·2²³ "magic number"
// addition, and nothing relies on fused multiply-adds. The intrinsics matter: written with the
// standard library's SIMD8 operations (`replacing(with:where:)`, `clamped`, `squareRoot`), the same
// code compiles to lane-by-lane scalar arithmetic, outlined generic calls and libm `sqrtf` calls, at
// three to eight times the cost. The portable path (other architectures, NOREMBED_PORTABLE=1) has
// the same primitives on plain SIMD types — the same operations, so the same results — and the
// AVX2/AVX-512 kernels in CKernels repeat them lane for lane (KernelDispatch.swift).

package typealias Float8 = SIMD8<Float>
typealias F4 = SIMD4<Float>

@inline(__always) func splat(_ x: Float) -> F4 { F4(repeating: x) }

#if arch(x86_64) && canImport(_Builtin_intrinsics.intel) && !NOREMBED_PORTABLE

// The lane primitives with SSE2 intrinsics. A mask is a float vector of all-ones/all-zeros lanes.
typealias Mask4 = F4
@inline(__always) func splatBits(_ b: Int32) -> F4 { _mm_castsi128_ps(_mm_set1_epi32(b)) }
/// m ? a : b lane-wise.
@inline(__always) func select4(_ m: Mask4, _ a: F4, _ b: F4) -> F4 { _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b)) }
@inline(__always) func lessThan4(_ a: F4, _ b: F4) -> Mask4 { _mm_cmplt_ps(a, b) }
/// minps/maxps: the second operand where either is NaN.
@inline(__always) func min4(_ a: F4, _ b: F4) -> F4 { _mm_min_ps(a, b) }
@inline(__always) func max4(_ a: F4, _ b: F4) -> F4 { _mm_max_ps(a, b) }
@inline(__always) func abs4(_ x: F4) -> F4 { _mm_and_ps(x, splatBits(0x7FFF_FFFF)) }
/// r with the sign bit of s ORed in.
@inline(__always) func orSign4(_ r: F4, _ s: F4) -> F4 { _mm_or_ps(r, _mm_and_ps(s, splatBits(Int32(bitPattern: 0x8000_0000)))) }
/// NaN lanes of x replace those of r (the clamps would otherwise turn NaN into a number).
@inline(__always) func keepNaN4(_ r: F4, _ x: F4) -> F4 { select4(_mm_cmpunord_ps(x, x), x, r) }
/// 2^⌊n/2⌋ and 2^(n − ⌊n/2⌋) for the integer n that `shifted` (a sum with the 1.5·2²³ magic
/// number) holds in its low bits.
@inline(__always) func pow2Halves4(_ shifted: F4, _ magic: F4) -> (F4, F4) {
    let ni = _mm_sub_epi32(_mm_castps_si128(shifted), _mm_castps_si128(magic))
    let half = _mm_srai_epi32(ni, 1)
    let bias = _mm_set1_epi32(127)
    return (_mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(half, bias), 23)),
            _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(_mm_sub_epi32(ni, half), bias), 23)))
}

/// max(a, b) per lane (for NaN-free inputs; `pointwiseMax` is an outlined generic call).
@inline(__always)
package func max8(_ a: Float8, _ b: Float8) -> Float8 {
    Float8(lowHalf: _mm_max_ps(a.lowHalf, b.lowHalf), highHalf: _mm_max_ps(a.highHalf, b.highHalf))
}

/// v where m ≠ 0, else +0, per lane.
@inline(__always)
package func keepWhereNonzero8(_ v: Float8, _ m: Float8) -> Float8 {
    let z = F4()
    return Float8(lowHalf: _mm_and_ps(v.lowHalf, _mm_cmpneq_ps(m.lowHalf, z)),
                  highHalf: _mm_and_ps(v.highHalf, _mm_cmpneq_ps(m.highHalf, z)))
}

/// √x per lane, correctly rounded (`sqrtps`).
@inline(__always)
package func sqrt8(_ x: Float8) -> Float8 { Float8(lowHalf: _mm_sqrt_ps(x.lowHalf), highHalf: _mm_sqrt_ps(x.highHalf)) }

#else

// The same primitives with the standard library's SIMD types (the portable path: aarch64, or
// NOREMBED_PORTABLE=1). Same IEEE operations, so the same results as SSE2 and the C kernels.
typealias Mask4 = SIMDMask<SIMD4<Int32>>
typealias I4 = SIMD4<Int32>
@inline(__always) func bits4(_ x: F4) -> I4 { unsafeBitCast(x, to: I4.self) }
@inline(__always) func float4(_ i: I4) -> F4 { unsafeBitCast(i, to: F4.self) }
@inline(__always) func select4(_ m: Mask4, _ a: F4, _ b: F4) -> F4 { b.replacing(with: a, where: m) }
@inline(__always) func lessThan4(_ a: F4, _ b: F4) -> Mask4 { a .< b }
@inline(__always) func min4(_ a: F4, _ b: F4) -> F4 { b.replacing(with: a, where: a .< b) }
@inline(__always) func max4(_ a: F4, _ b: F4) -> F4 { b.replacing(with: a, where: a .> b) }
@inline(__always) func abs4(_ x: F4) -> F4 { float4(bits4(x) & 0x7FFF_FFFF) }
@inline(__always) func orSign4(_ r: F4, _ s: F4) -> F4 { float4(bits4(r) | (bits4(s) & Int32(bitPattern: 0x8000_0000))) }
@inline(__always) func keepNaN4(_ r: F4, _ x: F4) -> F4 { r.replacing(with: x, where: x .!= x) }
@inline(__always) func pow2Halves4(_ shifted: F4, _ magic: F4) -> (F4, F4) {
    let ni = bits4(shifted) &- bits4(magic)
    let half = ni &>> 1
    return (float4((half &+ 127) &<< 23), float4(((ni &- half) &+ 127) &<< 23))
}

@inline(__always)
package func max8(_ a: Float8, _ b: Float8) -> Float8 { b.replacing(with: a, where: a .> b) }
@inline(__always)
package func keepWhereNonzero8(_ v: Float8, _ m: Float8) -> Float8 { v.replacing(with: 0, where: m .== 0) }
@inline(__always)
package func sqrt8(_ x: Float8) -> Float8 { x.squareRoot() }

#endif

@inline(__always)
func exp4(_ x: F4) -> F4 {
    let magic = splat(12_582_912) // 1.5·2²³: adding it rounds to an integer held in the low bits
    // Below −104 the result rounds to 0 and above 89 it overflows, so the clamps change nothing.
    let xc = min4(max4(x, splat(-104)), splat(89))
    let shifted = xc * splat(1.442_695_04) + magic
    let n = shifted - magic
    // r = x − n·ln2 in two parts; n·ln2_hi is exact (ln2_hi has 9 significant bits, |n| ≤ 150).
    let r = (xc - n * splat(0.693_359_375)) - n * splat(-2.121_944_4e-4)
    // eʳ = 1 + r + r²·P(r) on |r| ≤ ln2/2.
    var p = splat(0.001_390_128_2)
    p = p * r + splat(0.008_363_141)
    p = p * r + splat(0.041_666_854)
    p = p * r + splat(0.166_665_78)
    p = p * r + splat(0.5)
    let er = splat(1) + (r + r * r * p)
    // ·2ⁿ as two exact power-of-two factors (n from the magic sum's low bits), so that n from −150
    // to 128 needs no special case: the second product rounds once into a subnormal or overflows.
    let (s1, s2) = pow2Halves4(shifted, magic)
    return keepNaN4((er * s1) * s2, x)
}

@inline(__always)
func erf4(_ x: F4) -> F4 {
    let ax = abs4(x)
    // |x| < 1: erf = x + x·P(x²).
    let s = x * x
    var pa = splat(7.889_120_0e-05)
    pa = pa * s + splat(-8.020_841_6e-04)
    pa = pa * s + splat(5.189_535_2e-03)
    pa = pa * s + splat(-2.685_444_4e-02)
    pa = pa * s + splat(1.128_360_0e-01)
    pa = pa * s + splat(-3.761_262_6e-01)
    pa = pa * s + splat(1.283_791_7e-01)
    let small = x + x * pa
    // 1 ≤ |x|: erf = ±(1 − e^(−x²)·Q(|x|)), Q fitted on [1, 4] in w = (|x| − 2.5)/1.5; beyond 4
    // the result rounds to ±1, so |x| is clamped there.
    let xb = min4(max4(ax, splat(1)), splat(4))
    let w = (xb - splat(2.5)) * splat(0.666_666_7)
    var q = splat(-3.435_746_5e-05)
    q = q * w + splat(9.598_428e-05)
    q = q * w + splat(-1.509_566_1e-04)
    q = q * w + splat(3.689_104_6e-04)
    q = q * w + splat(-1.010_187_3e-03)
    q = q * w + splat(2.424_983_3e-03)
    q = q * w + splat(-5.570_322_3e-03)
    q = q * w + splat(1.248_435_3e-02)
    q = q * w + splat(-2.700_520_1e-02)
    q = q * w + splat(5.611_091_9e-02)
    q = q * w + splat(-1.115_210_3e-01)
    q = q * w + splat(2.108_063_5e-01)
    let big = orSign4(splat(1) - exp4(splat(0) - xb * xb) * q, x) // 1 − e·q > 0: OR in the sign
    return keepNaN4(select4(lessThan4(ax, splat(1)), small, big), x)
}

@inline(__always)
func tanh4(_ x: F4) -> F4 {
    let ax = abs4(x)
    // |x| < 0.625: |x| + |x|·s·P(s), s = x². Otherwise 1 − 2/(e^(2|x|) + 1), |x| clamped at 9.1
    // where the result is 1 in float. The sign goes back on last (tanh is odd; −0 stays −0).
    let s = x * x
    var p = splat(0.002_292_828_9)
    p = p * s + splat(-0.008_344_028)
    p = p * s + splat(0.021_768_948)
    p = p * s + splat(-0.053_959_265)
    p = p * s + splat(0.133_333_04)
    p = p * s + splat(-0.333_333_34)
    let small = ax + ax * (s * p)
    let e = exp4(splat(2) * min4(ax, splat(9.1)))
    let big = splat(1) - splat(2) / (e + splat(1))
    let r = orSign4(select4(lessThan4(ax, splat(0.625)), small, big), x)
    return keepNaN4(r, x)
}

/// eˣ per lane, within 1 ulp of expf over its whole range, subnormal results and overflow to +∞
/// included (see VectorMathTests).
@inline(__always)
package func vexp(_ x: Float8) -> Float8 { Float8(lowHalf: exp4(x.lowHalf), highHalf: exp4(x.highHalf)) }

/// erf(x) per lane, within 2 ulp of erff (1 ulp but for two inputs near ±0.996; see VectorMathTests).
@inline(__always)
package func verf(_ x: Float8) -> Float8 { Float8(lowHalf: erf4(x.lowHalf), highHalf: erf4(x.highHalf)) }

/// tanh(x) per lane, within 2 ulp of tanhf (see VectorMathTests).
@inline(__always)
package func vtanh(_ x: Float8) -> Float8 { Float8(lowHalf: tanh4(x.lowHalf), highHalf: tanh4(x.highHalf)) }

/// The residual connection: y[n] += x[n], over all cores.
func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.residualAdd, t0) }
    Parallel.chunks(n, minChunk: 1 << 14) { r in
        for i in r { y[i] += x[i] }
    }
}
