import ArgumentParser
import CLI
import Foundation
import IO
import Inference

@main
struct Embed: Tool {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Turn text into sentence embeddings with a model folder.",
        discussion: """
            Reads one text per line (or JSON Lines, taking the field --field), and writes one JSON \
            line {"embedding":[...]} per input line, in input order — to stdout, or to -o FILE \
            (.jsonl, .jsonl.zst) — or, when FILE ends in .safetensors (or with --format \
            safetensors), one float32 matrix 'embeddings' [N, D]. Texts are stripped and \
            truncated at the model's max_seq_length, as sentence-transformers' encode does, and \
            batched by length internally. Memory stays bounded whatever the input size.

            Examples:
              echo "Hva er hovedstaden i Norge?" | embed --model models/my-model
              embed --model models/my-model sentences.txt > vectors.jsonl
              embed --model models/my-model --field anchor data/test.jsonl.zst -o anchors.safetensors
              embed --model models/my-model --format safetensors - < sentences.txt > vectors.safetensors
              embed --model models/my-model --bf16 sentences.txt > vectors.jsonl   # bf16 matrix products
              embed --model models/my-matryoshka-model --dims 128 sentences.txt > short-vectors.jsonl

            --dims N keeps the first N dimensions of each vector (for a model trained with \
            matryoshka_dims) and re-normalizes them when the model normalizes its output or with \
            --normalize. sentence-transformers' encode(truncate_dim=N) only slices: pass \
            normalize_embeddings=True there to get the same vectors.
            """,
        version: EmbedKitVersion.string
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case jsonl, safetensors
    }

    @OptionGroup var model: ModelOptions

    @Argument(help: ArgumentHelp("Input: text lines, or JSON Lines (plain, .zst or .gz); - for stdin.", valueName: "input"))
    var input: String = "-"

    @Option(name: .long, help: ArgumentHelp("Read JSON Lines and embed this field (default for .jsonl inputs: text).", valueName: "name"))
    var field: String?

    @Option(name: [.short, .long, .customLong("out", withSingleDash: false)], help: ArgumentHelp(
        "Output file: JSON Lines (.jsonl, .jsonl.zst) or a safetensors matrix (.safetensors); - for stdout.", valueName: "file"))
    var output: String = "-"

    @Option(name: .long, help: ArgumentHelp("Output format (default: from the output's extension; JSON Lines on stdout).", valueName: "jsonl|safetensors"))
    var format: Format?

    @OptionGroup var batch: BatchOptions

    @Flag(name: .long, help: "L2-normalize the vectors (models with a Normalize module always are).")
    var normalize = false

    @OptionGroup var precision: PrecisionOptions
    @Option(name: .long, help: ArgumentHelp(
        "Cut the vectors to their first N dimensions (a Matryoshka model's short embeddings); re-normalized when the model normalizes or with --normalize.",
        valueName: "n"))
    var dims: Int?

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var log: LogOptions

    /// The format to write: --format, else the output's extension.
    var outputFormat: Format { format ?? (output.hasSuffix(".safetensors") ? .safetensors : .jsonl) }

    func execute() throws {
        threads.apply()
        log.apply()
        let embedder = try TextEmbedder(directory: model.model, batchSize: batch.batchSize, maxSeqLength: model.maxSeqLength,
                                        forceNormalize: normalize, bf16: precision.bf16)
        if let dims, dims < 1 { throw ValidationError("--dims must be positive") }
        try embedder.truncate(to: dims)
        let jsonl = field != nil || [".jsonl", ".jsonl.zst", ".jsonl.gz", ".json"].contains { input.hasSuffix($0) }
        let source = try TextSource(path: input, field: jsonl ? (field ?? "text") : nil)
        let D = embedder.outputDimension
        let progress = ProgressBar("embed", unit: "texts")
        // Output: JSON lines, or a safetensors matrix assembled from a spool.
        var jsonOut: ByteWriter? = nil
        var spool: TensorSpool? = nil
        switch outputFormat {
        case .safetensors:
            let dir = output == "-" ? "." : URL(fileURLWithPath: output).deletingLastPathComponent().path
            spool = try TensorSpool(dtype: .f32, directory: dir)
        case .jsonl:
            jsonOut = try ByteWriter(path: output, zstdLevel: ByteWriter.isZstdPath(output) ? 3 : nil)
        }
        var count = 0
        // Chunks of texts keep memory bounded; within a chunk batches are sorted by length.
        while let texts = try source.next(maxCount: 4096) {
            let vectors = try embedder.embed(texts)
            // JSON has no NaN or infinity, and such a vector is useless anyway: name its line.
            for i in 0..<texts.count where !vectors[(i * D)..<((i + 1) * D)].allSatisfy(\.isFinite) {
                throw EmbedError("\(input):\(source.lineNumbers[i]): the embedding is not finite (NaN or infinity): "
                                 + "the model's weights are probably damaged")
            }
            if let spool {
                try vectors.withUnsafeBytes { try spool.append($0) }
            } else if let jsonOut {
                var text = ""
                for i in 0..<texts.count {
                    text += "{\"embedding\":["
                    for c in 0..<D {
                        if c > 0 { text += "," }
                        text += vectors[i * D + c].description
                    }
                    text += "]}\n"
                }
                try jsonOut.write(text)
            }
            count += texts.count
            progress.advance(by: texts.count)
        }
        if let spool {
            let w = SafetensorsWriter()
            w.metadata["model"] = model.model
            w.add("embeddings", shape: [count, D], spool: spool)
            try w.write(to: output)
        }
        try jsonOut?.commit()
        progress.finish()
    }
}
