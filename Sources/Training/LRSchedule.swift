import IO
import Inference
import NN
#if canImport(Glibc)
import Glibc
#endif

/// The learning-rate schedules of transformers' `get_scheduler` (the Trainer's `lr_scheduler_type`),
/// with the same formulas, so a run here follows the same curve as the Python one.
package struct LRSchedule: Sendable, Equatable {
    package var kind: LRSchedulerKind
    package var baseLR: Double
    package var warmupSteps: Int
    package var totalSteps: Int
    /// cosine: 0.5 = half a wave down to 0; cosine_with_restarts: the number of hard restarts.
    package var numCycles: Double
    /// polynomial decay's power and final learning rate.
    package var power: Double
    package var lrEnd: Double

    package init(kind: LRSchedulerKind, baseLR: Double, warmupSteps: Int, totalSteps: Int,
                numCycles: Double? = nil, power: Double = 1, lrEnd: Double = 1e-7) {
        self.kind = kind
        self.baseLR = baseLR
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.numCycles = numCycles ?? (kind == .cosineWithRestarts ? 1 : 0.5)
        self.power = power
        self.lrEnd = lrEnd
    }

    /// Warmup steps from a ratio, as TrainingArguments.get_warmup_steps: ⌈total · ratio⌉.
    package static func warmupSteps(ratio: Double, totalSteps: Int) -> Int {
        Int((Double(totalSteps) * ratio).rounded(.up))
    }

    /// The learning rate used by optimizer step `step` (0-based: the first step uses step 0, which
    /// under warmup is 0).
    package func lr(at step: Int) -> Double { baseLR * factor(step) }

    func factor(_ step: Int) -> Double {
        let s = Double(step)
        if kind != .constant, step < warmupSteps { return s / Double(max(1, warmupSteps)) }
        let progress = (s - Double(warmupSteps)) / Double(max(1, totalSteps - warmupSteps))
        switch kind {
        case .constant, .constantWithWarmup:
            return 1
        case .linear:
            return max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps)))
        case .cosine:
            return max(0, 0.5 * (1 + cos(Double.pi * numCycles * 2 * progress)))
        case .cosineWithRestarts:
            if progress >= 1 { return 0 }
            return max(0, 0.5 * (1 + cos(Double.pi * (numCycles * progress).truncatingRemainder(dividingBy: 1))))
        case .polynomial:
            if step > totalSteps { return lrEnd / baseLR }
            let remaining = 1 - (s - Double(warmupSteps)) / Double(totalSteps - warmupSteps)
            return ((baseLR - lrEnd) * pow(remaining, power) + lrEnd) / baseLR
        }
    }
}
