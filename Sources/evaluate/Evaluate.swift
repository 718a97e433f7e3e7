import ArgumentParser
import CLI
import Foundation
import IO
import Inference

@main
struct Evaluate: Tool {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a model: triplet accuracy, or retrieval metrics (NDCG@10, MRR@10, …) as a search engine.",
        discussion: """
            --task triplet (the default) computes what sentence-transformers' TripletEvaluator \
            does: the share of triplets where sim(anchor, positive) > sim(anchor, negative), for \
            cosine and dot similarity and for (negative) Euclidean and Manhattan distance. The \
            input is zstd/plain JSON Lines with the triplet columns (tokenized here with the \
            model's tokenizer), or a tokens file from `tokenize` (.safetensors).

            --report FILE.html (triplets) writes one self-contained page (no scripts, nothing fetched): the \
            accuracies (beside --baseline's, e.g. the base model's result file), the training curves \
            when the model folder holds a run's trainer_state.json, the margins' distribution, and the \
            triplets the model gets most wrong and most right with their texts (from the JSONL, or \
            the tokens file's source) and similarities.

            --task retrieval computes what sentence-transformers' InformationRetrievalEvaluator \
            does: every query ranks the whole corpus by similarity (exact search; ties by corpus \
            id), and accuracy@k, precision@k, recall@k (k = 1, 3, 5, 10), NDCG@10, MRR@10 and \
            MAP@100 are averaged over the queries that have a relevant document, for cosine and \
            dot similarity (--score-functions). The keys are sentence-transformers' without the \
            evaluator's name: cosine_ndcg@10, cosine_mrr@10, cosine_map@100, cosine_accuracy@1, \
            …, dot_ndcg@10, …. The input is either
              - a BEIR folder: corpus.jsonl (_id, title, text), queries.jsonl (_id, text) and \
            qrels/<split>.tsv (query-id, corpus-id, score; --split, default test), plain, .zst or \
            .gz, as `fetch-data beir` writes them. A document's text is its title and text. A \
            qrels row counts as relevant when its score is above 0 (BEIR's convention: 0 means \
            judged not relevant); --keep-zero-scores counts every row, as sentence-transformers' \
            own examples do;
              - or a pairs file (JSON Lines or a tokens file): each distinct anchor is a query, \
            the distinct positives are the corpus, and an anchor's positives are its relevant \
            documents (the first two columns, or --columns anchor,positive).
            Texts get the model's query and document prompts, if it has any.

            Writes the metrics as JSON to stdout, or to -o FILE.

            Examples:
              evaluate --model models/base/all-MiniLM-L6-v2 data/nb-nn/test.jsonl.zst
              evaluate --model models/my-model --report models/my-model/eval/report.html \\
                  --baseline models/my-model/eval/base.json data/ds/test.jsonl.zst
              evaluate --model models/my-model data/ds/my-model/test.tokens.safetensors \\
                  -o models/my-model/eval/test.json \\
                  --csv models/my-model/eval/triplet_evaluation_test_results.csv
              evaluate --task retrieval --model models/my-model data/scifact          # a BEIR folder
              evaluate --task retrieval --model models/my-model --columns question,answer qa-test.jsonl.zst
              evaluate --model models/my-model --bf16 data/nb-nn/test.jsonl.zst   # bf16 matrix products
            """,
        version: EmbedKitVersion.string
    )

    enum Task: String, ExpressibleByArgument, CaseIterable {
        case triplet, retrieval
    }

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: ArgumentHelp("What to measure: triplet accuracy, or retrieval metrics.", valueName: "triplet|retrieval"))
    var task = Task.triplet

    @Argument(help: ArgumentHelp(
        "Triplets or pairs: JSON Lines (.jsonl, .jsonl.zst; - for stdin) or a tokens file (.safetensors); for retrieval also a BEIR folder.",
        valueName: "input"))
    var input: String?

    @Option(name: .long, help: ArgumentHelp("The input, as an option (the same as the positional argument).", valueName: "file"))
    var data: String?

    @Option(name: .long, help: ArgumentHelp(
        "The column names: anchor,positive,negative (triplet; that is the default), anchor,positive (retrieval on pairs; default: the first two).",
        valueName: "names"))
    var columns: String?

    @Option(name: .long, help: ArgumentHelp("Retrieval on a BEIR folder: the qrels split (qrels/<split>.tsv).", valueName: "name"))
    var split = "test"

    @Flag(name: .customLong("keep-zero-scores"), help: "Retrieval on a BEIR folder: count qrels rows with score 0 (or less) as relevant too.")
    var keepZeroScores = false

    @Option(name: .customLong("score-functions"), help: ArgumentHelp("Retrieval: the similarities to rank by.", valueName: "cosine,dot"))
    var scoreFunctions = "cosine,dot"

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
        if task == .retrieval, report != nil { throw ValidationError("--report shows triplets: it is for --task triplet") }
        if let columns {
            let n = columns.split(separator: ",").count
            if task == .triplet, n != 3 { throw ValidationError("--columns needs three names: anchor,positive,negative") }
            if task == .retrieval, n != 2 { throw ValidationError("--columns needs two names for retrieval: anchor,positive") }
        }
        if task == .retrieval {
            let names = scoreFunctions.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !names.isEmpty, names.allSatisfy({ ScoreFunction(rawValue: $0) != nil }) else {
                throw ValidationError("--score-functions takes cosine, dot or cosine,dot, not '\(scoreFunctions)'")
            }
        }
        if input != nil, data != nil { throw ValidationError("give the input once: as an argument or with --data") }
        if let maxSamples, maxSamples < 1 { throw ValidationError("--max-samples must be positive") }
    }

    /// The triplets file: the argument, or --data; stdin when neither is given.
    var inputPath: String { input ?? data ?? "-" }

    /// --columns as a list (nil: the task's default).
    var columnList: [String]? { columns?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }

    func execute() throws {
        threads.apply()
        log.apply()
        if task == .retrieval { return try executeRetrieval() }
        let cols = columnList ?? ["anchor", "positive", "negative"]
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
