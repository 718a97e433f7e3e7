import ArgumentParser
import EmbedKit
import Foundation

@main
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a model's triplet accuracy (anchor closer to positive than to negative).",
        discussion: """
            Computes what sentence-transformers' TripletEvaluator does: the share of triplets where \
            sim(anchor, positive) > sim(anchor, negative), for cosine and dot similarity and for \
            (negative) Euclidean and Manhattan distance. Prints the metrics as JSON on stdout.

            --data is zstd/plain JSON Lines with the triplet columns (tokenized here with the \
            model's tokenizer), or a tokens file from `tokenize` (.safetensors).

            Examples:
              evaluate --model models/base/all-MiniLM-L6-v2 --data data/nb-nn/test.jsonl.zst
              evaluate --model models/my-model --data data/ds/my-model/test.tokens.safetensors \\
                  --csv models/my-model/eval/triplet_evaluation_test_results.csv
            """,
        version: EmbedKitVersion.string
    )

    @Option(name: .long, help: ArgumentHelp("The model folder.", valueName: "dir"))
    var model: String

    @Option(name: .long, help: ArgumentHelp("Triplets: JSON Lines (.jsonl, .jsonl.zst; - for stdin) or a tokens file (.safetensors).", valueName: "file"))
    var data: String

    @Option(name: .long, help: ArgumentHelp("The anchor, positive and negative column names.", valueName: "a,p,n"))
    var columns = "anchor,positive,negative"

    @Option(name: .customLong("batch-size"), help: "Texts per forward pass.")
    var batchSize = 64

    @Option(name: .customLong("max-samples"), help: ArgumentHelp("Evaluate only the first N triplets.", valueName: "n"))
    var maxSamples: Int?

    @Option(name: .customLong("max-seq-length"), help: ArgumentHelp("Truncate at this many tokens instead of the model's max_seq_length.", valueName: "n"))
    var maxSeqLength: Int?

    @Option(name: .long, help: ArgumentHelp("Append a row to this CSV (TripletEvaluator's columns).", valueName: "file"))
    var csv: String?

    @Option(name: .long, help: ArgumentHelp("Also write the JSON result to this file.", valueName: "file"))
    var output: String?

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard columns.split(separator: ",").count == 3 else { throw ValidationError("--columns needs three names: anchor,positive,negative") }
    }

    func run() throws {
        do {
            try evaluate()
        } catch let error as EmbedError {
            writeStderr("error: \(error.message)\n")
            throw ExitCode.failure
        }
    }

    func evaluate() throws {
        let cols = columns.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        let embedder = try TextEmbedder(directory: model, batchSize: batchSize, maxSeqLength: maxSeqLength)
        let progress = EmbedKit.Progress("evaluate", unit: "texts", quiet: quiet)
        let metrics: TripletMetrics
        if data.hasSuffix(".safetensors") {
            let table = try TokenizedFile(path: data)
            metrics = try TripletEvaluator.evaluate(model: embedder.model, table: table, columns: cols, limit: maxSamples,
                                                    batchSize: batchSize, progress: progress)
        } else {
            metrics = try evaluateJSONL(embedder: embedder, columns: cols, progress: progress)
        }
        progress.finish()
        let result = metrics.json(extra: [("model", .string(model)), ("data", .string(data))])
        print(result.serialized(indent: 2))
        if let output {
            let w = try ByteWriter(path: output)
            try w.write(result.serialized(indent: 2) + "\n")
            try w.commit()
        }
        if let csv { try TripletEvaluator.appendCSV(path: csv, metrics: metrics, epoch: 0, steps: 0) }
    }

    /// Streams the triplets in chunks, so any file size fits in memory.
    func evaluateJSONL(embedder: TextEmbedder, columns cols: [String], progress: EmbedKit.Progress) throws -> TripletMetrics {
        let reader = try JSONLReader(path: data)
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
        guard total.count > 0 else { throw EmbedError("\(data): no triplets") }
        return total
    }
}
