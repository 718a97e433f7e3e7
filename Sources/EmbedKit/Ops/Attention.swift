import CBLAS
#if canImport(Glibc)
import Glibc
#endif

// Scaled dot-product self-attention over packed sequences, BERT style. Each sequence attends only to
// its own tokens, so no padding mask is needed: the result equals PyTorch's with a padding mask (whose
// masked scores become exact zeros after softmax) without computing the padded rows and columns.
//
// Layouts: qkv[T, 3C] holds per token [q | k | v], each [NH, hd] (head h at columns h·hd..<(h+1)·hd);
// probs holds, for sequence b and head h, a [len_b, len_b] matrix at `layout.probOffset(b, h)`.

/// Where each sequence sits in the packed token arrays, and where its attention matrices sit.
public struct AttentionLayout {
    /// Token offsets, B + 1 entries: sequence b is tokens offsets[b]..<offsets[b+1].
    public let offsets: [Int]
    /// Float offsets of each sequence's NH attention matrices, B + 1 entries.
    public let probOffsets: [Int]
    public let heads: Int

    public init(offsets: [Int], heads: Int) {
        self.offsets = offsets
        self.heads = heads
        var p = [0]
        for b in 0..<(offsets.count - 1) {
            let len = offsets[b + 1] - offsets[b]
            p.append(p[b] + heads * len * len)
        }
        probOffsets = p
    }

    public var batch: Int { offsets.count - 1 }
    public var tokens: Int { offsets.last ?? 0 }
    /// Floats needed for all attention matrices.
    public var probCount: Int { probOffsets.last ?? 0 }
    public func length(_ b: Int) -> Int { offsets[b + 1] - offsets[b] }
    public func probOffset(_ b: Int, _ h: Int) -> Int { let l = length(b); return probOffsets[b] + h * l * l }
    /// Σ_b len_b² (the size of one head's attention matrices over the batch).
    public var sumOfSquaredLengths: Int { probCount / max(heads, 1) }
}

/// Runs `body(b, h)` for every sequence and head on all cores, with OpenBLAS single-threaded inside
/// (the small per-head products are better spread across heads than split inside one sgemm).
func forEachSequenceHead(_ layout: AttentionLayout, _ body: (Int, Int) -> Void) {
    let nh = layout.heads
    let saved = openblas_get_num_threads()
    openblas_set_num_threads(1)
    defer { openblas_set_num_threads(saved) }
    Parallel.forEach(layout.batch * nh) { item in body(item / nh, item % nh) }
}

/// ctx[T, C] = dropout(softmax(Q·Kᵀ / √hd)) · V per sequence and head; saves probs (before dropout)
/// and, when `dropped` is given (probCount floats) and dropout is on, the dropped-out probabilities,
/// which spares `attentionBackward` drawing the mask twice more.
public func attentionForward(
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
        let q = qkv + start * 3 * C + h * hd, k = q + C, v = q + 2 * C
        let p = probs + layout.probOffset(b, h)
        // p[len, len] = scale · q · kᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(len), Int32(hd),
                    scale, q, ld, k, ld, 0, p, Int32(len))
        softmaxRows(p, rows: len, cols: len)
        var pd = UnsafePointer(p)
        var scratch: UnsafeMutablePointer<Float>? = nil
        if dropoutP > 0 {
            let s = dropped.map { $0 + layout.probOffset(b, h) } ?? .allocate(capacity: len * len)
            dropoutSerial(s, p, count: len * len, p: dropoutP, rng: rng, indexOffset: layout.probOffset(b, h))
            pd = UnsafePointer(s)
            if dropped == nil { scratch = s }
        }
        // ctx[len, hd] = pd · v
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                    1, pd, Int32(len), v, ld, 0, ctx + start * C + h * hd, Int32(C))
        scratch?.deallocate()
    }
}

/// Given dctx[T, C], writes dqkv[T, 3C]. `dropped`: what the forward saved there, if anything.
public func attentionBackward(
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
        let q = qkv + start * 3 * C + h * hd, k = q + C, v = q + 2 * C
        let dq = dqkv + start * 3 * C + h * hd, dk = dq + C, dv = dq + 2 * C
        let dc = dctx + start * C + h * hd
        let p = probs + layout.probOffset(b, h)
        let n = len * len
        let dp = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { dp.deallocate() }
        // dv[len, hd] = pdᵀ · dc, with pd the dropped-out probabilities.
        let saved = dropoutP > 0 ? dropped.map { $0 + layout.probOffset(b, h) } : nil
        if let saved {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                        1, saved, Int32(len), dc, Int32(C), 0, dv, ld)
        } else if dropoutP > 0 {
            dropoutSerial(dp, p, count: n, p: dropoutP, rng: rng, indexOffset: layout.probOffset(b, h))
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                        1, dp, Int32(len), dc, Int32(C), 0, dv, ld)
        } else {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                        1, p, Int32(len), dc, Int32(C), 0, dv, ld)
        }
        // dpd[len, len] = dc · vᵀ, then back through dropout.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(len), Int32(hd),
                    1, dc, Int32(C), v, ld, 0, dp, Int32(len))
        if let saved {
            dropoutBackwardFromSaved(dp, saved, count: n, p: dropoutP)
        } else if dropoutP > 0 {
            dropoutSerial(dp, dp, count: n, p: dropoutP, rng: rng, indexOffset: layout.probOffset(b, h))
        }
        softmaxRowsBackward(dp, p, rows: len, cols: len)
        // dq = scale · ds · k;  dk = scale · dsᵀ · q
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                    scale, dp, Int32(len), k, ld, 0, dq, ld)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(len), Int32(hd), Int32(len),
                    scale, dp, Int32(len), q, ld, 0, dk, ld)
    }
}

/// Row-wise softmax in place, max-subtracted as PyTorch does.
public func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
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
public func softmaxRowsBackward(_ d: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, rows: Int, cols: Int) {
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
