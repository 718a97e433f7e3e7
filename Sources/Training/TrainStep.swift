import DataParallel
import IO
import NN

/// What one optimizer step reports.
package struct StepResult: Sendable {
    /// The mean of the micro-batches' losses (the loss the trainer logs); over the whole global
    /// batch when data-parallel.
    package var loss: Double
    /// The global gradient norm before clipping.
    package var gradNorm: Double
    /// Seconds this rank spent blocked on communication in the step (0 on one process).
    package var communicationSeconds: Double = 0
}

/// One optimizer step as sentence-transformers' trainer takes it: zero the gradients; for each
/// micro-batch (gradient accumulation) forward, MultipleNegativesRankingLoss and backward with the
/// loss scaled by 1 / micro-batches, so gradients are averaged like the losses; clip to the global
/// norm `maxGradNorm` (0: no clipping); one AdamW update at `lr`. Dropout masks are keyed by
/// (seed, step, micro-batch); a nil `seed` trains without dropout (as the PyTorch references do).
/// The trainer's loop, `embedkit-bench` and the reference tests all run exactly this.
///
/// With a communicator of several ranks, each micro-batch is this rank's share of the global one
/// (see `TripletBatch.share`): MNRL runs over the whole global batch, the gradients are summed over
/// the ranks in buckets while the last micro-batch's backward runs (as DDP, only once per step), and
/// every rank takes the identical AdamW step — the same step one process takes with the global batch.
@discardableResult
package func trainStep(objective: MNRLObjective, optimizer: AdamW, microBatches: [TripletBatch],
                       seed: UInt64?, step: Int, lr: Double, maxGradNorm: Double,
                       communicator: any Communicator = SingleProcess()) -> StepResult {
    let params = objective.model.encoder.parameters
    params.zeroGrads()
    var loss = 0.0
    let waited = communicator.waitSeconds
    if communicator.size == 1 {
        for (m, batch) in microBatches.enumerated() {
            let dropout = seed.map { DropoutContext(seed: $0, step: step, microBatch: m) }
            let l = objective.accumulateGradients(batch, dropout: dropout, lossScale: 1 / Float(microBatches.count))
            loss += Double(l) / Double(microBatches.count)
        }
    } else {
        let buckets = GradientBuckets(parameters: params, layers: objective.model.encoder.layerParameterRanges,
                                      communicator: communicator)
        for (m, batch) in microBatches.enumerated() {
            let dropout = seed.map { DropoutContext(seed: $0, step: step, microBatch: m) }
            let last = m == microBatches.count - 1
            loss += objective.accumulateGradients(batch, dropout: dropout, lossScale: 1 / Float(microBatches.count),
                                                  communicator: communicator, layerDone: last ? buckets.layerDone : nil)
                / Double(microBatches.count)
        }
        buckets.finish()
        loss = communicator.allReduce([loss], .sum)[0]
    }
    // Clipping is folded into the update (the same weights as clip_grad_norm_ then step, one pass
    // over the gradients fewer).
    let norm = gradientNorm(params)
    let scale = maxGradNorm > 0 ? clipCoefficient(norm: norm, maxNorm: maxGradNorm) : 1
    optimizer.update(params, lr: Float(lr), gradScale: scale)
    return StepResult(loss: loss, gradNorm: norm, communicationSeconds: communicator.waitSeconds - waited)
}
