import ArgumentParser
import CLI
import Foundation
import IO
import Inference

@main
struct Evaluate: Tool {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a model's triplet accuracy (anchor closer to positive than to negative).",
        discussion: """
            Computes what sentence-transformers' TripletEvaluator does: the share of triplets where \
            sim(anchor, positive) > sim(anchor, negative), for cosine and dot similarity and for \
            (negative) Euclidean and Manhattan distance. Writes the metrics as JSON to stdout, or \
            to -o FILE.

            The input is zstd/plain JSON Lines with the triplet columns (tokenized here with the \
            model's tokenizer), or a tokens file from `tokenize` (.safetensors).

            Examples:
              evaluate --model models/base/all-MiniLM-L6-v2 data/nb-nn/test.jsonl.zst
              evaluate --model models/my-model data/ds/my-model/test.tokens.safetensors \\
                  -o models/my-model/eval/test.json \\
                  --csv models/my-model/eval/triplet_evaluation_test_results.csv
              evaluate --model models/my-model --bf16 data/nb-nn/test.jsonl.zst   # bf16 matrix products
            """,
        version: EmbedKitVersion.string
    )

    @OptionGroup var model: ModelOptions

    @Argument(help: ArgumentHelp("Triplets: JSON Lines (.jsonl, .jsonl.zst; - for stdin) or a tokens file (.safetensors).", valueName: "input"))
    var input: String?

    @Option(name: .long, help: ArgumentHelp("The input, as an option (the same as the positional argument).", valueName: "file"))
    var data: String?

    @Option(name: .long, help: ArgumentHelp("The anchor, positive and negative column names.", valueName: "a,p,n"))
    var columns = "anchor,positive,negative"

    @OptionGroup var batch: BatchOptions

    @Option(name: .customLong("max-samples"), help: ArgumentHelp("Evaluate only the first N triplets.", valueName: "n"))
    var maxSamples: Int?

    @Option(name: [.short, .long], help: ArgumentHelp("Write the JSON result here instead of stdout (atomically).", valueName: "file"))
    var output: String = "-"

    @Option(name: .long, help: ArgumentHelp("Also append a row to this CSV (TripletEvaluator's columns).", valueName: "file"))
    var csv: String?

    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var log: LogOptions

    func validate() throws {
        guard columns.split(separator: ",").count == 3 else { throw ValidationError("--columns needs three names: anchor,positive,negative") }
        if input != nil, data != nil { throw ValidationError("give the input once: as an argument or with --data") }
        if let maxSamples, maxSamples < 1 { throw ValidationError("--max-samples must be positive") }
    }

    /// The triplets file: the argument, or --data; stdin when neither is given.
    var inputPath: String { input ?? data ?? "-" }

    func execute() throws {
        threads.apply()
        log.apply()
        let cols = columns.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        let embedder = try TextEmbedder(directory: model.model, batchSize: batch.batchSize, maxSeqLength: model.maxSeqLength,
                                        bf16: precision.bf16)
        let progress = ProgressBar("evaluate", unit: "texts")
        let metrics: TripletMetrics
        if inputPath.hasSuffix(".safetensors") {
            let table = try TokenizedFile(path: inputPath)
            metrics = try TripletEvaluator.evaluate(model: embedder.model, table: table, columns: cols, limit: maxSamples,
                                                    batchSize: batch.batchSize, progress: progress)
        } else {
            metrics = try evaluateJSONL(embedder: embedder, columns: cols, progress: progress)
        }
        progress.finish()
        let result = metrics.json(extra: [("model", .string(model.model)), ("data", .string(inputPath))])
        let w = try ByteWriter(path: output)
        try w.write(result.serialized(indent: 2) + "\n")
        try w.commit()
        if let csv { try TripletEvaluator.appendCSV(path: csv, metrics: metrics, epoch: 0, steps: 0) }
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
                                           dimension: embedder.dimension)
            total = total.merged(with: m)
        }
        guard total.count > 0 else { throw EmbedError("\(inputPath): no triplets") }
        return total
    }
}
