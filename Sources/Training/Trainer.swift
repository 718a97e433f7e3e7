import DataParallel
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
    /// The splits' text (JSON Lines), for the model card's samples and examples; nil: none shown.
    package var trainText: String?
    package var evalText: String?
    /// With a `datasets:` list, the training tokens of the datasets after the first, in order.
    package var otherTrain: [(table: any TokenTable, source: String)]

    package init(modelDirectory: String, train: any TokenTable, trainSource: String, eval: (any TokenTable)?, evalSource: String?,
                 trainText: String? = nil, evalText: String? = nil, otherTrain: [(table: any TokenTable, source: String)] = []) {
        self.modelDirectory = modelDirectory
        self.train = train
        self.trainSource = trainSource
        self.eval = eval
        self.evalSource = evalSource
        self.trainText = trainText
        self.evalText = evalText
        self.otherTrain = otherTrain
    }
}

/// What a finished (or interrupted) run reports.
package struct TrainingResult: Sendable {
    package var steps: Int
    package var interrupted: Bool
    /// The signal that stopped the run (on any rank), if one did.
    package var stopSignal: Int32?
    package var finalMetrics: EvaluationMetrics?
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
///
/// Data-parallel over the ranks of `communicator` (an MPI job): the global batch is ranks ×
/// per_device_train_batch_size, formed by the sampler exactly as one process would form it, each
/// rank computing its contiguous share (see `trainStep`); the result is the one process's. Rank 0
/// alone writes logs, checkpoints and the model; the ranks agree every step on whether to stop,
/// and evaluate each a shard of the eval split. On several ranks only one dataset and plain MNRL
/// train (`refuseUnderDataParallelism`).
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
    let communicator: any Communicator
    /// Triplets per micro-batch over all ranks: ranks × per_device_train_batch_size.
    let globalBatchSize: Int
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
    /// The last evaluation's metrics (and, for triplets with matryoshka_dims, at each dimension).
    var lastEval: EvaluationMetrics?
    var lastEvalByDimension: [(dims: Int, metrics: TripletMetrics)] = []
    var progress: ProgressBar?
    /// The checkpoint that holds exactly the current weights (saved at the current step), if any.
    var currentWeightsCheckpoint: String?
    /// Seconds spent evaluating in this process (the model card's training time).
    var evaluationSeconds = 0.0

    package init(options: TrainOptions, inputs: TrainingInputs, communicator: any Communicator = SingleProcess()) throws {
        config = options.config
        self.inputs = inputs
        self.communicator = communicator
        let d = config.dataset, t = config.training
        columns = d.columns
        let datasets = config.trainDatasets
        if let e = inputs.eval {
            let source = inputs.evalSource ?? "eval data"
            if t.evalTask == .triplet {
                guard d.isTriplets else {
                    throw EmbedError("\(source): evaluation during training needs (anchor, positive, negative) triplets as the first dataset; train without it (--eval-tokens none) and score the model with evaluate afterwards")
                }
                try e.require(columns: columns, source: source)
            } else {
                guard config.loss(for: d).kind.usesInBatchNegatives, d.scoreColumn == nil else {
                    throw EmbedError("\(source): retrieval evaluation during training needs (anchor, positive) pairs trained with a ranking loss as the first dataset; train without it (--eval-tokens none) and score the model with evaluate afterwards")
                }
                try e.require(columns: [d.anchorColumn, d.positiveColumn], source: source)
            }
        }
        guard inputs.otherTrain.count == datasets.count - 1 else {
            throw EmbedError("\(datasets.count) training datasets need \(datasets.count) tokens files, got \(inputs.otherTrain.count + 1)")
        }
        if communicator.size > 1 { try Self.refuseUnderDataParallelism(config, ranks: communicator.size) }

        // Resuming loads the model from the checkpoint folder itself (it is a complete model folder).
        // Only rank 0 reads checkpoints (the other ranks' machines need not see rank 0's disk): the
        // others load the base model, and rank 0 sends them the weights and the optimizer state.
        var resumeFrom: String? = nil
        switch options.resume {
        case .none: break
        case .latest:
            resumeFrom = try communicator.fromRoot { () throws -> String in
                guard let last = Checkpoint.list(in: t.outputDir).last else {
                    throw EmbedError("--resume: no checkpoint-N in \(t.outputDir) to resume from")
                }
                return last.path
            }
        case .checkpoint(let p):
            resumeFrom = p
        }
        model = try SentenceModel.load(directory: communicator.isMain ? resumeFrom ?? inputs.modelDirectory : inputs.modelDirectory)
        // The config's max_seq_length is the truncation length, as the seed sets model.max_seq_length.
        model.maxSeqLength = min(config.model.maxSeqLength, model.encoder.maxPositions)
        model.encoder.matmulPrecision = MatmulPrecision.resolve(config.training.bf16 ? .bf16 : .fp32)
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
        globalBatchSize = t.perDeviceTrainBatchSize * communicator.size
        plan = EpochPlan(sets: sets, batchSize: globalBatchSize, seed: t.seed,
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
        state = TrainerState(maxSteps: maxSteps, seed: t.seed, trainRows: rows, globalBatchSize: globalBatchSize)
        if let resumeFrom {
            let global = globalBatchSize, ranks = communicator.size, optimizer = self.optimizer
            state = try communicator.fromRoot { () throws -> TrainerState in
                let state = try Checkpoint.loadState(resumeFrom, optimizer: optimizer)
                if let made = state.globalBatchSize, made != global {
                    throw EmbedError("\(resumeFrom): this checkpoint was made with a global batch of \(made) triplets; now it is \(ranks) rank\(ranks == 1 ? "" : "s") × per_device_train_batch_size \(t.perDeviceTrainBatchSize) = \(global). Resume with ranks × per_device_train_batch_size = \(made)")
                }
                guard state.trainRows == rows, state.seed == t.seed, state.maxSteps == maxSteps else {
                    throw EmbedError("\(resumeFrom): this checkpoint was made with \(state.trainRows) training rows, seed \(state.seed) and \(state.maxSteps) steps; the config now gives \(rows), \(t.seed) and \(maxSteps)")
                }
                return state
            }
            state.globalBatchSize = globalBatchSize
            log("Resuming from \(resumeFrom) at step \(state.globalStep) of \(maxSteps)")
        }
        // Every rank starts from rank 0's weights (and optimizer state, when resuming).
        if communicator.size > 1 {
            let p = model.encoder.parameters
            communicator.broadcast(p.values, count: p.count)
            if resumeFrom != nil {
                var adamStep = optimizer.step
                communicator.broadcast(&adamStep, bytes: MemoryLayout<Int>.size, root: 0)
                let n = optimizer.count
                let m = UnsafeMutablePointer<Float>.allocate(capacity: n), v = UnsafeMutablePointer<Float>.allocate(capacity: n)
                defer { m.deallocate(); v.deallocate() }
                m.initialize(from: optimizer.m, count: n)
                v.initialize(from: optimizer.v, count: n)
                communicator.broadcast(m, count: n)
                communicator.broadcast(v, count: n)
                optimizer.restore(step: adamStep, m: m, v: v)
            }
        }
    }

    // MARK: The loop

    package func run() throws -> TrainingResult {
        let t = config.training
        let fm = FileManager.default
        try communicator.onRoot {
            try? fm.createDirectory(atPath: t.outputDir, withIntermediateDirectories: true)
            self.metricsLog = try MetricsLog(directory: t.loggingDir)
        }
        let total = state.maxSteps
        let ranks = communicator.size
        let batches = ranks == 1 ? "\(t.perDeviceTrainBatchSize)" : "\(globalBatchSize) (\(ranks) ranks × \(t.perDeviceTrainBatchSize))"
        let what = plan.sets.count == 1 ? "\(rows) \(plan.sets[0].columns.count == 3 ? "triplets" : "rows")"
            : "\(rows) rows of \(plan.sets.count) datasets (" + plan.sets.map { String($0.rows) }.joined(separator: " + ") + ")"
        log("Training: \(what), \(batchesPerEpoch) batches of \(batches) per epoch, \(total) optimizer steps (\(schedule.warmupSteps) warmup), \(model.encoder.parameters.count) parameters")
        let progress = ProgressBar("train", total: total, unit: "step", initial: state.globalStep)
        self.progress = progress
        var epochBatches: (epoch: Int, batches: [MultiDatasetSampler.Batch])? = nil
        var windowStart = ProgressBar.now()
        var windowTriplets = 0
        var lastNorm = 0.0
        var windowCommunication = 0.0
        var interrupted = false
        var stopSignal: Int32? = nil
        let startedAt = ProgressBar.now(), startStep = state.globalStep

        while state.globalStep < total {
            let step = state.globalStep
            let epoch = step / stepsPerEpoch
            if epochBatches?.epoch != epoch { epochBatches = (epoch, plan.batches(epoch: epoch)) }
            let batches = epochBatches!.batches
            let inEpoch = step % stepsPerEpoch
            let micro = Array(batches[min(batches.count, inEpoch * t.gradientAccumulationSteps)..<min(batches.count, (inEpoch + 1) * t.gradientAccumulationSteps)])

            let lr = schedule.lr(at: step)
            let result = trainStep(objective: objective, optimizer: optimizer, microBatches: micro.map(microBatch),
                                   seed: t.seed, step: step, lr: lr, maxGradNorm: t.maxGradNorm, communicator: communicator)
            let loss = result.loss
            lastNorm = result.gradNorm
            windowCommunication += result.communicationSeconds
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
                let seconds = max(now - windowStart, 1e-9)
                try logTraining(step: done, lr: lr, gradNorm: lastNorm, tripletsPerSecond: Double(windowTriplets) / seconds,
                                communicationShare: ranks > 1 ? windowCommunication / seconds : nil)
                windowStart = now
                windowTriplets = 0
                windowCommunication = 0
            }
            var saved: String? = nil
            if done % t.evalSteps == 0, inputs.eval != nil { try evaluateAndRecord(step: done, saving: done % t.saveSteps == 0) }
            if done % t.saveSteps == 0 { saved = try saveCheckpoint() }
            let stopAfter = stopAfterStep.map { done >= $0 && done < total } ?? false
            // A signal may reach one rank only, or the ranks at different steps: they agree on it
            // after every step, so that all stop after the same one.
            let signal = ranks == 1 ? Trainer.stopRequest.signal : Int32(communicator.allReduce([Double(Trainer.stopRequest.signal)], .max)[0])
            if signal != 0 || stopAfter {
                if saved == nil { _ = try saveCheckpoint() }
                interrupted = true
                stopSignal = signal != 0 ? signal : nil
                let why = signal != 0 ? StopRequest.name(signal) : "--stop-after \(done)"
                log("Stopped by \(why) after step \(done); checkpoint saved. Resume with --resume.")
                break
            }
        }
        progress.finish()
        if interrupted {
            try writeCurves()
            return TrainingResult(steps: state.globalStep, interrupted: true, stopSignal: stopSignal, finalMetrics: nil,
                                  bestMetric: state.bestMetric, bestCheckpoint: state.bestCheckpoint, outputDirectory: t.outputDir)
        }

        // The end: evaluate the final weights (unless that just happened), pick the best, save.
        var finalMetrics: EvaluationMetrics? = nil
        if inputs.eval != nil {
            if state.globalStep % t.evalSteps != 0 { try evaluateAndRecord(step: state.globalStep, saving: false) }
            finalMetrics = lastEval
        }
        if t.loadBestModelAtEnd, let best = state.bestCheckpoint, best != currentWeightsCheckpoint {
            log("Loading the best model from \(best) (\(t.metricForBestModel) \(state.bestMetric.map { String($0) } ?? "?"))")
            let params = model.encoder.parameters
            try communicator.onRoot {
                let bestModel = try SentenceModel.load(directory: best)
                params.copyValues(from: bestModel.encoder.parameters)
            }
            if ranks > 1 { communicator.broadcast(params.values, count: params.count) }
            if let e = try computeEval() {
                finalMetrics = e.metrics
                lastEvalByDimension = e.byDimension
            }
        }
        recordRunSummary(seconds: ProgressBar.now() - startedAt, resumedFrom: startStep)
        try communicator.onRoot {
            try self.model.save(to: t.outputDir)
            try FileSystem.writeText(self.state.json.serialized(indent: 2), to: t.outputDir + "/" + Checkpoint.stateFile)
        }
        try writeCurves()
        try writeModelCard()
        log("Saved the model to \(t.outputDir)")
        return TrainingResult(steps: state.globalStep, interrupted: false, finalMetrics: finalMetrics,
                              bestMetric: state.bestMetric, bestCheckpoint: state.bestCheckpoint, outputDirectory: t.outputDir)
    }

    /// This rank's share of a global micro-batch of one dataset (all of it, with the dataset's
    /// scores and loss, on one process): its rows' column 0, then column 1, …, packed.
    func microBatch(_ b: MultiDatasetSampler.Batch) -> TripletBatch {
        let set = plan.sets[b.dataset]
        guard communicator.size > 1 else { return set.batch(b.rows) }
        let table = set.table, names = set.columns
        var batch = TripletBatch.share(b.rows, rank: communicator.rank, ranks: communicator.size, columns: names.count) { c, r in
            table.ids(column: names[c], row: r)
        }
        batch.loss = set.loss
        return batch
    }

    /// What data-parallel training (several ranks) does not do: it gathers MNRL's candidates over
    /// the ranks, so it trains one dataset with plain MNRL. cached_mnrl, CoSENT, MatryoshkaLoss and
    /// several datasets are refused at start-up, naming the config key.
    package static func refuseUnderDataParallelism(_ config: TrainingConfig, ranks: Int) throws {
        let why = "is not supported with data-parallel training (\(ranks) ranks); train it in one process"
        if let list = config.datasets, list.count > 1 {
            throw EmbedError("datasets: \(list.count) training datasets \(why), or list one dataset")
        }
        for (i, d) in config.trainDatasets.enumerated() {
            let kind = d.loss ?? config.training.loss
            guard kind == .mnrl else {
                let key = d.loss != nil ? "datasets[\(i)].loss" : "training.loss"
                throw EmbedError("\(key): \(kind.rawValue) \(why), or use mnrl")
            }
        }
        if !config.training.matryoshkaDims.isEmpty {
            throw EmbedError("training.matryoshka_dims: MatryoshkaLoss \(why), or set it to null")
        }
    }
}
