import IO

/// out[rows, d] = the first d of each row of x[rows, C]: a Matryoshka model's vector cut to d
/// dimensions.
package func truncateRows(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, C: Int, d: Int) {
    precondition(d >= 1 && d <= C, "cannot cut \(C)-dimensional rows to \(d)")
    for r in 0..<rows { (out + r * d).update(from: x + r * C, count: d) }
}

/// Matryoshka representation learning as sentence-transformers' MatryoshkaLoss computes it around a
/// base loss: the embeddings of every column are cut to each dimension d and re-normalized
/// (`shrink`: normalize(e[:, :d])), the base loss is taken on them, and the weighted terms add up:
///
///     L = Σ_d w_d · L_inner(normalize(e[:, :d]))
///
/// `inner(x, d, dX, scale)` is the base loss of x [rows, d]; when dX is non-nil it must write there
/// the gradient of `scale × loss`. With `dEmbeddings`, the gradient of `lossScale × L` with respect
/// to e [rows, C] is written there (overwritten), each dimension's share flowing back through its
/// normalization into the first d components. Returns L and the unweighted per-dimension losses.
package func matryoshkaLoss(
    embeddings e: UnsafePointer<Float>, rows: Int, C: Int, dims: [Int], weights: [Float], lossScale: Float = 1,
    dEmbeddings: UnsafeMutablePointer<Float>? = nil,
    inner: (_ x: UnsafePointer<Float>, _ d: Int, _ dX: UnsafeMutablePointer<Float>?, _ scale: Float) -> Float
) -> (loss: Float, perDimension: [Float]) {
    precondition(dims.count == weights.count && !dims.isEmpty, "one weight per Matryoshka dimension")
    let maxD = dims.max()!
    let cut = UnsafeMutablePointer<Float>.allocate(capacity: rows * maxD)
    let shrunk = UnsafeMutablePointer<Float>.allocate(capacity: rows * maxD)
    let norms = UnsafeMutablePointer<Float>.allocate(capacity: max(rows, 1))
    let dShrunk = UnsafeMutablePointer<Float>.allocate(capacity: rows * maxD)
    let dCut = UnsafeMutablePointer<Float>.allocate(capacity: rows * maxD)
    defer { cut.deallocate(); shrunk.deallocate(); norms.deallocate(); dShrunk.deallocate(); dCut.deallocate() }
    dEmbeddings?.update(repeating: 0, count: rows * C)
    var total: Float = 0
    var perDimension: [Float] = []
    for (d, w) in zip(dims, weights) {
        truncateRows(cut, e, rows: rows, C: C, d: d)
        normalizeRowsForward(shrunk, norms: norms, cut, rows: rows, C: d)
        let l = inner(shrunk, d, dEmbeddings == nil ? nil : dShrunk, lossScale * w)
        perDimension.append(l)
        total += w * l
        guard let dE = dEmbeddings else { continue }
        normalizeRowsBackward(dCut, dShrunk, y: shrunk, norms: norms, rows: rows, C: d)
        for r in 0..<rows {
            let g = dE + r * C, s = dCut + r * d
            for c in 0..<d { g[c] += s[c] }
        }
    }
    return (total, perDimension)
}
