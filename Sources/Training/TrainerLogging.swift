import Foundation
import IO

/// The training log: stderr, metrics.jsonl and TensorBoard, every `logging_steps`.
extension Trainer {
    func logTraining(step: Int, lr: Double, gradNorm: Double, tripletsPerSecond: Double) throws {
        let loss = state.pendingLossSteps > 0 ? state.pendingLossSum / Double(state.pendingLossSteps) : .nan
        state.pendingLossSum = 0
        state.pendingLossSteps = 0
        let entry: JSON = .object(JSONObject([
            ("step", .number(Double(step))), ("epoch", .number(state.epoch)), ("loss", .number(loss)),
            ("learning_rate", .number(lr)), ("grad_norm", .number(gradNorm)),
            ("triplets_per_second", .number(tripletsPerSecond)),
        ]))
        state.logHistory.append(entry)
        try metricsLog?.write(entry, step: step, scalars: [("train/loss", loss), ("train/learning_rate", lr),
                                                           ("train/grad_norm", gradNorm),
                                                           ("train/triplets_per_second", tripletsPerSecond)])
        progress?.log("step \(step)/\(state.maxSteps) · epoch \(ProgressBar.decimal(state.epoch, 2)) · loss \(ProgressBar.decimal(loss, 4)) · lr \(String(format: "%.3e", lr)) · grad_norm \(ProgressBar.decimal(gradNorm, 3)) · \(ProgressBar.decimal(tripletsPerSecond, 1)) triplets/s")
    }
}
