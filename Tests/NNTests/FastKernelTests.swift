#if canImport(Glibc)
import Glibc
#endif
import IO
import NN
import TestSupport
import Testing

/// The vectorized kernels against the plain scalar formulas they replaced: the same mask, the same
/// optimizer arithmetic bit for bit, activations within a few float32 ulps.
@Suite struct FastKernelTests {
    /// The integer-threshold dropout keeps exactly the elements with `uniform(i) >= p`.
    @Test(arguments: [Float(0.1), 0.25, 0.3, 1e-7, 0.5, 0.999_999])
    func dropoutMaskIsUniformAtLeastP(_ p: Float) {
        let n = 50_000
        let x = Buf(n, seed: 41)
        let out = Buf(n)
        let rng = CounterRandom(seed: 11, 2, 3)
        dropout(out.p, x.p, count: n, p: p, rng: rng, indexOffset: 1234)
        let scale = 1 / (1 - p)
        var mismatches = 0
        for i in 0..<n {
            let want = rng.uniform(1234 + i) >= p ? x.p[i] * scale : 0
            if out.p[i].bitPattern != want.bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0, "p = \(p): \(mismatches) elements differ from uniform(i) >= p")
    }

    /// SIMD AdamW (with and without a gradient scale, decay on and off, lengths that leave tails)
    /// equals torch's per-element formula evaluated one float at a time.
    @Test func adamWMatchesTheScalarFormulaExactly() {
        let params = ParameterSet([("a", [37, 5], true), ("b", [3], false), ("c", [1001], true), ("d", [8], false)])
        var r = SplitMix64(seed: 9)
        func rnd() -> Float { Float(r.next() >> 40) / 16_777_216 - 0.5 }
        for i in 0..<params.count { params.values[i] = rnd() }
        let opt = AdamW(parameters: params, weightDecay: 0.01)
        let n = params.count
        var p = Array(UnsafeBufferPointer(start: params.values, count: n))
        var m = [Float](repeating: 0, count: n), v = [Float](repeating: 0, count: n)
        for step in 1...3 {
            for i in 0..<n { params.grads[i] = rnd() * 1e-2 }
            let g = Array(UnsafeBufferPointer(start: params.grads, count: n))
            let lr: Float = 1e-3, gradScale: Float = step == 2 ? 0.37 : 1
            opt.update(params, lr: lr, gradScale: gradScale)
            let bc1 = 1 - pow(opt.beta1, Float(step)), bc2 = 1 - pow(opt.beta2, Float(step))
            for e in params.entries {
                for i in e.offset..<(e.offset + e.count) {
                    let gi = gradScale == 1 ? g[i] : g[i] * gradScale
                    var pi = p[i]
                    if e.decay { pi *= 1 - lr * opt.weightDecay }
                    m[i] = opt.beta1 * m[i] + (1 - opt.beta1) * gi
                    v[i] = opt.beta2 * v[i] + (1 - opt.beta2) * gi * gi
                    p[i] = pi - lr / bc1 * (m[i] / (v[i].squareRoot() / bc2.squareRoot() + opt.eps))
                }
            }
            let got = Array(UnsafeBufferPointer(start: params.values, count: n))
            #expect(zip(got, p).allSatisfy { $0.bitPattern == $1.bitPattern }, "step \(step): values differ")
            #expect(zip(Array(UnsafeBufferPointer(start: opt.m, count: n)), m).allSatisfy { $0.bitPattern == $1.bitPattern })
            #expect(zip(Array(UnsafeBufferPointer(start: opt.v, count: n)), v).allSatisfy { $0.bitPattern == $1.bitPattern })
        }
    }

    /// Clipping through `gradScale` gives the same weights as scaling the gradients in place first.
    @Test func fusedClippingEqualsClipGradients() {
        func run(fused: Bool) -> [Float] {
            let params = ParameterSet([("w", [1000], true), ("b", [13], false)])
            var r = SplitMix64(seed: 4)
            for i in 0..<params.count {
                params.values[i] = Float(r.next() >> 40) / 16_777_216 - 0.5
                params.grads[i] = Float(r.next() >> 40) / 16_777_216 - 0.5
            }
            let opt = AdamW(parameters: params, weightDecay: 0.01)
            if fused {
                let coef = clipCoefficient(norm: gradientNorm(params), maxNorm: 1)
                #expect(coef < 1)
                opt.update(params, lr: 1e-3, gradScale: coef)
            } else {
                clipGradients(params, maxNorm: 1)
                opt.update(params, lr: 1e-3)
            }
            return Array(UnsafeBufferPointer(start: params.values, count: params.count))
        }
        #expect(run(fused: true) == run(fused: false))
    }

    /// GELU, its tanh form and their derivatives (and GEGLU) against the libm formulas, over inputs
    /// from −10 to 10: within a few ulps of the larger of the result and 1 (the libm formulas
    /// themselves round 1 + erf and 1 + tanh).
    @Test func activationsMatchLibmFormulas() {
        let n = 20_001
        let x = Buf(n), y = Buf(n), d = Buf(n), ones = Buf(n)
        for i in 0..<n { x.p[i] = Float(i - n / 2) * 1e-3; ones.p[i] = 1 }
        func worst(_ got: Buf, _ want: (Float) -> Float) -> Float {
            var w: Float = 0
            for i in 0..<n {
                let e = want(x.p[i])
                w = max(w, abs(got.p[i] - e) / (max(abs(e), 1) * Float.ulpOfOne))
            }
            return w
        }
        let s2: Float = 0.707_106_781_186_547_524_4
        activationForward(y.p, x.p, count: n, .gelu)
        #expect(worst(y) { 0.5 * $0 * (1 + erff($0 * s2)) } <= 4)
        activationBackward(d.p, ones.p, x.p, count: n, .gelu)
        #expect(worst(d) { v in 0.5 * (1 + erff(v * s2)) + v * expf(-0.5 * v * v) * 0.398_942_280_401_432_677_94 } <= 4)
        activationForward(y.p, x.p, count: n, .geluTanh)
        #expect(worst(y) { geluTanh($0) } <= 4)
        activationBackward(d.p, ones.p, x.p, count: n, .geluTanh)
        #expect(worst(d) { geluTanhDerivative($0) } <= 4)
        // GEGLU with a = 1: y = gelu_tanh(g); da = gelu_tanh(g), dg = gelu_tanh'(g).
        let T = 1, I = n
        let u = Buf(2 * I), du = Buf(2 * I)
        for i in 0..<I { u.p[i] = 1; u.p[I + i] = x.p[i] }
        gegluForward(y.p, u.p, T: T, I: I)
        #expect(worst(y) { geluTanh($0) } <= 4)
        gegluBackward(du.p, ones.p, u.p, T: T, I: I)
        let dg = Buf(I)  // a copy: a view would outlive `du`, whose last use is here
        dg.p.update(from: du.p + I, count: I)
        #expect(worst(dg) { geluTanhDerivative($0) } <= 4)
    }

    /// Attention backward from the saved dropped-out probabilities equals the backward that draws the
    /// masks again (up to the sign of zeros), for BERT's and NorBERT3's attention.
    @Test func attentionBackwardFromSavedDropoutMatches() {
        let C = 16, heads = 2
        let layout = AttentionLayout(offsets: [0, 5, 12, 13, 40], heads: heads)
        let T = layout.tokens, rng = CounterRandom(seed: 21, 4)
        let qkv = Buf(T * 3 * C, seed: 51, scale: 2), dctx = Buf(T * C, seed: 52)
        let ctx = Buf(T * C), probs = Buf(layout.probCount), dropped = Buf(layout.probCount)
        let a = Buf(T * 3 * C), b = Buf(T * 3 * C), ctx2 = Buf(T * C)
        attentionForward(ctx: ctx.p, probs: probs.p, qkv: qkv.p, layout: layout, C: C, dropoutP: 0.3, rng: rng, dropped: dropped.p)
        attentionForward(ctx: ctx2.p, probs: probs.p, qkv: qkv.p, layout: layout, C: C, dropoutP: 0.3, rng: rng)
        #expect((0..<(T * C)).allSatisfy { ctx.p[$0] == ctx2.p[$0] })
        attentionBackward(dqkv: a.p, dctx: dctx.p, probs: probs.p, qkv: qkv.p, layout: layout, C: C, dropoutP: 0.3, rng: rng)
        attentionBackward(dqkv: b.p, dctx: dctx.p, probs: probs.p, qkv: qkv.p, layout: layout, C: C, dropoutP: 0.3, rng: rng,
                          dropped: dropped.p)
        #expect((0..<(T * 3 * C)).allSatisfy { a.p[$0] == b.p[$0] }, "dqkv differs")

        let buckets = RelativeBuckets(bucketSize: 8, maxPosition: 64, maxLength: 64)
        let R = buckets.rows
        let qk = Buf(T * 2 * C, seed: 53, scale: 2), v = Buf(T * C, seed: 54), pos = Buf(R * 2 * C, seed: 55)
        do {
            let dqk1 = Buf(T * 2 * C), dv1 = Buf(T * C), dpos1 = Buf(R * 2 * C)
            let dqk2 = Buf(T * 2 * C), dv2 = Buf(T * C), dpos2 = Buf(R * 2 * C)
            relativeAttentionForward(ctx: ctx.p, probs: probs.p, qk: qk.p, v: v.p, pos: pos.p, buckets: buckets, layout: layout,
                                     D: C, dropoutP: 0.3, rng: rng, dropped: dropped.p)
            relativeAttentionBackward(dqk: dqk1.p, dv: dv1.p, dpos: dpos1.p, dctx: dctx.p, probs: probs.p, qk: qk.p, v: v.p,
                                      pos: pos.p, buckets: buckets, layout: layout, D: C, dropoutP: 0.3, rng: rng)
            relativeAttentionBackward(dqk: dqk2.p, dv: dv2.p, dpos: dpos2.p, dctx: dctx.p, probs: probs.p, qk: qk.p, v: v.p,
                                      pos: pos.p, buckets: buckets, layout: layout, D: C, dropoutP: 0.3, rng: rng, dropped: dropped.p)
            #expect((0..<(T * 2 * C)).allSatisfy { dqk1.p[$0] == dqk2.p[$0] }, "dqk differs")
            #expect((0..<(T * C)).allSatisfy { dv1.p[$0] == dv2.p[$0] }, "dv differs")
            #expect((0..<(R * 2 * C)).allSatisfy { dpos1.p[$0] == dpos2.p[$0] }, "dpos differs")
        }
    }

    /// The vector softmax (rows of 32 columns and more) against the scalar formula with libm expf.
    @Test(arguments: [32, 37, 64, 130])
    func softmaxMatchesScalar(_ cols: Int) {
        let rows = 5
        let x = Buf(rows * cols, seed: UInt64(60 + cols), scale: 8)
        let y = Buf(rows * cols)
        y.p.update(from: x.p, count: rows * cols)
        softmaxRows(y.p, rows: rows, cols: cols)
        var worst: Float = 0
        for r in 0..<rows {
            let row = Array(UnsafeBufferPointer(start: x.p + r * cols, count: cols))
            let m = row.max()!
            let e = row.map { expf($0 - m) }
            let s = e.reduce(0, +)
            for j in 0..<cols { worst = max(worst, abs(y.p[r * cols + j] - e[j] / s) / (e[j] / s * Float.ulpOfOne + 1e-30)) }
        }
        #expect(worst <= 8, "softmax off by \(worst) ulp")
        // Backward: d = p ⊙ (d − Σ d·p), in place.
        let d = Buf(rows * cols, seed: 77), want = Buf(rows * cols)
        for r in 0..<rows {
            var s: Float = 0
            for j in 0..<cols { s += d.p[r * cols + j] * y.p[r * cols + j] }
            for j in 0..<cols { want.p[r * cols + j] = y.p[r * cols + j] * (d.p[r * cols + j] - s) }
        }
        softmaxRowsBackward(d.p, y.p, rows: rows, cols: cols)
        #expect((0..<(rows * cols)).allSatisfy { abs(d.p[$0] - want.p[$0]) <= 1e-6 * max(1, abs(want.p[$0])) })
    }
}
