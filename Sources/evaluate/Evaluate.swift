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
            truncate_dim does not re-normalize: cosine metrics agree, dot metrics differ.) A list, \
            --dims 384,128,64, embeds once and reports each size under "by_dims".

            Examples:
              evaluate --model models/base/all-MiniLM-L6-v2 data/nb-nn/test.jsonl.zst
              evaluate --model models/my-model data/ds/my-model/test.tokens.safetensors \\
                  -o models/my-model/eval/test.json \\
                  --csv models/my-model/eval/triplet_evaluation_test_results.csv
              evaluate --model models/my-model --dims 64 data/nb-nn/test.jsonl.zst
              evaluate --model models/my-model --dims 384,128,64 data/nb-nn/test.jsonl.zst
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

    @Option(name: .long, help: ArgumentHelp("Evaluate the vectors cut to their first N dimensions (Matryoshka); a list N,M,… reports each.",
                                            valueName: "n[,m…]"))
    var dims: String?

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

    /// --dims as numbers (nil when absent or not a list of integers).
    var dimsList: [Int]? {
        guard let dims else { return nil }
        let list = dims.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return list.contains(nil) ? nil : list.map { $0! }
    }

    func validate() throws {
        let wanted = task == .sts ? 2 : 3
        guard textColumns.count == wanted, !textColumns.contains(where: \.isEmpty) else {
            throw ValidationError(task == .sts ? "--columns needs two names for sts: sentence1,sentence2"
                                               : "--columns needs three names: anchor,positive,negative")
        }
        if input != nil, data != nil { throw ValidationError("give the input once: as an argument or with --data") }
        if let maxSamples, maxSamples < 1 { throw ValidationError("--max-samples must be positive") }
        if dims != nil {
            guard let list = dimsList, list.allSatisfy({ $0 >= 1 }) else {
                throw ValidationError("--dims needs positive whole numbers, separated by commas: '\(dims!)'")
            }
            if list.count > 1, csv != nil { throw ValidationError("--csv takes one --dims value, not a list") }
        }
    }

    /// The input file: the argument, or --data; stdin when neither is given.
    var inputPath: String { input ?? data ?? "-" }

    func execute() throws {
        threads.apply()
        log.apply()
        let cols = textColumns
        let embedder = try TextEmbedder(directory: model.model, batchSize: batch.batchSize, maxSeqLength: model.maxSeqLength)
        // Every size is checked against the model; one size cuts as the embedder embeds, a list is
        // cut from the full vectors of one pass.
        let sizes = dimsList ?? [embedder.dimension]
        for d in sizes { try embedder.truncate(to: d) }
        try embedder.truncate(to: sizes.count == 1 ? dimsList?.first : nil)
        let progress = ProgressBar("evaluate", unit: "texts")
        let extra: [(String, JSON)] = [("model", .string(model.model)), ("data", .string(inputPath))]
        let results: [JSON]
        switch task {
        case .triplet:
            let metrics: [TripletMetrics]
            if inputPath.hasSuffix(".safetensors") {
                let table = try TokenizedFile(path: inputPath)
                metrics = try TripletEvaluator.evaluate(model: embedder.model, table: table, columns: cols, limit: maxSamples,
                                                        batchSize: batch.batchSize, dims: sizes, progress: progress)
            } else {
                metrics = try evaluateJSONL(embedder: embedder, columns: cols, dims: sizes, progress: progress)
            }
            if let csv { try TripletEvaluator.appendCSV(path: csv, metrics: metrics[0], epoch: 0, steps: 0) }
            results = metrics.map { $0.json() }
        case .sts:
            let metrics: [SimilarityMetrics]
            if inputPath.hasSuffix(".safetensors") {
                let table = try TokenizedFile(path: inputPath)
                metrics = try SimilarityEvaluator.evaluate(model: embedder.model, table: table, columns: cols, scoreColumn: scoreColumn,
                                                           limit: maxSamples, batchSize: batch.batchSize, dims: sizes, progress: progress)
            } else {
                metrics = try evaluateSTS(embedder: embedder, columns: cols, dims: sizes, progress: progress)
            }
            if let csv { try SimilarityEvaluator.appendCSV(path: csv, metrics: metrics[0], epoch: 0, steps: 0) }
            results = metrics.map { $0.json() }
        }
        var out: JSONObject
        if let list = dimsList, list.count > 1 {
            out = JSONObject(extra)
            out["dims"] = .array(list.map { .number(Double($0)) })
            out["by_dims"] = .array(zip(list, results).map { d, r in
                var o = r.object!
                o["dims"] = .number(Double(d))
                return .object(o)
            })
        } else {
            out = results[0].object!
            for (k, v) in extra { out[k] = v }
            if let d = dimsList?.first { out["dims"] = .number(Double(d)) }
        }
        let result = JSON.object(out)
        progress.finish()
        let w = try ByteWriter(path: output)
        try w.write(result.serialized(indent: 2) + "\n")
        try w.commit()
    }

    /// Scored pairs from JSON Lines: the texts are embedded in chunks; only the similarities' inputs
    /// (two vectors and a score per pair) are kept for the correlations.
    func evaluateSTS(embedder: TextEmbedder, columns cols: [String], dims: [Int], progress: ProgressBar) throws -> [SimilarityMetrics] {
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
        let n = scores.count, C = embedder.outputDimension
        return dims.map { d in
            SimilarityEvaluator.score(cut(u, rows: n, dimension: C, to: d, embedder), cut(v, rows: n, dimension: C, to: d, embedder),
                                      scores: scores, dimension: min(d, C))
        }
    }

    /// Streams the triplets in chunks, so any file size fits in memory.
    func evaluateJSONL(embedder: TextEmbedder, columns cols: [String], dims: [Int], progress: ProgressBar) throws -> [TripletMetrics] {
        let reader = try JSONLReader(path: inputPath)
        var total = dims.map { _ in TripletMetrics(cosine: 0, dot: 0, euclidean: 0, manhattan: 0, count: 0) }
        var done = false
        while !done {
            var rows: [[String]] = []
            while rows.count < 2048, maxSamples.map({ total[0].count + rows.count < $0 }) ?? true {
                guard let row = try reader.nextRow(columns: cols) else { done = true; break }
                rows.append(row)
            }
            if rows.isEmpty { break }
            if let maxSamples, total[0].count + rows.count >= maxSamples { done = true }
            let e = try (0..<3).map { c in try embedder.embed(rows.map { $0[c] }, progress: progress) }
            let C = embedder.outputDimension
            for (k, d) in dims.enumerated() {
                let x = e.map { cut($0, rows: rows.count, dimension: C, to: d, embedder) }
                total[k] = total[k].merged(with: TripletEvaluator.score(anchors: x[0], positives: x[1], negatives: x[2],
                                                                        count: rows.count, dimension: min(d, C)))
            }
        }
        guard total[0].count > 0 else { throw EmbedError("\(inputPath): no triplets") }
        return total
    }

    /// Vectors as the embedder made them, cut to `d` dimensions as it would cut them.
    func cut(_ e: [Float], rows: Int, dimension C: Int, to d: Int, _ embedder: TextEmbedder) -> [Float] {
        truncateEmbeddings(e, rows: rows, dimension: C, to: d, normalize: embedder.model.normalize || embedder.forceNormalize)
    }
}
