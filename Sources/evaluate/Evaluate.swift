import ArgumentParser
import CLI
import Foundation
import IO
import Inference

@main
struct Evaluate: Tool {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a model: triplet accuracy, retrieval metrics (NDCG@10, MRR@10, …) as a search engine, or STS correlation on scored pairs.",
        discussion: """
            --task triplet (the default) computes what sentence-transformers' TripletEvaluator \
            does: the share of triplets where sim(anchor, positive) > sim(anchor, negative), for \
            cosine and dot similarity and for (negative) Euclidean and Manhattan distance. The \
            input is zstd/plain JSON Lines with the triplet columns (tokenized here with the \
            model's tokenizer), or a tokens file from `tokenize` (.safetensors).

            --task sts computes what its EmbeddingSimilarityEvaluator does on (sentence1, \
            sentence2, score) pairs: the Pearson and Spearman correlations (Spearman with tied \
            values sharing their average rank, as scipy) between the gold scores and the cosine, \
            Euclidean, Manhattan and dot similarities of the two sentences' embeddings, under its \
            names: pearson_cosine, spearman_cosine, …, pearson_max, spearman_max. The input is \
            JSON Lines or a tokens file made with --score-column.

            --dims N (triplet, sts) evaluates the vectors cut to their first N dimensions (a \
            Matryoshka model's short embeddings), re-normalized when the model normalizes. \
            (sentence-transformers' truncate_dim does not re-normalize: cosine metrics agree, dot \
            metrics differ.) A list, --dims 384,128,64, embeds once and reports each size under \
            "by_dims".

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
              evaluate --model models/my-model --dims 64 data/nb-nn/test.jsonl.zst
              evaluate --model models/my-model --dims 384,128,64 data/nb-nn/test.jsonl.zst
              evaluate --model models/my-model --task sts data/sts/test.jsonl.zst
              evaluate --model models/my-model --task sts --columns s1,s2 --score-column label pairs.jsonl
            """,
        version: EmbedKitVersion.string
    )

    enum Task: String, ExpressibleByArgument, CaseIterable {
        case triplet, retrieval, sts
    }

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: ArgumentHelp("What to measure: triplet accuracy, retrieval metrics, or STS correlation of scored pairs.",
                                            valueName: "triplet|retrieval|sts"))
    var task = Task.triplet

    @Argument(help: ArgumentHelp(
        "Triplets or pairs: JSON Lines (.jsonl, .jsonl.zst; - for stdin) or a tokens file (.safetensors); for retrieval also a BEIR folder.",
        valueName: "input"))
    var input: String?

    @Option(name: .long, help: ArgumentHelp("The input, as an option (the same as the positional argument).", valueName: "file"))
    var data: String?

    @Option(name: .long, help: ArgumentHelp(
        "The column names: anchor,positive,negative (triplet; that is the default), anchor,positive (retrieval on pairs; default: the first two), sentence1,sentence2 (sts; that is the default).",
        valueName: "names"))
    var columns: String?

    @Option(name: .long, help: ArgumentHelp("Retrieval on a BEIR folder: the qrels split (qrels/<split>.tsv).", valueName: "name"))
    var split = "test"

    @Flag(name: .customLong("keep-zero-scores"), help: "Retrieval on a BEIR folder: count qrels rows with score 0 (or less) as relevant too.")
    var keepZeroScores = false

    @Option(name: .customLong("score-functions"), help: ArgumentHelp("Retrieval: the similarities to rank by.", valueName: "cosine,dot"))
    var scoreFunctions = "cosine,dot"

    @Option(name: .customLong("score-column"), help: ArgumentHelp("sts: the gold score column.", valueName: "name"))
    var scoreColumn = "score"

    @Option(name: .long, help: ArgumentHelp("Triplet and sts: evaluate the vectors cut to their first N dimensions (Matryoshka); a list N,M,… reports each.",
                                            valueName: "n[,m…]"))
    var dims: String?

    @OptionGroup var batch: BatchOptions

    @Option(name: .customLong("max-samples"), help: ArgumentHelp("Evaluate only the first N triplets (or pairs).", valueName: "n"))
    var maxSamples: Int?

    @Option(name: [.short, .long], help: ArgumentHelp("Write the JSON result here instead of stdout (atomically).", valueName: "file"))
    var output: String = "-"

    @Option(name: .long, help: ArgumentHelp("Also append a row to this CSV (TripletEvaluator's or EmbeddingSimilarityEvaluator's columns).", valueName: "file"))
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

    /// The text columns of triplet and sts: --columns, or the task's defaults.
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
        if baseline != nil, report == nil { throw ValidationError("--baseline is shown in the report: give --report too") }
        if reportRows < 0 { throw ValidationError("--report-rows must not be negative") }
        if task != .triplet, report != nil { throw ValidationError("--report shows triplets: it is for --task triplet") }
        switch task {
        case .triplet, .sts:
            let wanted = task == .sts ? 2 : 3
            guard textColumns.count == wanted, !textColumns.contains(where: \.isEmpty) else {
                throw ValidationError(task == .sts ? "--columns needs two names for sts: sentence1,sentence2"
                                                   : "--columns needs three names: anchor,positive,negative")
            }
        case .retrieval:
            if let columns, columns.split(separator: ",").count != 2 {
                throw ValidationError("--columns needs two names for retrieval: anchor,positive")
            }
            let names = scoreFunctions.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !names.isEmpty, names.allSatisfy({ ScoreFunction(rawValue: $0) != nil }) else {
                throw ValidationError("--score-functions takes cosine, dot or cosine,dot, not '\(scoreFunctions)'")
            }
            if dims != nil { throw ValidationError("--dims is for --task triplet and sts") }
        }
        if input != nil, data != nil { throw ValidationError("give the input once: as an argument or with --data") }
        if let maxSamples, maxSamples < 1 { throw ValidationError("--max-samples must be positive") }
        if dims != nil {
            guard let list = dimsList, list.allSatisfy({ $0 >= 1 }) else {
                throw ValidationError("--dims needs positive whole numbers, separated by commas: '\(dims!)'")
            }
            if list.count > 1, csv != nil { throw ValidationError("--csv takes one --dims value, not a list") }
            if list.count > 1, report != nil { throw ValidationError("--report takes one --dims value, not a list") }
        }
    }

    /// The input file: the argument, or --data; stdin when neither is given.
    var inputPath: String { input ?? data ?? "-" }

    /// --columns as a list (nil: the task's default).
    var columnList: [String]? { columns?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }

    func execute() throws {
        threads.apply()
        log.apply()
        if task == .retrieval { return try executeRetrieval() }
        let cols = textColumns
        let embedder = try TextEmbedder(directory: model.model, batchSize: batch.batchSize, maxSeqLength: model.maxSeqLength,
                                        bf16: precision.bf16)
        // Every size is checked against the model; one size cuts as the embedder embeds, a list is
        // cut from the full vectors of one pass.
        let sizes = dimsList ?? [embedder.dimension]
        for d in sizes { try embedder.truncate(to: d) }
        try embedder.truncate(to: sizes.count == 1 ? dimsList?.first : nil)
        // Read the baseline first: a wrong path should fail before the model runs.
        let baselineMetrics = try baseline.map { try TripletMetrics(json: try FileSystem.readJSON($0), source: $0) }
        let progress = ProgressBar("evaluate", unit: "texts")
        let extra: [(String, JSON)] = [("model", .string(model.model)), ("data", .string(inputPath))]
        let results: [JSON]
        var tripletMetrics: TripletMetrics? = nil
        var extremes = TripletExtremes(k: report == nil ? 0 : reportRows)
        var textsNote: String? = nil
        switch task {
        case .triplet, .retrieval:  // retrieval returned above
            let metrics: [TripletMetrics]
            if inputPath.hasSuffix(".safetensors") {
                let table = try TokenizedFile(path: inputPath)
                metrics = try TripletEvaluator.evaluate(model: embedder.model, table: table, columns: cols, limit: maxSamples,
                                                        batchSize: batch.batchSize, dims: sizes, progress: progress,
                                                        observe: report == nil ? nil : { extremes.add(row: $0, positive: $1, negative: $2) })
                if report != nil { textsNote = try attachTexts(&extremes, tokens: table, columns: cols) }
            } else {
                metrics = try evaluateJSONL(embedder: embedder, columns: cols, dims: sizes, progress: progress, extremes: &extremes)
            }
            if let csv { try TripletEvaluator.appendCSV(path: csv, metrics: metrics[0], epoch: 0, steps: 0) }
            tripletMetrics = metrics[0]
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
        if let report, let metrics = tripletMetrics {
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

    /// Streams the triplets in chunks, so any file size fits in memory (the report keeps only its
    /// extremes' texts, at the first of `dims`).
    func evaluateJSONL(embedder: TextEmbedder, columns cols: [String], dims: [Int], progress: ProgressBar,
                       extremes: inout TripletExtremes) throws -> [TripletMetrics] {
        let reader = try JSONLReader(path: inputPath)
        // A local copy: the observer closure may not capture an inout parameter.
        var kept = extremes
        defer { extremes = kept }
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
            let offset = total[0].count
            let keep = kept.k > 0
            let C = embedder.outputDimension
            for (k, d) in dims.enumerated() {
                let x = e.map { cut($0, rows: rows.count, dimension: C, to: d, embedder) }
                let observe: ((Int, Double, Double) -> Void)? = keep && k == 0 ? { kept.add(row: offset + $0, positive: $1, negative: $2) } : nil
                total[k] = total[k].merged(with: TripletEvaluator.score(anchors: x[0], positives: x[1], negatives: x[2],
                                                                        count: rows.count, dimension: min(d, C), observe: observe))
            }
            if keep {
                for r in kept.rowsWithoutText where r >= offset && r < offset + rows.count { kept.attach(row: r, texts: rows[r - offset]) }
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
