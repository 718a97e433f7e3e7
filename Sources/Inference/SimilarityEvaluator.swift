import Foundation
import IO
import NN

/// What sentence-transformers' EmbeddingSimilarityEvaluator reports for scored sentence pairs (STS):
/// the Pearson and Spearman correlations between the gold scores and each similarity of the two
/// sentences' embeddings — cosine, (negative) Euclidean and Manhattan distance, dot product.
package struct SimilarityMetrics: Sendable, Equatable {
    /// Similarity functions in the evaluator's order, with its names.
    package static let functions = ["cosine", "euclidean", "manhattan", "dot"]

    /// Per function (in `functions` order): Pearson r and Spearman ρ.
    package var pearson: [Double]
    package var spearman: [Double]
    package var count: Int

    package init(pearson: [Double], spearman: [Double], count: Int) {
        self.pearson = pearson
        self.spearman = spearman
        self.count = count
    }

    package var spearmanCosine: Double { spearman[0] }
    package var pearsonCosine: Double { pearson[0] }

    /// As the evaluator names them (`pearson_cosine`, `spearman_cosine`, …, `pearson_max`,
    /// `spearman_max`), in its order. Its primary metric is `spearman_max` when it computes several
    /// functions; the cosine one is the usual headline number.
    package var named: [(String, Double)] {
        var out: [(String, Double)] = []
        for (k, f) in Self.functions.enumerated() {
            out.append(("pearson_\(f)", pearson[k]))
            out.append(("spearman_\(f)", spearman[k]))
        }
        out.append(("pearson_max", pearson.max()!))
        out.append(("spearman_max", spearman.max()!))
        return out
    }

    package func json(extra: [(String, JSON)] = []) -> JSON {
        var o = JSONObject()
        for (k, v) in named { o[k] = v.isFinite ? .number(v) : .null }
        o["pairs"] = .number(Double(count))
        for (k, v) in extra { o[k] = v }
        return .object(o)
    }
}

package enum SimilarityEvaluator {
    /// Embeds the first `limit` pairs of a tokens file's two text columns and scores them against
    /// its score column; with `dims`, on the vectors cut to that many dimensions.
    package static func evaluate(model: SentenceModel, table: any TokenTable, columns: [String], scoreColumn: String,
                                 limit: Int? = nil, batchSize: Int, dims: Int? = nil, progress: ProgressBar? = nil) throws -> SimilarityMetrics {
        try evaluate(model: model, table: table, columns: columns, scoreColumn: scoreColumn, limit: limit, batchSize: batchSize,
                     dims: [dims ?? model.dimension], progress: progress)[0]
    }

    /// The metrics of the vectors cut to each of `dims` (Matryoshka), from one embedding pass.
    package static func evaluate(model: SentenceModel, table: any TokenTable, columns: [String], scoreColumn: String,
                                 limit: Int? = nil, batchSize: Int, dims: [Int], progress: ProgressBar? = nil) throws -> [SimilarityMetrics] {
        guard columns.count == 2 else { throw EmbedError("STS evaluation needs two text columns (sentence1, sentence2)") }
        try table.require(columns: columns, source: "evaluation data")
        guard let all = table.scores(column: scoreColumn) else {
            throw EmbedError("evaluation data: no score column '\(scoreColumn)' (tokenize with --score-column \(scoreColumn))")
        }
        let n = min(limit ?? table.rows, table.rows)
        guard n >= 2 else { throw EmbedError("evaluation data: STS needs at least 2 pairs, it has \(n)") }
        try table.validate(columns: columns, rows: n, maxLength: model.encoder.maxPositions,
                           vocabularySize: model.encoder.vocabularySize, source: "evaluation data")
        let e = columns.map { c in model.embedAll(count: n, batchSize: batchSize, progress: progress) { table.ids(column: c, row: $0) } }
        let scores = all.prefix(n).map(Double.init)
        return dims.map { dims in
            let d = min(dims, model.dimension)
            let cut = e.map { truncateEmbeddings($0, rows: n, dimension: model.dimension, to: d, normalize: model.normalize) }
            return score(cut[0], cut[1], scores: scores, dimension: d)
        }
    }

    /// Metrics of embeddings u, v [count, dimension] of the pair sides against the gold `scores`.
    /// Similarities are float32 as torch computes them; the correlations are scipy's, in float64.
    package static func score(_ u: [Float], _ v: [Float], scores: [Double], dimension C: Int) -> SimilarityMetrics {
        let n = scores.count
        precondition(u.count == n * C && v.count == n * C, "one embedding per side of each pair")
        var sims = [[Double]](repeating: [Double](repeating: 0, count: n), count: 4)
        u.withUnsafeBufferPointer { up in
            v.withUnsafeBufferPointer { vp in
                for i in 0..<n {
                    let a = up.baseAddress! + i * C, b = vp.baseAddress! + i * C
                    let ab = dot(a, b, C), aa = dot(a, a, C), bb = dot(b, b, C)
                    sims[0][i] = Double(ab / (max(aa.squareRoot(), 1e-12) * max(bb.squareRoot(), 1e-12)))
                    var sq: Float = 0, ab1: Float = 0
                    for c in 0..<C {
                        let d = a[c] - b[c]
                        sq += d * d
                        ab1 += abs(d)
                    }
                    sims[1][i] = Double(-sq.squareRoot())
                    sims[2][i] = Double(-ab1)
                    sims[3][i] = Double(ab)
                }
            }
        }
        return SimilarityMetrics(pearson: sims.map { pearson(scores, $0) }, spearman: sims.map { spearman(scores, $0) }, count: n)
    }

    /// Pearson's r as scipy.stats.pearsonr: centred, clipped to [−1, 1]; NaN for a constant input
    /// or fewer than 2 values.
    package static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = x.count
        guard n >= 2, y.count == n else { return .nan }
        let mx = x.reduce(0, +) / Double(n), my = y.reduce(0, +) / Double(n)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<n {
            let a = x[i] - mx, b = y[i] - my
            sxy += a * b
            sxx += a * a
            syy += b * b
        }
        guard sxx > 0, syy > 0 else { return .nan }
        return min(1, max(-1, sxy / (sxx.squareRoot() * syy.squareRoot())))
    }

    /// Spearman's ρ as scipy.stats.spearmanr: Pearson's r of the ranks, tied values sharing the mean
    /// of the ranks they span.
    package static func spearman(_ x: [Double], _ y: [Double]) -> Double { pearson(ranks(x), ranks(y)) }

    /// 1-based ranks, ties averaged (scipy.stats.rankdata(method="average")): [0.1, 0.5, 0.5] → [1, 2.5, 2.5].
    package static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, x[order[j + 1]] == x[order[i]] { j += 1 }
            let mean = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = mean }
            i = j + 1
        }
        return r
    }

    /// Appends a row to a CSV like the evaluator's `similarity_evaluation_<name>_results.csv`
    /// (header written when the file is new; function first in the column names, as it writes them).
    package static func appendCSV(path: String, metrics: SimilarityMetrics, epoch: Double, steps: Int) throws {
        var text = ""
        if !FileManager.default.fileExists(atPath: path) {
            text += "epoch,steps," + SimilarityMetrics.functions.map { "\($0)_pearson,\($0)_spearman" }.joined(separator: ",") + "\n"
        }
        text += "\(JSON.format(epoch)),\(steps)"
        for k in 0..<SimilarityMetrics.functions.count { text += ",\(metrics.pearson[k]),\(metrics.spearman[k])" }
        try FileSystem.append(text + "\n", to: path)
    }
}
