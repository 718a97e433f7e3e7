import IO
import Inference
import NN

/// The learning-rate schedules of Hugging Face transformers' `get_scheduler`, by the same names.
package enum LRSchedulerKind: String, Sendable, Equatable, CaseIterable {
    case linear
    case cosine
    case cosineWithRestarts = "cosine_with_restarts"
    case polynomial
    case constant
    case constantWithWarmup = "constant_with_warmup"
}

/// What the evaluation during training (and the pipeline's final `evaluate`) measures.
package enum EvalTask: String, Sendable, Equatable, CaseIterable {
    /// Triplet accuracy (sentence-transformers' TripletEvaluator) on (anchor, positive, negative).
    case triplet
    /// Retrieval metrics (InformationRetrievalEvaluator) on the split read as (anchor, positive)
    /// pairs: each anchor searches all the positives.
    case retrieval
}

/// Everything `configs/training_config.yaml` says, typed and validated: which model to fine-tune,
/// on which triplet dataset, and the trainer's hyperparameters (named as in transformers'
/// `TrainingArguments`, so values carry over from the Python seed project).
///
/// Build it with `load(path:overrides:)`: keys missing from the file keep `defaults`, unknown keys
/// and wrong types or values are errors that name the key and its `file:line:column`.
package struct TrainingConfig: Sendable, Equatable {
    package struct Model: Sendable, Equatable {
        /// Hugging Face model id (or a local model directory) to start from.
        package var name: String
        /// Tokens per text; longer texts are truncated.
        package var maxSeqLength: Int

        package init(name: String, maxSeqLength: Int) {
            self.name = name
            self.maxSeqLength = maxSeqLength
        }
    }

    package struct Dataset: Sendable, Equatable {
        package var name: String
        package var trainSplit: String
        package var evalSplit: String
        package var testSplit: String
        package var anchorColumn: String
        package var positiveColumn: String
        package var negativeColumn: String
        /// nil: the whole split.
        package var maxTrainSamples: Int?
        package var maxEvalSamples: Int?
        /// A `datasets:` entry's text columns (any number for MNRL, two for CoSENT); nil: the three
        /// anchor/positive/negative columns.
        package var textColumns: [String]?
        /// A numeric column of gold scores (CoSENT, STS evaluation).
        package var scoreColumn: String?
        /// This dataset's loss; nil: `training.loss`.
        package var loss: TrainingLoss.Kind?

        package init(name: String, trainSplit: String, evalSplit: String, testSplit: String,
                    anchorColumn: String, positiveColumn: String, negativeColumn: String,
                    maxTrainSamples: Int?, maxEvalSamples: Int?, textColumns: [String]? = nil, scoreColumn: String? = nil,
                    loss: TrainingLoss.Kind? = nil) {
            self.name = name
            self.trainSplit = trainSplit
            self.evalSplit = evalSplit
            self.testSplit = testSplit
            self.anchorColumn = anchorColumn
            self.positiveColumn = positiveColumn
            self.negativeColumn = negativeColumn
            self.maxTrainSamples = maxTrainSamples
            self.maxEvalSamples = maxEvalSamples
            self.textColumns = textColumns
            self.scoreColumn = scoreColumn
            self.loss = loss
        }

        /// The text columns in order: anchor, positive, negative (or a `datasets:` entry's `columns`).
        package var columns: [String] { textColumns ?? [anchorColumn, positiveColumn, negativeColumn] }

        /// Whether its rows are (anchor, positive, negative) triplets, which the triplet evaluation needs.
        package var isTriplets: Bool { columns.count == 3 && scoreColumn == nil }
    }

    package struct Training: Sendable, Equatable {
        package var outputDir: String
        package var perDeviceTrainBatchSize: Int
        package var perDeviceEvalBatchSize: Int
        package var numTrainEpochs: Double
        /// > 0: train exactly this many optimizer steps; -1: train for `numTrainEpochs`.
        package var maxSteps: Int
        package var learningRate: Double
        package var warmupRatio: Double
        package var weightDecay: Double
        /// Gradient clipping norm; 0 turns clipping off (as in transformers).
        package var maxGradNorm: Double
        package var lrScheduler: LRSchedulerKind
        /// Hard restarts of `cosine_with_restarts` (may be fractional, as transformers' formula allows).
        package var numCycles: Double
        /// Power of the `polynomial` decay.
        package var lrSchedulerPower: Double
        /// Learning rate the `polynomial` decay ends at.
        package var lrEnd: Double
        package var gradientAccumulationSteps: Int
        package var evalSteps: Int
        package var saveSteps: Int
        /// nil: keep every checkpoint.
        package var saveTotalLimit: Int?
        package var loadBestModelAtEnd: Bool
        /// One of `TrainingConfig.bestModelMetrics`, without transformers' `eval_` prefix.
        package var metricForBestModel: String
        package var loggingSteps: Int
        /// Resolved: `<outputDir>/logs` when the file leaves it null.
        package var loggingDir: String
        package var seed: UInt64
        /// A checkpoint directory, `latest` (the newest `checkpoint-N` in `outputDir`), or nil.
        package var resumeFromCheckpoint: String?
        /// Matrix products with bf16 operands and fp32 sums (transformers' `bf16`; MatmulPrecision).
        package var bf16 = false
        /// Upload the final model to the Hugging Face hub at the end of a successful run
        /// (transformers' `push_to_hub`; the `train` tool does it, this library knows no hub).
        package var pushToHub = false
        /// The hub repository (`org/name`, or `name` for the token's user); nil: the last
        /// component of `outputDir`, as transformers names it.
        package var hubModelID: String?
        /// Create the repository private (true) or public (false); nil: the hub's default.
        package var hubPrivateRepo: Bool?
        /// What evaluation measures (and so which metrics `metricForBestModel` may name).
        package var evalTask: EvalTask
        /// The loss of every dataset that does not name its own.
        package var loss: TrainingLoss.Kind
        /// cached_mnrl: sequences per forward pass.
        package var miniBatchSize: Int
        /// MatryoshkaLoss around every dataset's loss: the dimensions (empty: none) and their weights
        /// (nil: all 1).
        package var matryoshkaDims: [Int]
        package var matryoshkaWeights: [Double]?
        /// Several datasets: in what order their batches come.
        package var multiDatasetSampler: MultiDatasetSamplerKind
        /// How rows are grouped into batches (sentence-transformers' `batch_sampler`).
        package var batchSampler: BatchSamplerKind

        package init(outputDir: String, perDeviceTrainBatchSize: Int, perDeviceEvalBatchSize: Int,
                    numTrainEpochs: Double, maxSteps: Int, learningRate: Double, warmupRatio: Double,
                    weightDecay: Double, maxGradNorm: Double, lrScheduler: LRSchedulerKind, numCycles: Double,
                    lrSchedulerPower: Double, lrEnd: Double, gradientAccumulationSteps: Int, evalSteps: Int,
                    saveSteps: Int, saveTotalLimit: Int?, loadBestModelAtEnd: Bool, metricForBestModel: String,
                    loggingSteps: Int, loggingDir: String, seed: UInt64, resumeFromCheckpoint: String?,
                    evalTask: EvalTask = .triplet,
                    loss: TrainingLoss.Kind = .mnrl, miniBatchSize: Int = 32, matryoshkaDims: [Int] = [],
                    matryoshkaWeights: [Double]? = nil, multiDatasetSampler: MultiDatasetSamplerKind = .proportional,
                    batchSampler: BatchSamplerKind = .noDuplicates) {
            self.outputDir = outputDir
            self.perDeviceTrainBatchSize = perDeviceTrainBatchSize
            self.perDeviceEvalBatchSize = perDeviceEvalBatchSize
            self.numTrainEpochs = numTrainEpochs
            self.maxSteps = maxSteps
            self.learningRate = learningRate
            self.warmupRatio = warmupRatio
            self.weightDecay = weightDecay
            self.maxGradNorm = maxGradNorm
            self.lrScheduler = lrScheduler
            self.numCycles = numCycles
            self.lrSchedulerPower = lrSchedulerPower
            self.lrEnd = lrEnd
            self.gradientAccumulationSteps = gradientAccumulationSteps
            self.evalSteps = evalSteps
            self.saveSteps = saveSteps
            self.saveTotalLimit = saveTotalLimit
            self.loadBestModelAtEnd = loadBestModelAtEnd
            self.metricForBestModel = metricForBestModel
            self.loggingSteps = loggingSteps
            self.loggingDir = loggingDir
            self.seed = seed
            self.resumeFromCheckpoint = resumeFromCheckpoint
            self.evalTask = evalTask
            self.loss = loss
            self.miniBatchSize = miniBatchSize
            self.matryoshkaDims = matryoshkaDims
            self.matryoshkaWeights = matryoshkaWeights
            self.multiDatasetSampler = multiDatasetSampler
            self.batchSampler = batchSampler
        }

        /// Triplets per optimizer step.
        package var effectiveBatchSize: Int { perDeviceTrainBatchSize * gradientAccumulationSteps }

        /// The repository `push_to_hub` uploads to: `hubModelID`, else the output folder's name.
        package var hubRepositoryID: String { hubModelID ?? PipelinePaths.slug(outputDir) }

        /// Whether a higher `metricForBestModel` is better (accuracy) or lower (loss).
        package var greaterIsBetter: Bool { metricForBestModel != "loss" }
    }

    /// What the model card states that training cannot know (sentence-transformers'
    /// `SentenceTransformerModelCardData`): the `model_card` section.
    package struct ModelCardSettings: Sendable, Equatable {
        /// The card's title; nil: "SentenceTransformer based on <base model>".
        package var modelName: String?
        /// ISO 639 codes of the training text's languages.
        package var language: [String]
        /// A hub license id (e.g. `apache-2.0`); nil: none stated.
        package var license: String?
        /// The hub id of the base model; nil: `model.name` when that is a hub id.
        package var baseModel: String?
        /// Hub ids of the training datasets; nil: `dataset.name` when that is a hub id.
        package var datasets: [String]?

        package init(modelName: String? = nil, language: [String] = ["no"], license: String? = nil, baseModel: String? = nil,
                     datasets: [String]? = nil) {
            self.modelName = modelName
            self.language = language
            self.license = license
            self.baseModel = baseModel
            self.datasets = datasets
        }
    }

    /// Hard-negative mining of the training split before it is tokenized (`make mine`; the `mine`
    /// tool's options, as sentence-transformers' `mine_hard_negatives` names them).
    package struct Mining: Sendable, Equatable {
        /// Train on the mined triplets instead of the split's own negatives.
        package var enabled: Bool
        /// The model that mines (a local folder); nil: the base model.
        package var model: String?
        package var numNegatives: Int
        package var rangeMin: Int
        package var rangeMax: Int?
        package var maxScore: Double?
        package var minScore: Double?
        package var absoluteMargin: Double?
        package var relativeMargin: Double?
        /// `top` or `random`.
        package var samplingStrategy: String

        package init(enabled: Bool = false, model: String? = nil, numNegatives: Int = 1, rangeMin: Int = 0, rangeMax: Int? = nil,
                    maxScore: Double? = nil, minScore: Double? = nil, absoluteMargin: Double? = nil, relativeMargin: Double? = nil,
                    samplingStrategy: String = "top") {
            self.enabled = enabled
            self.model = model
            self.numNegatives = numNegatives
            self.rangeMin = rangeMin
            self.rangeMax = rangeMax
            self.maxScore = maxScore
            self.minScore = minScore
            self.absoluteMargin = absoluteMargin
            self.relativeMargin = relativeMargin
            self.samplingStrategy = samplingStrategy
        }

        /// The `mine` options these settings give (the seed is the training seed).
        package func toolArguments(seed: UInt64) -> [String] {
            var a = ["--num-negatives", String(numNegatives), "--range-min", String(rangeMin), "--sampling-strategy", samplingStrategy,
                     "--seed", String(seed)]
            if let rangeMax { a += ["--range-max", String(rangeMax)] }
            for (flag, v) in [("--max-score", maxScore), ("--min-score", minScore), ("--absolute-margin", absoluteMargin),
                              ("--relative-margin", relativeMargin)] {
                if let v { a += [flag, "\(v)"] }
            }
            return a
        }
    }

    package var model: Model
    /// The dataset (with `datasets:`, the first of them: its eval and test splits are the ones
    /// evaluated).
    package var dataset: Dataset
    /// `datasets:` — several training datasets, every batch from one; nil: `dataset` alone.
    package var datasets: [Dataset]?
    package var training: Training
    package var modelCard: ModelCardSettings
    package var mining: Mining

    package init(model: Model, dataset: Dataset, datasets: [Dataset]? = nil, training: Training,
                 modelCard: ModelCardSettings = ModelCardSettings(), mining: Mining = Mining()) {
        self.model = model
        self.dataset = dataset
        self.datasets = datasets
        self.training = training
        self.modelCard = modelCard
        self.mining = mining
    }

    /// Every training dataset: the `datasets:` list, or the single `dataset`.
    package var trainDatasets: [Dataset] { datasets ?? [dataset] }

    /// The loss a dataset trains with: its own or `training.loss`, with the Matryoshka settings.
    package func loss(for d: Dataset) -> TrainingLoss {
        let t = training
        return TrainingLoss(kind: d.loss ?? t.loss, miniBatchSize: t.miniBatchSize, matryoshkaDims: t.matryoshkaDims,
                            matryoshkaWeights: t.matryoshkaWeights.map { $0.map { Float($0) } })
    }

    /// Metrics `metric_for_best_model` may name for the triplet task: the triplet evaluator's
    /// accuracy (share of triplets whose anchor is closer, by cosine, to the positive than to the
    /// negative) and the evaluation loss. The seed's `eval_cosine_accuracy` spelling is accepted too.
    package static let bestModelMetrics = ["cosine_accuracy", "loss"]

    /// The metrics `metric_for_best_model` may name for `task`; the first is the default.
    package static func bestModelMetrics(for task: EvalTask) -> [String] {
        switch task {
        case .triplet: return bestModelMetrics
        case .retrieval: return ["cosine_ndcg@10"] + RetrievalMetrics.names(functions: [.cosine, .dot]).filter { $0 != "cosine_ndcg@10" } + ["loss"]
        }
    }

    /// The seed project's defaults (its config with `ltg/norbert3-base`), and transformers'
    /// `TrainingArguments` defaults where the seed sets nothing.
    package static let defaults = TrainingConfig(
        model: Model(name: "ltg/norbert3-base", maxSeqLength: 128),
        dataset: Dataset(
            name: "Fremtind/all-nli-norwegian", trainSplit: "train", evalSplit: "dev", testSplit: "test",
            anchorColumn: "anchor", positiveColumn: "positive", negativeColumn: "negative",
            maxTrainSamples: nil, maxEvalSamples: nil),
        training: Training(
            outputDir: "models/norbert3-base-nli-norwegian", perDeviceTrainBatchSize: 16, perDeviceEvalBatchSize: 64,
            numTrainEpochs: 1, maxSteps: -1, learningRate: 2e-5, warmupRatio: 0.1, weightDecay: 0.01,
            maxGradNorm: 1.0, lrScheduler: .linear, numCycles: 1, lrSchedulerPower: 1.0, lrEnd: 1e-7,
            gradientAccumulationSteps: 1, evalSteps: 500, saveSteps: 500, saveTotalLimit: 3,
            loadBestModelAtEnd: true, metricForBestModel: "cosine_accuracy", loggingSteps: 100,
            loggingDir: "models/norbert3-base-nli-norwegian/logs", seed: 42, resumeFromCheckpoint: nil))

    /// Parses the file (`-` for stdin), applies `key.path=value` overrides (values parsed as YAML
    /// scalars), validates.
    package static func load(path: String, overrides: [String] = []) throws -> TrainingConfig {
        let bytes = try ByteReader(path: path).readAll()
        return try parse(bytes: bytes, path: path, overrides: overrides.map { ConfigOverride(assignment: $0) })
    }

    /// As `load`, from text already read; `path` names it in errors.
    package static func parse(yaml: String, path: String, overrides: [String]) throws -> TrainingConfig {
        try parse(bytes: Array(yaml.utf8), path: path, overrides: overrides.map { ConfigOverride(assignment: $0) })
    }

    /// The general form: overrides with their own origin labels (e.g. `--quick-test`).
    package static func parse(bytes: [UInt8], path: String, overrides: [ConfigOverride]) throws -> TrainingConfig {
        var decoder = TrainingConfigDecoder(path: path)
        guard let root = try YAML.parse(bytes, source: path) else {
            throw EmbedError("\(path): the file is empty (no YAML document); write '{}' to take every default")
        }
        try decoder.apply(document: root)
        for o in overrides { decoder.apply(override: o) }
        return try decoder.finish()
    }

    /// The key parameters, one per line, for `train --check` and the start of a training log
    /// (what the seed's `python utils/read_config.py` printed, and more).
    package func summary() -> String { Self.formatSummary(summaryLines()) }

    /// The summary's (label, text) rows, for callers that add rows of their own.
    package func summaryLines() -> [(label: String, text: String)] {
        let t = training, d = dataset
        func samples(_ n: Int?) -> String { n.map { "first \($0)" } ?? "all" }
        var lines: [(label: String, text: String)] = [("Model", "\(model.name) (max_seq_length \(model.maxSeqLength))")]
        if let list = datasets {
            for (k, e) in list.enumerated() {
                lines.append(("Dataset \(k + 1)", "\(e.name): train '\(e.trainSplit)' (\(samples(e.maxTrainSamples))), columns "
                    + e.columns.joined(separator: " / ") + (e.scoreColumn.map { ", score \($0)" } ?? "") + ", loss \(loss(for: e).description)"))
            }
            lines.append(("Evaluation", "\(d.name): eval '\(d.evalSplit)' (\(samples(d.maxEvalSamples))), test '\(d.testSplit)'"))
            lines.append(("Batches", "\(t.multiDatasetSampler.rawValue) over the datasets, \(t.batchSampler.rawValue) within each"))
        } else {
            lines.append(("Dataset", "\(d.name): train '\(d.trainSplit)' (\(samples(d.maxTrainSamples))), "
                + "eval '\(d.evalSplit)' (\(samples(d.maxEvalSamples))), test '\(d.testSplit)'"))
            lines.append(("Columns", "\(d.anchorColumn) / \(d.positiveColumn) / \(d.negativeColumn)"))
            lines.append(("Loss", loss(for: d).description + (t.batchSampler == .noDuplicates ? "" : ", batches: \(t.batchSampler.rawValue)")))
        }
        if trainDatasets.contains(where: { ($0.loss ?? t.loss) == .cachedMNRL }) {
            lines.append(("Cached MNRL", "mini-batches of \(t.miniBatchSize) sequences"))
        }
        if !t.matryoshkaDims.isEmpty {
            let weights = t.matryoshkaWeights.map { " (weights " + $0.map { Self.number($0) }.joined(separator: ", ") + ")" } ?? ""
            lines.append(("Matryoshka", "dimensions " + t.matryoshkaDims.map(String.init).joined(separator: ", ") + weights))
        }
        lines += [
            ("Output", t.outputDir),
            ("Training length", t.maxSteps > 0
                ? "\(t.maxSteps) steps (max_steps; num_train_epochs ignored)"
                : "\(Self.number(t.numTrainEpochs)) epoch\(t.numTrainEpochs == 1 ? "" : "s")"),
            ("Batch size", "\(t.perDeviceTrainBatchSize) train × \(t.gradientAccumulationSteps) accumulation = "
                + "\(t.effectiveBatchSize) per step; \(t.perDeviceEvalBatchSize) eval"),
            ("Learning rate", "\(Self.number(t.learningRate)), \(scheduleDescription)"
                + (t.lrScheduler == .constant ? "" : ", warmup \(Self.number((t.warmupRatio * 100 * 1e6).rounded() / 1e6))% of the steps")),
            ("Optimizer", "AdamW, weight_decay \(Self.number(t.weightDecay)), "
                + (t.maxGradNorm > 0 ? "gradients clipped to norm \(Self.number(t.maxGradNorm))" : "no gradient clipping")),
            ("Evaluate", "every \(t.evalSteps) steps, \(t.evalTask == .triplet ? "triplet accuracy" : "retrieval on the pairs"); best model by \(t.metricForBestModel) ("
                + (t.greaterIsBetter ? "higher" : "lower") + " is better)"
                + (t.loadBestModelAtEnd ? ", loaded at the end" : "")),
            ("Checkpoints", "every \(t.saveSteps) steps, "
                + (t.saveTotalLimit.map { "keep the last \($0)" } ?? "keep all")),
            ("Logging", "every \(t.loggingSteps) steps to \(t.loggingDir)"),
            ("Seed", "\(t.seed)"),
        ]
        if t.bf16 { lines.append(("Precision", "bf16 matrix products (fp32 weights, gradients and optimizer)")) }
        if let r = t.resumeFromCheckpoint {
            lines.append(("Resume from", r == "latest" ? "the newest checkpoint in \(t.outputDir)" : r))
        }
        if mining.enabled {
            lines.insert(("Mining", "hard negatives for '\(d.trainSplit)' with \(mining.model ?? "the base model"): "
                + mining.toolArguments(seed: t.seed).joined(separator: " ")), at: 3)
        }
        if t.pushToHub {
            let visibility = t.hubPrivateRepo.map { $0 ? " (private)" : " (public)" } ?? ""
            lines.append(("Push to hub", "\(t.hubRepositoryID)\(visibility), after training"))
        }
        return lines
    }

    /// Aligns rows as `Label:   text`.
    package static func formatSummary(_ lines: [(label: String, text: String)]) -> String {
        let width = lines.map(\.label.count).max() ?? 0
        return lines.map { $0.label + ":" + String(repeating: " ", count: width - $0.label.count + 1) + $0.text }
            .joined(separator: "\n")
    }

    private var scheduleDescription: String {
        let t = training
        switch t.lrScheduler {
        case .linear: return "linear decay to 0"
        case .cosine: return "cosine decay to 0"
        case .cosineWithRestarts: return "cosine with \(Self.number(t.numCycles)) hard restart cycle\(t.numCycles == 1 ? "" : "s")"
        case .polynomial: return "polynomial decay (power \(Self.number(t.lrSchedulerPower))) to \(Self.number(t.lrEnd))"
        case .constant: return "constant (no warmup: warmup_ratio is ignored)"
        case .constantWithWarmup: return "constant after warmup"
        }
    }

    /// Integral values without a fraction (`1`, not `1.0`); others as Swift prints them (`2e-05`).
    static func number(_ d: Double) -> String {
        if d.isFinite, d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return "\(d)"
    }
}

/// One `key.path=value` assignment from the command line, with a label saying where it came from.
package struct ConfigOverride: Sendable, Equatable {
    package var assignment: String
    /// How errors name it, e.g. `--set training.learning_rate=1e-5`.
    package var origin: String

    package init(assignment: String, origin: String? = nil) {
        self.assignment = assignment
        self.origin = origin ?? "--set \(assignment)"
    }
}
