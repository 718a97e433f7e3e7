import Foundation
import IO
import Inference
import NN

/// Where a training run reads its inputs.
package struct TrainingInputs {
    /// The base model folder (or a checkpoint's, when resuming it is replaced by the checkpoint).
    package var modelDirectory: String
    package var train: any TokenTable
    /// Where `train` came from, for messages and the model card.
    package var trainSource: String
    package var eval: (any TokenTable)?
    package var evalSource: String?
    /// With a `datasets:` list, the training tokens of the datasets after the first, in order.
    package var otherTrain: [(table: any TokenTable, source: String)]

    package init(modelDirectory: String, train: any TokenTable, trainSource: String, eval: (any TokenTable)?, evalSource: String?,
                 otherTrain: [(table: any TokenTable, source: String)] = []) {
        self.modelDirectory = modelDirectory
        self.train = train
        self.trainSource = trainSource
        self.eval = eval
        self.evalSource = evalSource
        self.otherTrain = otherTrain
    }
}

/// What a finished (or interrupted) run reports.
package struct TrainingResult: Sendable {
    package var steps: Int
    package var interrupted: Bool
    package var finalMetrics: TripletMetrics?
    package var bestMetric: Double?
    package var bestCheckpoint: String?
    package var outputDirectory: String
}

/// Fine-tunes a sentence model the way sentence-transformers' trainer does: NO_DUPLICATES batches
/// from a seeded shuffle (from one dataset, or several with the round-robin or proportional
/// sampler, every batch from one dataset and trained with its loss — MNRL, cached MNRL or CoSENT,
/// optionally inside MatryoshkaLoss), gradient accumulation averaging the micro-batch losses,
/// global-norm clipping, AdamW with a transformers learning-rate schedule, periodic logging,
/// evaluation and checkpoints, the best model at the end. Deterministic: the same config and seed
/// give the same weights bit for bit, and a resumed run the same losses.
package final class Trainer {
    package let config: TrainingConfig
    package let inputs: TrainingInputs
    package let columns: [String]
    package private(set) var model: SentenceModel
    let objective: MNRLObjective
    let optimizer: AdamW
    var state: TrainerState
    let schedule: LRSchedule
    /// The training rows of all datasets.
    let rows: Int
    let batchesPerEpoch: Int
    let stepsPerEpoch: Int
    /// The training datasets and how an epoch draws batches from them.
    let plan: EpochPlan
    var metricsLog: MetricsLog?
    /// Set from a signal handler: finish the step, checkpoint, stop.
    package static let stopRequest = StopRequest()
    /// Stop (with a checkpoint, as on a signal) once this many steps are done: lets a run be split
    /// in parts (`train --stop-after N`, then `--resume`), and tests interrupt a run deterministically.
    package var stopAfterStep: Int?
    /// The last evaluation's metrics (and, with matryoshka_dims, at each dimension).
    var lastEval: TripletMetrics?
    var lastEvalByDimension: [(dims: Int, metrics: TripletMetrics)] = []
    var progress: ProgressBar?
    /// The checkpoint that holds exactly the current weights (saved at the current step), if any.
    var currentWeightsCheckpoint: String?

    package init(options: TrainOptions, inputs: TrainingInputs) throws {
        config = options.config
        self.inputs = inputs
        let d = config.dataset, t = config.training
        columns = d.columns
        if let e = inputs.eval {
            guard d.isTriplets else {
                throw EmbedError("\(inputs.evalSource ?? "eval data"): evaluation during training needs (anchor, positive, negative) triplets as the first dataset; train without it (--eval-tokens none) and score the model with evaluate afterwards")
            }
            try e.require(columns: columns, source: inputs.evalSource ?? "eval data")
        }
        let datasets = config.trainDatasets
        guard inputs.otherTrain.count == datasets.count - 1 else {
            throw EmbedError("\(datasets.count) training datasets need \(datasets.count) tokens files, got \(inputs.otherTrain.count + 1)")
        }

        // Resuming loads the model from the checkpoint folder itself (it is a complete model folder).
        var resumeFrom: String? = nil
        switch options.resume {
        case .none: break
        case .latest:
            guard let last = Checkpoint.list(in: t.outputDir).last else {
                throw EmbedError("--resume: no checkpoint-N in \(t.outputDir) to resume from")
            }
            resumeFrom = last.path
        case .checkpoint(let p):
            resumeFrom = p
        }
        model = try SentenceModel.load(directory: resumeFrom ?? inputs.modelDirectory)
        // The config's max_seq_length is the truncation length, as the seed sets model.max_seq_length.
        model.maxSeqLength = min(config.model.maxSeqLength, model.encoder.maxPositions)
        objective = MNRLObjective(model: model)
        optimizer = AdamW(parameters: model.encoder.parameters, weightDecay: Float(t.weightDecay))

        let loaded = model, cfg = config
        if let big = t.matryoshkaDims.first(where: { $0 > loaded.dimension }) {
            throw EmbedError("training.matryoshka_dims: \(big) is larger than the model's \(loaded.dimension) dimensions")
        }
        let tables = [(inputs.train, inputs.trainSource)] + inputs.otherTrain.map { ($0.table, $0.source) }
        let sets = try zip(datasets, tables).map { d, ts in
            try TrainingSet(d, table: ts.0, source: ts.1, loss: cfg.loss(for: d), model: loaded)
        }
        plan = EpochPlan(sets: sets, batchSize: t.perDeviceTrainBatchSize, seed: t.seed,
                         multi: config.datasets == nil ? nil : t.multiDatasetSampler, sampler: t.batchSampler)
        rows = sets.reduce(0) { $0 + $1.rows }
        batchesPerEpoch = plan.batchesPerEpoch
        guard batchesPerEpoch > 0 else { throw EmbedError("an epoch has no batches") }
        stepsPerEpoch = max(1, (batchesPerEpoch + t.gradientAccumulationSteps - 1) / t.gradientAccumulationSteps)
        let maxSteps = t.maxSteps > 0 ? t.maxSteps : Int((t.numTrainEpochs * Double(stepsPerEpoch)).rounded(.up))
        guard maxSteps > 0 else { throw EmbedError("training would take 0 steps (num_train_epochs \(t.numTrainEpochs))") }
        let warmup = LRSchedule.warmupSteps(ratio: t.warmupRatio, totalSteps: maxSteps)
        schedule = LRSchedule(kind: t.lrScheduler, baseLR: t.learningRate, warmupSteps: warmup, totalSteps: maxSteps,
                              numCycles: t.lrScheduler == .cosineWithRestarts ? t.numCycles : nil,
                              power: t.lrSchedulerPower, lrEnd: t.lrEnd)
        state = TrainerState(maxSteps: maxSteps, seed: t.seed, trainRows: rows)
        if let resumeFrom {
            state = try Checkpoint.loadState(resumeFrom, optimizer: optimizer)
            guard state.trainRows == rows, state.seed == t.seed, state.maxSteps == maxSteps else {
                throw EmbedError("\(resumeFrom): this checkpoint was made with \(state.trainRows) training rows, seed \(state.seed) and \(state.maxSteps) steps; the config now gives \(rows), \(t.seed) and \(maxSteps)")
            }
            log("Resuming from \(resumeFrom) at step \(state.globalStep) of \(maxSteps)")
        }
    }

    // MARK: The loop

    package func run() throws -> TrainingResult {
        let t = config.training
        let fm = FileManager.default
        try? fm.createDirectory(atPath: t.outputDir, withIntermediateDirectories: true)
        metricsLog = try MetricsLog(directory: t.loggingDir)
        let total = state.maxSteps
        let what = plan.sets.count == 1 ? "\(rows) \(plan.sets[0].columns.count == 3 ? "triplets" : "rows")"
            : "\(rows) rows of \(plan.sets.count) datasets (" + plan.sets.map { String($0.rows) }.joined(separator: " + ") + ")"
        log("Training: \(what), \(batchesPerEpoch) batches of \(t.perDeviceTrainBatchSize) per epoch, \(total) optimizer steps (\(schedule.warmupSteps) warmup), \(model.encoder.parameters.count) parameters")
        let progress = ProgressBar("train", total: total, unit: "step", initial: state.globalStep)
        self.progress = progress
        var epochBatches: (epoch: Int, batches: [MultiDatasetSampler.Batch])? = nil
        var windowStart = ProgressBar.now()
        var windowTriplets = 0
        var lastNorm = 0.0
        var interrupted = false

        while state.globalStep < total {
            let step = state.globalStep
            let epoch = step / stepsPerEpoch
            if epochBatches?.epoch != epoch { epochBatches = (epoch, plan.batches(epoch: epoch)) }
            let batches = epochBatches!.batches
            let inEpoch = step % stepsPerEpoch
            let micro = Array(batches[min(batches.count, inEpoch * t.gradientAccumulationSteps)..<min(batches.count, (inEpoch + 1) * t.gradientAccumulationSteps)])

            let lr = schedule.lr(at: step)
            let result = trainStep(objective: objective, optimizer: optimizer, microBatches: micro.map { plan.sets[$0.dataset].batch($0.rows) },
                                   seed: t.seed, step: step, lr: lr, maxGradNorm: t.maxGradNorm)
            let loss = result.loss
            lastNorm = result.gradNorm
            windowTriplets += micro.reduce(0) { $0 + $1.rows.count }
            currentWeightsCheckpoint = nil
            state.globalStep += 1
            state.epoch = Double(epoch) + Double(inEpoch + 1) / Double(stepsPerEpoch)
            state.pendingLossSum += loss
            state.pendingLossSteps += 1
            progress.advance(note: "loss \(ProgressBar.decimal(loss, 4)) · lr \(String(format: "%.2e", lr))")

            let done = state.globalStep
            if done % t.loggingSteps == 0 || done == total {
                let now = ProgressBar.now()
                let rate = Double(windowTriplets) / max(now - windowStart, 1e-9)
                try logTraining(step: done, lr: lr, gradNorm: lastNorm, tripletsPerSecond: rate)
                windowStart = now
                windowTriplets = 0
            }
            var saved: String? = nil
            if done % t.evalSteps == 0, inputs.eval != nil { try evaluateAndRecord(step: done, saving: done % t.saveSteps == 0) }
            if done % t.saveSteps == 0 { saved = try saveCheckpoint() }
            let stopAfter = stopAfterStep.map { done >= $0 && done < total } ?? false
            if Trainer.stopRequest.isSet || stopAfter {
                if saved == nil { _ = try saveCheckpoint() }
                interrupted = true
                let why = stopAfter ? "--stop-after \(done)" : Trainer.stopRequest.signalName
                log("Stopped by \(why) after step \(done); checkpoint saved. Resume with --resume.")
                break
            }
        }
        progress.finish()
        if interrupted {
            return TrainingResult(steps: state.globalStep, interrupted: true, finalMetrics: nil, bestMetric: state.bestMetric,
                                  bestCheckpoint: state.bestCheckpoint, outputDirectory: t.outputDir)
        }

        // The end: evaluate the final weights (unless that just happened), pick the best, save.
        var finalMetrics: TripletMetrics? = nil
        if inputs.eval != nil {
            if state.globalStep % t.evalSteps != 0 { try evaluateAndRecord(step: state.globalStep, saving: false) }
            finalMetrics = lastEval
        }
        if t.loadBestModelAtEnd, let best = state.bestCheckpoint, best != currentWeightsCheckpoint {
            log("Loading the best model from \(best) (\(t.metricForBestModel) \(state.bestMetric.map { String($0) } ?? "?"))")
            let bestModel = try SentenceModel.load(directory: best)
            model.encoder.parameters.copyValues(from: bestModel.encoder.parameters)
            if let e = try computeEval() {
                finalMetrics = e.metrics
                lastEvalByDimension = e.byDimension
            }
        }
        try model.save(to: t.outputDir, readme: modelCard(metrics: finalMetrics))
        try FileSystem.writeText(state.json.serialized(indent: 2), to: t.outputDir + "/" + Checkpoint.stateFile)
        log("Saved the model to \(t.outputDir)")
        return TrainingResult(steps: state.globalStep, interrupted: false, finalMetrics: finalMetrics,
                              bestMetric: state.bestMetric, bestCheckpoint: state.bestCheckpoint, outputDirectory: t.outputDir)
    }
}
