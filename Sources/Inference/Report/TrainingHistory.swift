import Foundation
import IO

/// A training run's numbers as `train` logs them in trainer_state.json (`log_history`, the list
/// transformers' trainer keeps): the training loss, learning rate and gradient norm of every log
/// line, every evaluation's metrics, and the best checkpoint. Both `train` (for
/// training_curves.svg) and `evaluate --report` read a run through this one type, so the two draw
/// the same curves from the same file.
package struct TrainingHistory: Sendable, Equatable {
    package struct Point: Sendable, Equatable {
        package var step: Double
        package var value: Double

        package init(step: Double, value: Double) {
            self.step = step
            self.value = value
        }
    }

    /// One evaluation: its step, epoch and every `eval_*` number, prefix removed, in logged order.
    package struct Evaluation: Sendable, Equatable {
        package var step: Int
        package var epoch: Double
        package var metrics: [Metric]

        package func value(_ name: String) -> Double? { metrics.first { $0.name == name }?.value }
    }

    package struct Metric: Sendable, Equatable {
        package var name: String
        package var value: Double
    }

    /// One training log line (mean loss over the steps since the previous line).
    package struct LogLine: Sendable, Equatable {
        package var step: Int
        package var epoch: Double
        package var loss: Double
        package var learningRate: Double?
        package var gradNorm: Double?
    }

    /// The evaluation the best model comes from.
    package struct Best: Sendable, Equatable {
        package var step: Int
        /// `cosine_accuracy` or `loss` (training.metric_for_best_model).
        package var metric: String
        package var value: Double
        /// Whether a checkpoint holds it (false: the final weights, evaluated at the last step).
        package var hasCheckpoint: Bool

        package init(step: Int, metric: String, value: Double, hasCheckpoint: Bool) {
            self.step = step
            self.metric = metric
            self.value = value
            self.hasCheckpoint = hasCheckpoint
        }
    }

    package var logLines: [LogLine]
    package var evaluations: [Evaluation]
    package var best: Best?
    package var globalStep: Int
    package var maxSteps: Int
    /// Optimizer steps per epoch, from a logged (step, epoch) pair; nil before the first log.
    package var stepsPerEpoch: Double?
    /// Seconds of training and of evaluation, from the summary line a finished run appends.
    package var trainRuntime: Double?
    package var evaluationRuntime: Double?
    /// When the run that finished was a resumed one: the step it resumed at.
    package var resumedFromStep: Int?

    /// Reads `trainer_state.json` (a checkpoint's or the final model folder's).
    package init(stateFile path: String) throws {
        try self.init(trainerState: try FileSystem.readJSON(path), source: path)
    }

    /// The history in a trainer state (the object `train` writes as trainer_state.json).
    package init(trainerState json: JSON, source: String = "trainer state") throws {
        guard let history = json["log_history"]?.array else {
            throw EmbedError("\(source): no log_history list (not a trainer_state.json written by train)")
        }
        logLines = []
        evaluations = []
        globalStep = json["global_step"]?.int ?? 0
        maxSteps = json["max_steps"]?.int ?? 0
        for entry in history {
            guard let o = entry.object, let step = o["step"]?.int else { continue }
            let epoch = o["epoch"]?.double ?? 0
            if step > 0, epoch > 0, stepsPerEpoch == nil { stepsPerEpoch = Double(step) / epoch }
            if let loss = o["loss"]?.double {
                logLines.append(LogLine(step: step, epoch: epoch, loss: loss, learningRate: o["learning_rate"]?.double,
                                        gradNorm: o["grad_norm"]?.double))
            }
            if o.keys.contains(where: { $0.hasPrefix("eval_") && $0 != "eval_runtime" }) {
                let metrics = o.entries.compactMap { e -> Metric? in
                    guard e.key.hasPrefix("eval_"), e.key != "eval_runtime", let v = e.value.double else { return nil }
                    return Metric(name: String(e.key.dropFirst(5)), value: v)
                }
                evaluations.append(Evaluation(step: step, epoch: epoch, metrics: metrics))
            }
            if let runtime = o["train_runtime"]?.double {
                trainRuntime = runtime
                evaluationRuntime = o["evaluation_runtime"]?.double
                resumedFromStep = o["resumed_from_step"]?.int
            }
        }
        globalStep = max(globalStep, logLines.last?.step ?? 0, evaluations.last?.step ?? 0)
        maxSteps = max(maxSteps, globalStep)
        best = Self.findBest(json: json, evaluations: evaluations)
    }

    /// The best evaluation: the step of `best_model_checkpoint` (…/checkpoint-N) when a checkpoint
    /// holds it, else the last evaluation whose accuracy or loss equals `best_metric` (the final
    /// weights, evaluated after the last checkpoint). The metric is whichever of the two matches.
    static func findBest(json: JSON, evaluations: [Evaluation]) -> Best? {
        guard let value = json["best_metric"]?.double else { return nil }
        let candidates = ["cosine_accuracy", "loss"]
        func metric(of e: Evaluation) -> String? { candidates.first { e.value($0) == value } }
        if let path = json["best_model_checkpoint"]?.string, let dash = path.lastIndex(of: "-"),
           let step = Int(path[path.index(after: dash)...]),
           let e = evaluations.last(where: { $0.step == step }) {
            return Best(step: step, metric: metric(of: e) ?? "cosine_accuracy", value: value, hasCheckpoint: true)
        }
        guard let e = evaluations.last(where: { metric(of: $0) != nil }) else { return nil }
        return Best(step: e.step, metric: metric(of: e)!, value: value, hasCheckpoint: false)
    }

    // MARK: Series for plotting

    package var loss: [Point] { logLines.map { Point(step: Double($0.step), value: $0.loss) } }
    package var learningRate: [Point] { logLines.compactMap { l in l.learningRate.map { Point(step: Double(l.step), value: $0) } } }
    package var gradNorm: [Point] { logLines.compactMap { l in l.gradNorm.map { Point(step: Double(l.step), value: $0) } } }

    /// One evaluation metric over the run.
    package func evaluationSeries(_ name: String) -> [Point] {
        evaluations.compactMap { e in e.value(name).map { Point(step: Double(e.step), value: $0) } }
    }

    /// The accuracy metrics the evaluations report (`cosine_accuracy`, …), in logged order, without
    /// `max_accuracy` (always equal to one of the others).
    package var accuracyMetrics: [String] {
        var names: [String] = []
        for e in evaluations {
            for m in e.metrics where m.name.contains("accuracy") && m.name != "max_accuracy" && !names.contains(m.name) {
                names.append(m.name)
            }
        }
        return names
    }

    /// The evaluation of the weights the run ended with: the best one when the run reloads it at
    /// the end (`load_best_model_at_end`), else the last.
    package func finalEvaluation(loadBestModelAtEnd: Bool) -> Evaluation? {
        if loadBestModelAtEnd, let best, let e = evaluations.last(where: { $0.step == best.step }) { return e }
        return evaluations.last
    }

    /// TensorBoard's smoothing: an exponential moving average with weight `weight` (TensorBoard's
    /// slider, 0.6 by default), debiased so the first points are not pulled towards zero.
    /// Non-finite values are skipped (they keep the average).
    package static func smoothed(_ points: [Point], weight: Double = 0.6) -> [Point] {
        var last = 0.0, count = 0
        var out: [Point] = []
        out.reserveCapacity(points.count)
        for p in points {
            guard p.value.isFinite else { continue }
            last = last * weight + (1 - weight) * p.value
            count += 1
            let debias = weight == 0 ? 1 : 1 - pow(weight, Double(count))
            out.append(Point(step: p.step, value: last / debias))
        }
        return out
    }
}
