import IO
#if canImport(Glibc)
import Glibc
#endif

/// CoSENTLoss exactly as sentence-transformers computes it: for pairs (u_k, v_k) with gold scores
/// l_k, s_k = scale · cos(u_k, v_k) (cos on x / max(‖x‖, 1e-12)) and
///
///     loss = log(1 + Σ_{(i, j): l_i < l_j} exp(s_i − s_j))
///
/// — every pair the gold scores rank lower must get the lower cosine; pairs with equal scores
/// contribute nothing, and only the order of the scores matters. The library's O(B log B) form
/// (sorted labels, suffix log-sum-exp) gives the same value; the O(B²) sum here is simpler, exact
/// in the order it adds, and costs nothing next to the encoder at any batch size a CPU trains.
///
/// Returns the loss; when `dU`/`dV` are given, writes the gradient of `lossScale × loss` with
/// respect to the (unnormalized) embeddings into them.
package func cosentLoss(
    u: UnsafePointer<Float>, v: UnsafePointer<Float>, labels: UnsafePointer<Float>, B: Int, C: Int,
    scale: Float = 20, lossScale: Float = 1,
    dU: UnsafeMutablePointer<Float>? = nil, dV: UnsafeMutablePointer<Float>? = nil
) -> Float {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.loss, t0) }
    guard B > 0 else { return 0 }
    let un = UnsafeMutablePointer<Float>.allocate(capacity: B * C)
    let vn = UnsafeMutablePointer<Float>.allocate(capacity: B * C)
    let uNorm = UnsafeMutablePointer<Float>.allocate(capacity: B)
    let vNorm = UnsafeMutablePointer<Float>.allocate(capacity: B)
    defer { un.deallocate(); vn.deallocate(); uNorm.deallocate(); vNorm.deallocate() }
    normalizeRowsForward(un, norms: uNorm, u, rows: B, C: C)
    normalizeRowsForward(vn, norms: vNorm, v, rows: B, C: C)
    var s = [Double](repeating: 0, count: B)
    for k in 0..<B { s[k] = Double(scale * dot(un + k * C, vn + k * C, C)) }

    // log-sum-exp over the prepended zero and every ordered pair, shifted by the largest term.
    var m = 0.0
    for i in 0..<B {
        for j in 0..<B where labels[i] < labels[j] { m = max(m, s[i] - s[j]) }
    }
    var z = exp(-m)
    for i in 0..<B {
        for j in 0..<B where labels[i] < labels[j] { z += exp(s[i] - s[j] - m) }
    }
    let loss = m + log(z)
    guard let dU, let dV else { return Float(loss) }

    // ∂L/∂s_i = Σ_j w_ij − Σ_j w_ji with w_ij = exp(s_i − s_j) / Z over the pairs l_i < l_j.
    var ds = [Double](repeating: 0, count: B)
    for i in 0..<B {
        for j in 0..<B where labels[i] < labels[j] {
            let w = exp(s[i] - s[j] - m) / z
            ds[i] += w
            ds[j] -= w
        }
    }
    // cos_k = û_k·v̂_k: ∂/∂û_k = v̂_k, ∂/∂v̂_k = û_k; then through the normalization.
    let dun = UnsafeMutablePointer<Float>.allocate(capacity: B * C)
    let dvn = UnsafeMutablePointer<Float>.allocate(capacity: B * C)
    defer { dun.deallocate(); dvn.deallocate() }
    for k in 0..<B {
        let g = Float(ds[k]) * scale * lossScale
        for c in 0..<C {
            dun[k * C + c] = g * vn[k * C + c]
            dvn[k * C + c] = g * un[k * C + c]
        }
    }
    normalizeRowsBackward(dU, dun, y: un, norms: uNorm, rows: B, C: C)
    normalizeRowsBackward(dV, dvn, y: vn, norms: vNorm, rows: B, C: C)
    return Float(loss)
}
