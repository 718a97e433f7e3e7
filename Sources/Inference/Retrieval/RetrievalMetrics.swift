import Foundation
import IO

/// The cutoffs of sentence-transformers' `InformationRetrievalEvaluator` (its defaults).
package struct RetrievalCutoffs: Sendable, Equatable {
    package var accuracy = [1, 3, 5, 10]
    package var precisionRecall = [1, 3, 5, 10]
    package var mrr = [10]
    package var ndcg = [10]
    package var map = [100]

    package init() {}

    /// Hits needed per query: the largest cutoff.
    package var maxK: Int { (accuracy + precisionRecall + mrr + ndcg + map).max() ?? 1 }
}

/// A score function of the evaluator, named as sentence-transformers names them.
package enum ScoreFunction: String, Sendable, CaseIterable {
    /// Cosine similarity (both sides L2-normalized).
    case cosine
    /// The raw dot product of the model's vectors.
    case dot
}

/// Information-retrieval metrics as sentence-transformers' `InformationRetrievalEvaluator`
/// computes them: binary relevance, each query's ranking of the whole corpus by score descending
/// (ties by corpus id), metrics averaged over the queries that have at least one relevant document.
/// Named without the evaluator's name prefix: `cosine_accuracy@1`, …, `cosine_ndcg@10`,
/// `cosine_mrr@10`, `cosine_map@100`, then the same for `dot_`.
package struct RetrievalMetrics: Sendable, Equatable {
    /// (name, value) in the evaluator's order: per score function, accuracy@k, precision@k,
    /// recall@k, ndcg@k, mrr@k, map@k.
    package var values: [(name: String, value: Double)]
    /// Queries evaluated (those with a relevant document) and corpus size.
    package var queries: Int
    package var corpus: Int
    /// The evaluator's primary metric: `<fn>_ndcg@<largest k>` of the score function whose NDCG is
    /// highest (the first in name order on a tie).
    package var primaryMetric: String

    package init(values: [(name: String, value: Double)], queries: Int, corpus: Int, primaryMetric: String) {
        self.values = values
        self.queries = queries
        self.corpus = corpus
        self.primaryMetric = primaryMetric
    }

    package static func == (a: RetrievalMetrics, b: RetrievalMetrics) -> Bool {
        a.queries == b.queries && a.corpus == b.corpus && a.primaryMetric == b.primaryMetric
            && a.values.map(\.name) == b.values.map(\.name) && a.values.map(\.value) == b.values.map(\.value)
    }

    package func value(_ name: String) -> Double? { values.first { $0.name == name }?.value }

    /// The metric names for these cutoffs and score functions, in the evaluator's order.
    package static func names(functions: [ScoreFunction], cutoffs c: RetrievalCutoffs = RetrievalCutoffs()) -> [String] {
        var names: [String] = []
        for f in functions.map(\.rawValue) {
            for (metric, ks) in [("accuracy", c.accuracy), ("precision", c.precisionRecall), ("recall", c.precisionRecall),
                                 ("ndcg", c.ndcg), ("mrr", c.mrr), ("map", c.map)] {
                names += ks.map { "\(f)_\(metric)@\($0)" }
            }
        }
        return names
    }

    /// One score function's metrics from each query's ranked corpus indices (best first, at least
    /// `cutoffs.maxK` of them or the whole corpus), `isRelevant(query, index)` and the number of
    /// relevant documents per query (ids missing from the corpus included: they still count in
    /// recall, MAP and the ideal DCG). Queries with none are skipped.
    package static func compute(function: ScoreFunction, ranked: [[Int]], relevantCount: [Int],
                                isRelevant: (Int, Int) -> Bool, cutoffs c: RetrievalCutoffs) -> [(name: String, value: Double)] {
        // As the evaluator sums them: hit counts and reciprocal ranks in a running sum, the other
        // metrics per query, averaged with numpy's mean (pairwise summation).
        var accuracy = [Int](repeating: 0, count: c.accuracy.count)
        var precision = [[Double]](repeating: [], count: c.precisionRecall.count)
        var recall = precision
        var mrr = [Double](repeating: 0, count: c.mrr.count)
        var ndcg = [[Double]](repeating: [], count: c.ndcg.count)
        var map = [[Double]](repeating: [], count: c.map.count)
        var n = 0
        for (q, list) in ranked.enumerated() where relevantCount[q] > 0 {
            n += 1
            let hits = list.prefix(c.maxK).map { isRelevant(q, $0) }
            let rel = relevantCount[q]
            func found(_ k: Int) -> Int { hits.prefix(k).reduce(0) { $0 + ($1 ? 1 : 0) } }
            for (i, k) in c.accuracy.enumerated() where found(k) > 0 { accuracy[i] += 1 }
            for (i, k) in c.precisionRecall.enumerated() {
                precision[i].append(Double(found(k)) / Double(k))
                recall[i].append(Double(found(k)) / Double(rel))
            }
            for (i, k) in c.mrr.enumerated() {
                if let r = hits.prefix(k).firstIndex(of: true) { mrr[i] += 1 / Double(r + 1) }
            }
            for (i, k) in c.ndcg.enumerated() {
                var dcg = 0.0, ideal = 0.0
                for (r, h) in hits.prefix(k).enumerated() { dcg += (h ? 1 : 0) / log2(Double(r + 2)) }
                for r in 0..<min(rel, k) { ideal += 1 / log2(Double(r + 2)) }
                ndcg[i].append(dcg / ideal)
            }
            for (i, k) in c.map.enumerated() {
                var correct = 0, sum = 0.0
                for (r, h) in hits.prefix(k).enumerated() where h {
                    correct += 1
                    sum += Double(correct) / Double(r + 1)
                }
                map[i].append(sum / Double(min(k, rel)))
            }
        }
        let d = Double(max(n, 1)), f = function.rawValue
        func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : numpySum(v) / Double(v.count) }
        var out: [(name: String, value: Double)] = []
        let averaged: [(String, [Int], [Double])] = [
            ("accuracy", c.accuracy, accuracy.map { Double($0) / d }), ("precision", c.precisionRecall, precision.map(mean)),
            ("recall", c.precisionRecall, recall.map(mean)), ("ndcg", c.ndcg, ndcg.map(mean)),
            ("mrr", c.mrr, mrr.map { $0 / d }), ("map", c.map, map.map(mean)),
        ]
        for (metric, ks, values) in averaged {
            for (k, v) in zip(ks, values) { out.append(("\(f)_\(metric)@\(k)", v)) }
        }
        return out
    }

    /// numpy's float64 sum (pairwise summation: 8 running sums in blocks of up to 128, halves above),
    /// so that means agree with `np.mean` to the last bit.
    package static func numpySum(_ v: [Double]) -> Double {
        func sum(_ a: ArraySlice<Double>) -> Double {
            let n = a.count, b = a.startIndex
            if n < 8 { return a.reduce(0, +) }
            if n <= 128 {
                var r = Array(a[b..<(b + 8)])
                var i = 8
                while i < n - n % 8 {
                    for j in 0..<8 { r[j] += a[b + i + j] }
                    i += 8
                }
                var res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
                while i < n { res += a[b + i]; i += 1 }
                return res
            }
            var half = n / 2
            half -= half % 8
            return sum(a[b..<(b + half)]) + sum(a[(b + half)...])
        }
        return sum(v[...])
    }

    /// The primary metric among `values` computed for `functions`.
    package static func primary(_ values: [(name: String, value: Double)], functions: [ScoreFunction], cutoffs: RetrievalCutoffs) -> String {
        let k = cutoffs.ndcg.max() ?? 10
        let best = functions.map(\.rawValue).sorted().max { a, b in
            (values.first { $0.name == "\(a)_ndcg@\(k)" }?.value ?? 0) < (values.first { $0.name == "\(b)_ndcg@\(k)" }?.value ?? 0)
        }
        return "\(best ?? "cosine")_ndcg@\(k)"
    }

    /// `{metric: value, …}` followed by `extra`.
    package func json(extra: [(String, JSON)] = []) -> JSON {
        var o = JSONObject()
        for (k, v) in values { o[k] = .number(v) }
        o["queries"] = .number(Double(queries))
        o["corpus"] = .number(Double(corpus))
        o["primary_metric"] = .string(primaryMetric)
        for (k, v) in extra { o[k] = v }
        return .object(o)
    }

    /// Appends a row to a CSV like the evaluator's `Information-Retrieval_evaluation_<name>_results.csv`
    /// (header when the file is new): per score function in name order, Accuracy@k, then
    /// Precision@k and Recall@k interleaved, MRR@k, NDCG@k, MAP@k.
    package func appendCSV(path: String, functions: [ScoreFunction], cutoffs c: RetrievalCutoffs, epoch: Double, steps: Int) throws {
        var header = ["epoch", "steps"], row = [JSON.format(epoch), String(steps)]
        for f in functions.map(\.rawValue).sorted() {
            func add(_ title: String, _ key: String) {
                header.append("\(f)-\(title)")
                row.append(value("\(f)_\(key)").map { "\($0)" } ?? "")
            }
            for k in c.accuracy { add("Accuracy@\(k)", "accuracy@\(k)") }
            for k in c.precisionRecall {
                add("Precision@\(k)", "precision@\(k)")
                add("Recall@\(k)", "recall@\(k)")
            }
            for k in c.mrr { add("MRR@\(k)", "mrr@\(k)") }
            for k in c.ndcg { add("NDCG@\(k)", "ndcg@\(k)") }
            for k in c.map { add("MAP@\(k)", "map@\(k)") }
        }
        var text = FileManager.default.fileExists(atPath: path) ? "" : header.joined(separator: ",") + "\n"
        text += row.joined(separator: ",") + "\n"
        try FileSystem.append(text, to: path)
    }
}
