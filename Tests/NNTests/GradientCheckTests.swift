import IO
import NN
import TestSupport
import Testing

/// Finite-difference checks of every op's backward pass. Each op's output is reduced to a scalar
/// L = Σ wᵢ·outᵢ with fixed random weights w, the analytic gradient comes from the op's backward
/// with dout = w, and the numeric one from central differences (L(x+h) − L(x−h)) / 2h.
@Suite struct GradientCheckTests {
    @Test func linear() {
        let T = 5, IC = 7, OC = 4
        let x = Buf(T * IC, seed: 1), w = Buf(OC * IC, seed: 2), b = Buf(OC, seed: 3)
        let dout = Buf(T * OC, seed: 4)
        let out = Buf(T * OC)
        func loss() -> Double {
            linearForward(out.p, x.p, w.p, b.p, T: T, IC: IC, OC: OC)
            return out.dot(dout)
        }
        let dx = Buf(T * IC), dw = Buf(OC * IC), db = Buf(OC)
        linearBackward(dx: dx.p, dW: dw.p, db: db.p, dy: dout.p, x: x.p, w: w.p, T: T, IC: IC, OC: OC)
        check(x, dx, loss, "dx")
        check(w, dw, loss, "dW")
        check(b, db, loss, "db")
    }

    @Test(arguments: [true, false])
    func layerNorm(affine: Bool) {
        let T = 4, C = 12
        let x = Buf(T * C, seed: 5, scale: 2), w = Buf(C, seed: 6), b = Buf(C, seed: 7)
        let dout = Buf(T * C, seed: 8)
        let out = Buf(T * C), mean = Buf(T), rstd = Buf(T)
        func loss() -> Double {
            layerNormForward(out.p, mean: mean.p, rstd: rstd.p, x.p, affine ? w.p : nil, affine ? b.p : nil, T: T, C: C, eps: 1e-5)
            return out.dot(dout)
        }
        _ = loss()
        let dx = Buf(T * C), dw = Buf(C), db = Buf(C)
        layerNormBackward(dx: dx.p, dw: affine ? dw.p : nil, db: affine ? db.p : nil, dout: dout.p, x: x.p,
                          mean: mean.p, rstd: rstd.p, w: affine ? w.p : nil, T: T, C: C)
        check(x, dx, loss, "dx")
        if affine {
            check(w, dw, loss, "dw")
            check(b, db, loss, "db")
        }
    }

    @Test(arguments: Activation.allCases)
    func activation(_ act: Activation) {
        let n = 64
        let x = Buf(n, seed: 9, scale: 3)
        // Keep ReLU inputs away from its kink, where the derivative is undefined.
        if act == .relu { for i in 0..<n where abs(x.p[i]) < 0.05 { x.p[i] = 0.5 } }
        let dout = Buf(n, seed: 10), out = Buf(n)
        func loss() -> Double {
            activationForward(out.p, x.p, count: n, act)
            return out.dot(dout)
        }
        let dx = Buf(n)
        activationBackward(dx.p, dout.p, x.p, count: n, act)
        check(x, dx, loss, "dx")
    }

    /// Softmax attention over packed sequences of different lengths: the sequence boundaries play
    /// the padding mask's part, so gradients must not leak across them.
    @Test func attentionWithMask() {
        let C = 8, heads = 2
        let layout = AttentionLayout(offsets: [0, 3, 8, 9], heads: heads)
        let T = layout.tokens
        let qkv = Buf(T * 3 * C, seed: 11)
        let dout = Buf(T * C, seed: 12), ctx = Buf(T * C), probs = Buf(layout.probCount)
        let rng = CounterRandom(seed: 0)
        func loss() -> Double {
            attentionForward(ctx: ctx.p, probs: probs.p, qkv: qkv.p, layout: layout, C: C, dropoutP: 0, rng: rng)
            return ctx.dot(dout)
        }
        _ = loss()
        let dqkv = Buf(T * 3 * C)
        attentionBackward(dqkv: dqkv.p, dctx: dout.p, probs: probs.p, qkv: qkv.p, layout: layout, C: C, dropoutP: 0, rng: rng)
        check(qkv, dqkv, loss, "dqkv")
        // Each attention row is a distribution over its own sequence only.
        for b in 0..<layout.batch {
            for h in 0..<heads {
                let len = layout.length(b), p = probs.p + layout.probOffset(b, h)
                for r in 0..<len {
                    let s = (0..<len).reduce(Float(0)) { $0 + p[r * len + $1] }
                    #expect(abs(s - 1) < 1e-5)
                }
            }
        }
    }

    /// With dropout, forward and backward must use the same mask (regenerated from the counter RNG).
    @Test func attentionWithDropout() {
        let C = 8, heads = 2
        let layout = AttentionLayout(offsets: [0, 4, 9], heads: heads)
        let T = layout.tokens
        let qkv = Buf(T * 3 * C, seed: 13)
        let dout = Buf(T * C, seed: 14), ctx = Buf(T * C), probs = Buf(layout.probCount)
        let rng = CounterRandom(seed: 99, 1, 2, 3)
        func loss() -> Double {
            attentionForward(ctx: ctx.p, probs: probs.p, qkv: qkv.p, layout: layout, C: C, dropoutP: 0.3, rng: rng)
            return ctx.dot(dout)
        }
        _ = loss()
        let dqkv = Buf(T * 3 * C)
        attentionBackward(dqkv: dqkv.p, dctx: dout.p, probs: probs.p, qkv: qkv.p, layout: layout, C: C, dropoutP: 0.3, rng: rng)
        check(qkv, dqkv, loss, "dqkv")
    }

    @Test func geglu() {
        let T = 3, I = 5
        let u = Buf(T * 2 * I, seed: 31, scale: 2)
        let dout = Buf(T * I, seed: 32), out = Buf(T * I)
        func loss() -> Double {
            gegluForward(out.p, u.p, T: T, I: I)
            return out.dot(dout)
        }
        let du = Buf(T * 2 * I)
        gegluBackward(du.p, dout.p, u.p, T: T, I: I)
        check(u, du, loss, "du")
    }

    /// NorBERT3's attention: content and relative-position scores, log buckets included (sequences
    /// longer than half the bucket size), with dropout.
    @Test(arguments: [Float(0), 0.25])
    func relativeAttention(dropoutP: Float) {
        checkRelativeAttention(D: 8, dropoutP: dropoutP)
    }

    @Test func logBucketsAreSymmetricAndMonotone() {
        // bucket size 32, max 512 (NorBERT3): exact within ±16, log-spaced beyond, 63 rows in all.
        let b = { RelativeBuckets.bucket($0, bucketSize: 32, maxPosition: 512) }
        #expect((-16...16).allSatisfy { b($0) == $0 })
        #expect((1..<600).allSatisfy { b($0) == -b(-$0) && b($0) >= b($0 - 1) })
        #expect(b(511) == 31 && b(10_000) == 31 && b(17) == 17)
    }

    @Test(arguments: [PoolingMode.mean, .cls, .max])
    func pooling(_ mode: PoolingMode) {
        let C = 6, offsets = [0, 3, 7, 8]
        let T = offsets.last!, B = offsets.count - 1
        let h = Buf(T * C, seed: 15)
        if mode == .max {
            // Distinct values ≥ 0.1 apart, so a ±h step never changes which token is the max.
            var order = Array(0..<(T * C))
            var r = SplitMix64(seed: 15)
            order.shuffle(using: &r)
            for i in 0..<(T * C) { h.p[i] = Float(order[i]) * 0.1 }
        }
        let dout = Buf(B * C, seed: 16), out = Buf(B * C)
        let arg = UnsafeMutablePointer<Int32>.allocate(capacity: B * C)
        defer { arg.deallocate() }
        func loss() -> Double {
            poolingForward(out.p, h.p, offsets: offsets, C: C, mode: mode, argmax: arg)
            return out.dot(dout)
        }
        _ = loss()
        let dh = Buf(T * C)
        poolingBackward(dh.p, dout.p, offsets: offsets, C: C, mode: mode, argmax: arg)
        check(h, dh, loss, "dhidden")
    }

    @Test func normalize() {
        let rows = 3, C = 5
        let x = Buf(rows * C, seed: 17)
        let dout = Buf(rows * C, seed: 18), out = Buf(rows * C), norms = Buf(rows)
        func loss() -> Double {
            normalizeRowsForward(out.p, norms: norms.p, x.p, rows: rows, C: C)
            return out.dot(dout)
        }
        _ = loss()
        let dx = Buf(rows * C)
        normalizeRowsBackward(dx.p, dout.p, y: out.p, norms: norms.p, rows: rows, C: C)
        check(x, dx, loss, "dx")
    }

    /// Cosine similarity, scale and cross-entropy together: MultipleNegativesRankingLoss (with the
    /// positives at columns labelOffset + i, as a data-parallel rank's are among gathered candidates).
    @Test(arguments: [0, 3])
    func multipleNegativesRankingLoss(labelOffset: Int) {
        let B = 3, N = 6, C = 5
        let a = Buf(B * C, seed: 19), c = Buf(N * C, seed: 20)
        func loss() -> Double {
            Double(NN.multipleNegativesRankingLoss(anchors: a.p, candidates: c.p, B: B, N: N, C: C, scale: 20,
                                                   labelOffset: labelOffset).loss)
        }
        let da = Buf(B * C), dc = Buf(N * C)
        _ = NN.multipleNegativesRankingLoss(anchors: a.p, candidates: c.p, B: B, N: N, C: C, scale: 20, labelOffset: labelOffset,
                                                  dAnchors: da.p, dCandidates: dc.p)
        check(a, da, loss, "dAnchors", h: 1e-3)
        check(c, dc, loss, "dCandidates", h: 1e-3)
    }

    @Test func dropoutBackwardUsesTheForwardMask() {
        let n = 1000
        let x = Buf(n, seed: 21), out = Buf(n), back = Buf(n)
        let rng = CounterRandom(seed: 7, 1)
        dropout(out.p, x.p, count: n, p: 0.25, rng: rng)
        let ones = Buf(n)
        for i in 0..<n { ones.p[i] = 1 }
        dropout(back.p, ones.p, count: n, p: 0.25, rng: rng)
        var dropped = 0
        for i in 0..<n {
            #expect(abs(out.p[i] - x.p[i] * back.p[i]) < 1e-6)
            if back.p[i] == 0 { dropped += 1 } else { #expect(abs(back.p[i] - 1 / 0.75) < 1e-6) }
        }
        #expect(dropped > 180 && dropped < 320, "dropped \(dropped) of 1000 at p = 0.25")
    }

    /// The whole encoder (embeddings, LayerNorms, attention, GELU feed-forward, dropout on) against
    /// finite differences on a sample of parameters of every tensor.
    @Test(arguments: [Activation.gelu, .geluTanh])
    func bertEncoder(_ act: Activation) {
        let config = BertConfig(vocabSize: 20, hiddenSize: 8, layers: 2, heads: 2, intermediateSize: 12,
                                maxPositions: 16, typeVocabSize: 2, layerNormEps: 1e-5, activation: act,
                                hiddenDropout: 0.2, attentionDropout: 0.2)
        checkEncoder(BertEncoder(config: config), seed: 42, scale: 0.6, layerNormSuffix: "LayerNorm.weight",
                     sequences: [[1, 5, 7, 2], [1, 9, 2], [1, 3, 4, 11, 12, 2]])
    }
}

extension GradientCheckTests {
    /// The whole NorBERT3 encoder with dropout on, against finite differences.
    @Test func norbertEncoder() {
        let config = NorbertConfig(vocabSize: 20, hiddenSize: 8, layers: 2, heads: 2, intermediateSize: 6,
                                   maxPositions: 32, bucketSize: 4, layerNormEps: 1e-5, hiddenDropout: 0.2, attentionDropout: 0.2)
        checkEncoder(NorbertEncoder(config: config), seed: 43, scale: 0.8, layerNormSuffix: "layer_norm.weight",
                     sequences: [[1, 5, 7, 2], [1, 9, 2], [1, 3, 4, 11, 12, 13, 14, 15, 2]])
    }
}

/// NorBERT3's relative-position attention (two heads, sequences of 3, 13 and 1 tokens, log buckets
/// reached): dqk, dv and dpos against finite differences of the fp32 forward. With `precision` bf16
/// the analytic gradients come from a bf16 forward and backward, compared at `tolerance`.
func checkRelativeAttention(D: Int, dropoutP: Float, precision: MatmulPrecision = .fp32, tolerance: Tolerance = .fp32,
                            sourceLocation: SourceLocation = #_sourceLocation) {
    let buckets = RelativeBuckets(bucketSize: 8, maxPosition: 64, maxLength: 64)
    let layout = AttentionLayout(offsets: [0, 3, 16, 17], heads: 2)
    let T = layout.tokens, R = buckets.rows
    let qk = Buf(T * 2 * D, seed: 33), v = Buf(T * D, seed: 34), pos = Buf(R * 2 * D, seed: 35)
    let dout = Buf(T * D, seed: 36), ctx = Buf(T * D), probs = Buf(layout.probCount)
    let rng = CounterRandom(seed: 5, 6)
    func run(_ p: MatmulPrecision) {
        relativeAttentionForward(ctx: ctx.p, probs: probs.p, qk: qk.p, v: v.p, pos: pos.p, buckets: buckets,
                                 layout: layout, D: D, dropoutP: dropoutP, rng: rng, precision: p)
    }
    func loss() -> Double { run(.fp32); return ctx.dot(dout) }
    run(precision)
    let dqk = Buf(T * 2 * D), dv = Buf(T * D), dpos = Buf(R * 2 * D)
    relativeAttentionBackward(dqk: dqk.p, dv: dv.p, dpos: dpos.p, dctx: dout.p, probs: probs.p, qk: qk.p, v: v.p,
                              pos: pos.p, buckets: buckets, layout: layout, D: D, dropoutP: dropoutP, rng: rng, precision: precision)
    check(qk, dqk, loss, "dqk", tolerance: tolerance, sourceLocation: sourceLocation)
    check(v, dv, loss, "dv", tolerance: tolerance, sourceLocation: sourceLocation)
    check(pos, dpos, loss, "dpos", tolerance: tolerance, sourceLocation: sourceLocation)
}

/// A whole encoder with random weights (LayerNorm weights near 1) and dropout on: every parameter
/// tensor's gradient, on a sample of its elements, against finite differences of Σ w·hidden.
/// With `precision` bf16 the analytic gradients come from a bf16 forward and backward, the numeric
/// ones from the fp32 forward, compared at bf16 tolerance (`tolerance`).
func checkEncoder(_ enc: any TransformerEncoder, seed: UInt64, scale: Double, layerNormSuffix: String, sequences: [[Int32]],
                  precision: MatmulPrecision = .fp32, tolerance: Tolerance = .fp32, sourceLocation: SourceLocation = #_sourceLocation) {
    let params = enc.parameters
    var rng = SplitMix64(seed: seed)
    for i in 0..<params.count { params.values[i] = Float((Double(rng.next() >> 11) / Double(1 << 53) - 0.5) * scale) }
    for e in params.entries where e.name.hasSuffix(layerNormSuffix) {
        for j in 0..<e.count { params.values[e.offset + j] += 1 }
    }
    let batch = PackedBatch(sequences: sequences)
    let ctx = DropoutContext(seed: seed &+ 1, step: 1)
    let n = batch.tokenCount * enc.hiddenSize
    let w = Buf(n, seed: seed &+ 2)
    func loss() -> Double {
        enc.matmulPrecision = .fp32
        let h = enc.forward(batch, dropout: ctx)
        var s = 0.0
        for i in 0..<n { s += Double(h[i]) * Double(w.p[i]) }
        return s
    }
    // Σ|w·h|: the size of the terms the loss sums, which sets its rounding noise (|L| can be far
    // smaller through cancellation).
    enc.matmulPrecision = precision
    let h0 = enc.forward(batch, dropout: ctx)
    var magnitude = 0.0
    for i in 0..<n { magnitude += abs(Double(h0[i]) * Double(w.p[i])) }
    params.zeroGrads()
    let d = Buf(n)
    d.p.update(from: w.p, count: n)
    enc.backward(d.p)
    for e in params.entries {
        check(Buf(borrowing: params.values + e.offset, count: e.count), Buf(borrowing: params.grads + e.offset, count: e.count),
              loss, e.name, samples: 6, lossMagnitude: magnitude, tolerance: tolerance, sourceLocation: sourceLocation)
    }
}

// MARK: - Helpers

/// A Float buffer for tests (owning, or a view into a model's parameters).
final class Buf {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    private let owned: Bool

    init(_ count: Int, seed: UInt64? = nil, scale: Float = 1) {
        self.count = count
        owned = true
        p = .allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
        if let seed {
            var r = SplitMix64(seed: seed)
            for i in 0..<count { p[i] = (Float(r.next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
        }
    }

    init(borrowing p: UnsafeMutablePointer<Float>, count: Int) {
        self.p = p
        self.count = count
        owned = false
    }

    deinit { if owned { p.deallocate() } }

    func dot(_ o: Buf) -> Double {
        var s = 0.0
        for i in 0..<count { s += Double(p[i]) * Double(o.p[i]) }
        return s
    }
}

/// How far an analytic gradient may be from the numeric one: `relative` of the larger of the two,
/// plus `absolute` of the largest gradient element.
struct Tolerance {
    var relative: Float
    var absolute: Float
    static let fp32 = Tolerance(relative: 2e-2, absolute: 2e-3)
    /// Gradients through bf16 products (operands rounded to 8 significant bits) against the fp32
    /// function's finite differences.
    static let bf16 = Tolerance(relative: 5e-2, absolute: 1e-2)
}

/// Compares `analytic` with central differences of `loss` on up to `samples` elements of `x`.
func check(_ x: Buf, _ analytic: Buf, _ loss: () -> Double, _ name: String,
           h: Float = 1e-2, samples: Int = 40, lossMagnitude: Double? = nil, tolerance: Tolerance = .fp32,
           sourceLocation: SourceLocation = #_sourceLocation) {
    var r = SplitMix64(seed: UInt64(name.utf8.count))
    let indices = x.count <= samples ? Array(0..<x.count) : (0..<samples).map { _ in Int(r.next() % UInt64(x.count)) }
    var scale: Float = 1e-3
    for i in 0..<analytic.count { scale = max(scale, abs(analytic.p[i])) }
    var worst: Float = 0
    var worstIndex = -1
    // Rounding in a float32 forward pass makes L(x±h) noisy at about 1e-6 of the size of what it sums
    // (|L|, or Σ|terms| when given); divided by 2h, that is the floor below which a numeric
    // derivative means nothing (e.g. for exactly-zero gradients).
    let noise = Float(lossMagnitude ?? abs(loss())) * 3e-6 / h
    for i in indices {
        let orig = x.p[i]
        x.p[i] = orig + h
        let lp = loss()
        x.p[i] = orig - h
        let lm = loss()
        x.p[i] = orig
        let numeric = Float((lp - lm) / Double(2 * h))
        let err = abs(numeric - analytic.p[i])
            / (tolerance.relative * max(abs(numeric), abs(analytic.p[i])) + tolerance.absolute * scale + noise)
        if err > worst { worst = err; worstIndex = i }
    }
    _ = loss()
    #expect(worst <= 1, "\(name): element \(worstIndex) analytic \(worstIndex >= 0 ? analytic.p[worstIndex] : 0) disagrees with finite differences (\(worst)× tolerance)",
            sourceLocation: sourceLocation)
}
