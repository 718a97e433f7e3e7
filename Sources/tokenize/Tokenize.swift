import ArgumentParser
import CLI
#if canImport(Glibc)
import Glibc
#endif
import IO
import Tokenizers

@main
struct Tokenize: Tool {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize texts with a model's tokenizer into a tokens file (safetensors).",
        discussion: """
            Reads zstd/gzip/plain JSONL rows (the columns given by --columns) or, with --text, one \
            text per line, and writes a safetensors file with, per column C, `C.input_ids` (int32, \
            all rows' ids concatenated, special tokens included, truncated to the maximum length) \
            and `C.offsets` (int64, rows + 1); with --score-column S, the numeric column S as \
            `S.scores` (float32, one per row). Ids are exactly those of Hugging Face `tokenizers` \
            (texts are stripped first, as sentence-transformers does). ProgressBar goes to stderr.

            The maximum length defaults to the model's: sentence_bert_config.json max_seq_length, \
            else tokenizer_config.json model_max_length / config.json max_position_embeddings, else 512.

            Examples:
              tokenize --model models/minilm -o train.tokens.safetensors data/train.jsonl.zst
              zstd -dc train.jsonl.zst | tokenize --model models/norbert3 \\
                --max-seq-length 128 -o train.tokens.safetensors -
              tokenize --model models/e5 --text -o ud.tokens.safetensors sentences.txt
              tokenize --model models/minilm --columns query,passage -o - in.jsonl > q.tokens.safetensors
              tokenize --model models/minilm --columns sentence1,sentence2 --score-column score \\
                -o sts.tokens.safetensors sts.jsonl.zst
            """,
        version: EmbedKitVersion.string
    )

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: ArgumentHelp("Comma-separated JSONL columns to tokenize (default: anchor,positive,negative).", valueName: "a,b,…"))
    var columns: String?

    @Option(name: .customLong("score-column"), help: ArgumentHelp(
        "A numeric JSONL column to carry over as float32 scores (e.g. score, the gold similarity of sentence pairs for CoSENT and evaluate --task sts).",
        valueName: "name"))
    var scoreColumn: String?

    @Flag(name: .long, help: "Input is plain text, one text per line (column 'text').")
    var text = false

    @Option(name: [.short, .long], help: ArgumentHelp("Output tokens file (safetensors), or - for stdout.", valueName: "file"))
    var output: String = "-"

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var log: LogOptions

    @Argument(help: ArgumentHelp("Input JSON Lines or text file (zstd and gzip are detected), or - for stdin.", valueName: "input"))
    var input: String = "-"

    func validate() throws {
        if text, columns != nil { throw ValidationError("--text reads plain lines; it takes no --columns") }
        if text, scoreColumn != nil { throw ValidationError("--text reads plain lines; it takes no --score-column") }
    }

    func execute() throws {
        threads.apply()
        log.apply()
        // A tokens file is binary: refuse to spray it over a terminal (as zstd does).
        if output == "-", isatty(1) != 0 {
            throw EmbedError("not writing a binary tokens file to a terminal: give -o FILE, or redirect stdout")
        }
        var options = TokenizeOptions(modelDirectory: model.model)
        if let columns {
            options.columns = columns.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        }
        options.textLines = text
        options.scoreColumn = scoreColumn
        options.maxSeqLength = model.maxSeqLength
        options.threads = Parallel.workers
        options.input = input
        options.output = output
        let summary = try TokenizeJob.run(options)
        let rate = Double(summary.texts) / max(summary.seconds, 1e-9)
        IO.log("tokenize: \(summary.rows) rows, \(summary.texts) texts, \(summary.tokens) tokens "
               + "(max \(summary.maxSeqLength)) in \(ProgressBar.duration(summary.seconds)), \(Int(rate)) texts/s")
    }
}

private extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
