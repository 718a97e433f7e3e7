import ArgumentParser
import CLI
import Foundation
import IO
import Inference

@main
struct Evaluate: Tool {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a model's triplet accuracy, or its STS correlation on scored sentence pairs.",
        discussion: """
            --task triplet (the default) computes what sentence-transformers' TripletEvaluator does: \
            the share of triplets where sim(anchor, positive) > sim(anchor, negative), for cosine \
            and dot similarity and for (negative) Euclidean and Manhattan distance.

            --task sts computes what its EmbeddingSimilarityEvaluator does on (sentence1, \
            sentence2, score) pairs: the Pearson and Spearman correlations (Spearman with tied \
            values sharing their average rank, as scipy) between the gold scores and the cosine, \
            Euclidean, Manhattan and dot similarities of the two sentences' embeddings, under its \
            names: pearson_cosine, spearman_cosine, …, pearson_max, spearman_max.

            Writes the metrics as JSON to stdout, or to -o FILE. The input is zstd/plain JSON Lines \
            with the columns (tokenized here with the model's tokenizer), or a tokens file from \
            `tokenize` (.safetensors; for sts made with --score-column).

            --dims N evaluates the vectors cut to their first N dimensions (a Matryoshka model's \
            short embeddings), re-normalized when the model normalizes. (sentence-transformers' \
            truncate_dim does not re-normalize: cosine metrics agree, dot metrics differ.)

            Examples:
              evaluate --model models/base/all-MiniLM-L6-v2 data/nb-nn/test.jsonl.zst
              evaluate --model models/my-model data/ds/my-model/test.tokens.safetensors \\
                  -o models/my-model/eval/test.json \\
                  --csv models/my-model/eval/triplet_evaluation_test_results.csv
              evaluate --model models/my-model --dims 64 data/nb-nn/test.jsonl.zst
              evaluate --model models/my-model --task sts data/sts/test.jsonl.zst
              evaluate --model models/my-model --task sts --columns s1,s2 --score-column label pairs.jsonl
            """,
        version: EmbedKitVersion.string
    )

    @OptionGroup var model: ModelOptions

    @Argument(help: ArgumentHelp("Triplets: JSON Lines (.jsonl, .jsonl.zst; - for stdin) or a tokens file (.safetensors).", valueName: "input"))
    var input: String?

    @Option(name: .long, help: ArgumentHelp("The input, as an option (the same as the positional argument).", valueName: "file"))
    var data: String?

    enum Task: String, ExpressibleByArgument, CaseIterable {
        case triplet, sts
    }

    @Option(name: .long, help: ArgumentHelp("What to measure: triplet accuracy, or STS correlation of scored pairs.", valueName: "triplet|sts"))
    var task: Task = .triplet

    @Option(name: .long, help: ArgumentHelp(
        "The text columns: anchor,positive,negative for triplet (the default), sentence1,sentence2 for sts (the default).",
        valueName: "a,b[,c]"))
    var columns: String?

    @Option(name: .customLong("score-column"), help: ArgumentHelp("sts: the gold score column.", valueName: "name"))
    var scoreColumn = "score"

    @Option(name: .long, help: ArgumentHelp("Evaluate the vectors cut to their first N dimensions (Matryoshka).", valueName: "n"))
    var dims: Int?

    @OptionGroup var batch: BatchOptions

    @Option(name: .customLong("max-samples"), help: ArgumentHelp("Evaluate only the first N triplets (or pairs).", valueName: "n"))
    var maxSamples: Int?

    @Option(name: [.short, .long], help: ArgumentHelp("Write the JSON result here instead of stdout (atomically).", valueName: "file"))
    var output: String = "-"

    @Option(name: .long, help: ArgumentHelp("Also append a row to this CSV (TripletEvaluator's or EmbeddingSimilarityEvaluator's columns).", valueName: "file"))
    var csv: String?

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var log: LogOptions

    /// The text columns: --columns, or the task's defaults.
    var textColumns: [String] {
        (columns ?? (task == .sts ? "sentence1,sentence2" : "anchor,positive,negative"))
            .split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    }

    func validate() throws {
        let wanted = task == .sts ? 2 : 3
        guard textColumns.count == wanted, !textColumns.contains(where: \.isEmpty) else {
            throw ValidationError(task == .sts ? "--columns needs two names for sts: sentence1,sentence2"
                                               : "--columns needs three names: anchor,positive,negative")
        }
        if input != nil, data != nil { throw ValidationError("give the input once: as an argument or with --data") }
        if let maxSamples, maxSamples < 1 { throw ValidationError("--max-samples must be positive") }
        if let dims, dims < 1 { throw ValidationError("--dims must be positive") }
    }

    /// The input file: the argument, or --data; stdin when neither is given.
    var inputPath: String { input ?? data ?? "-" }

    func execute() throws {
        threads.apply()
        log.apply()
        let cols = textColumns
        let embedder = try TextEmbedder(directory: model.model, batchSize: batch.batchSize, maxSeqLength: model.maxSeqLength)
        try embedder.truncate(to: dims)
        let progress = ProgressBar("evaluate", unit: "texts")
        var extra: [(String, JSON)] = [("model", .string(model.model)), ("data", .string(inputPath))]
        if let dims { extra.append(("dims", .number(Double(dims)))) }
        let result: JSON
        switch task {
        case .triplet:
            let metrics: TripletMetrics
            if inputPath.hasSuffix(".safetensors") {
                let table = try TokenizedFile(path: inputPath)
                metrics = try TripletEvaluator.evaluate(model: embedder.model, table: table, columns: cols, limit: maxSamples,
                                                        batchSize: batch.batchSize, dims: dims, progress: progress)
            } else {
                metrics = try evaluateJSONL(embedder: embedder, columns: cols, progress: progress)
            }
            if let csv { try TripletEvaluator.appendCSV(path: csv, metrics: metrics, epoch: 0, steps: 0) }
            result = metrics.json(extra: extra)
        case .sts:
            let metrics: SimilarityMetrics
            if inputPath.hasSuffix(".safetensors") {
                let table = try TokenizedFile(path: inputPath)
                metrics = try SimilarityEvaluator.evaluate(model: embedder.model, table: table, columns: cols, scoreColumn: scoreColumn,
                                                           limit: maxSamples, batchSize: batch.batchSize, dims: dims, progress: progress)
            } else {
                metrics = try evaluateSTS(embedder: embedder, columns: cols, progress: progress)
            }
            if let csv { try SimilarityEvaluator.appendCSV(path: csv, metrics: metrics, epoch: 0, steps: 0) }
            result = metrics.json(extra: extra)
        }
        progress.finish()
        let w = try ByteWriter(path: output)
        try w.write(result.serialized(indent: 2) + "\n")
        try w.commit()
    }

    /// Scored pairs from JSON Lines: the texts are embedded in chunks; only the similarities' inputs
    /// (two vectors and a score per pair) are kept for the correlations.
    func evaluateSTS(embedder: TextEmbedder, columns cols: [String], progress: ProgressBar) throws -> SimilarityMetrics {
        let reader = try JSONLReader(path: inputPath)
        var u: [Float] = [], v: [Float] = [], scores: [Double] = []
        var done = false
        while !done {
            var texts: [[String]] = [[], []]
            while texts[0].count < 2048, maxSamples.map({ scores.count < $0 }) ?? true {
                guard let row = try reader.next() else { done = true; break }
                for (k, c) in cols.enumerated() {
                    guard let s = row[c]?.string else {
                        throw EmbedError("\(inputPath):\(reader.lineNumber): \(row[c] == nil ? "no column" : "not a string:") '\(c)'")
                    }
                    texts[k].append(s)
                }
                guard let score = row[scoreColumn]?.double, score.isFinite else {
                    throw EmbedError("\(inputPath):\(reader.lineNumber): no numeric score column '\(scoreColumn)' (--score-column)")
                }
                scores.append(score)
            }
            if texts[0].isEmpty { break }
            if let maxSamples, scores.count >= maxSamples { done = true }
            u += try embedder.embed(texts[0], progress: progress)
            v += try embedder.embed(texts[1], progress: progress)
        }
        guard scores.count >= 2 else { throw EmbedError("\(inputPath): STS needs at least 2 scored pairs, found \(scores.count)") }
        return SimilarityEvaluator.score(u, v, scores: scores, dimension: embedder.outputDimension)
    }

    /// Streams the triplets in chunks, so any file size fits in memory.
    func evaluateJSONL(embedder: TextEmbedder, columns cols: [String], progress: ProgressBar) throws -> TripletMetrics {
        let reader = try JSONLReader(path: inputPath)
        var total = TripletMetrics(cosine: 0, dot: 0, euclidean: 0, manhattan: 0, count: 0)
        var done = false
        while !done {
            var rows: [[String]] = []
            while rows.count < 2048, maxSamples.map({ total.count + rows.count < $0 }) ?? true {
                guard let row = try reader.nextRow(columns: cols) else { done = true; break }
                rows.append(row)
            }
            if rows.isEmpty { break }
            if let maxSamples, total.count + rows.count >= maxSamples { done = true }
            let e = try (0..<3).map { c in try embedder.embed(rows.map { $0[c] }, progress: progress) }
            let m = TripletEvaluator.score(anchors: e[0], positives: e[1], negatives: e[2], count: rows.count,
                                           dimension: embedder.outputDimension)
            total = total.merged(with: m)
        }
        guard total.count > 0 else { throw EmbedError("\(inputPath): no triplets") }
        return total
    }
}
