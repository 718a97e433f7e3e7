import IO
import Inference

/// Evaluation during training: triplet accuracy (with Matryoshka dimensions, at each of them too)
/// and the training loss on the eval split, and the choice of the best checkpoint.
extension Trainer {
    /// Triplet metrics and loss of the current weights on the eval split; with matryoshka_dims, the
    /// triplet metrics of the vectors cut to each dimension.
    func computeEval() throws -> (metrics: TripletMetrics, loss: Double, byDimension: [(dims: Int, metrics: TripletMetrics)])? {
        guard let eval = inputs.eval else { return nil }
        let t = config.training
        let n = min(config.dataset.maxEvalSamples ?? eval.rows, eval.rows)
        try eval.validate(columns: columns, rows: n, maxLength: model.maxSeqLength,
            vocabularySize: model.encoder.vocabularySize, source: inputs.evalSource ?? "eval data")
        let embeddings = columns.map { c in
            model.embedAll(count: n, batchSize: t.perDeviceEvalBatchSize) { eval.ids(column: c, row: $0) }
        }
        let metrics = TripletEvaluator.score(anchors: embeddings[0], positives: embeddings[1], negatives: embeddings[2],
                                             count: n, dimension: model.dimension)
        let byDimension = t.matryoshkaDims.sorted(by: >).map { d in
            let cut = embeddings.map { truncateEmbeddings($0, rows: n, dimension: model.dimension, to: d, normalize: model.normalize) }
            return (d, TripletEvaluator.score(anchors: cut[0], positives: cut[1], negatives: cut[2], count: n, dimension: d))
        }
        return (metrics, evaluationLoss(embeddings, count: n, batchSize: t.perDeviceEvalBatchSize), byDimension)
    }

    func evaluateAndRecord(step: Int, saving: Bool) throws {
        guard let (metrics, evalLoss, byDimension) = try computeEval() else { return }
        let t = config.training
        lastEval = metrics
        lastEvalByDimension = byDimension
        var o = JSONObject([("step", .number(Double(step))), ("epoch", .number(state.epoch))])
        for (k, v) in metrics.named { o["eval_" + k] = .number(v) }
        // As sentence-transformers' Matryoshka recipe names its per-dimension TripletEvaluators: dim_<d>.
        var scalars = [("eval/cosine_accuracy", metrics.cosine), ("eval/loss", evalLoss)]
        for (d, m) in byDimension {
            for (k, v) in m.named { o["eval_dim_\(d)_" + k] = .number(v) }
            scalars.append(("eval/dim_\(d)_cosine_accuracy", m.cosine))
        }
        o["eval_loss"] = .number(evalLoss)
        state.logHistory.append(.object(o))
        try metricsLog?.write(.object(o), step: step, scalars: scalars)
        let dims = byDimension.isEmpty ? ""
            : " · by dimension " + byDimension.map { "\($0.dims): \(ProgressBar.decimal($0.metrics.cosine * 100, 2))%" }.joined(separator: ", ")
        progress?.log("eval at step \(step): cosine_accuracy \(ProgressBar.decimal(metrics.cosine * 100, 2))% · loss \(ProgressBar.decimal(evalLoss, 4)) (\(metrics.count) triplets)\(dims)")
        // Best model: by cosine accuracy (higher is better) or eval loss (lower is better). Its
        // weights are the checkpoint saved at this step, or (at the end) the final weights.
        let value = t.metricForBestModel == "loss" ? evalLoss : metrics.cosine
        let better = state.bestMetric.map { t.greaterIsBetter ? value > $0 : value < $0 } ?? true
        if better {
            state.bestMetric = value
            state.bestCheckpoint = saving ? "\(t.outputDir)/checkpoint-\(step)" : nil
        }
    }

    /// Mean loss (the first dataset's) over consecutive eval batches, from embeddings already computed.
    func evaluationLoss(_ e: [[Float]], count n: Int, batchSize: Int) -> Double {
        let C = model.dimension, loss = config.loss(for: config.dataset)
        var total = 0.0, batches = 0
        var start = 0
        while start < n {
            let end = min(n, start + batchSize), b = end - start
            var flat: [Float] = []
            flat.reserveCapacity(3 * b * C)
            for col in e { flat += col[(start * C)..<(end * C)] }
            total += Double(objective.loss(flat, size: b, columns: 3, loss: loss))
            batches += 1
            start = end
        }
        return total / Double(max(batches, 1))
    }
}
