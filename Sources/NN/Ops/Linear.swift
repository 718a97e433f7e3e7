import CBLAS
import CKernels
import IO

// A fully connected layer in PyTorch's nn.Linear layout: W is [OC, IC] (rows are output features).
// Activations are row-major [T, C] over the packed tokens of a whole batch, so one sgemm covers
// every sequence and no FLOP is spent on padding.

/// y[T, OC] = x[T, IC] · Wᵀ + b  (products in `precision`, see MatmulPrecision). `packed`: W's bf16
/// panels from `FrozenWeightPanels` (bf16 only), which saves converting W on every call.
package func linearForward(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
    _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>?,
    T: Int, IC: Int, OC: Int, precision: MatmulPrecision = .fp32, packed: UnsafePointer<UInt16>? = nil
) {
    guard T > 0 else { return }
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.linearForward, t0, flops: gemmFlops(T, OC, IC)) }
    var beta: Float = 0
    if let b {
        for t in 0..<T { (y + t * OC).update(from: b, count: OC) }
        beta = 1
    }
    linearGemm(precision, transA: false, transB: true, M: T, N: OC, K: IC, x, lda: IC, w, ldb: IC, beta: beta, y, ldc: OC,
               packedB: packed)
}

/// Given dy[T, OC]:
///   dx[T, IC] = dy · W         (overwritten, or added to when `accumulateDX`)
///   dW[OC, IC] += dyᵀ · x
///   db[OC] += Σ_t dy[t]
package func linearBackward(
    dx: UnsafeMutablePointer<Float>?, dW: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>?,
    dy: UnsafePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
    T: Int, IC: Int, OC: Int, accumulateDX: Bool = false, precision: MatmulPrecision = .fp32
) {
    guard T > 0 else { return }
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.linearBackward, t0, flops: gemmFlops(T, IC, OC) * (dx == nil ? 1 : 2)) }
    if let dx {
        linearGemm(precision, transA: false, transB: false, M: T, N: IC, K: OC, dy, lda: OC, w, ldb: IC,
                   beta: accumulateDX ? 1 : 0, dx, ldc: IC)
    }
    linearGemm(precision, transA: true, transB: false, M: OC, N: IC, K: T, dy, lda: OC, x, ldb: IC, beta: 1, dW, ldc: IC)
    if let db { addColumnSums(db, dy, rows: T, cols: OC) }
}

/// out[c] += Σ_r m[r, c], summing each column in row order (deterministic), columns split over cores.
package func addColumnSums(_ out: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, rows: Int, cols: Int) {
    Parallel.chunks(cols, minChunk: 64) { range in
        for r in 0..<rows {
            let row = m + r * cols
            for c in range { out[c] += row[c] }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Whether the linear layers split their sgemms over our own workers (rows of C, one OpenBLAS thread
/// each) instead of letting OpenBLAS thread each call. EMBEDKIT_GEMM=openblas|split (experiment).
let gemmRowSplit: Bool = {
    if let s = getenv("EMBEDKIT_GEMM"), String(cString: s) == "openblas" { return false }
    return true
}()

/// C[M, N] = op(A) · op(B) + beta·C (row-major) for a linear layer, on all workers.
package func linearGemm(
    _ precision: MatmulPrecision, transA: Bool, transB: Bool, M: Int, N: Int, K: Int,
    _ A: UnsafePointer<Float>, lda: Int, _ B: UnsafePointer<Float>, ldb: Int, beta: Float,
    _ C: UnsafeMutablePointer<Float>, ldc: Int, packedB: UnsafePointer<UInt16>? = nil
) {
    #if arch(x86_64) && !NOREMBED_PORTABLE
    if precision == .bf16 && MatmulPrecision.bf16Supported {
        bf16LinearGemm(transA: transA, transB: transB, M: M, N: N, K: K, A, lda: lda, B, ldb: ldb, beta: beta, C, ldc: ldc,
                       packedB: packedB)
        return
    }
    #endif
    let ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans
    let parts = Parallel.workers
    guard gemmRowSplit, parts > 1, M >= 32 * parts else {
        // One worker (`--threads 1`) means one core: OpenBLAS must not start threads of its own.
        if parts == 1, openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
        cblas_sgemm(CblasRowMajor, ta, tb, Int32(M), Int32(N), Int32(K), 1, A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
        return
    }
    if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
    Parallel.forEach(parts) { k in
        // Split points on multiples of 16 rows (the sgemm kernels' row blocking).
        let r0 = (M * k / parts) & ~15, r1 = k == parts - 1 ? M : (M * (k + 1) / parts) & ~15
        cblas_sgemm(CblasRowMajor, ta, tb, Int32(r1 - r0), Int32(N), Int32(K), 1, A + (transA ? r0 : r0 * lda), Int32(lda),
                    B, Int32(ldb), beta, C + r0 * ldc, Int32(ldc))
    }
}

/// C[M, N] = alpha·op(A)·op(B) + beta·C (row-major) on the calling thread, in `precision` (fp32:
/// OpenBLAS; bf16: CKernels' AVX512-BF16 kernel, or fp32 where the CPU lacks it).
@inline(__always)
package func gemm(
    _ precision: MatmulPrecision, transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Float = 1,
    _ A: UnsafePointer<Float>, lda: Int, _ B: UnsafePointer<Float>, ldb: Int, beta: Float,
    _ C: UnsafeMutablePointer<Float>, ldc: Int
) {
    #if arch(x86_64) && !NOREMBED_PORTABLE
    if precision == .bf16 && MatmulPrecision.bf16Supported {
        let rc = nk_bf16_gemm(transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
        precondition(rc == 0, "bf16 matrix product failed (\(rc)): out of memory for its packed operands")
        return
    }
    #endif
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(M), Int32(N), Int32(K), alpha, A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
}

#if arch(x86_64) && !NOREMBED_PORTABLE
/// The bf16 product of a linear layer on all workers: first both operands are packed (rows of op(A)
/// and column panels of op(B) split over the workers; op(B) not at all when `packedB` holds it
/// already), then each worker computes its rows of C. Each element of C gets the same sums in the
/// same order whatever the split, so the result does not depend on the worker count.
private func bf16LinearGemm(
    transA: Bool, transB: Bool, M: Int, N: Int, K: Int,
    _ A: UnsafePointer<Float>, lda: Int, _ B: UnsafePointer<Float>, ldb: Int, beta: Float,
    _ C: UnsafeMutablePointer<Float>, ldc: Int, packedB: UnsafePointer<UInt16>?
) {
    let parts = min(Parallel.workers, max(1, M / 24))
    guard parts > 1 || packedB != nil else {
        gemm(.bf16, transA: transA, transB: transB, M: M, N: N, K: K, A, lda: lda, B, ldb: ldb, beta: beta, C, ldc: ldc)
        return
    }
    guard let ap = nk_bf16_scratch(2, nk_bf16_packed_a_size(M, K) + 32),
          let bp = packedB.map({ UnsafeMutablePointer(mutating: $0) }) ?? nk_bf16_scratch(3, nk_bf16_packed_b_size(K, N) + 32) else {
        preconditionFailure("out of memory for the packed operands of a bf16 matrix product")
    }
    let panels = nk_bf16_panels(N)
    Parallel.forEach(parts) { k in
        nk_bf16_pack_a(ap, transA ? 1 : 0, M, K, A, lda, M * k / parts, M * (k + 1) / parts)
        if packedB == nil { nk_bf16_pack_b(bp, transB ? 1 : 0, K, N, B, ldb, panels * k / parts, panels * (k + 1) / parts) }
    }
    Parallel.forEach(parts) { k in
        _ = nk_bf16_gemm_packed(ap, bp, M, N, K, 1, beta, C, ldc, M * k / parts, M * (k + 1) / parts)
    }
}
#endif

/// The bf16 column panels of a model's linear weights, converted once, for a model whose weights
/// no longer change (inference with bf16 products): every forward then converts only the
/// activations. The products are bit for bit those of packing W on each call. Empty where bf16
/// products cannot run.
package final class FrozenWeightPanels {
    private var panels: [UnsafePointer<Float>: UnsafeMutablePointer<UInt16>] = [:]

    package init() {}

    /// The panels of each (W [OC, IC], OC, IC).
    package convenience init(_ weights: [(UnsafeMutablePointer<Float>, OC: Int, IC: Int)]) {
        self.init()
        for (w, oc, ic) in weights { add(w, OC: oc, IC: ic) }
    }

    /// Converts W [OC, IC] (a linear layer's weight, as `linearForward` takes it) unless done already.
    package func add(_ w: UnsafePointer<Float>, OC: Int, IC: Int) {
        #if arch(x86_64) && !NOREMBED_PORTABLE
        guard MatmulPrecision.bf16Supported, panels[w] == nil else { return }
        let p = UnsafeMutablePointer<UInt16>.allocate(capacity: nk_bf16_packed_b_size(IC, OC) + 32)
        let n = nk_bf16_panels(OC), parts = Parallel.workers
        Parallel.forEach(parts) { k in nk_bf16_pack_b(p, 1, IC, OC, w, IC, n * k / parts, n * (k + 1) / parts) }
        panels[w] = p
        #endif
    }

    /// W's panels, if `add` converted it.
    package subscript(_ w: UnsafePointer<Float>) -> UnsafePointer<UInt16>? { panels[w].map { UnsafePointer($0) } }

    /// Whether no weight was converted (fp32 products, or a CPU without AVX512-BF16).
    package var isEmpty: Bool { panels.isEmpty }

    deinit { for p in panels.values { p.deallocate() } }
}
