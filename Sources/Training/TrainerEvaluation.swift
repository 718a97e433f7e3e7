import IO
import Inference

/// Evaluation during training: triplet accuracy and MNRL loss on the eval split, and the choice of
/// the best checkpoint.
extension Trainer {
    /// Triplet metrics and MNRL loss of the current weights on the eval split. Data-parallel, each
    /// rank takes a contiguous shard of whole loss batches, and the hit counts and batch losses are
    /// summed over the ranks: the same numbers as one process's.
    func computeEval() throws -> (metrics: TripletMetrics, loss: Double)? {
        guard let eval = inputs.eval else { return nil }
        let started = ProgressBar.now()
        defer { evaluationSeconds += ProgressBar.now() - started }
        let t = config.training, batch = t.perDeviceEvalBatchSize
        let n = min(config.dataset.maxEvalSamples ?? eval.rows, eval.rows)
        try eval.validate(columns: columns, rows: n, maxLength: model.maxSeqLength,
            vocabularySize: model.encoder.vocabularySize, source: inputs.evalSource ?? "eval data")
        let batches = (n + batch - 1) / batch
        let mine = TripletBatch.share(of: batches, rank: communicator.rank, ranks: communicator.size)
        let first = mine.lowerBound * batch, count = min(n, mine.upperBound * batch) - first
        var hits = [Double](repeating: 0, count: 4), lossSum = 0.0
        if count > 0 {
            let embeddings = columns.map { c in
                model.embedAll(count: count, batchSize: batch) { eval.ids(column: c, row: first + $0) }
            }
            let m = TripletEvaluator.score(anchors: embeddings[0], positives: embeddings[1], negatives: embeddings[2],
                                           count: count, dimension: model.dimension)
            // Accuracies are hit counts over the count: recover the counts exactly.
            hits = [m.cosine, m.dot, m.euclidean, m.manhattan].map { ($0 * Double(count)).rounded() }
            lossSum = evaluationLossSum(embeddings, count: count, batchSize: batch)
        }
        if communicator.size > 1 {
            let total = communicator.allReduce(hits + [lossSum], .sum)
            hits = Array(total.prefix(4))
            lossSum = total[4]
        }
        let d = Double(n)
        let metrics = TripletMetrics(cosine: hits[0] / d, dot: hits[1] / d, euclidean: hits[2] / d, manhattan: hits[3] / d, count: n)
        return (metrics, lossSum / Double(max(batches, 1)))
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

    /// The sum of the MNRL losses of consecutive eval batches, from embeddings already computed.
    func evaluationLossSum(_ e: [[Float]], count n: Int, batchSize: Int) -> Double {
        let C = model.dimension
        var total = 0.0
        var start = 0
        while start < n {
            let end = min(n, start + batchSize), b = end - start
            var flat: [Float] = []
            flat.reserveCapacity(3 * b * C)
            for col in e { flat += col[(start * C)..<(end * C)] }
            total += Double(objective.loss(flat, size: b, columns: 3))
            start = end
        }
        return total
    }
}
