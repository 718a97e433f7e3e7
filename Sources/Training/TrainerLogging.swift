import Foundation
import IO

/// The training log: stderr, metrics.jsonl and TensorBoard, every `logging_steps`.
extension Trainer {
    /// `communicationShare`: data-parallel, the share of the time since the last line that this
    /// rank spent waiting on the other ranks (communication not hidden behind computation).
    func logTraining(step: Int, lr: Double, gradNorm: Double, tripletsPerSecond: Double, communicationShare: Double? = nil) throws {
        let loss = state.pendingLossSteps > 0 ? state.pendingLossSum / Double(state.pendingLossSteps) : .nan
        state.pendingLossSum = 0
        state.pendingLossSteps = 0
        var fields: [(String, JSON)] = [
            ("step", .number(Double(step))), ("epoch", .number(state.epoch)), ("loss", .number(loss)),
            ("learning_rate", .number(lr)), ("grad_norm", .number(gradNorm)),
            ("triplets_per_second", .number(tripletsPerSecond)),
        ]
        var scalars = [("train/loss", loss), ("train/learning_rate", lr), ("train/grad_norm", gradNorm),
                       ("train/triplets_per_second", tripletsPerSecond)]
        var line = "step \(step)/\(state.maxSteps) · epoch \(ProgressBar.decimal(state.epoch, 2)) · loss \(ProgressBar.decimal(loss, 4)) · lr \(String(format: "%.3e", lr)) · grad_norm \(ProgressBar.decimal(gradNorm, 3)) · \(ProgressBar.decimal(tripletsPerSecond, 1)) triplets/s"
        if let share = communicationShare {
            fields.append(("communication_wait_share", .number(share)))
            scalars.append(("train/communication_wait_share", share))
            line += " · waiting \(ProgressBar.decimal(share * 100, 1))%"
        }
        let entry: JSON = .object(JSONObject(fields))
        state.logHistory.append(entry)
        try metricsLog?.write(entry, step: step, scalars: scalars)
        progress?.log(line)
    }
}
