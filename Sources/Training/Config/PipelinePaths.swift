import Foundation
import IO
import Inference
import NN

/// Where each stage of the pipeline reads and writes, derived from the config so that every tool and
/// the Makefile agree:
///
///     models/base/<model>/                            fetch-data model
///     data/<dataset>/<split>.jsonl.zst                fetch-data dataset
///     data/<dataset>/<train_split>-mined.jsonl.zst    mine (mining.enabled: the training data)
///     data/<dataset>/<model>/<split>.tokens.safetensors   tokenize
///     <output_dir>/checkpoint-N/, <output_dir>/       train
///     <output_dir>/eval/                              evaluate
///
/// `<model>` and `<dataset>` are the last component of the hub id or local path
/// (`ltg/norbert3-base` → `norbert3-base`).
package struct PipelinePaths: Sendable, Equatable {
    package let modelDirectory: String
    package let dataDirectory: String
    package let tokensDirectory: String
    package let outputDirectory: String
    /// The split name training reads: the train split, or `<train_split>-mined` when mining.
    package let trainingSplit: String
    /// `root/` (empty for `.`) and the model's slug, for the paths of further datasets.
    private let prefix: String
    private let modelSlug: String

    package init(config: TrainingConfig, root: String = ".") {
        let r = root == "." ? "" : (root.hasSuffix("/") ? root : root + "/")
        let model = PipelinePaths.slug(config.model.name)
        let dataset = PipelinePaths.slug(config.dataset.name)
        modelDirectory = "\(r)models/base/\(model)"
        dataDirectory = "\(r)data/\(dataset)"
        tokensDirectory = "\(r)data/\(dataset)/\(model)"
        outputDirectory = config.training.outputDir
        trainingSplit = config.mining.enabled ? PipelinePaths.minedSplit(config.dataset.trainSplit) : config.dataset.trainSplit
        prefix = r
        modelSlug = model
    }

    /// `data/<dataset>/<split>.jsonl.zst` of any dataset of a `datasets:` list.
    package func split(of d: TrainingConfig.Dataset, _ name: String) -> String {
        "\(prefix)data/\(PipelinePaths.slug(d.name))/\(name).jsonl.zst"
    }

    /// `data/<dataset>/<model>/<split>.tokens.safetensors` of any dataset of a `datasets:` list.
    package func tokens(of d: TrainingConfig.Dataset, _ split: String) -> String {
        "\(prefix)data/\(PipelinePaths.slug(d.name))/\(modelSlug)/\(split).tokens.safetensors"
    }

    /// The columns to fetch (text columns, then the score column) and tokenize's column flags.
    static func fetchColumns(_ d: TrainingConfig.Dataset) -> String {
        (d.columns + (d.scoreColumn.map { [$0] } ?? [])).joined(separator: ",")
    }

    static func tokenizeFlags(_ d: TrainingConfig.Dataset) -> String {
        "--columns \(d.columns.joined(separator: ","))" + (d.scoreColumn.map { " --score-column \($0)" } ?? "")
    }

    /// The name of a split's mined triplets.
    package static func minedSplit(_ split: String) -> String { split + "-mined" }

    /// The last path component of a hub id or path, made safe as a file name.
    package static func slug(_ name: String) -> String {
        let trimmed = name.hasSuffix("/") ? String(name.dropLast()) : name
        let last = trimmed.split(separator: "/").last.map(String.init) ?? trimmed
        let safe = last.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }
        let s = String(safe)
        return s.isEmpty || s == "." || s == ".." ? "unnamed" : s
    }

    /// `data/<dataset>/<split>.jsonl.zst`
    package func split(_ name: String) -> String { "\(dataDirectory)/\(name).jsonl.zst" }

    /// `data/<dataset>/<model>/<split>.tokens.safetensors`
    package func tokens(_ split: String) -> String { "\(tokensDirectory)/\(split).tokens.safetensors" }

    package var evalDirectory: String { outputDirectory + "/eval" }

    /// `NAME=value` lines for the Makefile (it includes them), quoting nothing: paths with spaces
    /// are not supported by make anyway.
    package func makeVariables(config: TrainingConfig) -> String {
        let d = config.dataset, g = config.mining
        let retrieval = config.training.evalTask == .retrieval
        let pairColumns = [d.anchorColumn, d.positiveColumn].joined(separator: ",")
        let mineFlags = g.toolArguments(seed: config.training.seed) + ["--batch-size", String(config.training.perDeviceEvalBatchSize)]
        let lines = [
            ("MODEL_NAME", config.model.name),
            ("DATASET_NAME", d.name),
            ("MAX_SEQ_LENGTH", String(config.model.maxSeqLength)),
            ("MODEL_DIR", modelDirectory),
            ("DATA_DIR", dataDirectory),
            ("TOKENS_DIR", tokensDirectory),
            ("OUTPUT_DIR", outputDirectory),
            ("TRAIN_SPLIT", d.trainSplit),
            ("EVAL_SPLIT", d.evalSplit),
            ("TEST_SPLIT", d.testSplit),
            ("COLUMNS", PipelinePaths.fetchColumns(d)),
            ("TOKENIZE_COLUMNS", PipelinePaths.tokenizeFlags(d)),
            ("TRAIN_DATA", split(trainingSplit)),
            ("EVAL_DATA", split(d.evalSplit)),
            ("TEST_DATA", split(d.testSplit)),
            ("TRAIN_TOKENS", tokens(trainingSplit)),
            ("EVAL_TOKENS", tokens(d.evalSplit)),
            ("TEST_TOKENS", tokens(d.testSplit)),
            ("EVAL_TASK", config.training.evalTask.rawValue),
            ("EVAL_COLUMNS", retrieval ? pairColumns : PipelinePaths.fetchColumns(d)),
            ("EVAL_TOKENIZE_COLUMNS", retrieval ? "--columns \(pairColumns)" : PipelinePaths.tokenizeFlags(d)),
            ("EVAL_METRIC", retrieval ? "cosine_ndcg@10" : "cosine_accuracy"),
            ("MINING", g.enabled ? "true" : "false"),
            ("PAIRS_DATA", split(d.trainSplit)),
            ("MINED_DATA", split(PipelinePaths.minedSplit(d.trainSplit))),
            ("PAIR_COLUMNS", pairColumns),
            ("NEGATIVE_COLUMN", d.negativeColumn),
            ("MINE_MODEL", g.model ?? modelDirectory),
            ("MINE_FLAGS", mineFlags.joined(separator: " ")),
        ]
        // A `datasets:` list: the first dataset is the one above; the others are only trained on.
        var more: [(String, String)] = []
        if let list = config.datasets {
            let others = Array(list.dropFirst().enumerated())
            more.append(("EXTRA_DATASETS", others.map { String($0.offset + 2) }.joined(separator: " ")))
            more.append(("EXTRA_TRAIN_TOKENS", others.map { tokens(of: $0.element, $0.element.trainSplit) }.joined(separator: " ")))
            for (k, e) in others {
                let n = "DATASET_\(k + 2)_"
                more += [(n + "NAME", e.name), (n + "SPLIT", e.trainSplit), (n + "DATA", split(of: e, e.trainSplit)),
                         (n + "TOKENS", tokens(of: e, e.trainSplit)), (n + "COLUMNS", PipelinePaths.fetchColumns(e)),
                         (n + "TOKENIZE_COLUMNS", PipelinePaths.tokenizeFlags(e))]
            }
        }
        return (lines + more).map { "\($0.0) := \($0.1)" }.joined(separator: "\n") + "\n"
    }
}
