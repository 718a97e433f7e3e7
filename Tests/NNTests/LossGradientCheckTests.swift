import Foundation
import IO
import NN
import TestSupport
import Testing

/// Finite-difference checks of the losses beside MNRL: CoSENT and Matryoshka (around MNRL and
/// around CoSENT), with the helpers of GradientCheckTests.
@Suite struct LossGradientCheckTests {
    /// Scores with ties (pairs of equal score contribute nothing) and an unordered batch.
    static let scores: [Float] = [0.9, 0.1, 0.8, 0.3, 0.8, 0.0, 0.5]

    @Test func cosent() {
        let B = Self.scores.count, C = 6
        let u = Buf(B * C, seed: 51), v = Buf(B * C, seed: 52)
        let labels = Self.scores
        func loss() -> Double {
            Double(labels.withUnsafeBufferPointer { NN.cosentLoss(u: u.p, v: v.p, labels: $0.baseAddress!, B: B, C: C, scale: 20) })
        }
        let du = Buf(B * C), dv = Buf(B * C)
        let l = labels.withUnsafeBufferPointer {
            NN.cosentLoss(u: u.p, v: v.p, labels: $0.baseAddress!, B: B, C: C, scale: 20, lossScale: 1, dU: du.p, dV: dv.p)
        }
        #expect(l > 0 && Double(l) == loss())
        check(u, du, loss, "dU", h: 1e-3)
        check(v, dv, loss, "dV", h: 1e-3)
    }

    /// The O(B²) form against the definition written out for a tiny case: two pairs, l₀ < l₁.
    @Test func cosentValueOfTwoPairs() {
        let u: [Float] = [1, 0, 0, 1], v: [Float] = [1, 1, 0, 1]   // cos₀ = 1/√2, cos₁ = 1
        let labels: [Float] = [0.2, 0.7]
        let l = NN.cosentLoss(u: u, v: v, labels: labels, B: 2, C: 2, scale: 20)
        let want = log(1 + exp(20 * (1 / 2.0.squareRoot() - 1)))
        #expect(abs(Double(l) - want) < 1e-6)
        // Equal labels: nothing to order, log 1 = 0.
        #expect(NN.cosentLoss(u: u, v: v, labels: [0.5, 0.5], B: 2, C: 2, scale: 20) == 0)
    }

    /// L = Σ_d w_d·MNRL(normalize(e[:, :d])) over anchors, positives and negatives.
    @Test func matryoshkaAroundMNRL() {
        let B = 3, C = 8
        let dims = [8, 4, 2], weights: [Float] = [1, 0.5, 2]
        let e = Buf(3 * B * C, seed: 53)
        func inner(_ x: UnsafePointer<Float>, _ d: Int, _ dX: UnsafeMutablePointer<Float>?, _ s: Float) -> Float {
            NN.multipleNegativesRankingLoss(anchors: x, candidates: x + B * d, B: B, N: 2 * B, C: d, scale: 20, lossScale: s,
                                            dAnchors: dX, dCandidates: dX.map { $0 + B * d }).loss
        }
        func loss() -> Double {
            Double(NN.matryoshkaLoss(embeddings: e.p, rows: 3 * B, C: C, dims: dims, weights: weights, inner: inner).loss)
        }
        let de = Buf(3 * B * C)
        let r = NN.matryoshkaLoss(embeddings: e.p, rows: 3 * B, C: C, dims: dims, weights: weights, lossScale: 1,
                                  dEmbeddings: de.p, inner: inner)
        // The total is the weighted sum of the terms, and each term is MNRL on the cut vectors.
        #expect(abs(r.loss - zip(r.perDimension, weights).reduce(0) { $0 + $1.0 * $1.1 }) < 1e-5)
        let cut = Buf(3 * B * 4)
        truncateRows(cut.p, e.p, rows: 3 * B, C: C, d: 4)
        let plain = NN.multipleNegativesRankingLoss(anchors: cut.p, candidates: cut.p + B * 4, B: B, N: 2 * B, C: 4, scale: 20).loss
        #expect(abs(plain - r.perDimension[1]) < 1e-5)
        check(e, de, loss, "dEmbeddings", h: 1e-3)
    }

    @Test func matryoshkaAroundCoSENT() {
        let B = Self.scores.count, C = 6
        let e = Buf(2 * B * C, seed: 54)
        let labels = Self.scores
        func inner(_ x: UnsafePointer<Float>, _ d: Int, _ dX: UnsafeMutablePointer<Float>?, _ s: Float) -> Float {
            labels.withUnsafeBufferPointer {
                NN.cosentLoss(u: x, v: x + B * d, labels: $0.baseAddress!, B: B, C: d, scale: 20, lossScale: s,
                              dU: dX, dV: dX.map { $0 + B * d })
            }
        }
        func loss() -> Double {
            Double(NN.matryoshkaLoss(embeddings: e.p, rows: 2 * B, C: C, dims: [6, 3], weights: [1, 1], inner: inner).loss)
        }
        let de = Buf(2 * B * C)
        _ = NN.matryoshkaLoss(embeddings: e.p, rows: 2 * B, C: C, dims: [6, 3], weights: [1, 1], lossScale: 0.5,
                              dEmbeddings: de.p, inner: inner)
        // lossScale scales the gradient only.
        for i in 0..<de.count { de.p[i] *= 2 }
        check(e, de, loss, "dEmbeddings", h: 1e-3)
    }
}
