import ArgumentParser
import EmbedKit

@main
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize texts with a model's tokenizer into a tokens file (safetensors).",
        discussion: """
            Reads zstd/gzip/plain JSONL rows (the columns given by --columns) or, with --text, one \
            text per line, and writes a safetensors file with, per column C, `C.input_ids` (int32, \
            all rows' ids concatenated, special tokens included, truncated to the maximum length) \
            and `C.offsets` (int64, rows + 1). Ids are exactly those of Hugging Face `tokenizers` \
            (texts are stripped first, as sentence-transformers does). Progress goes to stderr.

            The maximum length defaults to the model's: sentence_bert_config.json max_seq_length, \
            else tokenizer_config.json model_max_length / config.json max_position_embeddings, else 512.

            Examples:
              tokenize --model models/minilm -o train.tok data/train.jsonl.zst
              zstd -dc train.jsonl.zst | tokenize --model models/norbert3 \\
                --max-seq-length 128 -o train.tok
              tokenize --model models/e5 --text -o ud.tok sentences.txt
              tokenize --model models/minilm --columns query,passage -o - in.jsonl
            """,
        version: EmbedKitVersion.string
    )

    @Option(name: .long, help: "Model folder with tokenizer.json, or vocab.txt (+ tokenizer_config.json).")
    var model: String

    @Option(name: .long, help: "Comma-separated JSONL columns to tokenize (default: anchor,positive,negative).")
    var columns: String?

    @Flag(name: .long, help: "Input is plain text, one text per line (column 'text').")
    var text = false

    @Option(name: .long, help: "Maximum ids per text, special tokens included (default: the model's).")
    var maxSeqLength: Int?

    @Option(name: .long, help: "Worker threads.")
    var threads: Int = 2

    @Option(name: [.short, .customLong("output")], help: "Output safetensors file ('-' for stdout).")
    var output: String = "-"

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    @Argument(help: "Input file ('-' for stdin); zstd and gzip are detected.")
    var input: String = "-"

    func validate() throws {
        if let maxSeqLength, maxSeqLength < 1 { throw ValidationError("--max-seq-length must be positive") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if text, columns != nil { throw ValidationError("--text reads plain lines; it takes no --columns") }
    }

    func run() throws {
        var options = TokenizeOptions(modelDirectory: model)
        if let columns {
            options.columns = columns.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        }
        options.textLines = text
        options.maxSeqLength = maxSeqLength
        options.threads = threads
        options.input = input
        options.output = output
        options.quiet = quiet
        do {
            let summary = try TokenizeJob.run(options)
            if !quiet {
                let rate = Double(summary.texts) / max(summary.seconds, 1e-9)
                log("tokenize: \(summary.rows) rows, \(summary.texts) texts, \(summary.tokens) tokens "
                    + "(max \(summary.maxSeqLength)) in \(Progress.duration(summary.seconds)), \(Int(rate)) texts/s")
            }
        } catch let error as EmbedError {
            log("error: \(error.message)")
            throw ExitCode.failure
        }
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
