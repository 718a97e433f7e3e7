import CBLAS
import IO
import NN
import Testing

/// bf16 matrix products (operands rounded to bfloat16, fp32 sums): the kernel against the same
/// product of rounded operands in fp32, the multi-worker split against one call, and every op's
/// backward in bf16 against finite differences of the fp32 function at bf16 tolerance.
@Suite(.enabled(if: MatmulPrecision.bf16Supported, "needs a CPU with AVX512-BF16 and a dispatching build"))
struct Bf16Tests {
    static func randoms(_ n: Int, seed: UInt64) -> [Float] {
        var r = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(r.next() >> 40) / 16_777_216 - 0.5 }
    }

    /// Every transpose combination and edge shapes (rows and columns not multiples of the 6 × 64
    /// tile, odd K, K across several blocks, beta 0 and 1, alpha ≠ 1).
    @Test(arguments: [(1, 1, 1), (5, 7, 3), (6, 64, 2), (7, 65, 5), (29, 130, 257), (100, 70, 800), (13, 200, 1)])
    func gemmEqualsTheProductOfRoundedOperands(_ shape: (Int, Int, Int)) {
        let (M, N, K) = shape
        for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
            for (alpha, beta): (Float, Float) in [(1, 0), (0.7, 1)] {
                let lda = (transA ? M : K) + 3, ldb = (transB ? K : N) + 2, ldc = N + 5
                let a = Self.randoms((transA ? K : M) * lda, seed: 1), b = Self.randoms((transB ? N : K) * ldb, seed: 2)
                let c0 = Self.randoms(M * ldc, seed: 3)
                var c = c0, want = c0, exact = c0
                gemm(.bf16, transA: transA, transB: transB, M: M, N: N, K: K, alpha: alpha, a, lda: lda, b, ldb: ldb,
                     beta: beta, &c, ldc: ldc)
                // Reference in Double over the rounded operands; and the fp32 product of the originals.
                for m in 0..<M {
                    for n in 0..<N {
                        var s = 0.0, e = 0.0
                        for k in 0..<K {
                            let av = transA ? a[k * lda + m] : a[m * lda + k], bv = transB ? b[n * ldb + k] : b[k * ldb + n]
                            s += Double(bf16Rounded(av)) * Double(bf16Rounded(bv))
                            e += Double(av) * Double(bv)
                        }
                        want[m * ldc + n] = Float(Double(alpha) * s + Double(beta) * Double(c0[m * ldc + n]))
                        exact[m * ldc + n] = Float(Double(alpha) * e + Double(beta) * Double(c0[m * ldc + n]))
                    }
                }
                let what = "\(M)×\(N)×\(K) transA \(transA) transB \(transB) alpha \(alpha) beta \(beta)"
                // fp32 sums of exact products: a few float32 roundings per element.
                let err = zip(c, want).map { abs($0 - $1) }.max() ?? 0
                #expect(err <= 2e-6 * Float(K).squareRoot() + 1e-7, "\(what): \(err) from the rounded-operand product")
                // The padding columns of C are untouched.
                #expect((0..<M).allSatisfy { m in (N..<ldc).allSatisfy { c[m * ldc + $0] == c0[m * ldc + $0] } }, "\(what)")
                // bf16 really ran: the result differs from the fp32 product by bf16 rounding, not more.
                let gap = zip(c, exact).map { abs($0 - $1) }.max() ?? 0
                if K >= 5 { #expect(gap > 1e-5, "\(what): equal to the fp32 product (\(gap))") }
                #expect(gap < 2e-2 * Float(K).squareRoot(), "\(what): \(gap) from the fp32 product")
            }
        }
    }

    /// A linear layer's products split over the workers give exactly the single-call result.
    @Test func linearSplitEqualsOneCall() {
        let T = 301, IC = 96, OC = 200
        let x = Self.randoms(T * IC, seed: 4), w = Self.randoms(OC * IC, seed: 5), dy = Self.randoms(T * OC, seed: 6)
        var y = [Float](repeating: 0, count: T * OC), y1 = y
        linearForward(&y, x, w, nil, T: T, IC: IC, OC: OC, precision: .bf16)
        gemm(.bf16, transA: false, transB: true, M: T, N: OC, K: IC, x, lda: IC, w, ldb: IC, beta: 0, &y1, ldc: OC)
        #expect(y.elementsEqual(y1) { $0.bitPattern == $1.bitPattern })
        var dx = [Float](repeating: 0, count: T * IC), dw = [Float](repeating: 0, count: OC * IC)
        var dx1 = dx, dw1 = dw
        linearBackward(dx: &dx, dW: &dw, db: nil, dy: dy, x: x, w: w, T: T, IC: IC, OC: OC, precision: .bf16)
        gemm(.bf16, transA: false, transB: false, M: T, N: IC, K: OC, dy, lda: OC, w, ldb: IC, beta: 0, &dx1, ldc: IC)
        gemm(.bf16, transA: true, transB: false, M: OC, N: IC, K: T, dy, lda: OC, x, ldb: IC, beta: 1, &dw1, ldc: IC)
        #expect(dx.elementsEqual(dx1) { $0.bitPattern == $1.bitPattern })
        #expect(dw.elementsEqual(dw1) { $0.bitPattern == $1.bitPattern })
    }

    /// W's panels converted once (`FrozenWeightPanels`) give bit for bit the products of converting
    /// W on every call, on one worker (few rows) and split; another weight's panels change the
    /// result (so they are what the product reads).
    @Test(arguments: [5, 301])
    func frozenPanelsEqualPackingOnEveryCall(T: Int) {
        let IC = 96, OC = 200
        let x = Self.randoms(T * IC, seed: 4), w = Self.randoms(OC * IC, seed: 5), other = Self.randoms(OC * IC, seed: 6)
        let b = Self.randoms(OC, seed: 7)
        var want = [Float](repeating: 0, count: T * OC), got = want, wrong = want
        linearForward(&want, x, w, b, T: T, IC: IC, OC: OC, precision: .bf16)
        let panels = FrozenWeightPanels()
        w.withUnsafeBufferPointer { wp in
            other.withUnsafeBufferPointer { op in
                panels.add(wp.baseAddress!, OC: OC, IC: IC)
                panels.add(op.baseAddress!, OC: OC, IC: IC)
                #expect(!panels.isEmpty)
                linearForward(&got, x, wp.baseAddress!, b, T: T, IC: IC, OC: OC, precision: .bf16, packed: panels[wp.baseAddress!])
                linearForward(&wrong, x, wp.baseAddress!, b, T: T, IC: IC, OC: OC, precision: .bf16, packed: panels[op.baseAddress!])
            }
        }
        #expect(got.elementsEqual(want) { $0.bitPattern == $1.bitPattern })
        #expect(!wrong.elementsEqual(want))
    }

    /// A frozen encoder infers exactly what it inferred before freezing.
    @Test(arguments: ["bert", "norbert"])
    func frozenEncoderInfersTheSame(_ arch: String) {
        let enc = InferencePassTests.encoder(arch)
        enc.matmulPrecision = .bf16
        let batches = [[3, 9, 1], [40, 17, 33, 2, 64]].map { InferencePassTests.batch($0, seed: UInt64($0.count)) }
        let before = batches.map { b in Array(UnsafeBufferPointer(start: enc.infer(b), count: b.tokenCount * enc.hiddenSize)) }
        enc.freezeWeights()
        for (b, want) in zip(batches, before) {
            let got = Array(UnsafeBufferPointer(start: enc.infer(b), count: b.tokenCount * enc.hiddenSize))
            #expect(got.elementsEqual(want) { $0.bitPattern == $1.bitPattern }, "\(arch) \(b.tokenCount) tokens")
        }
    }

    /// Training a frozen encoder stops the process (its weights would go stale in the panels).
    @Test func frozenEncoderRefusesTraining() async {
        await #expect(processExitsWith: .failure) {
            let enc = InferencePassTests.encoder("norbert")
            enc.matmulPrecision = .bf16
            enc.freezeWeights()
            _ = enc.forward(InferencePassTests.batch([4], seed: 1), dropout: nil)
        }
    }

    // MARK: Backward passes against finite differences of the fp32 function

    @Test func linear() {
        let T = 5, IC = 40, OC = 12
        let x = Buf(T * IC, seed: 1), w = Buf(OC * IC, seed: 2), b = Buf(OC, seed: 3)
        let dout = Buf(T * OC, seed: 4), out = Buf(T * OC)
        func loss() -> Double {
            linearForward(out.p, x.p, w.p, b.p, T: T, IC: IC, OC: OC)
            return out.dot(dout)
        }
        let dx = Buf(T * IC), dw = Buf(OC * IC), db = Buf(OC)
        linearBackward(dx: dx.p, dW: dw.p, db: db.p, dy: dout.p, x: x.p, w: w.p, T: T, IC: IC, OC: OC, precision: .bf16)
        check(x, dx, loss, "dx", tolerance: .bf16)
        check(w, dw, loss, "dW", tolerance: .bf16)
        check(b, db, loss, "db", tolerance: .bf16)
    }

    @Test(arguments: [Float(0), 0.3])
    func attention(dropoutP: Float) {
        let C = 32, heads = 2
        let layout = AttentionLayout(offsets: [0, 3, 11, 12], heads: heads)
        let T = layout.tokens
        let qkv = Buf(T * 3 * C, seed: 11, scale: 2)
        let dout = Buf(T * C, seed: 12), ctx = Buf(T * C), probs = Buf(layout.probCount)
        let rng = CounterRandom(seed: 99, 1, 2, 3)
        func loss() -> Double {
            attentionForward(ctx: ctx.p, probs: probs.p, qkv: qkv.p, layout: layout, C: C, dropoutP: dropoutP, rng: rng)
            return ctx.dot(dout)
        }
        attentionForward(ctx: ctx.p, probs: probs.p, qkv: qkv.p, layout: layout, C: C, dropoutP: dropoutP, rng: rng, precision: .bf16)
        let dqkv = Buf(T * 3 * C)
        attentionBackward(dqkv: dqkv.p, dctx: dout.p, probs: probs.p, qkv: qkv.p, layout: layout, C: C, dropoutP: dropoutP, rng: rng,
                          precision: .bf16)
        check(qkv, dqkv, loss, "dqkv", tolerance: .bf16)
    }

    @Test func relativeAttention() {
        checkRelativeAttention(D: 32, dropoutP: 0.25, precision: .bf16, tolerance: .bf16)
    }

    @Test func bertEncoder() {
        let config = BertConfig(vocabSize: 20, hiddenSize: 32, layers: 2, heads: 2, intermediateSize: 48,
                                maxPositions: 16, typeVocabSize: 2, layerNormEps: 1e-5, activation: .gelu,
                                hiddenDropout: 0.2, attentionDropout: 0.2)
        checkEncoder(BertEncoder(config: config), seed: 42, scale: 0.6, layerNormSuffix: "LayerNorm.weight",
                     sequences: [[1, 5, 7, 2], [1, 9, 2], [1, 3, 4, 11, 12, 2]], precision: .bf16, tolerance: .bf16)
    }

    @Test func norbertEncoder() {
        let config = NorbertConfig(vocabSize: 20, hiddenSize: 32, layers: 2, heads: 2, intermediateSize: 24,
                                   maxPositions: 32, bucketSize: 4, layerNormEps: 1e-5, hiddenDropout: 0.2, attentionDropout: 0.2)
        checkEncoder(NorbertEncoder(config: config), seed: 43, scale: 0.8, layerNormSuffix: "layer_norm.weight",
                     sequences: [[1, 5, 7, 2], [1, 9, 2], [1, 3, 4, 11, 12, 13, 14, 15, 2]], precision: .bf16, tolerance: .bf16)
    }
}

/// Where bf16 cannot run, asking for it gives fp32 (and a note on stderr), never a crash.
@Test func bf16FallsBackToFp32WithoutTheHardware() {
    #expect(MatmulPrecision.resolve(.fp32) == .fp32)
    #expect(MatmulPrecision.resolve(.bf16) == (MatmulPrecision.bf16Supported ? .bf16 : .fp32))
    if !KernelISA.dispatching { #expect(!MatmulPrecision.bf16Supported) }
    // A bf16 request that cannot run computes in fp32: the same bits as fp32.
    if !MatmulPrecision.bf16Supported {
        let a = Bf16Tests.randoms(6 * 7, seed: 1), b = Bf16Tests.randoms(7 * 5, seed: 2)
        var c = [Float](repeating: 0, count: 30), d = c
        gemm(.bf16, transA: false, transB: false, M: 6, N: 5, K: 7, a, lda: 7, b, ldb: 5, beta: 0, &c, ldc: 5)
        gemm(.fp32, transA: false, transB: false, M: 6, N: 5, K: 7, a, lda: 7, b, ldb: 5, beta: 0, &d, ldc: 5)
        #expect(c == d)
    }
}

/// The Swift rounding (emulations, tests) on every build, including the portable one.
@Test func bf16RoundingIsToNearestEven() {
    #expect(bf16Rounded(1) == 1)
    #expect(bf16Rounded(Float(bitPattern: 0x3F80_8000)) == 1)                              // tie, even below
    #expect(bf16Rounded(Float(bitPattern: 0x3F81_8000)) == Float(bitPattern: 0x3F82_0000)) // tie, even above
    #expect(bf16Rounded(Float(bitPattern: 0x3F80_8001)) == Float(bitPattern: 0x3F81_0000))
    #expect(bf16Rounded(.infinity) == .infinity && bf16Rounded(-.infinity) == -.infinity)
    #expect(bf16Rounded(.nan).isNaN && bf16Rounded(-0.0).sign == .minus)
    #expect(bf16Rounded(Float.greatestFiniteMagnitude) == .infinity)
}
