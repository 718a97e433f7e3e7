import Foundation
import IO
import NN
import Tokenizers

/// Triplet accuracy as sentence-transformers' TripletEvaluator computes it: the share of triplets
/// where sim(anchor, positive) > sim(anchor, negative), strictly, for cosine and dot similarity and
/// for negative Euclidean and Manhattan distance.
package struct TripletMetrics: Sendable, Equatable {
    package var cosine: Double
    package var dot: Double
    package var euclidean: Double
    package var manhattan: Double
    package var count: Int

    package init(cosine: Double, dot: Double, euclidean: Double, manhattan: Double, count: Int) {
        self.cosine = cosine
        self.dot = dot
        self.euclidean = euclidean
        self.manhattan = manhattan
        self.count = count
    }

    package var max: Double { Swift.max(cosine, dot, euclidean, manhattan) }

    /// The metrics over both sets of triplets (count-weighted).
    package func merged(with o: TripletMetrics) -> TripletMetrics {
        let n = count + o.count
        guard n > 0 else { return self }
        // Accuracies are hit counts over triplet counts: recover the counts exactly, then divide.
        func mix(_ a: Double, _ b: Double) -> Double { ((a * Double(count)).rounded() + (b * Double(o.count)).rounded()) / Double(n) }
        return TripletMetrics(cosine: mix(cosine, o.cosine), dot: mix(dot, o.dot), euclidean: mix(euclidean, o.euclidean),
                              manhattan: mix(manhattan, o.manhattan), count: n)
    }

    /// The metric names, in the evaluator's order.
    package static let names = ["cosine_accuracy", "dot_accuracy", "euclidean_accuracy", "manhattan_accuracy", "max_accuracy"]

    /// As the evaluator names them (`cosine_accuracy`, …), in its order.
    package var named: [(String, Double)] {
        [("cosine_accuracy", cosine), ("dot_accuracy", dot), ("euclidean_accuracy", euclidean),
         ("manhattan_accuracy", manhattan), ("max_accuracy", max)]
    }

    /// Reads the metrics back from `json(extra:)`'s output (an `evaluate` result file).
    package init(json: JSON, source: String) throws {
        func value(_ k: String) throws -> Double {
            guard let v = json[k]?.double else { throw EmbedError("\(source): no number '\(k)' (not an evaluate result)") }
            return v
        }
        self.init(cosine: try value("cosine_accuracy"), dot: try value("dot_accuracy"), euclidean: try value("euclidean_accuracy"),
                  manhattan: try value("manhattan_accuracy"), count: json["triplets"]?.int ?? 0)
    }

    package func json(extra: [(String, JSON)] = []) -> JSON {
        var o = JSONObject()
        for (k, v) in named { o[k] = .number(v) }
        o["triplets"] = .number(Double(count))
        for (k, v) in extra { o[k] = v }
        return .object(o)
    }
}

package enum TripletEvaluator {
    /// Embeds the first `limit` rows of the three columns and scores them; with `dims`, on the
    /// vectors cut to that many dimensions (see `truncateEmbeddings`).
    package static func evaluate(model: SentenceModel, table: any TokenTable, columns: [String], limit: Int? = nil,
                                batchSize: Int, dims: Int? = nil, progress: ProgressBar? = nil,
                                observe: ((_ row: Int, _ cosPositive: Double, _ cosNegative: Double) -> Void)? = nil) throws -> TripletMetrics {
        try evaluate(model: model, table: table, columns: columns, limit: limit, batchSize: batchSize,
                     dims: [dims ?? model.dimension], progress: progress, observe: observe)[0]
    }

    /// The metrics of the vectors cut to each of `dims` (Matryoshka), from one embedding pass;
    /// `observe` sees the triplets at the first of them.
    package static func evaluate(model: SentenceModel, table: any TokenTable, columns: [String], limit: Int? = nil,
                                batchSize: Int, dims: [Int], progress: ProgressBar? = nil,
                                observe: ((_ row: Int, _ cosPositive: Double, _ cosNegative: Double) -> Void)? = nil) throws -> [TripletMetrics] {
        guard columns.count == 3 else { throw EmbedError("triplet evaluation needs anchor, positive and negative columns") }
        try table.require(columns: columns, source: "evaluation data")
        let n = Swift.min(limit ?? table.rows, table.rows)
        guard n > 0 else { throw EmbedError("evaluation data has no rows") }
        try table.validate(columns: columns, rows: n, maxLength: model.encoder.maxPositions,
            vocabularySize: model.encoder.vocabularySize, source: "evaluation data")
        let emb = columns.map { c in model.embedAll(count: n, batchSize: batchSize, progress: progress) { table.ids(column: c, row: $0) } }
        return dims.enumerated().map { i, dims in
            let d = min(dims, model.dimension)
            let cut = emb.map { truncateEmbeddings($0, rows: n, dimension: model.dimension, to: d, normalize: model.normalize) }
            return score(anchors: cut[0], positives: cut[1], negatives: cut[2], count: n, dimension: d,
                         observe: i == 0 ? observe : nil)
        }
    }

    /// Accuracies from embeddings [count, dimension] of each column. `observe`, when given, sees each
    /// triplet's two cosine similarities (the report keeps the extremes).
    package static func score(anchors a: [Float], positives p: [Float], negatives ng: [Float], count n: Int,
                             dimension C: Int,
                             observe: ((_ row: Int, _ cosPositive: Double, _ cosNegative: Double) -> Void)? = nil) -> TripletMetrics {
        var hits = [0, 0, 0, 0]
        for i in 0..<n {
            let ai = Array(a[(i * C)..<((i + 1) * C)]), pi = Array(p[(i * C)..<((i + 1) * C)]), ni = Array(ng[(i * C)..<((i + 1) * C)])
            var ap = 0.0, an = 0.0, aa = 0.0, pp = 0.0, nn = 0.0, eap = 0.0, ean = 0.0, map = 0.0, man = 0.0
            for c in 0..<C {
                let x = Double(ai[c]), y = Double(pi[c]), z = Double(ni[c])
                ap += x * y; an += x * z; aa += x * x; pp += y * y; nn += z * z
                eap += (x - y) * (x - y); ean += (x - z) * (x - z)
                map += abs(x - y); man += abs(x - z)
            }
            let cosP = ap / (Swift.max(aa.squareRoot(), 1e-12) * Swift.max(pp.squareRoot(), 1e-12))
            let cosN = an / (Swift.max(aa.squareRoot(), 1e-12) * Swift.max(nn.squareRoot(), 1e-12))
            observe?(i, cosP, cosN)
            if cosP > cosN { hits[0] += 1 }
            if ap > an { hits[1] += 1 }
            if eap < ean { hits[2] += 1 }
            if map < man { hits[3] += 1 }
        }
        let d = Double(n)
        return TripletMetrics(cosine: Double(hits[0]) / d, dot: Double(hits[1]) / d, euclidean: Double(hits[2]) / d,
                              manhattan: Double(hits[3]) / d, count: n)
    }

    /// Appends a row to a CSV like TripletEvaluator's `triplet_evaluation_<name>_results.csv`
    /// (header written when the file is new).
    package static func appendCSV(path: String, metrics: TripletMetrics, epoch: Double, steps: Int) throws {
        let fm = FileManager.default
        var text = ""
        if !fm.fileExists(atPath: path) {
            text += "epoch,steps,accuracy_cosine,accuracy_dot,accuracy_euclidean,accuracy_manhattan\n"
        }
        text += "\(JSON.format(epoch)),\(steps),\(metrics.cosine),\(metrics.dot),\(metrics.euclidean),\(metrics.manhattan)\n"
        try FileSystem.append(text, to: path)
    }
}
