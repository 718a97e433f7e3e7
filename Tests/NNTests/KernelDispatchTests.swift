#if canImport(Glibc)
import Glibc
#endif
import IO
import NN
import Testing

/// Each dispatch path of the element-wise kernels (the Swift baseline — SSE2, or plain SIMD in a
/// portable build — and, where the CPU has them, the AVX2 and AVX-512 kernels of CKernels) against
/// a scalar transcription of the same arithmetic, bit for bit: every path gives the results the
/// Swift kernels always gave, so training stays deterministic whichever path runs.
@Suite struct KernelDispatchTests {
    // MARK: The scalar reference: the vector kernels' operations, one lane at a time.

    enum Ref {
        /// SSE's minps/maxps: the second operand unless the first is strictly smaller/larger.
        static func minps(_ a: Float, _ b: Float) -> Float { a < b ? a : b }
        static func maxps(_ a: Float, _ b: Float) -> Float { a > b ? a : b }
        static func orSign(_ r: Float, _ s: Float) -> Float { Float(bitPattern: r.bitPattern | (s.bitPattern & 0x8000_0000)) }

        static func exp(_ x: Float) -> Float {
            let magic: Float = 12_582_912
            let xc = minps(maxps(x, -104), 89)
            let shifted = xc * 1.442_695_04 + magic
            let n = shifted - magic
            let r = (xc - n * 0.693_359_375) - n * -2.121_944_4e-4
            var p: Float = 0.001_390_128_2
            p = p * r + 0.008_363_141
            p = p * r + 0.041_666_854
            p = p * r + 0.166_665_78
            p = p * r + 0.5
            let er = 1 + (r + r * r * p)
            let ni = Int32(bitPattern: shifted.bitPattern) &- Int32(bitPattern: magic.bitPattern)
            let half = ni >> 1
            let s1 = Float(bitPattern: UInt32(bitPattern: (half &+ 127) << 23))
            let s2 = Float(bitPattern: UInt32(bitPattern: ((ni &- half) &+ 127) << 23))
            return x.isNaN ? x : (er * s1) * s2
        }

        static func erf(_ x: Float) -> Float {
            let ax = abs(x), s = x * x
            var pa: Float = 7.889_120_0e-05
            for c: Float in [-8.020_841_6e-04, 5.189_535_2e-03, -2.685_444_4e-02, 1.128_360_0e-01, -3.761_262_6e-01, 1.283_791_7e-01] {
                pa = pa * s + c
            }
            let small = x + x * pa
            let xb = minps(maxps(ax, 1), 4)
            let w = (xb - 2.5) * 0.666_666_7
            var q: Float = -3.435_746_5e-05
            for c: Float in [9.598_428e-05, -1.509_566_1e-04, 3.689_104_6e-04, -1.010_187_3e-03, 2.424_983_3e-03, -5.570_322_3e-03,
                             1.248_435_3e-02, -2.700_520_1e-02, 5.611_091_9e-02, -1.115_210_3e-01, 2.108_063_5e-01] {
                q = q * w + c
            }
            let big = orSign(1 - exp(0 - xb * xb) * q, x)
            return x.isNaN ? x : (ax < 1 ? small : big)
        }

        static func tanh(_ x: Float) -> Float {
            let ax = abs(x), s = x * x
            var p: Float = 0.002_292_828_9
            for c: Float in [-0.008_344_028, 0.021_768_948, -0.053_959_265, 0.133_333_04, -0.333_333_34] { p = p * s + c }
            let small = ax + ax * (s * p)
            let e = exp(2 * minps(ax, 9.1))
            let big = 1 - 2 / (e + 1)
            return x.isNaN ? x : orSign(ax < 0.625 ? small : big, x)
        }

        static let invSqrt2: Float = 0.707_106_781_186_547_524_4
        static let invSqrt2Pi: Float = 0.398_942_280_401_432_677_94
        static let sqrt2OverPi: Float = 0.797_884_560_802_865_355_88
        static func gelu(_ v: Float) -> Float { 0.5 * v * (1 + erf(v * invSqrt2)) }
        static func geluD(_ v: Float) -> Float { 0.5 * (1 + erf(v * invSqrt2)) + v * (exp(-0.5 * v * v) * invSqrt2Pi) }
        static func geluTanh(_ v: Float) -> Float { 0.5 * v * (1 + tanh(sqrt2OverPi * (v + 0.044715 * v * v * v))) }
        static func geluTanhD(_ v: Float) -> Float {
            let th = tanh(sqrt2OverPi * (v + 0.044715 * v * v * v))
            let du = sqrt2OverPi * (1 + (3 * 0.044715 as Float) * v * v)
            return 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * du
        }

        /// Vector.swift's sums: eight lane accumulators, lanes added in order, then a serial tail.
        static func sum8(_ n: Int, _ term: (Int) -> Float) -> Float {
            var acc = [Float](repeating: 0, count: 8)
            var i = 0
            while i + 8 <= n { for l in 0..<8 { acc[l] += term(i + l) }; i += 8 }
            var s: Float = -0.0
            for l in 0..<8 { s += acc[l] }
            while i < n { s += term(i); i += 1 }
            return s
        }

        static func softmax(_ row: inout [Float]) {
            let cols = row.count
            var m = -Float.infinity
            for v in row { m = Swift.max(m, v) }
            if cols < 32 {
                var s: Float = 0
                for j in 0..<cols { row[j] = expf(row[j] - m); s += row[j] }
                let inv = 1 / s
                for j in 0..<cols { row[j] *= inv }
                return
            }
            // Exps in 8-lane chunks, the last padded with −∞ (e⁻∞ = 0 adds nothing).
            for j in 0..<cols { row[j] = exp(row[j] - m) }
            let padded = (cols + 7) / 8 * 8
            let r = row
            let s = sum8(padded) { $0 < cols ? r[$0] : exp(-.infinity - m) }
            let inv = 1 / s
            for j in 0..<cols { row[j] *= inv }
        }
    }

    static func data(_ n: Int, seed: UInt64, scale: Float = 6) -> [Float] {
        var r = SplitMix64(seed: seed)
        var x = (0..<n).map { _ in (Float(r.next() >> 40) / 16_777_216 - 0.5) * scale }
        // Edge values where there is room: zeros of both signs, large, tiny, subnormal, infinities.
        let special: [Float] = [0, -0.0, 1, -1, 9.5, -9.5, 100, -100, 1e-30, -1e-30, Float(bitPattern: 0x0001_16C2), .infinity, -.infinity, 4, -4, 0.625]
        for (i, v) in special.enumerated() where i * 7 < n { x[i * 7] = v }
        return x
    }

    static func expectSameBits(_ got: [Float], _ want: [Float], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let bad = zip(got, want).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
        #expect(bad.isEmpty, "\(what): \(bad.count) of \(got.count) differ, first at \(bad.first.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")",
                sourceLocation: sourceLocation)
    }

    static let lengths = [1, 7, 8, 15, 16, 17, 33, 1000, 4099]

    // MARK: Tests

    @Test func pathsMatchTheCPU() {
        #expect(KernelISA.available.first == .baseline)
        #expect(KernelISA.current == KernelISA.available.last)
        if !KernelISA.dispatching { #expect(KernelISA.available == [.baseline]) }
    }

    @Test(arguments: KernelISA.available)
    func activations(_ isa: KernelISA) {
        for n in Self.lengths {
            let x = Self.data(n, seed: UInt64(n)), d = Self.data(n, seed: UInt64(n) + 99, scale: 2)
            for act in [Activation.gelu, .geluTanh] {
                var out = [Float](repeating: 0, count: n)
                activationForward(&out, x, count: n, act, isa: isa)
                Self.expectSameBits(out, x.map(act == .gelu ? Ref.gelu : Ref.geluTanh), "\(isa) \(act) forward n=\(n)")
                var dx = [Float](repeating: 0, count: n)
                activationBackward(&dx, d, x, count: n, act, isa: isa)
                let want = zip(d, x).map { $0 * (act == .gelu ? Ref.geluD($1) : Ref.geluTanhD($1)) }
                Self.expectSameBits(dx, want, "\(isa) \(act) backward n=\(n)")
            }
        }
    }

    @Test(arguments: KernelISA.available)
    func geglu(_ isa: KernelISA) {
        for (T, I) in [(3, 1), (5, 7), (4, 16), (9, 37), (17, 256)] {
            let u = Self.data(T * 2 * I, seed: UInt64(I)), dy = Self.data(T * I, seed: UInt64(I) + 5, scale: 2)
            var y = [Float](repeating: 0, count: T * I), du = [Float](repeating: 0, count: T * 2 * I)
            gegluForward(&y, u, T: T, I: I, isa: isa)
            gegluBackward(&du, dy, u, T: T, I: I, isa: isa)
            var wantY = y, wantDU = du
            for t in 0..<T {
                for i in 0..<I {
                    let a = u[t * 2 * I + i], g = u[t * 2 * I + I + i], d = dy[t * I + i]
                    wantY[t * I + i] = a * Ref.geluTanh(g)
                    wantDU[t * 2 * I + i] = d * Ref.geluTanh(g)
                    wantDU[t * 2 * I + I + i] = d * a * Ref.geluTanhD(g)
                }
            }
            Self.expectSameBits(y, wantY, "\(isa) geglu forward \(T)×\(I)")
            Self.expectSameBits(du, wantDU, "\(isa) geglu backward \(T)×\(I)")
        }
    }

    @Test(arguments: KernelISA.available)
    func softmax(_ isa: KernelISA) {
        for cols in [1, 2, 5, 20, 31, 32, 33, 39, 40, 47, 48, 64, 77, 128] {
            let rows = 3
            var x = Self.data(rows * cols, seed: UInt64(cols), scale: 16).map { $0.isFinite && abs($0) < 1e6 ? $0 : 1.5 }
            var want = x
            for r in 0..<rows {
                var row = Array(want[(r * cols)..<((r + 1) * cols)])
                Ref.softmax(&row)
                want.replaceSubrange((r * cols)..<((r + 1) * cols), with: row)
            }
            softmaxRows(&x, rows: rows, cols: cols, isa: isa)
            Self.expectSameBits(x, want, "\(isa) softmax cols=\(cols)")
            // Backward: d ← p ⊙ (d − Σ d·p), with the dot in eight lanes.
            var d = Self.data(rows * cols, seed: UInt64(cols) + 1, scale: 2)
            var wantD = d
            for r in 0..<rows {
                let o = r * cols, dd = d, pp = x
                let s = Ref.sum8(cols) { dd[o + $0] * pp[o + $0] }
                for j in 0..<cols { wantD[o + j] = x[o + j] * (d[o + j] - s) }
            }
            softmaxRowsBackward(&d, x, rows: rows, cols: cols, isa: isa)
            Self.expectSameBits(d, wantD, "\(isa) softmax backward cols=\(cols)")
        }
    }

    @Test(arguments: KernelISA.available)
    func layerNorm(_ isa: KernelISA) {
        for C in [1, 7, 8, 64, 384, 387] {
            let T = 5
            let x = Self.data(T * C, seed: UInt64(C), scale: 4).map { $0.isFinite && abs($0) < 1e6 ? $0 : 0.25 }
            let w = Self.data(C, seed: 3, scale: 2), b = Self.data(C, seed: 4, scale: 2)
            let dout = Self.data(T * C, seed: UInt64(C) + 8, scale: 2).map { $0.isFinite && abs($0) < 1e6 ? $0 : -0.5 }
            for affine in [true, false] {
                var out = [Float](repeating: 0, count: T * C), mean = [Float](repeating: 0, count: T), rstd = mean
                if affine {
                    layerNormForward(&out, mean: &mean, rstd: &rstd, x, w, b, T: T, C: C, eps: 1e-12, isa: isa)
                } else {
                    layerNormForward(&out, mean: &mean, rstd: &rstd, x, nil, nil, T: T, C: C, eps: 1e-12, isa: isa)
                }
                var wantOut = out, wantMean = mean, wantRstd = rstd
                for t in 0..<T {
                    let o = t * C
                    let m = Ref.sum8(C) { x[o + $0] } / Float(C)
                    let v = Ref.sum8(C) { let d = x[o + $0] - m; return d * d }
                    let r = 1 / (v / Float(C) + 1e-12).squareRoot()
                    wantMean[t] = m
                    wantRstd[t] = r
                    for i in 0..<C { wantOut[o + i] = affine ? (x[o + i] - m) * r * w[i] + b[i] : (x[o + i] - m) * r }
                }
                Self.expectSameBits(out, wantOut, "\(isa) layernorm forward C=\(C) affine=\(affine)")
                Self.expectSameBits(mean + rstd, wantMean + wantRstd, "\(isa) layernorm statistics C=\(C)")
                for accumulate in [false, true] {
                    var dx = Self.data(T * C, seed: 77, scale: 1), dw = Self.data(C, seed: 5, scale: 1), db = Self.data(C, seed: 6, scale: 1)
                    var wantDX = dx, wantDW = dw, wantDB = db
                    for t in 0..<T {
                        let o = t * C, m = mean[t], r = rstd[t]
                        let dn = (0..<C).map { affine ? dout[o + $0] * w[$0] : dout[o + $0] }
                        var s1: Float = 0, s2: Float = 0
                        for i in 0..<C { s1 += dn[i]; s2 += dn[i] * (x[o + i] - m) * r }
                        s1 /= Float(C)
                        s2 /= Float(C)
                        for i in 0..<C {
                            let g = r * (dn[i] - s1 - (x[o + i] - m) * r * s2)
                            wantDX[o + i] = accumulate ? wantDX[o + i] + g : g
                        }
                    }
                    if affine {
                        for t in 0..<T {
                            for i in 0..<C {
                                wantDW[i] += dout[t * C + i] * (x[t * C + i] - mean[t]) * rstd[t]
                                wantDB[i] += dout[t * C + i]
                            }
                        }
                    }
                    if affine {
                        layerNormBackward(dx: &dx, dw: &dw, db: &db, dout: dout, x: x, mean: mean, rstd: rstd, w: w, T: T, C: C,
                                          accumulate: accumulate, isa: isa)
                    } else {
                        layerNormBackward(dx: &dx, dw: nil, db: nil, dout: dout, x: x, mean: mean, rstd: rstd, w: nil, T: T, C: C,
                                          accumulate: accumulate, isa: isa)
                    }
                    Self.expectSameBits(dx, wantDX, "\(isa) layernorm backward C=\(C) affine=\(affine) accumulate=\(accumulate)")
                    Self.expectSameBits(dw + db, wantDW + wantDB, "\(isa) layernorm parameter gradients C=\(C)")
                }
            }
        }
    }

    @Test(arguments: KernelISA.available)
    func dropoutMask(_ isa: KernelISA) {
        let rng = CounterRandom(seed: 5, 6, 7)
        for n in Self.lengths {
            for p: Float in [0.1, 0.5] {
                for offset in [0, 3, 1 << 40] {
                    let x = Self.data(n, seed: UInt64(n) + 1)
                    var out = [Float](repeating: 1, count: n)
                    dropout(&out, x, count: n, p: p, rng: rng, indexOffset: offset, isa: isa)
                    let scale = 1 / (1 - p)
                    let want = (0..<n).map { rng.uniform(offset + $0) >= p ? x[$0] * scale : 0 }
                    Self.expectSameBits(out, want, "\(isa) dropout n=\(n) p=\(p) offset=\(offset)")
                }
            }
        }
        // Per sequence, as the encoders use it.
        let offsets = [0, 3, 10, 41], width = 13, x = Self.data(41 * width, seed: 9)
        var out = [Float](repeating: 0, count: x.count), base = out
        dropoutSequences(&out, x, offsets: offsets, sequenceIDs: [4, 0, 9], width: width, p: 0.2, rng: rng, isa: isa)
        dropoutSequences(&base, x, offsets: offsets, sequenceIDs: [4, 0, 9], width: width, p: 0.2, rng: rng, isa: .baseline)
        Self.expectSameBits(out, base, "\(isa) dropoutSequences")
    }

    @Test(arguments: KernelISA.available)
    func adamW(_ isa: KernelISA) {
        func run(_ isa: KernelISA) -> [Float] {
            let params = ParameterSet([("a", [37, 5], true), ("b", [3], false), ("c", [1001], true), ("d", [8], false)])
            var r = SplitMix64(seed: 9)
            func rnd() -> Float { Float(r.next() >> 40) / 16_777_216 - 0.5 }
            for i in 0..<params.count { params.values[i] = rnd() }
            let opt = AdamW(parameters: params, weightDecay: 0.01)
            for step in 1...3 {
                for i in 0..<params.count { params.grads[i] = rnd() * 1e-2 }
                opt.update(params, lr: 1e-3, gradScale: step == 2 ? 0.37 : 1, isa: isa)
            }
            let n = params.count
            return Array(UnsafeBufferPointer(start: params.values, count: n)) + Array(UnsafeBufferPointer(start: opt.m, count: n))
                + Array(UnsafeBufferPointer(start: opt.v, count: n))
        }
        // FastKernelTests pins the baseline to torch's scalar formula; every path equals it.
        Self.expectSameBits(run(isa), run(.baseline), "\(isa) AdamW")
    }
}
