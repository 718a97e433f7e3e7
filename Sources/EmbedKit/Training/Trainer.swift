import Foundation

/// Where a training run reads its inputs.
public struct TrainingInputs {
    /// The base model folder (or a checkpoint's, when resuming it is replaced by the checkpoint).
    public var modelDirectory: String
    public var train: any TokenTable
    /// Where `train` came from, for messages and the model card.
    public var trainSource: String
    public var eval: (any TokenTable)?
    public var evalSource: String?

    public init(modelDirectory: String, train: any TokenTable, trainSource: String, eval: (any TokenTable)?, evalSource: String?) {
        self.modelDirectory = modelDirectory
        self.train = train
        self.trainSource = trainSource
        self.eval = eval
        self.evalSource = evalSource
    }
}

/// What a finished (or interrupted) run reports.
public struct TrainingResult: Sendable {
    public var steps: Int
    public var interrupted: Bool
    public var finalMetrics: TripletMetrics?
    public var bestMetric: Double?
    public var bestCheckpoint: String?
    public var outputDirectory: String
}

/// Fine-tunes a sentence model with MultipleNegativesRankingLoss the way sentence-transformers'
/// trainer does: NO_DUPLICATES batches from a seeded shuffle, gradient accumulation averaging the
/// micro-batch losses, global-norm clipping, AdamW with a transformers learning-rate schedule,
/// periodic logging, evaluation and checkpoints, the best model at the end. Deterministic: the same
/// config and seed give the same weights bit for bit, and a resumed run the same losses.
public final class Trainer {
    public let config: TrainingConfig
    public let inputs: TrainingInputs
    public let columns: [String]
    public private(set) var model: SentenceModel
    private let objective: MNRLObjective
    private let optimizer: AdamW
    private var state: TrainerState
    private let schedule: LRSchedule
    private let rows: Int
    private let batchesPerEpoch: Int
    private let stepsPerEpoch: Int
    private let rowHashes: [UInt64]
    private var metricsLog: MetricsLog?
    /// Set from a signal handler: finish the step, checkpoint, stop.
    public static let stopRequest = StopRequest()
    /// Stop (with a checkpoint, as on a signal) once this many steps are done: lets a run be split
    /// in parts (`train --stop-after N`, then `--resume`), and tests interrupt a run deterministically.
    public var stopAfterStep: Int?

    public init(options: TrainOptions, inputs: TrainingInputs) throws {
        config = options.config
        self.inputs = inputs
        let d = config.dataset, t = config.training
        columns = d.columns
        try inputs.train.require(columns: columns, source: inputs.trainSource)
        if let e = inputs.eval { try e.require(columns: columns, source: inputs.evalSource ?? "eval data") }

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

        rows = min(d.maxTrainSamples ?? inputs.train.rows, inputs.train.rows)
        guard rows > 0 else { throw EmbedError("\(inputs.trainSource): no training rows") }
        // Tokens longer than max_seq_length mean the tokens file was made for another length.
        try inputs.train.validate(columns: columns, rows: rows, maxLength: model.maxSeqLength,
            vocabularySize: model.encoder.vocabularySize, source: inputs.trainSource)
        batchesPerEpoch = (rows + t.perDeviceTrainBatchSize - 1) / t.perDeviceTrainBatchSize
        stepsPerEpoch = max(1, (batchesPerEpoch + t.gradientAccumulationSteps - 1) / t.gradientAccumulationSteps)
        let maxSteps = t.maxSteps > 0 ? t.maxSteps : Int((t.numTrainEpochs * Double(stepsPerEpoch)).rounded(.up))
        guard maxSteps > 0 else { throw EmbedError("training would take 0 steps (num_train_epochs \(t.numTrainEpochs))") }
        let warmup = LRSchedule.warmupSteps(ratio: t.warmupRatio, totalSteps: maxSteps)
        schedule = LRSchedule(kind: t.lrScheduler, baseLR: t.learningRate, warmupSteps: warmup, totalSteps: maxSteps,
                              numCycles: t.lrScheduler == .cosineWithRestarts ? t.numCycles : nil,
                              power: t.lrSchedulerPower, lrEnd: t.lrEnd)
        // Hashes of every text, for the NO_DUPLICATES sampler: one per column per row.
        var hashes = [UInt64](repeating: 0, count: rows * columns.count)
        for r in 0..<rows {
            for (c, name) in columns.enumerated() {
                hashes[r * columns.count + c] = NoDuplicatesSampler.hash(inputs.train.ids(column: name, row: r))
            }
        }
        rowHashes = hashes

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

    public func run() throws -> TrainingResult {
        let t = config.training
        let fm = FileManager.default
        try? fm.createDirectory(atPath: t.outputDir, withIntermediateDirectories: true)
        metricsLog = try MetricsLog(directory: t.loggingDir)
        let total = state.maxSteps
        log("Training: \(rows) triplets, \(batchesPerEpoch) batches of \(t.perDeviceTrainBatchSize) per epoch, \(total) optimizer steps (\(schedule.warmupSteps) warmup), \(model.encoder.parameters.count) parameters")
        let progress = Progress("train", total: total, unit: "step", initial: state.globalStep)
        self.progress = progress
        var epochBatches: (epoch: Int, batches: [[Int]])? = nil
        var windowStart = Progress.now()
        var windowTriplets = 0
        var lastNorm = 0.0
        var interrupted = false

        while state.globalStep < total {
            let step = state.globalStep
            let epoch = step / stepsPerEpoch
            if epochBatches?.epoch != epoch {
                var batches = NoDuplicatesSampler.epoch(rows: rows, batchSize: t.perDeviceTrainBatchSize, seed: t.seed,
                                                        epoch: epoch) { r in
                    Array(self.rowHashes[(r * self.columns.count)..<((r + 1) * self.columns.count)])
                }
                if batches.count > batchesPerEpoch { batches.removeLast(batches.count - batchesPerEpoch) }
                epochBatches = (epoch, batches)
            }
            let batches = epochBatches!.batches
            let inEpoch = step % stepsPerEpoch
            let micro = Array(batches[min(batches.count, inEpoch * t.gradientAccumulationSteps)..<min(batches.count, (inEpoch + 1) * t.gradientAccumulationSteps)])

            // One optimizer step: average the micro-batch losses (and so their gradients).
            model.encoder.parameters.zeroGrads()
            var loss = 0.0
            for (m, rowsInBatch) in micro.enumerated() {
                let batch = tripletBatch(rowsInBatch)
                let l = objective.accumulateGradients(batch, dropout: DropoutContext(seed: t.seed, step: step, microBatch: m),
                                                      lossScale: 1 / Float(micro.count))
                loss += Double(l) / Double(micro.count)
                windowTriplets += rowsInBatch.count
            }
            // Clipping is folded into the update (the same weights as clip_grad_norm_ then step,
            // one pass over the gradients fewer).
            lastNorm = gradientNorm(model.encoder.parameters)
            let scale = t.maxGradNorm > 0 ? clipCoefficient(norm: lastNorm, maxNorm: t.maxGradNorm) : 1
            let lr = schedule.lr(at: step)
            optimizer.update(model.encoder.parameters, lr: Float(lr), gradScale: scale)
            currentWeightsCheckpoint = nil
            state.globalStep += 1
            state.epoch = Double(epoch) + Double(inEpoch + 1) / Double(stepsPerEpoch)
            state.pendingLossSum += loss
            state.pendingLossSteps += 1
            progress.advance(note: "loss \(Progress.decimal(loss, 4)) · lr \(String(format: "%.2e", lr))")

            let done = state.globalStep
            if done % t.loggingSteps == 0 || done == total {
                let now = Progress.now()
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
            finalMetrics = try computeEval()?.metrics
        }
        try model.save(to: t.outputDir, readme: modelCard(metrics: finalMetrics))
        try writeText(state.json.serialized(indent: 2), to: t.outputDir + "/" + Checkpoint.stateFile)
        log("Saved the model to \(t.outputDir)")
        return TrainingResult(steps: state.globalStep, interrupted: false, finalMetrics: finalMetrics,
                              bestMetric: state.bestMetric, bestCheckpoint: state.bestCheckpoint, outputDirectory: t.outputDir)
    }

    /// The packed micro-batch for some rows: all anchors, then positives, then negatives.
    func tripletBatch(_ rowIndices: [Int]) -> TripletBatch {
        var packed = PackedBatch()
        for c in columns {
            for r in rowIndices { packed.append(inputs.train.ids(column: c, row: r)) }
        }
        return TripletBatch(packed: packed, size: rowIndices.count, columns: columns.count)
    }

    // MARK: Logging, evaluation, checkpoints

    private var lastEval: TripletMetrics?
    private var progress: Progress?
    /// The checkpoint that holds exactly the current weights (saved at the current step), if any.
    private var currentWeightsCheckpoint: String?

    private func logTraining(step: Int, lr: Double, gradNorm: Double, tripletsPerSecond: Double) throws {
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
        progress?.log("step \(step)/\(state.maxSteps) · epoch \(Progress.decimal(state.epoch, 2)) · loss \(Progress.decimal(loss, 4)) · lr \(String(format: "%.3e", lr)) · grad_norm \(Progress.decimal(gradNorm, 3)) · \(Progress.decimal(tripletsPerSecond, 1)) triplets/s")
    }

    /// Triplet metrics and MNRL loss of the current weights on the eval split.
    private func computeEval() throws -> (metrics: TripletMetrics, loss: Double)? {
        guard let eval = inputs.eval else { return nil }
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

    private func evaluateAndRecord(step: Int, saving: Bool) throws {
        guard let (metrics, evalLoss) = try computeEval() else { return }
        let t = config.training
        lastEval = metrics
        var o = JSONObject([("step", .number(Double(step))), ("epoch", .number(state.epoch))])
        for (k, v) in metrics.named { o["eval_" + k] = .number(v) }
        o["eval_loss"] = .number(evalLoss)
        state.logHistory.append(.object(o))
        try metricsLog?.write(.object(o), step: step, scalars: [("eval/cosine_accuracy", metrics.cosine), ("eval/loss", evalLoss)])
        progress?.log("eval at step \(step): cosine_accuracy \(Progress.decimal(metrics.cosine * 100, 2))% · loss \(Progress.decimal(evalLoss, 4)) (\(metrics.count) triplets)")
        // Best model: by cosine accuracy (higher is better) or eval loss (lower is better). Its
        // weights are the checkpoint saved at this step, or (at the end) the final weights.
        let value = t.metricForBestModel == "loss" ? evalLoss : metrics.cosine
        let better = state.bestMetric.map { t.greaterIsBetter ? value > $0 : value < $0 } ?? true
        if better {
            state.bestMetric = value
            state.bestCheckpoint = saving ? "\(t.outputDir)/checkpoint-\(step)" : nil
        }
    }

    /// Mean MNRL loss over consecutive eval batches, from embeddings already computed.
    private func evaluationLoss(_ e: [[Float]], count n: Int, batchSize: Int) -> Double {
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

    private func saveCheckpoint() throws -> String {
        let t = config.training
        let path = try Checkpoint.save(model: model, optimizer: optimizer, state: state, outputDir: t.outputDir)
        currentWeightsCheckpoint = path
        Checkpoint.prune(outputDir: t.outputDir, limit: t.saveTotalLimit, keep: state.bestCheckpoint)
        return path
    }

    // MARK: Model card

    func modelCard(metrics: TripletMetrics?) -> String {
        let t = config.training, d = config.dataset
        var s = """
        ---
        library_name: sentence-transformers
        pipeline_tag: sentence-similarity
        tags:
        - sentence-transformers
        - sentence-similarity
        - feature-extraction
        - loss:MultipleNegativesRankingLoss
        base_model: \(config.model.name)
        datasets:
        - \(d.name)
        language:
        - "no"
        ---

        # \(PipelinePaths.slug(t.outputDir))

        A sentence-embedding model fine-tuned from [\(config.model.name)](https://huggingface.co/\(config.model.name)) on
        (anchor, positive, negative) triplets of `\(d.name)` with MultipleNegativesRankingLoss, by the Swift
        CPU trainer of this project (`train`). It maps text to \(model.dimension)-dimensional vectors
        (\(model.pooling.rawValue) pooling\(model.normalize ? ", normalized" : "")).

        ```python
        from sentence_transformers import SentenceTransformer
        model = SentenceTransformer("\(t.outputDir)")
        embeddings = model.encode(["Hva er hovedstaden i Norge?", "Oslo er Norges hovedstad."])
        ```

        ## Training

        | setting | value |
        |---|---|
        | base model | `\(config.model.name)` |
        | data | `\(d.name)` (`\(d.trainSplit)`, \(rows) triplets; columns \(columns.joined(separator: ", "))) |
        | loss | MultipleNegativesRankingLoss (scale 20, cosine similarity) |
        | batch size | \(t.perDeviceTrainBatchSize) × \(t.gradientAccumulationSteps) accumulation, NO_DUPLICATES batches |
        | steps | \(state.globalStep) (epochs: \(Progress.decimal(state.epoch, 2))) |
        | learning rate | \(t.learningRate), \(t.lrScheduler.rawValue) schedule, warmup ratio \(t.warmupRatio) |
        | optimizer | AdamW (β 0.9/0.999, ε 1e-8), weight decay \(t.weightDecay), max grad norm \(t.maxGradNorm) |
        | max sequence length | \(model.maxSeqLength) |
        | seed | \(t.seed) |

        """
        if let m = metrics {
            s += """

            ## Evaluation

            Triplet accuracy on `\(d.evalSplit)` (\(m.count) triplets\(state.bestCheckpoint != nil && t.loadBestModelAtEnd ? ", best checkpoint" : "")):

            | metric | value |
            |---|---|
            | cosine accuracy | \(Progress.decimal(m.cosine * 100, 2))% |
            | dot accuracy | \(Progress.decimal(m.dot * 100, 2))% |
            | euclidean accuracy | \(Progress.decimal(m.euclidean * 100, 2))% |
            | manhattan accuracy | \(Progress.decimal(m.manhattan * 100, 2))% |

            """
        }
        return s
    }
}

/// A stop flag that signal handlers may set (an atomic word; the handler does nothing else).
public final class StopRequest: @unchecked Sendable {
    private let flag = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
    private let signo = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)

    init() {
        flag.initialize(to: 0)
        signo.initialize(to: 0)
    }

    public var isSet: Bool { flag.pointee != 0 }
    public var signalName: String { signo.pointee == SIGTERM ? "SIGTERM" : "SIGINT" }

    /// Installs SIGINT and SIGTERM handlers that set the flag; a second signal exits at once.
    public func installHandlers() {
        Self.shared = UncheckedSendable((flag, signo))
        let handler: @convention(c) (Int32) -> Void = { sig in
            guard let s = StopRequest.shared else { return }
            if s.value.0.pointee != 0 { _exit(128 + sig) }
            s.value.0.pointee = 1
            s.value.1.pointee = sig
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // A parent may have started us with these signals blocked (the mask is inherited, e.g. from a
        // thread pool's thread); unblock them, or the handlers would never run.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    nonisolated(unsafe) static var shared: UncheckedSendable<(UnsafeMutablePointer<sig_atomic_t>, UnsafeMutablePointer<sig_atomic_t>)>?
}
