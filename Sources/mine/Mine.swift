import ArgumentParser
import CLI
import Foundation
import IO
import Inference

@main
struct Mine: Tool {
    static let configuration = CommandConfiguration(
        commandName: "mine",
        abstract: "Mine hard negatives for (anchor, positive) pairs with a model: write triplets for tokenize/train.",
        discussion: """
            Does what sentence-transformers' util.mine_hard_negatives does (exact search): embeds the \
            distinct anchors and the corpus — the distinct positives, after the texts of --corpus \
            when given — L2-normalized, finds each anchor's nearest corpus texts by cosine \
            similarity, skips the anchor's own text and its positives, drops candidates by \
            --absolute-margin, --relative-margin, --max-score and --min-score (compared with the \
            anchor's lowest positive score), keeps the window [--range-min, --range-max) of the \
            surviving candidates, and takes its --num-negatives best (--sampling-strategy top) or a \
            random sample of them (random: Python's random.sample after random.seed(--seed)). \
            Without --range-max the window is --range-min + --num-negatives (10 x that with a margin \
            or --max-score) + the most rows any anchor has.

            Input: JSON Lines pairs (plain, .zst, .gz; - for stdin), by default the first two \
            columns of the first row (e.g. anchor, positive); other columns are ignored. Output: \
            JSON Lines (zstd when the name ends in .zst; - for stdout), grouped by anchor: \
            triplets {anchor, positive, negative}, one row per negative, or n-tuples {anchor, \
            positive, negative_1, …, negative_N}, one row per pair that got N negatives; \
            --output-scores adds scores [positive, negative…]. A pair without a valid negative gets \
            no row. sentence-transformers' summary (score statistics, skipped candidates) goes to \
            stderr.

            Memory: the anchors' vectors and all texts; the corpus is embedded and searched in \
            chunks (cblas_sgemm with a running top-k on every core), so its vectors are never all \
            held. Ties are ordered by corpus position (Python orders them arbitrarily).

            Examples:
              mine --model models/base/all-MiniLM-L6-v2 data/qa/train.jsonl.zst -o data/qa/train-mined.jsonl.zst
              mine --model models/my-model --num-negatives 1 --range-min 10 --relative-margin 0.05 \\
                  pairs.jsonl.zst -o triplets.jsonl.zst
              mine --model models/my-model --corpus documents.txt --num-negatives 5 --output-format n-tuple \\
                  --sampling-strategy random --seed 7 --output-scores pairs.jsonl -o - | head
            """,
        version: EmbedKitVersion.string
    )

    @OptionGroup var model: ModelOptions

    @Argument(help: ArgumentHelp("(anchor, positive) pairs: JSON Lines (.jsonl, .jsonl.zst, .jsonl.gz); - for stdin.", valueName: "input"))
    var input: String = "-"

    @Option(name: [.short, .long], help: ArgumentHelp("Output JSON Lines (.jsonl.zst for zstd), or - for stdout.", valueName: "file"))
    var output: String = "-"

    @Option(name: .long, help: ArgumentHelp("The anchor and positive columns (default: the first two of the first row).", valueName: "a,p"))
    var columns: String?

    @Option(name: .long, help: ArgumentHelp("More candidate texts besides the positives: text lines, or JSON Lines (field --corpus-field).", valueName: "file"))
    var corpus: String?

    @Option(name: .customLong("corpus-field"), help: ArgumentHelp("The text field of a JSON Lines --corpus.", valueName: "name"))
    var corpusField = "text"

    @Option(name: .customLong("num-negatives"), help: ArgumentHelp("Negatives per anchor.", valueName: "n"))
    var numNegatives = 3

    @Option(name: .customLong("range-min"), help: ArgumentHelp("Skip this many of the best surviving candidates.", valueName: "n"))
    var rangeMin = 0

    @Option(name: .customLong("range-max"), help: ArgumentHelp("End of the candidate window, among surviving candidates (default: derived).", valueName: "n"))
    var rangeMax: Int?

    @Option(name: .customLong("max-score"), help: ArgumentHelp("Drop candidates with a similarity above this.", valueName: "x"))
    var maxScore: Double?

    @Option(name: .customLong("min-score"), help: ArgumentHelp("Drop candidates with a similarity below this.", valueName: "x"))
    var minScore: Double?

    @Option(name: .customLong("absolute-margin"), help: ArgumentHelp(
        "Drop candidates with similarity + x above the anchor's lowest positive similarity.", valueName: "x"))
    var absoluteMargin: Double?

    @Option(name: .customLong("relative-margin"), help: ArgumentHelp(
        "Drop candidates with similarity above p − |p|·x, p the anchor's lowest positive similarity (0.05: at most 95% of it).", valueName: "x"))
    var relativeMargin: Double?

    @Option(name: .customLong("sampling-strategy"), help: ArgumentHelp("top: the best of the window; random: a random sample of it.", valueName: "top|random"))
    var samplingStrategy = "top"

    @Option(name: .customLong("output-format"), help: ArgumentHelp("triplet: a row per negative; n-tuple: a row per pair with all its negatives.", valueName: "triplet|n-tuple"))
    var outputFormat = "triplet"

    @Flag(name: .customLong("include-positives"), help: "Keep the anchor's positives as candidates (implies --output-format n-tuple).")
    var includePositives = false

    @Flag(name: .customLong("output-scores"), help: "Add a scores column: [positive similarity, negative similarities…].")
    var outputScores = false

    @Option(name: .long, help: ArgumentHelp("Seed of random sampling (Python's random.seed).", valueName: "n"))
    var seed: UInt64 = 42

    @Option(name: .customLong("negative-column"), help: ArgumentHelp("Name of the negative column (n-tuples: NAME_1 … NAME_N).", valueName: "name"))
    var negativeColumn = "negative"

    @Option(name: .customLong("query-prompt"), help: ArgumentHelp("Text put before each anchor (default: the model's 'query' prompt, if any).", valueName: "text"))
    var queryPrompt: String?

    @Option(name: .customLong("corpus-prompt"), help: ArgumentHelp("Text put before each corpus text (default: the model's 'document' prompt, if any).", valueName: "text"))
    var corpusPrompt: String?

    @Option(name: .customLong("max-rows"), help: ArgumentHelp("Read only the first N pairs.", valueName: "n"))
    var maxRows: Int?

    @OptionGroup var batch: BatchOptions
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var log: LogOptions

    func validate() throws {
        if let columns, columns.split(separator: ",", omittingEmptySubsequences: false).count != 2 || columns.contains(",,") {
            throw ValidationError("--columns needs two names: anchor,positive")
        }
        guard MiningOptions.Strategy(rawValue: samplingStrategy) != nil else {
            throw ValidationError("--sampling-strategy must be top or random, not '\(samplingStrategy)'")
        }
        guard MiningOptions.Format(rawValue: outputFormat) != nil else {
            throw ValidationError("--output-format must be triplet or n-tuple, not '\(outputFormat)'")
        }
        if let maxRows, maxRows < 1 { throw ValidationError("--max-rows must be positive") }
        if negativeColumn.isEmpty { throw ValidationError("--negative-column must not be empty") }
    }

    var options: MiningOptions {
        var o = MiningOptions()
        o.rangeMin = rangeMin
        o.rangeMax = rangeMax
        o.maxScore = maxScore
        o.minScore = minScore
        o.absoluteMargin = absoluteMargin
        o.relativeMargin = relativeMargin
        o.numNegatives = numNegatives
        o.samplingStrategy = MiningOptions.Strategy(rawValue: samplingStrategy)!
        o.outputFormat = MiningOptions.Format(rawValue: outputFormat)!
        o.includePositives = includePositives
        o.outputScores = outputScores
        o.seed = seed
        return o
    }

    func execute() throws {
        threads.apply()
        log.apply()
        let options = self.options
        // Fail on bad options before reading or embedding anything (the window needs the pairs'
        // positive counts; 1 checks everything else).
        _ = try options.resolved(maxPositives: 1)
        let embedder = try TextEmbedder(directory: model.model, batchSize: batch.batchSize, maxSeqLength: model.maxSeqLength,
                                        bf16: precision.bf16)
        let prompts = try ModelPrompts.load(directory: model.model)
        if let f = prompts.similarityFunction, !["cosine", "dot"].contains(f) {
            throw EmbedError("\(model.model): similarity_fn_name '\(f)': mine ranks by cosine similarity (models with cosine or dot similarity)")
        }
        let cols = columns.map { c -> (anchor: String, positive: String) in
            let parts = c.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            return (parts[0], parts[1])
        }
        let extra = try corpus.map { path -> TextSource in
            let jsonl = [".jsonl", ".jsonl.zst", ".jsonl.gz", ".json"].contains { path.hasSuffix($0) }
            return try TextSource(path: path, field: jsonl ? corpusField : nil)
        }
        let data = try PairsData.read(path: input, columns: cols, limit: maxRows, extraCorpus: extra)
        IO.log("\(input): \(data.rowCount) pairs, \(data.queries.count) distinct anchors, corpus of \(data.corpus.count) texts")

        let miner = HardNegativeMiner(embedder: embedder, options: options)
        miner.queryPrompt = queryPrompt ?? prompts.query
        miner.corpusPrompt = corpusPrompt ?? prompts.document
        let progress = ProgressBar("mine", total: data.queries.count + data.corpus.count, unit: "texts")
        let result = try miner.mine(data, progress: progress)
        progress.finish()
        IO.log("Negative candidates mined, preparing dataset...")

        var rows = MinedRows(data: data, positiveScores: result.positiveScores, negatives: result.negatives,
                             format: result.resolved.format, outputScores: options.outputScores)
        rows.negativeColumn = negativeColumn
        if output != "-" { try FileSystem.createDirectory(FileSystem.dirname(output)) }
        let writer = try ByteWriter(path: output, zstdLevel: ByteWriter.isZstdPath(output) ? 3 : nil)
        let summary = try rows.write { try writer.write($0) }
        try writer.commit()
        for line in MiningReport.lines(summary: summary, skipped: result.negatives.skipped, options: options) { IO.log(line) }
        IO.log("\(output == "-" ? "stdout" : output): \(summary.rows) rows, columns \(rows.columns.joined(separator: ", "))")
    }
}
