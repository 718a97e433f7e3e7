import CBLAS
import IO
#if canImport(Glibc)
import Glibc
#endif

// What every attention variant shares once its scores are made: the packed layout of sequences
// and their attention matrices, the per-(sequence, head) loop with OpenBLAS pinned to one thread,
// softmax → dropout → ·V forward, and its backward down to the gradient of the scores. BERT's
// attention (Attention.swift) and NorBERT3's relative attention (RelativeAttention.swift) differ
// only in how they make the scores and send their gradient back.
//
// Packed sequences attend only to their own tokens, so no padding mask is needed: the result
// equals PyTorch's with a padding mask (whose masked scores become exact zeros after softmax)
// without computing the padded rows and columns.

/// Where each sequence sits in the packed token arrays, and where its attention matrices sit.
package struct AttentionLayout {
    /// Token offsets, B + 1 entries: sequence b is tokens offsets[b]..<offsets[b+1].
    package let offsets: [Int]
    /// Float offsets of each sequence's NH attention matrices, B + 1 entries.
    package let probOffsets: [Int]
    package let heads: Int
    /// Each sequence's place in the whole batch, which keys its dropout masks (nil: 0..<B).
    package let sequenceIDs: [Int]?

    package init(offsets: [Int], heads: Int, sequenceIDs: [Int]? = nil) {
        self.offsets = offsets
        self.heads = heads
        self.sequenceIDs = sequenceIDs
        var p = [0]
        for b in 0..<(offsets.count - 1) {
            let len = offsets[b + 1] - offsets[b]
            p.append(p[b] + heads * len * len)
        }
        probOffsets = p
    }

    package var batch: Int { offsets.count - 1 }
    package var tokens: Int { offsets.last ?? 0 }
    /// Floats needed for all attention matrices.
    package var probCount: Int { probOffsets.last ?? 0 }
    package func length(_ b: Int) -> Int { offsets[b + 1] - offsets[b] }
    package func sequenceID(_ b: Int) -> Int { sequenceIDs?[b] ?? b }
    package func probOffset(_ b: Int, _ h: Int) -> Int { let l = length(b); return probOffsets[b] + h * l * l }
    /// Σ_b len_b² (the size of one head's attention matrices over the batch).
    package var sumOfSquaredLengths: Int { probCount / max(heads, 1) }
}

/// Runs `body` with OpenBLAS on one thread: attention's small per-head products are better spread
/// across heads on our workers than split inside one sgemm.
func withSingleThreadedBLAS(_ body: () -> Void) {
    let saved = openblas_get_num_threads()
    openblas_set_num_threads(1)
    defer { openblas_set_num_threads(saved) }
    body()
}

/// Runs `body(b, h)` for every sequence and head on all cores, OpenBLAS single-threaded inside.
func forEachSequenceHead(_ layout: AttentionLayout, _ body: (Int, Int) -> Void) {
    let nh = layout.heads
    withSingleThreadedBLAS {
        Parallel.forEach(layout.batch * nh) { item in body(item / nh, item % nh) }
    }
}

/// One sequence and head of an attention layer, as the shared forward and backward see it: the
/// [len, len] matrix at `offset` in the layer's probability buffers and its dropout mask.
struct AttentionHead {
    let len: Int
    let hd: Int
    /// Float offset of this head's matrix in `probs` / `dropped`.
    let offset: Int
    let dropoutP: Float
    /// The sequence's own stream (so its masks do not depend on the rest of the batch), indexed from
    /// `maskIndex` = h·len² for head h.
    let rng: CounterRandom
    let maskIndex: Int

    init(_ layout: AttentionLayout, sequence b: Int, head h: Int, hd: Int, dropoutP: Float, rng: CounterRandom) {
        len = layout.length(b)
        self.hd = hd
        offset = layout.probOffset(b, h)
        self.dropoutP = dropoutP
        self.rng = rng.sequence(layout.sequenceID(b))
        maskIndex = h * len * len
    }
}

/// Forward from scores: probs = softmax(scores) in place (rows), pd = dropout(probs) — saved in
/// `dropped` when given, so backward need not draw the mask again — and ctx[len, hd] = pd · v.
func attendForward(_ head: AttentionHead, scores s: UnsafeMutablePointer<Float>,
                   v: UnsafePointer<Float>, ldv: Int, ctx: UnsafeMutablePointer<Float>, ldc: Int,
                   dropped: UnsafeMutablePointer<Float>?) {
    let len = head.len
    softmaxRows(s, rows: len, cols: len)
    var pd = UnsafePointer(s)
    var scratch: UnsafeMutablePointer<Float>? = nil
    if head.dropoutP > 0 {
        let d = dropped.map { $0 + head.offset } ?? .allocate(capacity: len * len)
        dropoutSerial(d, s, count: len * len, p: head.dropoutP, rng: head.rng, indexOffset: head.maskIndex)
        pd = UnsafePointer(d)
        if dropped == nil { scratch = d }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(len), Int32(head.hd), Int32(len),
                1, pd, Int32(len), v, Int32(ldv), 0, ctx, Int32(ldc))
    scratch?.deallocate()
}

/// Backward to the scores: given dc = d ctx [len, hd], writes dv[len, hd] = pdᵀ · dc and
/// ds[len, len] = softmax'(dropout'(dc · vᵀ)), the gradient of the scores. `p` is the forward's
/// probabilities (before dropout); `dropped` what the forward saved, if anything.
func attendBackward(_ head: AttentionHead, dctx dc: UnsafePointer<Float>, lddc: Int, probs p: UnsafePointer<Float>,
                    v: UnsafePointer<Float>, ldv: Int, dv: UnsafeMutablePointer<Float>, lddv: Int,
                    ds: UnsafeMutablePointer<Float>, dropped: UnsafePointer<Float>?) {
    let len = head.len, hd = head.hd, n = len * len
    // dv = pdᵀ · dc, with pd the dropped-out probabilities.
    let saved = head.dropoutP > 0 ? dropped.map { $0 + head.offset } : nil
    if let saved {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                    1, saved, Int32(len), dc, Int32(lddc), 0, dv, Int32(lddv))
    } else if head.dropoutP > 0 {
        dropoutSerial(ds, p, count: n, p: head.dropoutP, rng: head.rng, indexOffset: head.maskIndex)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                    1, ds, Int32(len), dc, Int32(lddc), 0, dv, Int32(lddv))
    } else {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                    1, p, Int32(len), dc, Int32(lddc), 0, dv, Int32(lddv))
    }
    // d pd = dc · vᵀ, then back through dropout and softmax.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(len), Int32(hd),
                1, dc, Int32(lddc), v, Int32(ldv), 0, ds, Int32(len))
    if let saved {
        dropoutBackwardFromSaved(ds, saved, count: n, p: head.dropoutP)
    } else if head.dropoutP > 0 {
        dropoutSerial(ds, ds, count: n, p: head.dropoutP, rng: head.rng, indexOffset: head.maskIndex)
    }
    softmaxRowsBackward(ds, p, rows: len, cols: len)
}

/// Row-wise softmax in place, max-subtracted as PyTorch does.
package func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
    // Short rows (most sentences) stay scalar: the vector path's partial-vector tail costs more than
    // it saves below about 32 columns (`embedkit-bench --ops`: 4.1 vs 4.7 ns per element at 20).
    if cols < 32 {
        for r in 0..<rows {
            let row = x + r * cols
            var m = -Float.infinity
            for j in 0..<cols { m = max(m, row[j]) }
            var s: Float = 0
            for j in 0..<cols { let e = expf(row[j] - m); row[j] = e; s += e }
            let inv = 1 / s
            for j in 0..<cols { row[j] *= inv }
        }
        return
    }
    for r in 0..<rows {
        let row = x + r * cols
        var mv = Float8(repeating: -.infinity)
        var j = 0
        while j + 8 <= cols { mv = max8(mv, load8(row + j)); j += 8 }
        // The lanes one by one: `SIMD.max()` is an outlined generic call, costly on short rows.
        var m = mv[0]
        for l in 1..<8 { m = max(m, mv[l]) }
        while j < cols { m = max(m, row[j]); j += 1 }
        var sv = Float8()
        j = 0
        while j + 8 <= cols {
            let e = vexp(load8(row + j) - m)
            store8(e, row + j)
            sv += e
            j += 8
        }
        if j < cols {
            let n = cols - j
            // Padding lanes are −∞: e⁻∞ = 0 adds nothing to the sum.
            var v = Float8(repeating: -.infinity)
            for l in 0..<n { v[l] = row[j + l] }
            let e = vexp(v - m)
            storePartial(e, row + j, n)
            sv += e
        }
        let inv = 1 / sv.sum()
        map8(row, row, 0..<cols) { $0 * inv }
    }
}

/// In place: dx = p ⊙ (dy - Σ_j dy·p) per row, where dx overwrites dy.
package func softmaxRowsBackward(_ d: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, rows: Int, cols: Int) {
    for r in 0..<rows {
        let dr = d + r * cols, pr = p + r * cols
        let s = dot(UnsafePointer(dr), pr, cols)
        map8(dr, dr, pr, 0..<cols) { d, p in p * (d - s) }
    }
}

/// The backward of attention dropout from the saved dropped-out probabilities instead of the
/// generator: d[i] = saved[i] ≠ 0 ? d[i]/(1−p) : 0. Where the mask kept a probability that is exactly
/// 0 this gives 0 instead of d[i]/(1−p), which changes nothing: the softmax backward that follows
/// multiplies every element by its probability.
func dropoutBackwardFromSaved(_ d: UnsafeMutablePointer<Float>, _ saved: UnsafePointer<Float>, count n: Int, p: Float) {
    let scale = 1 / (1 - p)
    map8(d, d, saved, 0..<n) { dv, sv in keepWhereNonzero8(dv * scale, sv) }
}

/// Dropout on the calling thread (attention already runs one sequence-head per core).
func dropoutSerial(
    _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int,
    p: Float, rng: CounterRandom, indexOffset: Int
) {
    dropoutKernel(out, x, 0..<n, p: p, rng: rng, indexOffset: indexOffset)
}
