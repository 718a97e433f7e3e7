import Foundation
import IO

/// The negatives chosen for each query: the second half of `mine_hard_negatives` (sentence-
/// transformers 6.3.0) — exclusions, score filters, the [range_min, range_max) window over the
/// surviving candidates, then the top ones or a `random.sample` of them.
package struct MinedNegatives: Sendable {
    package let numNegatives: Int
    /// [queries × numNegatives], best first; -inf (index -1 or an excluded entry) where a query has
    /// fewer valid negatives.
    package var scores: [Float]
    package var indices: [Int32]
    /// What each filter removed, in the order sentence-transformers reports them.
    package var skipped: [Skip]

    package struct Skip: Sendable, Equatable {
        package var name: String
        package var value: Double
        package var count: Int
        /// count / the candidates left when the filter ran (sentence-transformers' ratio).
        package var ratio: Double
    }

    package var queryCount: Int { scores.count / max(1, numNegatives) }

    /// Query q's negatives (score, corpus index), best first, invalid ones included.
    package func negatives(_ q: Int) -> [(score: Float, index: Int)] {
        (0..<numNegatives).map { (scores[q * numNegatives + $0], Int(indices[q * numNegatives + $0])) }
    }

    /// Chooses the negatives from the candidates. Ties keep the candidates' (score, corpus index)
    /// order; Python's torch.topk/sort order ties arbitrarily.
    package static func select(_ c: NegativeCandidates, options o: MiningOptions, resolved r: MiningOptions.Resolved) -> MinedNegatives {
        let data = c.data, nq = data.queries.count, N = o.numNegatives
        let cc = r.candidateCount
        let ninf = -Float.infinity
        var scores = [Float](repeating: ninf, count: nq * N)
        var indices = [Int32](repeating: -1, count: nq * N)
        var removed = [0, 0, 0, 0]  // absolute_margin, relative_margin, max_score, min_score
        var rng = PythonRandom(seed: o.seed)
        let absMargin = o.absoluteMargin.map(Float.init), relMargin = o.relativeMargin.map(Float.init)
        let maxScore = o.maxScore.map(Float.init), minScore = o.minScore.map(Float.init)
        var cand = [(score: Float, index: Int, order: Int)]()
        cand.reserveCapacity(cc)
        for q in 0..<nq {
            let positives = data.positives(of: q)
            var minPos = Float.infinity
            for p in data.positiveOffsets[q]..<data.positiveOffsets[q + 1] { minPos = min(minPos, c.positiveScores[p]) }
            let selfIndex = o.includePositives && data.isSelfPaired(q) ? -1 : (data.corpus.index(of: data.queries[q]) ?? -1)
            cand.removeAll(keepingCapacity: true)
            for (k, h) in c.candidates(q).enumerated() {
                var s = h.score
                if h.index == -1 || h.index == selfIndex || (!o.includePositives && positives.contains(Int32(h.index))) { s = ninf }
                if let m = absMargin, s + m > minPos { s = ninf; removed[0] += 1 }
                if let m = relMargin, s > minPos - abs(minPos) * m { s = ninf; removed[1] += 1 }
                if let m = maxScore, s > m { s = ninf; removed[2] += 1 }
                if let m = minScore, s < m, s != ninf { s = ninf; removed[3] += 1 }
                cand.append((s, h.index, k))
            }
            // torch.topk(scores, k=range_max) with the removed entries (-inf) sunk to the end.
            cand.sort { $0.score > $1.score || ($0.score == $1.score && $0.order < $1.order) }
            let window = cand[o.rangeMin..<r.rangeMax]
            var chosen: [(score: Float, index: Int, order: Int)]
            switch o.samplingStrategy {
            case .top:
                chosen = Array(window.prefix(N))
            case .random:
                let valid = window.reduce(0) { $0 + ($1.score == ninf ? 0 : 1) }
                let picks = rng.sample(range: max(valid, N), count: N)
                chosen = picks.map { window[window.startIndex + $0] }
                chosen.sort { $0.score > $1.score || ($0.score == $1.score && $0.order < $1.order) }
            }
            for (j, e) in chosen.enumerated() where e.score != ninf {
                scores[q * N + j] = e.score
                indices[q * N + j] = Int32(e.index)
            }
        }
        // Ratios as sentence-transformers computes them: over all candidates, less what the margins
        // removed before (max_score's removals are not subtracted).
        var left = nq * cc
        var skipped: [Skip] = []
        for (k, (name, value)) in [("absolute_margin", o.absoluteMargin), ("relative_margin", o.relativeMargin),
                                   ("max_score", o.maxScore), ("min_score", o.minScore)].enumerated() {
            guard let value, removed[k] > 0 else { continue }
            skipped.append(Skip(name: name, value: value, count: removed[k], ratio: Double(removed[k]) / Double(left)))
            if k < 2 { left -= removed[k] }
        }
        return MinedNegatives(numNegatives: N, scores: scores, indices: indices, skipped: skipped)
    }
}
