import CKernels
import IO

// Run-time choice of instruction set. The package builds for baseline x86-64 (SSE2), so the wider
// kernels live in the C target CKernels, each compiled for its own instruction set, and are chosen
// here from what the CPU supports. A portable build (NOREMBED_PORTABLE=1) or another architecture
// has only the Swift kernels.

/// The instruction set of the element-wise kernels (GELU, GEGLU, softmax, LayerNorm, dropout,
/// AdamW). Every path gives bit-identical results — the C kernels repeat the Swift kernels'
/// arithmetic lane for lane (KernelDispatchTests pins each against a scalar reference) — so the
/// choice changes speed only. Ops take it as a parameter (default `current`) so tests can run each.
package enum KernelISA: String, CaseIterable, Sendable {
    /// The Swift kernels: SSE2 intrinsics on x86-64, plain SIMD types in a portable build or elsewhere.
    case baseline
    case avx2
    case avx512

    /// The paths this CPU and build can run, `baseline` first (EMBEDKIT_ISA=baseline|avx2|avx512
    /// caps the list).
    package static let available: [KernelISA] = {
        var paths: [KernelISA] = [.baseline]
        #if arch(x86_64) && !NOREMBED_PORTABLE
        let f = Int(nk_cpu_features())
        if f & NK_AVX2 != 0 { paths.append(.avx2) }
        if f & NK_AVX512 != 0 { paths.append(.avx512) }
        #endif
        return paths
    }()

    /// The widest available path: what the ops use.
    package static let current: KernelISA = available.last ?? .baseline

    /// Whether this build has the x86-64 kernels at all (false in a portable build or off x86-64).
    package static var dispatching: Bool {
        #if arch(x86_64) && !NOREMBED_PORTABLE
        return true
        #else
        return false
        #endif
    }
}

/// The precision of the matrix products (linear layers forward and backward, attention products).
/// `bf16`: the operands are rounded to bfloat16 (round to nearest even) and the products summed in
/// fp32 — PyTorch's CPU autocast for linear layers, transformers' `bf16=True` — while weights,
/// gradients, LayerNorm, softmax, the loss and AdamW stay fp32. Needs AVX512-BF16.
package enum MatmulPrecision: String, Sendable, CaseIterable {
    case fp32
    case bf16

    /// Whether bf16 products can run here: a CPU with AVX512-BF16 (not capped by EMBEDKIT_ISA) and
    /// a dispatching build.
    package static let bf16Supported: Bool = {
        #if arch(x86_64) && !NOREMBED_PORTABLE
        return Int(nk_cpu_features()) & NK_AVX512BF16 != 0
        #else
        return false
        #endif
    }()

    /// `requested`, or fp32 where bf16 cannot run — said once on stderr, never a crash.
    package static func resolve(_ requested: MatmulPrecision) -> MatmulPrecision {
        guard requested == .bf16, !bf16Supported else { return requested }
        _ = fallbackNotice
        return .fp32
    }

    private static let fallbackNotice: Void = {
        let why = KernelISA.dispatching
            ? (Int(nk_cpu_features_detected()) & NK_AVX512BF16 != 0 ? "EMBEDKIT_ISA rules out AVX512-BF16" : "this CPU has no AVX512-BF16")
            : "this is a portable build"
        log("note: bf16 requested, but \(why): matrix products run in fp32")
    }()
}

/// x rounded to the nearest bfloat16 (ties to even; NaN stays NaN), as a Float: the rounding the
/// bf16 products apply to their operands (CKernels' nk_bf16_from_float), for emulations and tests.
package func bf16Rounded(_ x: Float) -> Float {
    let u = x.bitPattern
    if u & 0x7FFF_FFFF > 0x7F80_0000 { return Float(bitPattern: (u | 0x0040_0000) & 0xFFFF_0000) }
    return Float(bitPattern: (u &+ 0x7FFF &+ ((u >> 16) & 1)) & 0xFFFF_0000)
}
