import CBLAS

// A fully connected layer in PyTorch's nn.Linear layout: W is [OC, IC] (rows are output features).
// Activations are row-major [T, C] over the packed tokens of a whole batch, so one sgemm covers
// every sequence and no FLOP is spent on padding.

/// y[T, OC] = x[T, IC] · Wᵀ + b
public func linearForward(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
    _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>?,
    T: Int, IC: Int, OC: Int
) {
    guard T > 0 else { return }
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.linearForward, t0, flops: gemmFlops(T, OC, IC)) }
    var beta: Float = 0
    if let b {
        for t in 0..<T { (y + t * OC).update(from: b, count: OC) }
        beta = 1
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(OC), Int32(IC),
                1, x, Int32(IC), w, Int32(IC), beta, y, Int32(OC))
}

/// Given dy[T, OC]:
///   dx[T, IC] = dy · W         (overwritten, or added to when `accumulateDX`)
///   dW[OC, IC] += dyᵀ · x
///   db[OC] += Σ_t dy[t]
public func linearBackward(
    dx: UnsafeMutablePointer<Float>?, dW: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>?,
    dy: UnsafePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
    T: Int, IC: Int, OC: Int, accumulateDX: Bool = false
) {
    guard T > 0 else { return }
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.linearBackward, t0, flops: gemmFlops(T, IC, OC) * (dx == nil ? 1 : 2)) }
    if let dx {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(IC), Int32(OC),
                    1, dy, Int32(OC), w, Int32(IC), accumulateDX ? 1 : 0, dx, Int32(IC))
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(OC), Int32(IC), Int32(T),
                1, dy, Int32(OC), x, Int32(IC), 1, dW, Int32(IC))
    if let db { addColumnSums(db, dy, rows: T, cols: OC) }
}

/// out[c] += Σ_r m[r, c], summing each column in row order (deterministic), columns split over cores.
public func addColumnSums(_ out: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, rows: Int, cols: Int) {
    Parallel.chunks(cols, minChunk: 64) { range in
        for r in 0..<rows {
            let row = m + r * cols
            for c in range { out[c] += row[c] }
        }
    }
}
