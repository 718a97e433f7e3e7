import Foundation
import IO
import Inference
import NN

/// Collecting a card's facts from a run: the config, the final model, the trainer state (log
/// history, best checkpoint, times), the tokenized splits (sizes, token statistics), the text
/// splits (samples, usage examples) and, when `evaluate` has run since the model was saved, its
/// base and fine-tuned results in `<output_dir>/eval/`.
extension ModelCard {
    package struct Inputs {
        package var config: TrainingConfig
        package var model: SentenceModel
        /// A folder with the model's tokenizer; when set, the usage example's similarities are
        /// computed with the model, as sentence-transformers prints them.
        package var tokenizerDirectory: String?
        package var trainerState: JSON
        package var train: any TokenTable
        package var trainRows: Int
        /// The training split's JSON Lines (for samples and examples), when at hand.
        package var trainText: String?
        package var eval: (any TokenTable)?
        package var evalRows: Int
        package var evalText: String?
        package var outputDirectory: String

        package init(config: TrainingConfig, model: SentenceModel, tokenizerDirectory: String?, trainerState: JSON,
                     train: any TokenTable, trainRows: Int, trainText: String?, eval: (any TokenTable)?, evalRows: Int,
                     evalText: String?, outputDirectory: String) {
            self.config = config
            self.model = model
            self.tokenizerDirectory = tokenizerDirectory
            self.trainerState = trainerState
            self.train = train
            self.trainRows = trainRows
            self.trainText = trainText
            self.eval = eval
            self.evalRows = evalRows
            self.evalText = evalText
            self.outputDirectory = outputDirectory
        }
    }

    package static let curvesFileName = "training_curves.svg"

    package static func gather(_ i: Inputs) throws -> ModelCard {
        let config = i.config, settings = config.modelCard, d = config.dataset, t = config.training
        let history = try TrainingHistory(trainerState: i.trainerState)
        let baseModel = settings.baseModel ?? (isHubID(config.model.name) ? config.model.name : nil)
        let datasetIDs = settings.datasets ?? (isHubID(d.name) ? [d.name] : [])
        let slug = PipelinePaths.slug(d.name)
        var train = try datasetFacts(name: slug, hubID: datasetIDs.first, table: i.train, rows: i.trainRows, columns: d.columns,
                                     text: i.trainText)
        train.rows = i.trainRows
        let eval = try i.eval.map {
            // A retrieval eval split may be (anchor, positive) pairs: describe the columns it has.
            try datasetFacts(name: slug, hubID: datasetIDs.first, table: $0, rows: i.evalRows,
                             columns: d.columns.filter($0.columns.contains), text: i.evalText)
        }

        // The evaluator training used (training.eval_task), as sentence-transformers names it.
        let retrieval = t.evalTask == .retrieval
        let metricNames = retrieval ? RetrievalMetrics.names(functions: [.cosine, .dot]) : TripletMetrics.names
        func result(_ dataset: String, _ metrics: [(name: String, value: Double)], duringTraining: Bool) -> EvaluationResult {
            retrieval
                ? EvaluationResult(task: "Information Retrieval", evaluatorClass: "InformationRetrievalEvaluator", dataset: dataset,
                                   metrics: metrics, primary: "cosine_ndcg@10", duringTraining: duringTraining)
                : EvaluationResult(dataset: dataset, metrics: metrics, duringTraining: duringTraining)
        }
        var evaluations: [EvaluationResult] = []
        if let e = history.finalEvaluation(loadBestModelAtEnd: t.loadBestModelAtEnd) {
            let metrics = metricNames.compactMap { n in e.value(n).map { (name: n, value: $0) } }
            if !metrics.isEmpty { evaluations.append(result("\(slug)-\(d.evalSplit)", metrics, duringTraining: true)) }
        }
        var comparison: Comparison? = nil
        let evalDir = i.outputDirectory + "/eval"
        if let finetuned = try freshResult(evalDir + "/finetuned.json", model: i.outputDirectory + "/model.safetensors") {
            let name = "\(slug)-\(d.testSplit)"
            let metrics = metricNames.compactMap { n in finetuned[n]?.double.map { (name: n, value: $0) } }
            evaluations.append(result(name, metrics, duringTraining: false))
            if !retrieval, let base = try FileSystem.readJSONIfPresent(evalDir + "/base.json") {
                let label = "base (\(baseModel ?? PipelinePaths.slug(base["model"]?.string ?? config.model.name)))"
                comparison = Comparison(dataset: name, baseLabel: label,
                                        base: try TripletMetrics(json: base, source: evalDir + "/base.json"),
                                        finetuned: try TripletMetrics(json: finetuned, source: evalDir + "/finetuned.json"))
            }
        }

        // The examples need every column: from the eval split unless it is (anchor, positive) pairs.
        let evalHasAll = i.eval.map { e in d.columns.allSatisfy(e.columns.contains) } ?? false
        let (widget, usage) = try examples(text: evalHasAll ? i.evalText ?? i.trainText : i.trainText, columns: d.columns)
        var similarities: [[Double]]? = nil
        if let dir = i.tokenizerDirectory, let embedder = try? TextEmbedder(model: i.model, tokenizerDirectory: dir),
           let v = try? embedder.embed(usage) {
            similarities = cosineMatrix(v, count: usage.count, dimension: embedder.dimension)
        }
        var card = ModelCard(
            title: settings.modelName ?? (baseModel.map { "SentenceTransformer based on \($0)" } ?? "SentenceTransformer"),
            baseModel: baseModel, baseModelSource: config.model.name, datasetIDs: datasetIDs, language: settings.language,
            license: settings.license, architecture: architecture(i.model), dimension: i.model.dimension,
            maxSeqLength: i.model.maxSeqLength, pooling: i.model.pooling, normalize: i.model.normalize,
            train: train, eval: eval, evaluations: evaluations, comparison: comparison, history: history,
            loadBestModelAtEnd: t.loadBestModelAtEnd, hyperparameters: hyperparameters(config), widget: widget,
            usageTexts: usage, usageSimilarities: similarities, modelReference: modelReference(i),
            curvesFile: FileSystem.isFile(i.outputDirectory + "/" + curvesFileName) ? curvesFileName : nil)
        card.losses = losses(config)
        return card
    }

    /// What the usage snippet loads: the hub id when training pushes the model under a full id,
    /// else the output folder.
    static func modelReference(_ i: Inputs) -> String {
        let t = i.config.training
        return t.pushToHub && t.hubRepositoryID.contains("/") ? t.hubRepositoryID : i.outputDirectory
    }

    /// `owner/name` that is not a local path: what the hub can link to.
    static func isHubID(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !FileSystem.exists(name) else { return false }
        return parts.allSatisfy { p in
            !p.isEmpty && !p.hasPrefix(".") && !p.hasPrefix("-") && p.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
        }
    }

    /// The transformers class sentence-transformers reports for the encoder (`str(model)`).
    static func architecture(_ model: SentenceModel) -> String {
        if model.encoder is NorbertEncoder { return "NorbertModel" }
        switch model.configJSON["model_type"]?.string {
        case "roberta": return "RobertaModel"
        case "xlm-roberta": return "XLMRobertaModel"
        case "camembert": return "CamembertModel"
        default: return "BertModel"
        }
    }

    /// Size, token statistics over the first 100 rows (the tokens as trained on: special tokens
    /// included, truncated) and the first three rows' texts.
    static func datasetFacts(name: String, hubID: String?, table: any TokenTable, rows: Int, columns: [String],
                             text: String?) throws -> DatasetFacts {
        let n = min(rows, table.rows, 100)
        let stats = columns.map { c -> (min: Int, mean: Double, max: Int) in
            let counts = (0..<n).map { table.ids(column: c, row: $0).count }
            return (counts.min() ?? 0, Double(counts.reduce(0, +)) / Double(max(n, 1)), counts.max() ?? 0)
        }
        var samples: [[String]] = []
        if let text, FileSystem.isFile(text) {
            let reader = try JSONLReader(path: text)
            while samples.count < min(3, rows), let row = try reader.nextRow(columns: columns) { samples.append(row) }
        }
        return DatasetFacts(name: name, hubID: hubID, rows: rows, columns: columns, tokenStats: n > 0 ? stats : [],
                            statsRows: n, samples: samples)
    }

    /// An `evaluate` result file, when it was written after the model it scores (an older one is
    /// the previous model's).
    static func freshResult(_ path: String, model: String) throws -> JSON? {
        guard let json = try FileSystem.readJSONIfPresent(path) else { return nil }
        let fm = FileManager.default
        guard let written = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
              let saved = (try? fm.attributesOfItem(atPath: model))?[.modificationDate] as? Date,
              written >= saved else { return nil }
        return json
    }

    /// The hub widget's entries and the usage example, as sentence-transformers picks them: the
    /// five shortest of the first 1,000 rows are the sources, each with its own texts plus the
    /// positive of the next shortest unused row; the usage example is the last entry's first three
    /// texts. (Deterministic here: no sampling, no shuffle.) Without text, its default sentences.
    static func examples(text: String?, columns: [String]) throws -> (widget: [(source: String, sentences: [String])], usage: [String]) {
        let fallback = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
        guard let text, FileSystem.isFile(text) else { return ([], fallback) }
        let reader = try JSONLReader(path: text)
        var rows: [[String]] = []
        while rows.count < 1000, let row = try reader.nextRow(columns: columns) {
            if !row.contains(where: \.isEmpty) { rows.append(row) }
        }
        let order = rows.indices.sorted { (rows[$0].map(\.count).reduce(0, +), $0) < (rows[$1].map(\.count).reduce(0, +), $1) }
        let sources = Array(order.prefix(5))
        var extras = order.dropFirst(5).makeIterator()
        var widget: [(source: String, sentences: [String])] = []
        var usage = fallback
        for s in sources {
            var texts = rows[s]
            while texts.count < 4, let e = extras.next() { texts.append(rows[e][1]) }
            widget.append((texts[0], Array(texts.dropFirst())))
            usage = Array(texts.prefix(3))
        }
        return (widget, usage)
    }

    static func cosineMatrix(_ v: [Float], count n: Int, dimension c: Int) -> [[Double]] {
        func dot(_ a: Int, _ b: Int) -> Double { (0..<c).reduce(0.0) { $0 + Double(v[a * c + $1]) * Double(v[b * c + $1]) } }
        let norms = (0..<n).map { max(dot($0, $0).squareRoot(), 1e-12) }
        return (0..<n).map { a in (0..<n).map { b in dot(a, b) / (norms[a] * norms[b]) } }
    }

    /// The training arguments sentence-transformers' card lists that `train` has real values for,
    /// in its order, each with `SentenceTransformerTrainingArguments`' default (6.3.0) so the card
    /// can list the non-default ones first.
    static func hyperparameters(_ c: TrainingConfig) -> [(name: String, value: String, defaultValue: String)] {
        let t = c.training
        var kwargs = "None"
        switch t.lrScheduler {
        case .cosineWithRestarts: kwargs = "{'num_cycles': \(Python.str(t.numCycles))}"
        case .polynomial: kwargs = "{'power': \(Python.str(t.lrSchedulerPower)), 'lr_end': \(Python.str(t.lrEnd))}"
        default: break
        }
        func bool(_ b: Bool) -> String { b ? "True" : "False" }
        // transformers 5 reads warmup_steps below 1 as a ratio of the steps (warmup_ratio is None).
        let warmup = t.lrScheduler == .constant || t.warmupRatio == 0 ? "0" : Python.str(t.warmupRatio)
        return [
            ("per_device_train_batch_size", String(t.perDeviceTrainBatchSize), "8"),
            ("num_train_epochs", Python.str(t.numTrainEpochs), "3.0"),
            ("max_steps", String(t.maxSteps), "-1"),
            ("learning_rate", Python.str(t.learningRate), "5e-05"),
            ("lr_scheduler_type", t.lrScheduler.rawValue, "linear"),
            ("lr_scheduler_kwargs", kwargs, "None"),
            ("warmup_steps", warmup, "0"),
            ("weight_decay", Python.str(t.weightDecay), "0.0"),
            // AdamW's constants (NN.AdamW), as torch.optim.AdamW's defaults.
            ("adam_beta1", "0.9", "0.9"),
            ("adam_beta2", "0.999", "0.999"),
            ("adam_epsilon", "1e-08", "1e-08"),
            ("gradient_accumulation_steps", String(t.gradientAccumulationSteps), "1"),
            ("max_grad_norm", Python.str(t.maxGradNorm), "1.0"),
            ("bf16", "False", "False"),
            ("fp16", "False", "False"),
            ("per_device_eval_batch_size", String(t.perDeviceEvalBatchSize), "8"),
            ("load_best_model_at_end", bool(t.loadBestModelAtEnd), "False"),
            ("seed", String(t.seed), "42"),
            ("use_cpu", "True", "False"),
            ("dataloader_drop_last", "False", "False"),
            ("resume_from_checkpoint", t.resumeFromCheckpoint ?? "None", "None"),
            ("batch_sampler", t.batchSampler.rawValue, "batch_sampler"),
        ] + (c.datasets == nil ? [] : [("multi_dataset_batch_sampler", t.multiDatasetSampler.rawValue, "proportional")]) + [
            ("warmup_ratio", "None", "None"),
        ]
    }
}
