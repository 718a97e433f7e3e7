import IO
#if canImport(Glibc)
import Glibc
#endif

/// MultipleNegativesRankingLoss exactly as sentence-transformers computes it: for anchors a[B, C]
/// and candidates c[N, C] (all positives of the batch, then all negatives: N = 2B for triplets),
/// scores[i, j] = scale · cos(a_i, c_j) with cos on x / max(‖x‖, 1e-12), and the loss is the mean
/// over anchors of cross-entropy with target j = i + labelOffset (the offset is a data-parallel
/// rank's place among the candidates gathered from every rank; 0 on one process).
package struct MNRLResult {
    package var loss: Float
    /// [B, N] scores (scale × cosine).
    package var scores: [Float]
}

/// Computes the loss and, when `dAnchors`/`dCandidates` are given, the gradient of
/// `lossScale × loss` with respect to the (unnormalized) embeddings, written into them.
package func multipleNegativesRankingLoss(
    anchors a: UnsafePointer<Float>, candidates cands: UnsafePointer<Float>, B: Int, N: Int, C: Int,
    scale: Float = 20, lossScale: Float = 1, labelOffset: Int = 0,
    dAnchors: UnsafeMutablePointer<Float>? = nil, dCandidates: UnsafeMutablePointer<Float>? = nil
) -> MNRLResult {
    precondition(labelOffset >= 0 && N >= B + labelOffset, "MNRL needs a positive candidate for every anchor")
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.loss, t0) }
    let an = UnsafeMutablePointer<Float>.allocate(capacity: B * C)
    let cn = UnsafeMutablePointer<Float>.allocate(capacity: N * C)
    let aNorm = UnsafeMutablePointer<Float>.allocate(capacity: B)
    let cNorm = UnsafeMutablePointer<Float>.allocate(capacity: N)
    defer { an.deallocate(); cn.deallocate(); aNorm.deallocate(); cNorm.deallocate() }
    normalizeRowsForward(an, norms: aNorm, a, rows: B, C: C)
    normalizeRowsForward(cn, norms: cNorm, cands, rows: N, C: C)

    var scores = [Float](repeating: 0, count: B * N)
    var loss: Double = 0
    // probs - onehot, scaled, is the gradient of the loss w.r.t. the scores.
    var dScores = [Float](repeating: 0, count: B * N)
    for i in 0..<B {
        var m = -Float.infinity
        for j in 0..<N {
            let s = scale * dot(an + i * C, cn + j * C, C)
            scores[i * N + j] = s
            m = max(m, s)
        }
        var z: Float = 0
        for j in 0..<N { z += expf(scores[i * N + j] - m) }
        let logZ = m + logf(z)
        let target = i + labelOffset
        loss += Double(logZ - scores[i * N + target])
        for j in 0..<N {
            let p = expf(scores[i * N + j] - logZ)
            dScores[i * N + j] = (p - (j == target ? 1 : 0)) * lossScale / Float(B)
        }
    }
    let result = MNRLResult(loss: Float(loss / Double(B)), scores: scores)
    guard let dAnchors, let dCandidates else { return result }

    // d an[i] = scale Σ_j dS[i,j] cn[j];  d cn[j] = scale Σ_i dS[i,j] an[i]
    let dan = UnsafeMutablePointer<Float>.allocate(capacity: B * C)
    let dcn = UnsafeMutablePointer<Float>.allocate(capacity: N * C)
    defer { dan.deallocate(); dcn.deallocate() }
    dan.update(repeating: 0, count: B * C)
    dcn.update(repeating: 0, count: N * C)
    for i in 0..<B {
        for j in 0..<N {
            let g = scale * dScores[i * N + j]
            let ai = an + i * C, cj = cn + j * C
            let dai = dan + i * C, dcj = dcn + j * C
            for c in 0..<C {
                dai[c] += g * cj[c]
                dcj[c] += g * ai[c]
            }
        }
    }
    normalizeRowsBackward(dAnchors, dan, y: an, norms: aNorm, rows: B, C: C)
    normalizeRowsBackward(dCandidates, dcn, y: cn, norms: cNorm, rows: N, C: C)
    return result
}
