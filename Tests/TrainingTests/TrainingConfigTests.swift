import Foundation
import IO
import Inference
import NN
import TestSupport
import Testing
import Training

/// `configs/training_config.yaml` and its typed form: defaults, every key, overrides, and the
/// error for each kind of mistake.
@Suite struct TrainingConfigTests {
    static let configPath = TestPaths.packageRoot + "/configs/training_config.yaml"

    /// The keys the issue lists, plus the scheduler's own parameters: the file must have exactly these.
    static let issueKeys: [String: [String]] = [
        "model": ["name", "max_seq_length"],
        "dataset": ["name", "train_split", "eval_split", "test_split", "anchor_column", "positive_column",
                    "negative_column", "max_train_samples", "max_eval_samples"],
        "training": ["output_dir", "per_device_train_batch_size", "per_device_eval_batch_size", "num_train_epochs",
                     "max_steps", "learning_rate", "warmup_ratio", "weight_decay", "max_grad_norm", "lr_scheduler",
                     "num_cycles", "lr_scheduler_power", "lr_end", "gradient_accumulation_steps", "eval_steps",
                     "save_steps", "save_total_limit", "load_best_model_at_end", "eval_task", "metric_for_best_model",
                     "logging_steps", "logging_dir", "seed", "resume_from_checkpoint", "bf16",
                     "push_to_hub", "hub_model_id", "hub_private_repo", "loss", "mini_batch_size",
                     "matryoshka_dims", "matryoshka_weights", "multi_dataset_sampler", "batch_sampler"],
        "model_card": ["model_name", "language", "license", "base_model", "datasets"],
        "mining": ["enabled", "model", "num_negatives", "range_min", "range_max", "max_score", "min_score",
                   "absolute_margin", "relative_margin", "sampling_strategy"],
    ]

    static func parse(_ yaml: String, overrides: [String] = []) throws -> TrainingConfig {
        try TrainingConfig.parse(yaml: yaml, path: "c.yaml", overrides: overrides)
    }

    /// The error message of parsing `yaml` (a recorded issue if it parses).
    static func error(_ yaml: String, overrides: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do {
            let c = try parse(yaml, overrides: overrides)
            Issue.record("expected an error, got \(c)", sourceLocation: sourceLocation)
            return ""
        } catch {
            return "\(error)"
        }
    }

    // MARK: The committed file

    @Test func committedConfigHoldsTheDefaults() throws {
        let config = try TrainingConfig.load(path: Self.configPath)
        #expect(config == TrainingConfig.defaults)
        let d = TrainingConfig.defaults
        #expect(d.model.name == "ltg/norbert3-base" && d.model.maxSeqLength == 128)
        #expect(d.dataset.name == "Fremtind/all-nli-norwegian")
        #expect([d.dataset.trainSplit, d.dataset.evalSplit, d.dataset.testSplit] == ["train", "dev", "test"])
        #expect(d.dataset.columns == ["anchor", "positive", "negative"])
        #expect(d.dataset.maxTrainSamples == nil && d.dataset.maxEvalSamples == nil)
        let t = d.training
        #expect(t.outputDir == "models/norbert3-base-nli-norwegian")
        #expect(t.perDeviceTrainBatchSize == 16 && t.perDeviceEvalBatchSize == 64)
        #expect(t.numTrainEpochs == 1 && t.maxSteps == -1)
        #expect(t.learningRate == 2e-5 && t.warmupRatio == 0.1 && t.weightDecay == 0.01 && t.maxGradNorm == 1.0)
        #expect(t.lrScheduler == .linear && t.gradientAccumulationSteps == 1)
        #expect(t.evalSteps == 500 && t.saveSteps == 500 && t.saveTotalLimit == 3 && t.loadBestModelAtEnd)
        #expect(t.metricForBestModel == "cosine_accuracy" && t.loggingSteps == 100)
        #expect(t.loggingDir == "models/norbert3-base-nli-norwegian/logs")
        #expect(t.seed == 42 && t.resumeFromCheckpoint == nil && t.evalTask == .triplet && !t.bf16)
        #expect(d.mining == TrainingConfig.Mining(enabled: false, model: nil, numNegatives: 1, rangeMin: 0, samplingStrategy: "top"))
    }

    @Test func committedConfigHasExactlyTheIssuesKeys() throws {
        let root = try #require(try YAML.load(path: Self.configPath))
        let sections = try #require(root.entries)
        #expect(sections.compactMap(\.key.scalarText) == ["model", "dataset", "training", "model_card", "mining"])
        for entry in sections {
            let name = entry.key.scalarText ?? ""
            #expect(entry.value.entries?.compactMap(\.key.scalarText) == Self.issueKeys[name], "section \(name)")
        }
    }

    /// Each key line has a comment above it (keys of one group, like the three splits, share one).
    @Test func committedConfigDocumentsEveryKey() throws {
        let lines = try String(contentsOfFile: Self.configPath, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        func isKey(_ l: Substring) -> Bool {
            l.hasPrefix("  ") && !l.trimmingCharacters(in: .whitespaces).hasPrefix("#") && l.contains(":")
        }
        var documented = 0
        for (i, line) in lines.enumerated() where isKey(line) {
            var j = i - 1
            while j >= 0, isKey(lines[j]) { j -= 1 }
            let above = j >= 0 ? lines[j].trimmingCharacters(in: .whitespaces) : ""
            #expect(above.hasPrefix("#"), "line \(i + 1) '\(line)' has no comment above it")
            documented += 1
        }
        #expect(documented == Self.issueKeys.values.map(\.count).reduce(0, +))
    }

    // MARK: Keys and values

    @Test func missingKeysAndEmptySectionsTakeDefaults() throws {
        #expect(try Self.parse("{}") == .defaults)
        #expect(try Self.parse("model:\ndataset:\ntraining:\n") == .defaults)
        #expect(try Self.parse("training:\n  seed: 42\n") == .defaults)
        #expect(Self.error("").contains("c.yaml: the file is empty"))
    }

    static let everyKeyChanged = """
        model:
          name: ltg/norbert3-xs
          max_seq_length: 64
        dataset:
          name: data/nb-nn
          train_split: tr
          eval_split: ev
          test_split: te
          anchor_column: a
          positive_column: p
          negative_column: n
          max_train_samples: 1000
          max_eval_samples: 200
        training:
          output_dir: out/run
          per_device_train_batch_size: 8
          per_device_eval_batch_size: 32
          num_train_epochs: 2.5
          max_steps: 1e4
          learning_rate: 5e-5
          warmup_ratio: 0.06
          weight_decay: 0
          max_grad_norm: 0.5
          lr_scheduler: polynomial
          num_cycles: 2.5
          lr_scheduler_power: 0.5
          lr_end: 5.0e-06
          gradient_accumulation_steps: 4
          eval_steps: 100
          save_steps: 200
          save_total_limit: null
          load_best_model_at_end: no
          eval_task: retrieval
          metric_for_best_model: eval_loss
          logging_steps: 10
          logging_dir: logs/here
          seed: 7
          resume_from_checkpoint: out/run/checkpoint-200
          bf16: true
          push_to_hub: true
          hub_model_id: my-org/nb-model
          hub_private_repo: true
          loss: cached_mnrl
          mini_batch_size: 8
          matryoshka_dims: [64, 384, 128]
          matryoshka_weights: [1, 2, 0.5]
          multi_dataset_sampler: round_robin
          batch_sampler: batch_sampler
        model_card:
          model_name: NorBERT3 fine-tuned
          language: [nb, nn]
          license: mit
          base_model: ltg/norbert3-xs
          datasets: [org/nb-nn]
        mining:
          enabled: true
          model: models/miner
          num_negatives: 2
          range_min: 3
          range_max: 40
          max_score: 0.9
          min_score: 0.1
          absolute_margin: 0.02
          relative_margin: 0.05
          sampling_strategy: random
        """

    static let everyKeyExpected: TrainingConfig = {
        var c = TrainingConfig(
            model: .init(name: "ltg/norbert3-xs", maxSeqLength: 64),
            dataset: .init(name: "data/nb-nn", trainSplit: "tr", evalSplit: "ev", testSplit: "te", anchorColumn: "a",
                           positiveColumn: "p", negativeColumn: "n", maxTrainSamples: 1000, maxEvalSamples: 200),
            training: .init(outputDir: "out/run", perDeviceTrainBatchSize: 8, perDeviceEvalBatchSize: 32, numTrainEpochs: 2.5,
                            maxSteps: 10000, learningRate: 5e-5, warmupRatio: 0.06, weightDecay: 0, maxGradNorm: 0.5,
                            lrScheduler: .polynomial, numCycles: 2.5, lrSchedulerPower: 0.5, lrEnd: 5e-6,
                            gradientAccumulationSteps: 4, evalSteps: 100, saveSteps: 200, saveTotalLimit: nil,
                            loadBestModelAtEnd: false, metricForBestModel: "loss", loggingSteps: 10, loggingDir: "logs/here",
                            seed: 7, resumeFromCheckpoint: "out/run/checkpoint-200", evalTask: .retrieval,
                            loss: .cachedMNRL, miniBatchSize: 8, matryoshkaDims: [64, 384, 128], matryoshkaWeights: [1, 2, 0.5],
                            multiDatasetSampler: .roundRobin, batchSampler: .batchSampler),
            modelCard: .init(modelName: "NorBERT3 fine-tuned", language: ["nb", "nn"], license: "mit", baseModel: "ltg/norbert3-xs",
                             datasets: ["org/nb-nn"]),
            mining: .init(enabled: true, model: "models/miner", numNegatives: 2, rangeMin: 3, rangeMax: 40, maxScore: 0.9,
                          minScore: 0.1, absoluteMargin: 0.02, relativeMargin: 0.05, samplingStrategy: "random"))
        c.training.bf16 = true
        c.training.pushToHub = true
        c.training.hubModelID = "my-org/nb-model"
        c.training.hubPrivateRepo = true
        return c
    }()

    @Test func everyKeyReachesItsField() throws {
        let config = try Self.parse(Self.everyKeyChanged)
        #expect(config == Self.everyKeyExpected)
        #expect(config.training.greaterIsBetter == false)
        #expect(config.training.effectiveBatchSize == 32)
    }

    /// The same values given as `--set` overrides over an empty file give the same config.
    @Test func everyKeyCanBeOverridden() throws {
        var overrides: [String] = []
        var section = ""
        for line in Self.everyKeyChanged.split(separator: "\n") {
            if !line.hasPrefix(" ") {
                section = String(line.dropLast())
                continue
            }
            let parts = line.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1)
            overrides.append("\(section).\(parts[0])=\(parts[1].trimmingCharacters(in: .whitespaces))")
        }
        #expect(overrides.count == Self.issueKeys.values.map(\.count).reduce(0, +))
        #expect(try Self.parse("{}", overrides: overrides) == Self.everyKeyExpected)
    }

    @Test func schedulersAndMetricSpellings() throws {
        for kind in LRSchedulerKind.allCases {
            #expect(try Self.parse("training: {lr_scheduler: \(kind.rawValue)}").training.lrScheduler == kind)
        }
        #expect(try Self.parse("training: {metric_for_best_model: eval_cosine_accuracy}").training.metricForBestModel == "cosine_accuracy")
        #expect(try Self.parse("training: {metric_for_best_model: loss}").training.greaterIsBetter == false)
        #expect(TrainingConfig.defaults.training.greaterIsBetter)
        // Without a metric, the eval task's own; retrieval metrics by their sentence-transformers names.
        #expect(try Self.parse("training: {eval_task: retrieval}").training.metricForBestModel == "cosine_ndcg@10")
        #expect(try Self.parse("training: {metric_for_best_model: eval_dot_mrr@10, eval_task: retrieval}").training.metricForBestModel == "dot_mrr@10")
        #expect(try Self.parse("training: {eval_task: retrieval, metric_for_best_model: loss}").training.greaterIsBetter == false)
        #expect(TrainingConfig.bestModelMetrics(for: .retrieval).count == 31)
    }

    @Test func numbersInEveryYAMLSpelling() throws {
        for text in ["2e-5", "2.0e-5", "2.0E-05", "0.00002", "'2e-5'"] {
            let yaml = "training: {learning_rate: \(text)}"
            if text.hasPrefix("'") {
                #expect(Self.error(yaml).contains("must be a number, not the string '2e-5' (remove the quotes)"))
            } else {
                #expect(try Self.parse(yaml).training.learningRate == 2e-5, "\(text)")
            }
        }
        #expect(try Self.parse("training: {num_train_epochs: 3}").training.numTrainEpochs == 3)
        #expect(try Self.parse("training: {max_steps: 1_000}").training.maxSteps == 1000)
        #expect(try Self.parse("training: {load_best_model_at_end: off}").training.loadBestModelAtEnd == false)
    }

    @Test func pushToHubKeys() throws {
        let d = TrainingConfig.defaults.training
        #expect(!d.pushToHub && d.hubModelID == nil && d.hubPrivateRepo == nil)
        #expect(d.hubRepositoryID == "norbert3-base-nli-norwegian")
        let c = try Self.parse("training: {push_to_hub: true, hub_model_id: my-org/nb, hub_private_repo: false}")
        #expect(c.training.pushToHub && c.training.hubRepositoryID == "my-org/nb" && c.training.hubPrivateRepo == false)
        #expect(c.summary().contains("Push to hub:") && c.summary().contains("my-org/nb (public), after training"))
        #expect(!TrainingConfig.defaults.summary().contains("Push to hub"))
        #expect(Self.error("training: {hub_model_id: a/b/c}").contains("c.yaml:1:26: training.hub_model_id must be a repository id"))
        #expect(Self.error("training: {push_to_hub: maybe}").contains("training.push_to_hub must be true or false"))
        #expect(Self.error("advanced: {push_to_hub: true}").contains("push_to_hub, hub_model_id, hub_private_repo and resume_from_checkpoint live under training"))
    }

    @Test func loggingDirFollowsOutputDirUnlessGiven() throws {
        #expect(try Self.parse("training: {output_dir: a/b/}").training.loggingDir == "a/b/logs")
        #expect(try Self.parse("{}", overrides: ["training.output_dir=x"]).training.loggingDir == "x/logs")
        #expect(try Self.parse("training: {logging_dir: l, output_dir: x}").training.loggingDir == "l")
        #expect(try Self.parse("training: {logging_dir: ~}").training.loggingDir == "models/norbert3-base-nli-norwegian/logs")
    }

    // MARK: Unknown keys

    @Test func unknownKeysNameThemselvesAndTheClosestKey() {
        let yaml = """
            model:
              name: x
            training:
              lerning_rate: 1e-5
              warmup: 0.1
            """
        let message = Self.error(yaml)
        #expect(message.contains("c.yaml:4:3: unknown key 'training.lerning_rate' (did you mean 'learning_rate'?)"))
        #expect(message.contains("c.yaml:5:3: unknown key 'training.warmup' (did you mean 'warmup_ratio'?)"))
        #expect(Self.error("modle:\n  name: x\n") == "c.yaml:1:1: unknown key 'modle' (did you mean 'model'?)")
        #expect(Self.error("training:\n  max_seq_length: 64\n").contains("c.yaml:2:3: unknown key 'training.max_seq_length' (did you mean 'model.max_seq_length'?)"))
        #expect(Self.error("learning_rate: 1e-5\n").contains("(did you mean 'training.learning_rate'?)"))
        let far = Self.error("training:\n  zzzzzzzz: 1\n")
        #expect(far.contains("unknown key 'training.zzzzzzzz' (valid keys under 'training': output_dir, "))
    }

    /// The model card's settings: a list or a single string; an unquoted `no` (YAML's false) is
    /// caught with the hint to quote it.
    @Test func modelCardSection() throws {
        let c = try Self.parse("model_card:\n  language: nb\n  datasets: [a/b]\n  license: mit\n")
        #expect(c.modelCard == TrainingConfig.ModelCardSettings(language: ["nb"], license: "mit", datasets: ["a/b"]))
        #expect(TrainingConfig.defaults.modelCard.language == ["no"] && TrainingConfig.defaults.modelCard.baseModel == nil)
        #expect(Self.error("model_card:\n  language: [nb, no]\n")
                == #"c.yaml:2:18: model_card.language must be a string, not the boolean false (quote it if you mean the text: "no")"#)
        #expect(Self.error("model_card:\n  language: ['']\n") == "c.yaml:2:13: model_card.language must not hold an empty code")
    }

    /// The seed project's config has sections and keys this project does not use; each gets a reason.
    @Test func seedOnlyKeysSayWhy() throws {
        let yaml = """
            training:
              loss_function: "MultipleNegativesRankingLoss"
              fp16: false
              bf16: true
              eval_strategy: "steps"
            evaluation:
              metric_for_best_model: "eval_cosine_accuracy"
            lr_scheduler:
              type: "cosine_with_restarts"
            """
        let message = Self.error(yaml)
        #expect(message.contains("c.yaml:2:3: unknown key 'training.loss_function' (the seed project's setting, not used here: the loss is training.loss: mnrl, cached_mnrl or cosent"))
        #expect(message.contains("c.yaml:3:3: unknown key 'training.fp16' (the seed project's setting, not used here: training runs in float32 on the CPU (training.bf16 gives bf16"))
        #expect(!message.contains("training.bf16'"), "bf16 is a key of this project")
        #expect(message.contains("c.yaml:6:1: unknown key 'evaluation'"))
        #expect(message.contains("c.yaml:8:1: unknown key 'lr_scheduler' (the seed project's setting, not used here: the scheduler keys live under training"))
        #expect(message.split(separator: "\n").count == 5)
        #expect(try Self.parse("training:\n  bf16: true\n").training.bf16)
        #expect(try !Self.parse("{}").training.bf16)
        #expect(Self.error("training:\n  bf16: 2\n").contains("c.yaml:2:9: training.bf16"))
    }

    // MARK: Wrong types and values

    @Test(arguments: [
        ("model:\n  max_seq_length: long\n", "c.yaml:2:19: model.max_seq_length must be an integer, not the string 'long'"),
        ("model:\n  max_seq_length: 12.5\n", "c.yaml:2:19: model.max_seq_length must be an integer, not the number 12.5"),
        ("model:\n  name: yes\n", #"c.yaml:2:9: model.name must be a string, not the boolean true (quote it if you mean the text: "yes")"#),
        ("model:\n  name: null\n", "c.yaml:2:9: model.name must be a string, not null"),
        ("model:\n  name: [a]\n", "c.yaml:2:9: model.name must be a string, not a sequence"),
        ("model: 3\n", "c.yaml:1:8: 'model' must be a mapping of keys, not the integer 3"),
        ("- a\n", "c.yaml:1:1: the config must be a mapping with the sections model, dataset, training, model_card, mining, datasets, not a sequence"),
        ("training:\n  learning_rate: fast\n", "c.yaml:2:18: training.learning_rate must be a number, not the string 'fast'"),
        ("training:\n  learning_rate: .inf\n", "c.yaml:2:18: training.learning_rate must be a finite number"),
        ("training:\n  load_best_model_at_end: 1\n", "c.yaml:2:27: training.load_best_model_at_end must be true or false, not the integer 1"),
        ("training:\n  load_best_model_at_end: 'true'\n", "c.yaml:2:27: training.load_best_model_at_end must be true or false, not the string 'true' (remove the quotes)"),
        ("training:\n  save_total_limit: all\n", "c.yaml:2:21: training.save_total_limit must be an integer, not the string 'all'"),
        ("training:\n  per_device_train_batch_size: -16\n", "c.yaml:2:32: training.per_device_train_batch_size must be at least 1, got -16"),
        ("training:\n  per_device_eval_batch_size: 0\n", "c.yaml:2:31: training.per_device_eval_batch_size must be at least 1, got 0"),
        ("training:\n  warmup_ratio: 1.5\n", "c.yaml:2:17: training.warmup_ratio must be between 0 and 1, got 1.5"),
        ("training:\n  warmup_ratio: -0.1\n", "c.yaml:2:17: training.warmup_ratio must be between 0 and 1, got -0.1"),
        ("training:\n  lr_scheduler: cosine_restarts\n", "c.yaml:2:17: training.lr_scheduler: unknown scheduler 'cosine_restarts' (did you mean 'cosine_with_restarts'?); valid: linear, cosine, cosine_with_restarts, polynomial, constant, constant_with_warmup"),
        ("training:\n  lr_scheduler: onecycle\n", "c.yaml:2:17: training.lr_scheduler: unknown scheduler 'onecycle'; valid: linear, cosine, cosine_with_restarts, polynomial, constant, constant_with_warmup"),
        ("training:\n  max_steps: 0\n", "c.yaml:2:14: training.max_steps must be -1 (train for num_train_epochs) or a positive number of steps, got 0"),
        ("training:\n  num_train_epochs: 0\n", "c.yaml:2:21: training.num_train_epochs must be greater than 0, got 0"),
        ("training:\n  learning_rate: 0\n", "c.yaml:2:18: training.learning_rate must be greater than 0, got 0.0"),
        ("training:\n  weight_decay: -0.01\n", "c.yaml:2:17: training.weight_decay must not be negative, got -0.01"),
        ("training:\n  max_grad_norm: -1\n", "c.yaml:2:18: training.max_grad_norm must not be negative (0 turns clipping off), got -1.0"),
        ("training:\n  num_cycles: 0\n", "c.yaml:2:15: training.num_cycles must be greater than 0, got 0.0"),
        ("training:\n  lr_scheduler_power: 0\n", "c.yaml:2:23: training.lr_scheduler_power must be greater than 0, got 0.0"),
        ("training:\n  lr_scheduler: polynomial\n  lr_end: 1e-4\n", "c.yaml:3:11: training.lr_end (0.0001) must be smaller than training.learning_rate (2e-05) for the polynomial schedule"),
        ("training:\n  gradient_accumulation_steps: 0\n", "c.yaml:2:32: training.gradient_accumulation_steps must be at least 1, got 0"),
        ("training:\n  save_steps: 300\n", "c.yaml:2:15: training.save_steps (300) must be a multiple of training.eval_steps (500) when load_best_model_at_end is true"),
        ("training:\n  save_total_limit: 0\n", "c.yaml:2:21: training.save_total_limit must be at least 1 (or null to keep every checkpoint), got 0"),
        ("training:\n  metric_for_best_model: eval_f1\n", "c.yaml:2:26: training.metric_for_best_model: unknown metric 'eval_f1'; valid: cosine_accuracy, loss"),
        ("training:\n  eval_task: search\n", "c.yaml:2:14: training.eval_task: unknown task 'search'; valid: triplet, retrieval"),
        ("training:\n  eval_task: retrieval\n  metric_for_best_model: cosine_accuracy\n", "c.yaml:3:26: training.metric_for_best_model: unknown metric 'cosine_accuracy'; valid: cosine_ndcg@10, cosine_accuracy@1"),
        ("training:\n  metric_for_best_model: cosine_ndcg@10\n", "c.yaml:2:26: training.metric_for_best_model: unknown metric 'cosine_ndcg@10'; valid: cosine_accuracy, loss (for eval_task triplet"),
        ("mining:\n  num_negatives: 0\n", "c.yaml:2:18: mining.num_negatives must be at least 1, got 0"),
        ("mining:\n  range_min: -1\n", "c.yaml:2:14: mining.range_min must not be negative, got -1"),
        ("mining:\n  range_min: 5\n  range_max: 5\n", "c.yaml:3:14: mining.range_max must be greater than mining.range_min (5), got 5"),
        ("mining:\n  sampling_strategy: best\n", "c.yaml:2:22: mining.sampling_strategy: unknown strategy 'best'; valid: top, random"),
        ("mining:\n  enabled: 1\n", "c.yaml:2:12: mining.enabled must be true or false, not the integer 1"),
        ("training:\n  seed: -1\n", "c.yaml:2:9: training.seed must be a non-negative integer, got -1"),
        ("training:\n  logging_steps: 0\n", "c.yaml:2:18: training.logging_steps must be at least 1, got 0"),
        ("training:\n  output_dir: ''\n", "c.yaml:2:15: training.output_dir must not be empty"),
        ("dataset:\n  max_train_samples: 0\n", "c.yaml:2:22: dataset.max_train_samples must be at least 1 (or null for the whole split), got 0"),
        ("dataset:\n  negative_column: anchor\n", "c.yaml:2:20: dataset.negative_column anchor, positive and negative columns must be three different columns, got anchor, positive, anchor"),
    ])
    func wrongTypeOrValueNamesKeyAndPosition(_ yaml: String, _ expected: String) {
        let message = Self.error(yaml)
        #expect(message.hasPrefix(expected), "got: \(message)")
    }

    @Test func everyProblemIsReportedAtOnce() {
        let message = Self.error("""
            model:
              max_seq_length: x
            training:
              warmup_ratio: 2
              bogus: 1
            """)
        let lines = message.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.contains { $0.hasPrefix("c.yaml:2:19: model.max_seq_length") })
        #expect(lines.contains { $0.hasPrefix("c.yaml:4:17: training.warmup_ratio") })
        #expect(lines.contains { $0.hasPrefix("c.yaml:5:3: unknown key 'training.bogus'") })
    }

    @Test func syntaxAndDuplicateErrorsComeFromTheYAMLReader() {
        #expect(Self.error("training:\n  seed: 1\n  seed: 2\n") == "c.yaml:3:3: duplicate key 'seed' (first given at line 2, column 3)")
        #expect(Self.error("training: {seed: 1\n").hasPrefix("c.yaml:2:1: YAML syntax error:"))
    }

    // MARK: Overrides

    @Test func overridesApplyInOrderAndParseAsYAML() throws {
        let c = try Self.parse("training:\n  seed: 1\n", overrides: [
            "training.seed=2", "training.seed = 3", "training.learning_rate=1e-5", "dataset.max_train_samples=null",
            "training.resume_from_checkpoint='out/checkpoint 7'", "training={eval_steps: 250, save_steps: 750}",
            "model.name=  spaced/name  ",
        ])
        #expect(c.training.seed == 3)
        #expect(c.training.learningRate == 1e-5)
        #expect(c.dataset.maxTrainSamples == nil)
        #expect(c.training.resumeFromCheckpoint == "out/checkpoint 7")
        #expect(c.training.evalSteps == 250 && c.training.saveSteps == 750)
        #expect(c.model.name == "spaced/name")
        #expect(try Self.parse("{}", overrides: ["training.logging_dir="]).training.loggingDir.hasSuffix("/logs"))
    }

    @Test func badOverridesNameTheOverride() {
        #expect(Self.error("{}", overrides: ["training.lerning_rate=1e-5"])
            == "--set training.lerning_rate=1e-5: unknown key 'training.lerning_rate' (did you mean 'training.learning_rate'?)")
        #expect(Self.error("{}", overrides: ["learning_rate=1e-5"]).contains("(did you mean 'training.learning_rate'?)"))
        #expect(Self.error("{}", overrides: ["dataset.seed=1"]).contains("(did you mean 'training.seed'?)"))
        #expect(Self.error("{}", overrides: ["training.seed"]) == "--set training.seed: expected KEY=VALUE, e.g. training.learning_rate=1e-5")
        #expect(Self.error("{}", overrides: ["training.seed=[1"]).hasPrefix("--set training.seed=[1: the value is not valid YAML:"))
        #expect(Self.error("{}", overrides: ["training.warmup_ratio=2"])
            == "--set training.warmup_ratio=2: training.warmup_ratio must be between 0 and 1, got 2.0")
        #expect(Self.error("{}", overrides: ["training.per_device_train_batch_size=big"])
            == "--set training.per_device_train_batch_size=big: training.per_device_train_batch_size must be an integer, not the string 'big'")
        #expect(Self.error("{}", overrides: ["a.b.c=1"]).hasPrefix("--set a.b.c=1: unknown key 'a.b.c'"))
    }

    // MARK: Summary

    @Test func summaryShowsTheKeyParameters() throws {
        let s = TrainingConfig.defaults.summary()
        for piece in ["Model:", "ltg/norbert3-base (max_seq_length 128)", "Fremtind/all-nli-norwegian", "train 'train' (all)",
                      "Output:", "models/norbert3-base-nli-norwegian", "1 epoch", "16 train", "64 eval", "2e-05",
                      "linear decay to 0", "warmup 10% of the steps", "weight_decay 0.01", "every 500 steps",
                      "keep the last 3", "cosine_accuracy", "Seed:", "42"] {
            #expect(s.contains(piece), "summary lacks '\(piece)':\n\(s)")
        }
        let c = try Self.parse(Self.everyKeyChanged).summary()
        for piece in ["10000 steps (max_steps", "first 1000", "polynomial decay (power 0.5) to 5e-06", "8 train × 4 accumulation = 32",
                      "keep all", "loss (lower is better)", "Resume from:", "out/run/checkpoint-200", "logs/here",
                      "retrieval on the pairs", "Mining:", "with models/miner", "--num-negatives 2 --range-min 3 --sampling-strategy random --seed 7 --range-max 40"] {
            #expect(c.contains(piece), "summary lacks '\(piece)':\n\(c)")
        }
    }

    @Test func loadNamesAMissingFile() {
        do {
            _ = try TrainingConfig.load(path: "/nonexistent/config.yaml")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".hasPrefix("/nonexistent/config.yaml: cannot open"))
        }
    }
}
