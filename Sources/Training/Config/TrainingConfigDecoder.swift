import IO
import Inference
import NN

/// Turns a YAML tree plus command-line overrides into a validated `TrainingConfig`. It remembers
/// where each value came from (a file position or an override) so that a value rejected by
/// validation is reported at its origin, and it collects every problem (unknown keys, wrong types,
/// invalid values, bad overrides) before failing, so one run lists all the mistakes. A value that
/// fails to decode keeps its default, so validation still sees a consistent config.
struct TrainingConfigDecoder {
    /// The sections and their keys, in the order the config file documents them.
    static let schema: [(section: String, keys: [String])] = [
        ("model", ["name", "max_seq_length"]),
        ("dataset", ["name", "train_split", "eval_split", "test_split", "anchor_column", "positive_column",
                     "negative_column", "max_train_samples", "max_eval_samples"]),
        ("training", ["output_dir", "per_device_train_batch_size", "per_device_eval_batch_size", "num_train_epochs",
                      "max_steps", "learning_rate", "warmup_ratio", "weight_decay", "max_grad_norm", "lr_scheduler",
                      "num_cycles", "lr_scheduler_power", "lr_end", "gradient_accumulation_steps", "eval_steps",
                      "save_steps", "save_total_limit", "load_best_model_at_end", "eval_task", "metric_for_best_model",
                      "logging_steps", "logging_dir", "seed", "resume_from_checkpoint", "bf16",
                      "push_to_hub", "hub_model_id", "hub_private_repo", "loss", "mini_batch_size",
                      "matryoshka_dims", "matryoshka_weights", "multi_dataset_sampler", "batch_sampler"]),
        ("model_card", ["model_name", "language", "license", "base_model", "datasets"]),
        ("mining", ["enabled", "model", "num_negatives", "range_min", "range_max", "max_score", "min_score",
                    "absolute_margin", "relative_margin", "sampling_strategy"]),
    ]

    /// The keys of each entry of the `datasets:` list (a section of its own, a sequence of mappings).
    static let datasetEntryKeys = ["name", "train_split", "eval_split", "test_split", "columns", "score_column",
                                   "max_train_samples", "max_eval_samples", "loss"]

    static var sections: [String] { schema.map(\.section) + ["datasets"] }

    static func keys(of section: String) -> [String] { schema.first { $0.section == section }?.keys ?? [] }

    /// Keys of the seed project's config that this project does not have, and why; an unknown-key
    /// error for one of them says this instead of a far-fetched spelling suggestion.
    static let seedKeyNotes: [String: String] = [
        "training.loss_function": "the loss is training.loss: mnrl, cached_mnrl or cosent (and a datasets: entry's loss)",
        "training.eval_strategy": "evaluation always happens every training.eval_steps steps",
        "training.save_strategy": "checkpoints are always saved every training.save_steps steps",
        "training.fp16": "training runs in float32 on the CPU (training.bf16 gives bf16 matrix products)",
        "training.dataloader_num_workers": "the trainer reads pre-tokenized batches; there are no loader workers to set",
        "evaluation": "use training.metric_for_best_model (greater_is_better follows from the metric) and training.per_device_eval_batch_size",
        "lr_scheduler": "the scheduler keys live under training: lr_scheduler (the seed's lr_scheduler.type), num_cycles, lr_scheduler_power (the seed's power) and lr_end",
        "experiment_tracking": "MLflow, TensorBoard and report_to are not supported; metrics are logged under training.logging_dir",
        "advanced": "push_to_hub, hub_model_id, hub_private_repo and resume_from_checkpoint live under training",
        "compute": "training always runs on the CPU",
    ]

    let path: String
    var config = TrainingConfig.defaults
    /// Where each `section.key` got its value; absent for defaults.
    var origins: [String: YAMLMark] = [:]
    /// When each key was last set (a counter), to blame the later of two conflicting keys.
    var setOrder: [String: Int] = [:]
    var setCount = 0
    /// `training.logging_dir` as given (nil: derive from output_dir at the end).
    var loggingDir: String?
    /// `training.metric_for_best_model` as given, without `eval_` (nil: the eval task's default);
    /// checked against the task at the end, since the task may come later in the file.
    var metricForBestModel: (metric: String, given: String)?
    /// Where the `dataset:` section and the `datasets:` list were given (they exclude each other).
    var datasetMark: YAMLMark?
    var datasetsMark: YAMLMark?
    var problems: [String] = []

    init(path: String) { self.path = path }

    // MARK: - Walking the tree

    mutating func apply(document root: YAMLNode) throws {
        guard let entries = root.entries else {
            if (try? root.resolved()) == .null { return }
            throw EmbedError("\(root.mark): the config must be a mapping with the sections \(Self.sections.joined(separator: ", ")), not \(root.summary)")
        }
        for entry in entries {
            let section = entry.key.scalarText ?? ""
            guard Self.sections.contains(section) else {
                problems.append("\(entry.key.mark): \(unknownKeyMessage(section: nil, key: section))")
                continue
            }
            if section == "datasets" { applyDatasets(entry.value) } else { applySection(section, entry.value) }
            if section == "dataset" { datasetMark = entry.key.mark }
        }
    }

    /// `datasets:` — a list of mappings, each a training dataset with its own columns and loss.
    mutating func applyDatasets(_ node: YAMLNode) {
        datasetsMark = node.mark
        if node.scalarText != nil, (try? node.resolved()) == .null {
            config.datasets = nil
            return
        }
        guard let items = node.items, !items.isEmpty else {
            problems.append("\(node.mark): 'datasets' must be a non-empty list of datasets (each a mapping with name, train_split, columns, loss, …), not \(node.summary)")
            return
        }
        var list: [TrainingConfig.Dataset] = []
        for (i, item) in items.enumerated() {
            let label = "datasets[\(i)]"
            guard let entries = item.entries else {
                problems.append("\(item.mark): \(label) must be a mapping of keys (name, train_split, columns, …), not \(item.summary)")
                continue
            }
            var d = TrainingConfig.defaults.dataset
            d.textColumns = d.columns
            var named = false
            for entry in entries {
                let key = entry.key.scalarText ?? ""
                guard Self.datasetEntryKeys.contains(key) else {
                    var message = "\(entry.key.mark): unknown key '\(label).\(key)'"
                    if let best = EditDistance.closest(to: key, among: Self.datasetEntryKeys),
                       EditDistance.isPlausible(key, best.candidate, distance: best.distance) {
                        message += " (did you mean '\(best.candidate)'?)"
                    } else {
                        message += " (a dataset's keys: \(Self.datasetEntryKeys.joined(separator: ", ")))"
                    }
                    problems.append(message)
                    continue
                }
                let k = "\(label).\(key)", n = entry.value
                do {
                    switch key {
                    case "name": d.name = try string(n, k); named = true
                    case "train_split": d.trainSplit = try string(n, k)
                    case "eval_split": d.evalSplit = try string(n, k)
                    case "test_split": d.testSplit = try string(n, k)
                    case "columns": d.textColumns = try self.list(n, k) { try string($0, k) }
                    case "score_column": d.scoreColumn = try optional(n) { try string(n, k) }
                    case "max_train_samples": d.maxTrainSamples = try optional(n) { try int(n, k) }
                    case "max_eval_samples": d.maxEvalSamples = try optional(n) { try int(n, k) }
                    case "loss": d.loss = try optional(n) { try choice(n, k, TrainingLoss.Kind.self) }
                    default: break
                    }
                } catch let error as EmbedError {
                    problems.append(error.message)
                } catch {
                    problems.append("\(n.mark): \(error)")
                }
                origins[k] = n.mark
            }
            if !named { problems.append("\(item.mark): \(label) needs a name (a hub dataset id or a local folder)") }
            list.append(d)
        }
        config.datasets = list
    }

    mutating func applySection(_ section: String, _ node: YAMLNode) {
        guard let entries = node.entries else {
            // `model:` with every key commented out is an empty (null) section: all defaults.
            if (try? node.resolved()) != .null {
                problems.append("\(node.mark): '\(section)' must be a mapping of keys, not \(node.summary)")
            }
            return
        }
        for entry in entries {
            let key = entry.key.scalarText ?? ""
            guard Self.keys(of: section).contains(key) else {
                problems.append("\(entry.key.mark): \(unknownKeyMessage(section: section, key: key))")
                continue
            }
            do {
                try set(section, key, entry.value)
                origins["\(section).\(key)"] = entry.value.mark
                setCount += 1
                setOrder["\(section).\(key)"] = setCount
            } catch let error as EmbedError {
                problems.append(error.message)
            } catch {
                problems.append("\(entry.value.mark): \(error)")
            }
        }
    }

    /// `section.key=value`, the value parsed as YAML (so `null`, `1e-5`, `true`, `'text'` mean what
    /// they mean in the file). A whole section can be given as a flow mapping: `training={seed: 1}`.
    mutating func apply(override o: ConfigOverride) {
        guard let eq = o.assignment.firstIndex(of: "=") else {
            problems.append("\(o.origin): expected KEY=VALUE, e.g. training.learning_rate=1e-5")
            return
        }
        let keyPath = o.assignment[..<eq].trimmingSpaces
        let valueText = String(o.assignment[o.assignment.index(after: eq)...])
        let mark = YAMLMark(source: o.origin)
        let value: YAMLNode
        do {
            value = try YAML.parse(valueText, source: o.origin)?.remarked(mark)
                ?? YAMLNode(.scalar("", .plain), mark: mark)
        } catch {
            problems.append("\(o.origin): the value is not valid YAML: \(error)")
            return
        }
        let parts = keyPath.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts == ["datasets"] {
            applyDatasets(value)
        } else if parts.count == 1, Self.sections.contains(parts[0]) {
            applySection(parts[0], value)
        } else if parts.count == 2, Self.sections.contains(parts[0]), Self.keys(of: parts[0]).contains(parts[1]) {
            applySection(parts[0], YAMLNode(.mapping([YAMLEntry(key: YAMLNode(.scalar(parts[1], .plain), mark: mark), value: value)]), mark: mark))
        } else {
            problems.append("\(o.origin): \(unknownOverrideMessage(parts))")
        }
    }

    func throwProblems() throws {
        guard !problems.isEmpty else { return }
        throw EmbedError(problems.joined(separator: "\n"))
    }

    // MARK: - Unknown keys

    func unknownKeyMessage(section: String?, key: String) -> String {
        let full = section.map { "\($0).\(key)" } ?? key
        var message = "unknown key '\(full)'"
        if let note = Self.seedKeyNotes[full] {
            return message + " (the seed project's setting, not used here: \(note))"
        }
        // A known key under the wrong section (or at the top level) is best answered with its home.
        if let home = Self.schema.first(where: { $0.keys.contains(key) && $0.section != section }) {
            return message + " (did you mean '\(home.section).\(key)'?)"
        }
        let candidates = section.map { Self.keys(of: $0) } ?? Self.sections
        if let best = EditDistance.closest(to: key, among: candidates),
           EditDistance.isPlausible(key, best.candidate, distance: best.distance) {
            message += " (did you mean '\(best.candidate)'?)"
        } else if let section {
            message += " (valid keys under '\(section)': \(candidates.joined(separator: ", ")))"
        } else {
            message += " (the sections are \(candidates.joined(separator: ", ")))"
        }
        return message
    }

    func unknownOverrideMessage(_ parts: [String]) -> String {
        let full = parts.joined(separator: ".")
        let all = Self.schema.flatMap { s in s.keys.map { "\(s.section).\($0)" } }
        var message = "unknown key '\(full)'"
        if let note = Self.seedKeyNotes[full] { return message + " (\(note))" }
        if let last = parts.last, let home = Self.schema.first(where: { $0.keys.contains(last) }), parts.count != 2 || parts[0] != home.section {
            return message + " (did you mean '\(home.section).\(last)'?)"
        }
        if let best = EditDistance.closest(to: full, among: all),
           EditDistance.isPlausible(full, best.candidate, distance: best.distance) {
            message += " (did you mean '\(best.candidate)'?)"
        } else {
            message += "; keys are written section.key, e.g. training.learning_rate"
        }
        return message
    }

    // MARK: - Typed values

    mutating func set(_ section: String, _ key: String, _ n: YAMLNode) throws {
        let k = "\(section).\(key)"
        switch k {
        case "model.name": config.model.name = try string(n, k)
        case "model.max_seq_length": config.model.maxSeqLength = try int(n, k)
        case "dataset.name": config.dataset.name = try string(n, k)
        case "dataset.train_split": config.dataset.trainSplit = try string(n, k)
        case "dataset.eval_split": config.dataset.evalSplit = try string(n, k)
        case "dataset.test_split": config.dataset.testSplit = try string(n, k)
        case "dataset.anchor_column": config.dataset.anchorColumn = try string(n, k)
        case "dataset.positive_column": config.dataset.positiveColumn = try string(n, k)
        case "dataset.negative_column": config.dataset.negativeColumn = try string(n, k)
        case "dataset.max_train_samples": config.dataset.maxTrainSamples = try optional(n) { try int(n, k) }
        case "dataset.max_eval_samples": config.dataset.maxEvalSamples = try optional(n) { try int(n, k) }
        case "training.output_dir": config.training.outputDir = try string(n, k)
        case "training.per_device_train_batch_size": config.training.perDeviceTrainBatchSize = try int(n, k)
        case "training.per_device_eval_batch_size": config.training.perDeviceEvalBatchSize = try int(n, k)
        case "training.num_train_epochs": config.training.numTrainEpochs = try double(n, k)
        case "training.max_steps": config.training.maxSteps = try int(n, k)
        case "training.learning_rate": config.training.learningRate = try double(n, k)
        case "training.warmup_ratio": config.training.warmupRatio = try double(n, k)
        case "training.weight_decay": config.training.weightDecay = try double(n, k)
        case "training.max_grad_norm": config.training.maxGradNorm = try double(n, k)
        case "training.lr_scheduler":
            let name = try string(n, k)
            guard let kind = LRSchedulerKind(rawValue: name) else {
                var message = "\(n.mark): \(k): unknown scheduler '\(name)'"
                let valid = LRSchedulerKind.allCases.map(\.rawValue)
                if let best = EditDistance.closest(to: name, among: valid),
                   EditDistance.isPlausible(name, best.candidate, distance: best.distance) {
                    message += " (did you mean '\(best.candidate)'?)"
                }
                throw EmbedError(message + "; valid: \(valid.joined(separator: ", "))")
            }
            config.training.lrScheduler = kind
        case "training.num_cycles": config.training.numCycles = try double(n, k)
        case "training.lr_scheduler_power": config.training.lrSchedulerPower = try double(n, k)
        case "training.lr_end": config.training.lrEnd = try double(n, k)
        case "training.gradient_accumulation_steps": config.training.gradientAccumulationSteps = try int(n, k)
        case "training.eval_steps": config.training.evalSteps = try int(n, k)
        case "training.save_steps": config.training.saveSteps = try int(n, k)
        case "training.save_total_limit": config.training.saveTotalLimit = try optional(n) { try int(n, k) }
        case "training.load_best_model_at_end": config.training.loadBestModelAtEnd = try bool(n, k)
        case "training.metric_for_best_model":
            let given = try string(n, k)
            var metric = given
            // transformers prefixes evaluation metrics with `eval_`; the seed config spells it so.
            if metric.hasPrefix("eval_") { metric.removeFirst(5) }
            metricForBestModel = (metric, given)
        case "training.eval_task":
            let name = try string(n, k)
            guard let task = EvalTask(rawValue: name) else {
                throw EmbedError("\(n.mark): \(k): unknown task '\(name)'; valid: \(EvalTask.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            config.training.evalTask = task
        case "mining.enabled": config.mining.enabled = try bool(n, k)
        case "mining.model": config.mining.model = try optional(n) { try string(n, k) }
        case "mining.num_negatives": config.mining.numNegatives = try int(n, k)
        case "mining.range_min": config.mining.rangeMin = try int(n, k)
        case "mining.range_max": config.mining.rangeMax = try optional(n) { try int(n, k) }
        case "mining.max_score": config.mining.maxScore = try optional(n) { try double(n, k) }
        case "mining.min_score": config.mining.minScore = try optional(n) { try double(n, k) }
        case "mining.absolute_margin": config.mining.absoluteMargin = try optional(n) { try double(n, k) }
        case "mining.relative_margin": config.mining.relativeMargin = try optional(n) { try double(n, k) }
        case "mining.sampling_strategy":
            let name = try string(n, k)
            guard ["top", "random"].contains(name) else {
                throw EmbedError("\(n.mark): \(k): unknown strategy '\(name)'; valid: top, random")
            }
            config.mining.samplingStrategy = name
        case "training.logging_steps": config.training.loggingSteps = try int(n, k)
        case "training.logging_dir": loggingDir = try optional(n) { try string(n, k) }
        case "training.seed":
            let v = try int(n, k)
            guard v >= 0 else { throw EmbedError("\(n.mark): \(k) must be a non-negative integer, got \(v)") }
            config.training.seed = UInt64(v)
        case "training.resume_from_checkpoint":
            config.training.resumeFromCheckpoint = try optional(n) { try string(n, k) }
        case "training.bf16": config.training.bf16 = try bool(n, k)
        case "training.push_to_hub": config.training.pushToHub = try bool(n, k)
        case "training.hub_model_id": config.training.hubModelID = try optional(n) { try string(n, k) }
        case "training.hub_private_repo": config.training.hubPrivateRepo = try optional(n) { try bool(n, k) }
        case "model_card.model_name": config.modelCard.modelName = try optional(n) { try string(n, k) }
        case "model_card.language": config.modelCard.language = try stringList(n, k)
        case "model_card.license": config.modelCard.license = try optional(n) { try string(n, k) }
        case "model_card.base_model": config.modelCard.baseModel = try optional(n) { try string(n, k) }
        case "model_card.datasets": config.modelCard.datasets = try optional(n) { try stringList(n, k) }
        case "training.loss": config.training.loss = try choice(n, k, TrainingLoss.Kind.self)
        case "training.mini_batch_size": config.training.miniBatchSize = try int(n, k)
        case "training.matryoshka_dims": config.training.matryoshkaDims = try optional(n) { try list(n, k) { try int($0, k) } } ?? []
        case "training.matryoshka_weights": config.training.matryoshkaWeights = try optional(n) { try list(n, k) { try double($0, k) } }
        case "training.multi_dataset_sampler": config.training.multiDatasetSampler = try choice(n, k, MultiDatasetSamplerKind.self)
        case "training.batch_sampler": config.training.batchSampler = try choice(n, k, BatchSamplerKind.self)
        default:
            throw EmbedError("\(n.mark): internal error: no decoder for '\(k)'")
        }
    }

    /// One of an enum's spellings, with the closest one suggested for a misspelling.
    func choice<E: RawRepresentable & CaseIterable>(_ n: YAMLNode, _ key: String, _: E.Type) throws -> E where E.RawValue == String {
        let name = try string(n, key)
        if let v = E(rawValue: name) { return v }
        let valid = E.allCases.map(\.rawValue)
        var message = "\(n.mark): \(key): unknown value '\(name)'"
        if let best = EditDistance.closest(to: name, among: valid), EditDistance.isPlausible(name, best.candidate, distance: best.distance) {
            message += " (did you mean '\(best.candidate)'?)"
        }
        throw EmbedError(message + "; valid: \(valid.joined(separator: ", "))")
    }

    /// A YAML sequence (`[a, b]` or one `- item` a line), each item decoded by `item`.
    func list<T>(_ n: YAMLNode, _ key: String, _ item: (YAMLNode) throws -> T) throws -> [T] {
        guard let items = n.items else { throw EmbedError("\(n.mark): \(key) must be a list, e.g. [a, b], not \(n.summary)") }
        return try items.map(item)
    }

    func optional<T>(_ n: YAMLNode, _ body: () throws -> T) throws -> T? {
        if n.scalarText != nil, try n.resolved() == .null { return nil }
        return try body()
    }

    /// A hint for a quoted value that would have been right unquoted: `"16"` for a number.
    func quotedHint(_ n: YAMLNode, wanted: (YAMLScalar) -> Bool) -> String {
        guard case .scalar(let text, let style) = n.kind, style != .plain else { return "" }
        let asPlain = YAMLNode(.scalar(text, .plain), mark: n.mark)
        if let v = try? asPlain.resolved(), wanted(v) { return " (remove the quotes)" }
        return ""
    }

    func int(_ n: YAMLNode, _ key: String) throws -> Int {
        let v = try scalar(n, key, expected: "an integer")
        switch v {
        case .int(let i): return i
        case .float(let d) where d.isFinite && d == d.rounded() && abs(d) < 9.007_199_254_740_992e15:
            // `1e4` steps: a whole number written as a float is still a whole number.
            return Int(d)
        default:
            let hint = quotedHint(n) { if case .int = $0 { return true }; return false }
            throw EmbedError("\(n.mark): \(key) must be an integer, not \(v.summary)\(hint)")
        }
    }

    func double(_ n: YAMLNode, _ key: String) throws -> Double {
        let v = try scalar(n, key, expected: "a number")
        let d: Double
        switch v {
        case .int(let i): d = Double(i)
        case .float(let f): d = f
        default:
            let hint = quotedHint(n) {
                switch $0 { case .int, .float: return true; default: return false }
            }
            throw EmbedError("\(n.mark): \(key) must be a number, not \(v.summary)\(hint)")
        }
        guard d.isFinite else { throw EmbedError("\(n.mark): \(key) must be a finite number, not \(n.scalarText ?? "")") }
        return d
    }

    func bool(_ n: YAMLNode, _ key: String) throws -> Bool {
        let v = try scalar(n, key, expected: "true or false")
        guard case .bool(let b) = v else {
            let hint = quotedHint(n) { if case .bool = $0 { return true }; return false }
            throw EmbedError("\(n.mark): \(key) must be true or false, not \(v.summary)\(hint)")
        }
        return b
    }

    func string(_ n: YAMLNode, _ key: String) throws -> String {
        let v = try scalar(n, key, expected: "a string")
        guard case .string(let s) = v else {
            let hint = v == .null ? "" : " (quote it if you mean the text: \"\(n.scalarText ?? "")\")"
            throw EmbedError("\(n.mark): \(key) must be a string, not \(v.summary)\(hint)")
        }
        return s
    }

    /// A list of strings; a single string is a list of one (as sentence-transformers accepts).
    func stringList(_ n: YAMLNode, _ key: String) throws -> [String] {
        guard let items = n.items else { return [try string(n, key)] }
        return try items.map { try string($0, key) }
    }

    func scalar(_ n: YAMLNode, _ key: String, expected: String) throws -> YAMLScalar {
        guard n.scalarText != nil else { throw EmbedError("\(n.mark): \(key) must be \(expected), not \(n.summary)") }
        return try n.resolved()
    }

    // MARK: - Validation

    /// Where a key's value came from, for validation errors: its mark, or the file for a default.
    func origin(_ key: String) -> String { origins[key]?.description ?? path }

    /// Of keys that conflict, the one set last (the likeliest mistake); the first if none was set.
    func lastSet(_ keys: String...) -> String {
        keys.max { (setOrder[$0] ?? 0) < (setOrder[$1] ?? 0) } ?? ""
    }

    mutating func check(_ ok: Bool, _ key: String, _ message: @autoclosure () -> String) {
        if !ok { problems.append("\(origin(key)): \(key) \(message())") }
    }

    mutating func finish() throws -> TrainingConfig {
        let m = config.model, d = config.dataset
        var t = config.training
        check(!m.name.isEmpty, "model.name", "must not be empty")
        check(m.maxSeqLength >= 1, "model.max_seq_length", "must be at least 1, got \(m.maxSeqLength)")
        for (key, value) in [("dataset.name", d.name), ("dataset.train_split", d.trainSplit),
                             ("dataset.eval_split", d.evalSplit), ("dataset.test_split", d.testSplit),
                             ("dataset.anchor_column", d.anchorColumn), ("dataset.positive_column", d.positiveColumn),
                             ("dataset.negative_column", d.negativeColumn)] {
            check(!value.isEmpty, key, "must not be empty")
        }
        check(Set(d.columns).count == 3, "dataset.negative_column",
              "anchor, positive and negative columns must be three different columns, got \(d.columns.joined(separator: ", "))")
        for (key, value) in [("dataset.max_train_samples", d.maxTrainSamples), ("dataset.max_eval_samples", d.maxEvalSamples)] {
            if let v = value { check(v >= 1, key, "must be at least 1 (or null for the whole split), got \(v)") }
        }
        check(!t.outputDir.isEmpty, "training.output_dir", "must not be empty")
        check(t.perDeviceTrainBatchSize >= 1, "training.per_device_train_batch_size", "must be at least 1, got \(t.perDeviceTrainBatchSize)")
        check(t.perDeviceEvalBatchSize >= 1, "training.per_device_eval_batch_size", "must be at least 1, got \(t.perDeviceEvalBatchSize)")
        check(t.numTrainEpochs > 0, "training.num_train_epochs", "must be greater than 0, got \(TrainingConfig.number(t.numTrainEpochs))")
        check(t.maxSteps == -1 || t.maxSteps >= 1, "training.max_steps",
              "must be -1 (train for num_train_epochs) or a positive number of steps, got \(t.maxSteps)")
        check(t.learningRate > 0, "training.learning_rate", "must be greater than 0, got \(t.learningRate)")
        check(t.warmupRatio >= 0 && t.warmupRatio <= 1, "training.warmup_ratio", "must be between 0 and 1, got \(t.warmupRatio)")
        check(t.weightDecay >= 0, "training.weight_decay", "must not be negative, got \(t.weightDecay)")
        check(t.maxGradNorm >= 0, "training.max_grad_norm", "must not be negative (0 turns clipping off), got \(t.maxGradNorm)")
        check(t.numCycles > 0, "training.num_cycles", "must be greater than 0, got \(t.numCycles)")
        check(t.lrSchedulerPower > 0, "training.lr_scheduler_power", "must be greater than 0, got \(t.lrSchedulerPower)")
        check(t.lrEnd >= 0, "training.lr_end", "must not be negative, got \(t.lrEnd)")
        if t.lrScheduler == .polynomial, t.lrEnd >= t.learningRate {
            let key = lastSet("training.lr_end", "training.learning_rate", "training.lr_scheduler")
            problems.append("\(origin(key)): training.lr_end (\(t.lrEnd)) must be smaller than training.learning_rate (\(t.learningRate)) for the polynomial schedule")
        }
        check(t.gradientAccumulationSteps >= 1, "training.gradient_accumulation_steps", "must be at least 1, got \(t.gradientAccumulationSteps)")
        check(t.evalSteps >= 1, "training.eval_steps", "must be at least 1, got \(t.evalSteps)")
        check(t.saveSteps >= 1, "training.save_steps", "must be at least 1, got \(t.saveSteps)")
        check(t.loggingSteps >= 1, "training.logging_steps", "must be at least 1, got \(t.loggingSteps)")
        if let limit = t.saveTotalLimit {
            check(limit >= 1, "training.save_total_limit", "must be at least 1 (or null to keep every checkpoint), got \(limit)")
        }
        // As transformers: the best model can only be reloaded if every evaluation has a checkpoint.
        if t.loadBestModelAtEnd, t.evalSteps >= 1, t.saveSteps >= 1, t.saveSteps % t.evalSteps != 0 {
            let key = lastSet("training.save_steps", "training.eval_steps", "training.load_best_model_at_end")
            problems.append("\(origin(key)): training.save_steps (\(t.saveSteps)) must be a multiple of training.eval_steps (\(t.evalSteps)) when load_best_model_at_end is true, so that the best evaluation has a checkpoint")
        }
        check(t.miniBatchSize >= 1, "training.mini_batch_size", "must be at least 1, got \(t.miniBatchSize)")
        if let bad = t.matryoshkaDims.first(where: { $0 < 1 }) {
            check(false, "training.matryoshka_dims", "must be positive dimensions, got \(bad)")
        }
        if let w = t.matryoshkaWeights {
            if t.matryoshkaDims.isEmpty {
                check(false, "training.matryoshka_weights", "needs training.matryoshka_dims")
            } else {
                check(w.count == t.matryoshkaDims.count, "training.matryoshka_weights",
                      "needs one weight per dimension of training.matryoshka_dims (\(t.matryoshkaDims.count)), got \(w.count)")
            }
        }
        if let list = config.datasets {
            if let datasetMark, let datasetsMark {
                problems.append("\(datasetsMark): 'datasets' and 'dataset' (at \(datasetMark)) exclude each other: list every dataset under datasets")
            }
            for (i, e) in list.enumerated() { checkEntry(e, label: "datasets[\(i)]") }
        } else if d.loss == nil, t.loss == .cosent {
            check(false, "training.loss", "cosent needs (sentence1, sentence2, score) pairs: give them as a datasets: entry with columns and score_column")
        }
        if let dir = loggingDir { check(!dir.isEmpty, "training.logging_dir", "must not be empty (null means <output_dir>/logs)") }
        if let r = t.resumeFromCheckpoint { check(!r.isEmpty, "training.resume_from_checkpoint", "must not be empty (null for a fresh start)") }
        if let id = t.hubModelID {
            let parts = id.split(separator: "/", omittingEmptySubsequences: false)
            check(!id.isEmpty && parts.count <= 2 && !parts.contains(where: \.isEmpty), "training.hub_model_id",
                  "must be a repository id, org/name or name (null: the output folder's name), got '\(id)'")
        }
        let card = config.modelCard
        check(!card.language.contains(where: \.isEmpty), "model_card.language", "must not hold an empty code")
        check(!(card.datasets ?? []).contains(where: \.isEmpty), "model_card.datasets", "must not hold an empty id")
        // The metric must be one the task produces; without one, the task's own (cosine_accuracy,
        // cosine_ndcg@10).
        let valid = TrainingConfig.bestModelMetrics(for: t.evalTask)
        if let m = metricForBestModel {
            if valid.contains(m.metric) {
                t.metricForBestModel = m.metric
            } else {
                let key = lastSet("training.metric_for_best_model", "training.eval_task")
                problems.append("\(origin(key)): training.metric_for_best_model: unknown metric '\(m.given)'; valid: \(valid.joined(separator: ", ")) (for eval_task \(t.evalTask.rawValue); an 'eval_' prefix is allowed)")
            }
        } else {
            t.metricForBestModel = valid[0]
        }
        let g = config.mining
        check(g.numNegatives >= 1, "mining.num_negatives", "must be at least 1, got \(g.numNegatives)")
        check(g.rangeMin >= 0, "mining.range_min", "must not be negative, got \(g.rangeMin)")
        if let r = g.rangeMax { check(r > g.rangeMin, "mining.range_max", "must be greater than mining.range_min (\(g.rangeMin)), got \(r)") }
        if let m = g.model { check(!m.isEmpty, "mining.model", "must not be empty (null mines with the base model)") }
        try throwProblems()
        t.loggingDir = loggingDir ?? TrainingConfigDecoder.join(t.outputDir, "logs")
        config.training = t
        // The first dataset of a list is the one evaluated during training and tested after it.
        if let first = config.datasets?.first { config.dataset = first }
        return config
    }

    /// A `datasets:` entry's columns, limits and loss.
    mutating func checkEntry(_ e: TrainingConfig.Dataset, label: String) {
        func at(_ key: String) -> String { origins["\(label).\(key)"]?.description ?? datasetsMark?.description ?? path }
        let columns = e.columns
        for (key, value) in [("name", e.name), ("train_split", e.trainSplit), ("eval_split", e.evalSplit), ("test_split", e.testSplit)]
        where value.isEmpty {
            problems.append("\(at(key)): \(label).\(key) must not be empty")
        }
        if columns.isEmpty || columns.contains(where: \.isEmpty) || Set(columns).count != columns.count {
            problems.append("\(at("columns")): \(label).columns must be different, non-empty column names, got [\(columns.joined(separator: ", "))]")
        }
        if let s = e.scoreColumn, s.isEmpty || columns.contains(s) {
            problems.append("\(at("score_column")): \(label).score_column must be a column of its own, not a text column")
        }
        for (key, value) in [("max_train_samples", e.maxTrainSamples), ("max_eval_samples", e.maxEvalSamples)] {
            if let v = value, v < 1 { problems.append("\(at(key)): \(label).\(key) must be at least 1 (or null for the whole split), got \(v)") }
        }
        let kind = e.loss ?? config.training.loss
        if let why = TrainingLoss(kind: kind).check(columns: columns.count, hasScores: e.scoreColumn != nil) {
            problems.append("\(at(e.loss == nil ? "columns" : "loss")): \(label): \(why)")
        }
    }

    static func join(_ dir: String, _ name: String) -> String {
        var d = Substring(dir)
        while d.count > 1, d.hasSuffix("/") { d = d.dropLast() }
        return d == "/" ? "/\(name)" : "\(d)/\(name)"
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
