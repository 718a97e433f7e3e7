import IO
import Inference

/// Evaluation during training: triplet accuracy or retrieval metrics (`training.eval_task`) and
/// MNRL loss on the eval split, and the choice of the best checkpoint.
extension Trainer {
    /// The eval split's columns the evaluation reads: the triplet's three, or for retrieval the
    /// anchor and positive (and the negative, for the loss, when the split has one).
    var evalColumns: [String] {
        guard config.training.evalTask == .retrieval else { return columns }
        let d = config.dataset
        return [d.anchorColumn, d.positiveColumn] + (inputs.eval?.columns.contains(d.negativeColumn) == true ? [d.negativeColumn] : [])
    }

    /// The metrics and MNRL loss of the current weights on the eval split.
    func computeEval() throws -> (metrics: EvaluationMetrics, loss: Double)? {
        guard let eval = inputs.eval else { return nil }
        let t = config.training
        let n = min(config.dataset.maxEvalSamples ?? eval.rows, eval.rows)
        let cols = evalColumns
        try eval.validate(columns: cols, rows: n, maxLength: model.maxSeqLength,
            vocabularySize: model.encoder.vocabularySize, source: inputs.evalSource ?? "eval data")
        let embeddings = cols.map { c in
            model.embedAll(count: n, batchSize: t.perDeviceEvalBatchSize) { eval.ids(column: c, row: $0) }
        }
        let metrics: EvaluationMetrics
        switch t.evalTask {
        case .triplet:
            metrics = .triplet(TripletEvaluator.score(anchors: embeddings[0], positives: embeddings[1], negatives: embeddings[2],
                                                      count: n, dimension: model.dimension))
        case .retrieval:
            metrics = .retrieval(try RetrievalSearch().evaluate(table: eval, anchor: cols[0], positive: cols[1], rows: n,
                anchorVectors: embeddings[0], positiveVectors: embeddings[1], dimension: model.dimension))
        }
        return (metrics, evaluationLoss(embeddings, count: n, batchSize: t.perDeviceEvalBatchSize))
    }

    func evaluateAndRecord(step: Int, saving: Bool) throws {
        guard let (metrics, evalLoss) = try computeEval() else { return }
        let t = config.training
        lastEval = metrics
        var o = JSONObject([("step", .number(Double(step))), ("epoch", .number(state.epoch))])
        for (k, v) in metrics.named { o["eval_" + k] = .number(v) }
        o["eval_loss"] = .number(evalLoss)
        state.logHistory.append(.object(o))
        try metricsLog?.write(.object(o), step: step, scalars: metrics.headline.map { ("eval/" + $0.0, $0.1) } + [("eval/loss", evalLoss)])
        progress?.log("eval at step \(step): \(metrics.summary(loss: evalLoss))")
        // Best model: by the configured metric (higher is better) or eval loss (lower is better).
        // Its weights are the checkpoint saved at this step, or (at the end) the final weights.
        let value = t.metricForBestModel == "loss" ? evalLoss : metrics.value(t.metricForBestModel) ?? .nan
        let better = state.bestMetric.map { t.greaterIsBetter ? value > $0 : value < $0 } ?? true
        if better {
            state.bestMetric = value
            state.bestCheckpoint = saving ? "\(t.outputDir)/checkpoint-\(step)" : nil
        }
    }

    /// Mean MNRL loss over consecutive eval batches, from embeddings already computed.
    func evaluationLoss(_ e: [[Float]], count n: Int, batchSize: Int) -> Double {
        let C = model.dimension
        var total = 0.0, batches = 0
        var start = 0
        while start < n {
            let end = min(n, start + batchSize), b = end - start
            var flat: [Float] = []
            flat.reserveCapacity(e.count * b * C)
            for col in e { flat += col[(start * C)..<(end * C)] }
            total += Double(objective.loss(flat, size: b, columns: e.count))
            batches += 1
            start = end
        }
        return total / Double(max(batches, 1))
    }
}
