import IO
import Inference

/// Evaluation during training: triplet accuracy and MNRL loss on the eval split, and the choice of
/// the best checkpoint.
extension Trainer {
    /// Triplet metrics and MNRL loss of the current weights on the eval split.
    func computeEval() throws -> (metrics: TripletMetrics, loss: Double)? {
        guard let eval = inputs.eval else { return nil }
        let started = ProgressBar.now()
        defer { evaluationSeconds += ProgressBar.now() - started }
        let t = config.training
        let n = min(config.dataset.maxEvalSamples ?? eval.rows, eval.rows)
        try eval.validate(columns: columns, rows: n, maxLength: model.maxSeqLength,
            vocabularySize: model.encoder.vocabularySize, source: inputs.evalSource ?? "eval data")
        let embeddings = columns.map { c in
            model.embedAll(count: n, batchSize: t.perDeviceEvalBatchSize) { eval.ids(column: c, row: $0) }
        }
        let metrics = TripletEvaluator.score(anchors: embeddings[0], positives: embeddings[1], negatives: embeddings[2],
                                             count: n, dimension: model.dimension)
        return (metrics, evaluationLoss(embeddings, count: n, batchSize: t.perDeviceEvalBatchSize))
    }

    func evaluateAndRecord(step: Int, saving: Bool) throws {
        let started = ProgressBar.now()
        guard let (metrics, evalLoss) = try computeEval() else { return }
        let t = config.training
        lastEval = metrics
        var o = JSONObject([("step", .number(Double(step))), ("epoch", .number(state.epoch))])
        for (k, v) in metrics.named { o["eval_" + k] = .number(v) }
        o["eval_loss"] = .number(evalLoss)
        o["eval_runtime"] = .number(((ProgressBar.now() - started) * 1000).rounded() / 1000)
        state.logHistory.append(.object(o))
        try metricsLog?.write(.object(o), step: step, scalars: [("eval/cosine_accuracy", metrics.cosine), ("eval/loss", evalLoss)])
        progress?.log("eval at step \(step): cosine_accuracy \(ProgressBar.decimal(metrics.cosine * 100, 2))% · loss \(ProgressBar.decimal(evalLoss, 4)) (\(metrics.count) triplets)")
        // Best model: by cosine accuracy (higher is better) or eval loss (lower is better). Its
        // weights are the checkpoint saved at this step, or (at the end) the final weights.
        let value = t.metricForBestModel == "loss" ? evalLoss : metrics.cosine
        let better = state.bestMetric.map { t.greaterIsBetter ? value > $0 : value < $0 } ?? true
        if better {
            state.bestMetric = value
            state.bestCheckpoint = saving ? "\(t.outputDir)/checkpoint-\(step)" : nil
        }
        try writeCurves()
    }

    /// Mean MNRL loss over consecutive eval batches, from embeddings already computed.
    func evaluationLoss(_ e: [[Float]], count n: Int, batchSize: Int) -> Double {
        let C = model.dimension
        var total = 0.0, batches = 0
        var start = 0
        while start < n {
            let end = min(n, start + batchSize), b = end - start
            var flat: [Float] = []
            flat.reserveCapacity(3 * b * C)
            for col in e { flat += col[(start * C)..<(end * C)] }
            total += Double(objective.loss(flat, size: b, columns: 3))
            batches += 1
            start = end
        }
        return total / Double(max(batches, 1))
    }
}
