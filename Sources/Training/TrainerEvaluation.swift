import IO
import Inference

/// Evaluation during training: triplet accuracy (with Matryoshka dimensions, at each of them too)
/// or retrieval metrics (`training.eval_task`) and the training loss on the eval split, and the
/// choice of the best checkpoint.
extension Trainer {
    /// The eval split's columns the evaluation reads: the triplet's three, or for retrieval the
    /// anchor and positive (and the negative, for the loss, when the split has one).
    var evalColumns: [String] {
        guard config.training.evalTask == .retrieval else { return columns }
        let d = config.dataset
        return [d.anchorColumn, d.positiveColumn] + (inputs.eval?.columns.contains(d.negativeColumn) == true ? [d.negativeColumn] : [])
    }

    /// The metrics and loss of the current weights on the eval split; for triplets with
    /// matryoshka_dims, also the triplet metrics of the vectors cut to each dimension. Data-parallel,
    /// for triplets each rank takes a contiguous shard of whole loss batches, and the hit counts and
    /// batch losses are summed over the ranks: the same numbers as one process's.
    func computeEval() throws -> (metrics: EvaluationMetrics, loss: Double, byDimension: [(dims: Int, metrics: TripletMetrics)])? {
        guard let eval = inputs.eval else { return nil }
        let started = ProgressBar.now()
        defer { evaluationSeconds += ProgressBar.now() - started }
        let t = config.training, batch = t.perDeviceEvalBatchSize
        let n = min(config.dataset.maxEvalSamples ?? eval.rows, eval.rows)
        let cols = evalColumns
        try eval.validate(columns: cols, rows: n, maxLength: model.maxSeqLength,
            vocabularySize: model.encoder.vocabularySize, source: inputs.evalSource ?? "eval data")
        let batches = (n + batch - 1) / batch
        if t.evalTask == .retrieval {
            // Every query ranks the whole corpus: each rank computes all of it (the same numbers).
            let embeddings = cols.map { c in model.embedAll(count: n, batchSize: batch) { eval.ids(column: c, row: $0) } }
            let metrics = EvaluationMetrics.retrieval(try RetrievalSearch().evaluate(table: eval, anchor: cols[0], positive: cols[1],
                rows: n, anchorVectors: embeddings[0], positiveVectors: embeddings[1], dimension: model.dimension))
            return (metrics, evaluationLossSum(embeddings, count: n, batchSize: batch) / Double(max(batches, 1)), [])
        }
        let dims = t.matryoshkaDims.sorted(by: >)
        let mine = TripletBatch.share(of: batches, rank: communicator.rank, ranks: communicator.size)
        let first = mine.lowerBound * batch, count = min(n, mine.upperBound * batch) - first
        // Hit counts (cosine, dot, euclidean, manhattan) at the full dimension, then at each of dims.
        var hits = [Double](repeating: 0, count: 4 * (1 + dims.count)), lossSum = 0.0
        if count > 0 {
            let embeddings = columns.map { c in
                model.embedAll(count: count, batchSize: batch) { eval.ids(column: c, row: first + $0) }
            }
            let C = model.dimension
            var scored = [TripletEvaluator.score(anchors: embeddings[0], positives: embeddings[1], negatives: embeddings[2],
                                                 count: count, dimension: C)]
            for d in dims {
                let cut = embeddings.map { truncateEmbeddings($0, rows: count, dimension: C, to: d, normalize: model.normalize) }
                scored.append(TripletEvaluator.score(anchors: cut[0], positives: cut[1], negatives: cut[2], count: count, dimension: d))
            }
            // Accuracies are hit counts over the count: recover the counts exactly.
            hits = scored.flatMap { m in [m.cosine, m.dot, m.euclidean, m.manhattan].map { ($0 * Double(count)).rounded() } }
            lossSum = evaluationLossSum(embeddings, count: count, batchSize: batch)
        }
        if communicator.size > 1 {
            let total = communicator.allReduce(hits + [lossSum], .sum)
            hits = Array(total.prefix(hits.count))
            lossSum = total[hits.count]
        }
        let d = Double(n)
        let metrics = (0...dims.count).map { i in
            TripletMetrics(cosine: hits[4 * i] / d, dot: hits[4 * i + 1] / d, euclidean: hits[4 * i + 2] / d,
                           manhattan: hits[4 * i + 3] / d, count: n)
        }
        return (.triplet(metrics[0]), lossSum / Double(max(batches, 1)), Array(zip(dims, metrics.dropFirst())))
    }

    func evaluateAndRecord(step: Int, saving: Bool) throws {
        let started = ProgressBar.now()
        guard let (metrics, evalLoss, byDimension) = try computeEval() else { return }
        let t = config.training
        lastEval = metrics
        lastEvalByDimension = byDimension
        var o = JSONObject([("step", .number(Double(step))), ("epoch", .number(state.epoch))])
        for (k, v) in metrics.named { o["eval_" + k] = .number(v) }
        // As sentence-transformers' Matryoshka recipe names its per-dimension TripletEvaluators: dim_<d>.
        var scalars = metrics.headline.map { ("eval/" + $0.0, $0.1) } + [("eval/loss", evalLoss)]
        for (d, m) in byDimension {
            for (k, v) in m.named { o["eval_dim_\(d)_" + k] = .number(v) }
            scalars.append(("eval/dim_\(d)_cosine_accuracy", m.cosine))
        }
        o["eval_loss"] = .number(evalLoss)
        o["eval_runtime"] = .number(((ProgressBar.now() - started) * 1000).rounded() / 1000)
        state.logHistory.append(.object(o))
        try metricsLog?.write(.object(o), step: step, scalars: scalars)
        let dims = byDimension.isEmpty ? ""
            : " · by dimension " + byDimension.map { "\($0.dims): \(ProgressBar.decimal($0.metrics.cosine * 100, 2))%" }.joined(separator: ", ")
        progress?.log("eval at step \(step): \(metrics.summary(loss: evalLoss))\(dims)")
        // Best model: by the configured metric (higher is better) or eval loss (lower is better).
        // Its weights are the checkpoint saved at this step, or (at the end) the final weights.
        let value = t.metricForBestModel == "loss" ? evalLoss : metrics.value(t.metricForBestModel) ?? .nan
        let better = state.bestMetric.map { t.greaterIsBetter ? value > $0 : value < $0 } ?? true
        if better {
            state.bestMetric = value
            state.bestCheckpoint = saving ? "\(t.outputDir)/checkpoint-\(step)" : nil
        }
        try writeCurves()
    }

    /// The sum of the losses (the first dataset's) of consecutive eval batches, from embeddings
    /// already computed.
    func evaluationLossSum(_ e: [[Float]], count n: Int, batchSize: Int) -> Double {
        let C = model.dimension, loss = config.loss(for: config.dataset)
        var total = 0.0
        var start = 0
        while start < n {
            let end = min(n, start + batchSize), b = end - start
            var flat: [Float] = []
            flat.reserveCapacity(e.count * b * C)
            for col in e { flat += col[(start * C)..<(end * C)] }
            total += Double(objective.loss(flat, size: b, columns: e.count, loss: loss))
            start = end
        }
        return total
    }
}
