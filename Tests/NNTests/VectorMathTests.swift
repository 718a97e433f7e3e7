#if canImport(Glibc)
import Glibc
#endif
import IO
import NN
import TestSupport
import Testing

/// The SIMD exp/erf/tanh against glibc's expf/erff/tanhf over dense sweeps of float bit patterns
/// (every `stride`-th float in each range, so every binade is covered), bounded in ulps.
@Suite struct VectorMathTests {
    /// Floats as integers in ascending order, so the distance between two is their ulp distance.
    static func ordinal(_ x: Float) -> Int64 {
        let b = Int64(x.bitPattern)
        return x.sign == .minus ? -(b & 0x7FFF_FFFF) : b
    }

    /// The largest ulp difference between `f` and `ref` over [lo, hi], and where it occurs.
    static func worstUlps(_ lo: Float, _ hi: Float, stride: Int64, _ f: (Float8) -> Float8, _ ref: (Float) -> Float) -> (ulps: Int64, at: Float) {
        var worst: Int64 = 0, at: Float = 0
        var batch = Float8()
        var filled = 0
        func flush() {
            let y = f(batch)
            for i in 0..<filled {
                let want = ref(batch[i])
                let d = abs(ordinal(y[i]) - ordinal(want))
                if d > worst || (y[i].isNaN != want.isNaN) { worst = max(d, y[i].isNaN != want.isNaN ? Int64.max : d); at = batch[i] }
            }
            filled = 0
        }
        var o = ordinal(lo)
        let end = ordinal(hi)
        while o <= end {
            let x = o < 0 ? -Float(bitPattern: UInt32(-o)) : Float(bitPattern: UInt32(o))
            batch[filled] = x
            filled += 1
            if filled == 8 { flush() }
            o += stride
        }
        if filled > 0 {
            for i in filled..<8 { batch[i] = batch[0] }
            flush()
        }
        return (worst, at)
    }

    // Every 61st float over the whole domain, plus every 3rd or 7th where the range reductions and
    // the region boundaries are. A sweep of every float was run once: exp ≤ 1 ulp; erf ≤ 1 ulp but
    // for two inputs near ±0.996 at 2; tanh ≤ 2 ulp (0.04% of inputs at 2).
    @Test func expWithinOneUlpOfLibm() {
        // Where expf is neither 0 nor ∞, subnormal results included.
        let r = Self.worstUlps(-104, 89, stride: 61, vexp, expf)
        #expect(r.ulps <= 1, "vexp is \(r.ulps) ulp from expf at \(r.at)")
        // Softmax's range.
        let s = Self.worstUlps(-4, -0.001, stride: 7, vexp, expf)
        #expect(s.ulps <= 1, "vexp is \(s.ulps) ulp from expf at \(s.at)")
    }

    @Test func erfWithinTwoUlpsOfLibm() {
        let r = Self.worstUlps(-6, 6, stride: 61, verf, erff)
        #expect(r.ulps <= 2, "verf is \(r.ulps) ulp from erff at \(r.at)")
        let s = Self.worstUlps(0.5, 4.5, stride: 3, verf, erff)
        #expect(s.ulps <= 2, "verf is \(s.ulps) ulp from erff at \(s.at)")
    }

    @Test func tanhWithinTwoUlpsOfLibm() {
        let r = Self.worstUlps(-12, 12, stride: 61, vtanh, tanhf)
        #expect(r.ulps <= 2, "vtanh is \(r.ulps) ulp from tanhf at \(r.at)")
        let s = Self.worstUlps(0.25, 4, stride: 3, vtanh, tanhf)
        #expect(s.ulps <= 2, "vtanh is \(s.ulps) ulp from tanhf at \(s.at)")
    }

    @Test func specialValues() {
        let x = Float8(.infinity, -.infinity, .nan, -0.0, 0, 1000, -1000, .leastNonzeroMagnitude)
        let e = vexp(x), r = verf(x), t = vtanh(x)
        #expect(e[0] == .infinity && e[1] == 0 && e[2].isNaN && e[3] == 1 && e[4] == 1 && e[5] == .infinity && e[6] == 0 && e[7] == 1)
        #expect(r[0] == 1 && r[1] == -1 && r[2].isNaN && r[3] == 0 && r[3].sign == .minus && r[5] == 1 && r[6] == -1)
        #expect(t[0] == 1 && t[1] == -1 && t[2].isNaN && t[3] == 0 && t[3].sign == .minus && t[5] == 1 && t[6] == -1)
    }
}
