import CBLAS
import IO

// BERT's scaled dot-product self-attention over packed sequences: scores = q·kᵀ / √hd; the rest
// (softmax, dropout, ·V and their backward) is AttentionCore.swift's.
//
// Layouts: qkv[T, 3C] holds per token [q | k | v], each [NH, hd] (head h at columns h·hd..<(h+1)·hd);
// probs holds, for sequence b and head h, a [len_b, len_b] matrix at `layout.probOffset(b, h)`.

/// ctx[T, C] = dropout(softmax(Q·Kᵀ / √hd)) · V per sequence and head; saves probs (before dropout)
/// and, when `dropped` is given (probCount floats) and dropout is on, the dropped-out probabilities,
/// which spares `attentionBackward` drawing the mask twice more.
package func attentionForward(
    ctx: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    qkv: UnsafePointer<Float>, layout: AttentionLayout, C: Int,
    dropoutP: Float, rng: CounterRandom, dropped: UnsafeMutablePointer<Float>? = nil
) {
    let nh = layout.heads, hd = C / nh
    let scale = 1 / Float(hd).squareRoot()
    let ld = Int32(3 * C)
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.attentionForward, t0, flops: 2 * gemmFlops(layout.sumOfSquaredLengths, C, 1)) }
    forEachSequenceHead(layout) { b, h in
        let len = layout.length(b), start = layout.offsets[b]
        let head = AttentionHead(layout, sequence: b, head: h, hd: hd, dropoutP: dropoutP, rng: rng)
        let q = qkv + start * 3 * C + h * hd, k = q + C, v = q + 2 * C
        let s = probs + head.offset
        // s[len, len] = scale · q · kᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(len), Int32(hd),
                    scale, q, ld, k, ld, 0, s, Int32(len))
        attendForward(head, scores: s, v: v, ldv: 3 * C, ctx: ctx + start * C + h * hd, ldc: C, dropped: dropped)
    }
}

/// Given dctx[T, C], writes dqkv[T, 3C]. `dropped`: what the forward saved there, if anything.
package func attentionBackward(
    dqkv: UnsafeMutablePointer<Float>, dctx: UnsafePointer<Float>,
    probs: UnsafePointer<Float>, qkv: UnsafePointer<Float>, layout: AttentionLayout, C: Int,
    dropoutP: Float, rng: CounterRandom, dropped: UnsafePointer<Float>? = nil
) {
    let nh = layout.heads, hd = C / nh
    let scale = 1 / Float(hd).squareRoot()
    let ld = Int32(3 * C)
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.attentionBackward, t0, flops: 4 * gemmFlops(layout.sumOfSquaredLengths, C, 1)) }
    forEachSequenceHead(layout) { b, h in
        let len = layout.length(b), start = layout.offsets[b]
        let head = AttentionHead(layout, sequence: b, head: h, hd: hd, dropoutP: dropoutP, rng: rng)
        let q = qkv + start * 3 * C + h * hd, k = q + C, v = q + 2 * C
        let dq = dqkv + start * 3 * C + h * hd, dk = dq + C, dv = dq + 2 * C
        let ds = UnsafeMutablePointer<Float>.allocate(capacity: len * len)
        defer { ds.deallocate() }
        attendBackward(head, dctx: dctx + start * C + h * hd, lddc: C, probs: probs + head.offset, v: v, ldv: 3 * C,
                       dv: dv, lddv: 3 * C, ds: ds, dropped: dropped)
        // dq = scale · ds · k;  dk = scale · dsᵀ · q
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                    scale, ds, Int32(len), k, ld, 0, dq, ld)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                    scale, ds, Int32(len), q, ld, 0, dk, ld)
    }
}
