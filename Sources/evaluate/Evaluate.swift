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

            --report FILE.html writes one self-contained page (no scripts, nothing fetched): the \
            accuracies (beside --baseline's, e.g. the base model's result file), the training curves \
            when the model folder holds a run's trainer_state.json, the margins' distribution, and the \
            triplets the model gets most wrong and most right with their texts (from the JSONL, or \
            the tokens file's source) and similarities.

            Examples:
              evaluate --model models/base/all-MiniLM-L6-v2 data/nb-nn/test.jsonl.zst
              evaluate --model models/my-model --report models/my-model/eval/report.html \\
                  --baseline models/my-model/eval/base.json data/ds/test.jsonl.zst
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

    @Option(name: .long, help: ArgumentHelp("Also write an HTML report here: accuracies, training curves, the best and worst triplets.", valueName: "file.html"))
    var report: String?

    @Option(name: .long, help: ArgumentHelp("An earlier evaluate result (JSON) to show beside this one in the report, e.g. the base model's.", valueName: "file.json"))
    var baseline: String?

    @Option(name: .customLong("report-rows"), help: ArgumentHelp("How many of the worst and of the best triplets the report lists.", valueName: "n"))
    var reportRows = 12

    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var log: LogOptions

    func validate() throws {
        if baseline != nil, report == nil { throw ValidationError("--baseline is shown in the report: give --report too") }
        if reportRows < 0 { throw ValidationError("--report-rows must not be negative") }
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
        // Read the baseline first: a wrong path should fail before the model runs.
        let baselineMetrics = try baseline.map { try TripletMetrics(json: try FileSystem.readJSON($0), source: $0) }
        let progress = ProgressBar("evaluate", unit: "texts")
        let metrics: TripletMetrics
        var extremes = TripletExtremes(k: report == nil ? 0 : reportRows)
        var textsNote: String? = nil
        if inputPath.hasSuffix(".safetensors") {
            let table = try TokenizedFile(path: inputPath)
            metrics = try TripletEvaluator.evaluate(model: embedder.model, table: table, columns: cols, limit: maxSamples,
                                                    batchSize: batch.batchSize, progress: progress,
                                                    observe: report == nil ? nil : { extremes.add(row: $0, positive: $1, negative: $2) })
            if report != nil { textsNote = try attachTexts(&extremes, tokens: table, columns: cols) }
        } else {
            metrics = try evaluateJSONL(embedder: embedder, columns: cols, progress: progress, extremes: &extremes)
        }
        progress.finish()
        let result = metrics.json(extra: [("model", .string(model.model)), ("data", .string(inputPath))])
        let w = try ByteWriter(path: output)
        try w.write(result.serialized(indent: 2) + "\n")
        try w.commit()
        if let csv { try TripletEvaluator.appendCSV(path: csv, metrics: metrics, epoch: 0, steps: 0) }
        if let report {
            var results = [EvaluationReport.Result(label: FileSystem.basename(model.model), metrics: metrics, source: model.model)]
            if let baseline, let b = baselineMetrics {
                let json = try FileSystem.readJSON(baseline)
                let name = json["model"]?.string.map { FileSystem.basename($0) } ?? "baseline"
                results.append(EvaluationReport.Result(label: "\(name) (baseline)", metrics: b, source: baseline))
            }
            let statePath = model.model + "/trainer_state.json"
            let history = FileSystem.isFile(statePath) ? try TrainingHistory(stateFile: statePath) : nil
            let page = EvaluationReport(modelPath: model.model, dataPath: inputPath, columns: cols, results: results,
                                        history: history, extremes: extremes, textsNote: textsNote)
            try FileSystem.writeText(page.html(), to: report)
            IO.log("Wrote the report to \(report)")
        }
    }

    /// The texts of the report's triplets, from the JSONL a tokens file was made from (its
    /// `source`); a note saying why when that file is gone.
    func attachTexts(_ extremes: inout TripletExtremes, tokens: TokenizedFile, columns cols: [String]) throws -> String? {
        let wanted = extremes.rowsWithoutText
        guard let last = wanted.max() else { return nil }
        guard let source = tokens.metadata["source"], source != "-", FileSystem.isFile(source) else {
            return "The texts are not shown: \(inputPath) does not name its source JSONL, or that file is gone; evaluate the JSONL itself to see them."
        }
        let reader = try JSONLReader(path: source)
        var row = 0
        while row <= last, let texts = try reader.nextRow(columns: cols) {
            if wanted.contains(row) { extremes.attach(row: row, texts: texts) }
            row += 1
        }
        return nil
    }

    /// Streams the triplets in chunks, so any file size fits in memory (the report keeps only its
    /// extremes' texts).
    func evaluateJSONL(embedder: TextEmbedder, columns cols: [String], progress: ProgressBar,
                       extremes: inout TripletExtremes) throws -> TripletMetrics {
        let reader = try JSONLReader(path: inputPath)
        // A local copy: the observer closure may not capture an inout parameter.
        var kept = extremes
        defer { extremes = kept }
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
            let offset = total.count
            let keep = kept.k > 0
            let m = TripletEvaluator.score(anchors: e[0], positives: e[1], negatives: e[2], count: rows.count,
                                           dimension: embedder.dimension,
                                           observe: keep ? { kept.add(row: offset + $0, positive: $1, negative: $2) } : nil)
            if keep {
                for r in kept.rowsWithoutText where r >= offset && r < offset + rows.count { kept.attach(row: r, texts: rows[r - offset]) }
            }
            total = total.merged(with: m)
        }
        guard total.count > 0 else { throw EmbedError("\(inputPath): no triplets") }
        return total
    }
}
