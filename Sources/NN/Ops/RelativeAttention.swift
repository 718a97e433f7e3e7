import CBLAS
import IO
#if canImport(Glibc)
import Glibc
#endif

// NorBERT3 (LTG-BERT) attention: disentangled content and relative-position scores over packed
// sequences. For head h, query i and key j of one sequence, with r = bucket(i − j) a row of the
// projected relative embeddings P[R, 2D]:
//
//   s[i, j] = scale · (q_i·k_j + q_i·kpos_h[r] + k_j·qpos_h[r]),   scale = 1/√(3·hd)
//
// Layouts: qk[T, 2D] = [q | k], each [NH, hd]; v[T, D]; P rows are [NH, 2·hd] with head h's
// qpos at columns h·2hd..<h·2hd+hd and kpos right after (the Python model views the projection as
// (heads, 2·head_size) and chunks the last dimension, unlike q and k which are chunked first).
//
// The position terms are computed as two small products per sequence and head — A = Q·kposᵀ and
// B = K·qposᵀ, each [len, R] — then gathered by bucket index; nothing of size len²·hd beyond q·kᵀ.
// Softmax, dropout, ·V and their backward are AttentionCore.swift's, shared with BERT.

/// Log-bucketed relative positions, `position_indices` of the Python model: idx[i][j] =
/// bucketSize − 1 + bucket(i − j), computed with float32 arithmetic as torch does.
package struct RelativeBuckets: Sendable {
    package let bucketSize: Int
    package let maxLength: Int
    /// [maxLength, maxLength] row-major.
    package let indices: [Int32]
    package var rows: Int { 2 * bucketSize - 1 }

    package init(bucketSize: Int, maxPosition: Int, maxLength: Int) {
        self.bucketSize = bucketSize
        self.maxLength = maxLength
        var idx = [Int32](repeating: 0, count: maxLength * maxLength)
        for i in 0..<maxLength {
            for j in 0..<maxLength {
                idx[i * maxLength + j] = Int32(bucketSize - 1 + RelativeBuckets.bucket(i - j, bucketSize: bucketSize, maxPosition: maxPosition))
            }
        }
        indices = idx
    }

    /// Builds from a stored `position_indices` buffer (exactly what the checkpoint used).
    package init(bucketSize: Int, stored: [Int], side: Int) {
        self.bucketSize = bucketSize
        maxLength = side
        indices = stored.map { Int32($0) }
    }

    /// make_log_bucket_position for one relative position.
    package static func bucket(_ rel: Int, bucketSize: Int, maxPosition: Int) -> Int {
        let mid = bucketSize / 2
        let absPos = (rel < mid && rel > -mid) ? mid - 1 : min(abs(rel), maxPosition - 1)
        if absPos <= mid { return rel }
        // torch: ceil(log(abs/mid) / log((max−1)/mid) · (mid−1)) + mid, in float32.
        let ratio = Float(absPos) / Float(mid)
        let denom = Float(log(Double(maxPosition - 1) / Double(mid)))
        let logPos = Int((logf(ratio) / denom * Float(mid - 1)).rounded(.up)) + mid
        return rel > 0 ? logPos : -logPos
    }
}

/// Forward over all sequences and heads; saves probs (before dropout) and, when `dropped` is given
/// and dropout is on, the dropped-out probabilities for the backward pass (see attentionForward).
package func relativeAttentionForward(
    ctx: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    qk: UnsafePointer<Float>, v: UnsafePointer<Float>, pos: UnsafePointer<Float>,
    buckets: RelativeBuckets, layout: AttentionLayout, D: Int, dropoutP: Float, rng: CounterRandom,
    dropped: UnsafeMutablePointer<Float>? = nil
) {
    let nh = layout.heads, hd = D / nh, R = buckets.rows, L = buckets.maxLength
    let scale = 1 / Float(3 * hd).squareRoot()
    let t0 = OpProfiler.shared.begin()
    // q·kᵀ and p·v over Σ len², the two position products over T·R, per head.
    defer { OpProfiler.shared.end(.attentionForward, t0, flops: 2 * gemmFlops(layout.sumOfSquaredLengths, D, 1) + 2 * gemmFlops(layout.tokens, R, D)) }
    buckets.indices.withUnsafeBufferPointer { idxBuf in
        let idx = idxBuf.baseAddress!
        forEachSequenceHead(layout) { b, h in
            let len = layout.length(b), start = layout.offsets[b]
            let q = qk + start * 2 * D + h * hd, k = q + D, vv = v + start * D + h * hd
            let qpos = pos + h * 2 * hd, kpos = qpos + hd
            let head = AttentionHead(layout, sequence: b, head: h, hd: hd, dropoutP: dropoutP, rng: rng)
            let s = probs + head.offset
            let a = UnsafeMutablePointer<Float>.allocate(capacity: 2 * len * R)
            defer { a.deallocate() }
            let bm = a + len * R
            // s = scale·q·kᵀ;  a = q·kposᵀ [len, R];  bm = k·qposᵀ [len, R]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(len), Int32(hd),
                        scale, q, Int32(2 * D), k, Int32(2 * D), 0, s, Int32(len))
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(R), Int32(hd),
                        scale, q, Int32(2 * D), kpos, Int32(2 * D), 0, a, Int32(R))
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(R), Int32(hd),
                        scale, k, Int32(2 * D), qpos, Int32(2 * D), 0, bm, Int32(R))
            for i in 0..<len {
                let row = s + i * len, ir = idx + i * L
                for j in 0..<len {
                    let r = Int(ir[j])
                    row[j] += a[i * R + r] + bm[j * R + r]
                }
            }
            attendForward(head, scores: s, v: vv, ldv: D, ctx: ctx + start * D + h * hd, ldc: D, dropped: dropped)
        }
    }
}

/// Given dctx[T, D]: writes dqk[T, 2D] and dv[T, D], and writes dpos[R, 2D]. `dropped`: what the
/// forward saved there, if anything.
/// Parallel over heads (each owns its columns of dpos), sequences in order within a head, so the
/// sums over sequences are deterministic.
package func relativeAttentionBackward(
    dqk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>, dpos: UnsafeMutablePointer<Float>,
    dctx: UnsafePointer<Float>, probs: UnsafePointer<Float>,
    qk: UnsafePointer<Float>, v: UnsafePointer<Float>, pos: UnsafePointer<Float>,
    buckets: RelativeBuckets, layout: AttentionLayout, D: Int, dropoutP: Float, rng: CounterRandom,
    dropped: UnsafePointer<Float>? = nil
) {
    let nh = layout.heads, hd = D / nh, R = buckets.rows, L = buckets.maxLength
    let scale = 1 / Float(3 * hd).squareRoot()
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.attentionBackward, t0, flops: 4 * gemmFlops(layout.sumOfSquaredLengths, D, 1) + 4 * gemmFlops(layout.tokens, R, D)) }
    dpos.update(repeating: 0, count: R * 2 * D)
    buckets.indices.withUnsafeBufferPointer { idxBuf in
        let idx = idxBuf.baseAddress!
        withSingleThreadedBLAS {
            Parallel.forEach(nh) { h in
                let qpos = pos + h * 2 * hd, kpos = qpos + hd
                let dqpos = dpos + h * 2 * hd, dkpos = dqpos + hd
                for b in 0..<layout.batch {
                    let len = layout.length(b), start = layout.offsets[b]
                    let q = qk + start * 2 * D + h * hd, k = q + D, vv = v + start * D + h * hd
                    let dq = dqk + start * 2 * D + h * hd, dk = dq + D, dvv = dv + start * D + h * hd
                    let dc = dctx + start * D + h * hd
                    let p = probs + layout.probOffset(b, h)
                    let n = len * len
                    let ds = UnsafeMutablePointer<Float>.allocate(capacity: n + 2 * len * R)
                    defer { ds.deallocate() }
                    let g1 = ds + n, g2 = g1 + len * R
                    let head = AttentionHead(layout, sequence: b, head: h, hd: hd, dropoutP: dropoutP, rng: rng)
                    attendBackward(head, dctx: dc, lddc: D, probs: p, v: vv, ldv: D, dv: dvv, lddv: D, ds: ds, dropped: dropped)
                    // Gather by bucket: g1[i, r] = Σ_j ds[i, j], g2[j, r] = Σ_i ds[i, j] over idx(i, j) = r.
                    g1.update(repeating: 0, count: 2 * len * R)
                    for i in 0..<len {
                        let row = ds + i * len, ir = idx + i * L
                        for j in 0..<len {
                            let r = Int(ir[j])
                            g1[i * R + r] += row[j]
                            g2[j * R + r] += row[j]
                        }
                    }
                    // dq = scale·(ds·k + g1·kpos);  dk = scale·(dsᵀ·q + g2·qpos)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                                scale, ds, Int32(len), k, Int32(2 * D), 0, dq, Int32(2 * D))
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(R),
                                scale, g1, Int32(R), kpos, Int32(2 * D), 1, dq, Int32(2 * D))
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                                scale, ds, Int32(len), q, Int32(2 * D), 0, dk, Int32(2 * D))
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(R),
                                scale, g2, Int32(R), qpos, Int32(2 * D), 1, dk, Int32(2 * D))
                    // dkpos += scale·g1ᵀ·q;  dqpos += scale·g2ᵀ·k
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(R), Int32(hd), Int32(len),
                                scale, g1, Int32(R), q, Int32(2 * D), 1, dkpos, Int32(2 * D))
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(R), Int32(hd), Int32(len),
                                scale, g2, Int32(R), k, Int32(2 * D), 1, dqpos, Int32(2 * D))
                }
            }
        }
    }
}

