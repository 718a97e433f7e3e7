import ArgumentParser
import EmbedKit
import Foundation

@main
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Turn text into sentence embeddings with a model folder.",
        discussion: """
            Reads one text per line (or JSON Lines, taking the field --field), and writes one JSON \
            line {"embedding":[...]} per input line to stdout, in input order — or, with --out \
            FILE.safetensors, one float32 matrix 'embeddings' [N, D]. Texts are stripped and \
            truncated at the model's max_seq_length, as sentence-transformers' encode does, and \
            batched by length internally. Memory stays bounded whatever the input size.

            Examples:
              echo "Hva er hovedstaden i Norge?" | embed --model models/my-model
              embed --model models/my-model sentences.txt > vectors.jsonl
              embed --model models/my-model --field anchor data/test.jsonl.zst --out anchors.safetensors
            """,
        version: EmbedKitVersion.string
    )

    @Option(name: .long, help: ArgumentHelp("The model folder (a sentence-transformers or Hugging Face model).", valueName: "dir"))
    var model: String

    @Argument(help: ArgumentHelp("Input: text lines, or JSON Lines (plain, .zst or .gz); - for stdin.", valueName: "input"))
    var input: String = "-"

    @Option(name: .long, help: ArgumentHelp("Read JSON Lines and embed this field (default for .jsonl inputs: text).", valueName: "name"))
    var field: String?

    @Option(name: [.short, .long], help: ArgumentHelp("Write a safetensors file (embeddings [N, D]) instead of JSON lines; - for stdout.", valueName: "file"))
    var out: String?

    @Option(name: .customLong("batch-size"), help: "Texts per forward pass.")
    var batchSize = 32

    @Flag(name: .long, help: "L2-normalize the vectors (models with a Normalize module always are).")
    var normalize = false

    @Option(name: .customLong("max-seq-length"), help: ArgumentHelp("Truncate at this many tokens instead of the model's max_seq_length.", valueName: "n"))
    var maxSeqLength: Int?

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        do {
            try embed()
        } catch let error as EmbedError {
            writeStderr("error: \(error.message)\n")
            throw ExitCode.failure
        }
    }

    func embed() throws {
        let embedder = try TextEmbedder(directory: model, batchSize: batchSize, maxSeqLength: maxSeqLength, forceNormalize: normalize)
        let jsonl = field != nil || [".jsonl", ".jsonl.zst", ".jsonl.gz", ".json"].contains { input.hasSuffix($0) }
        let source = try TextSource(path: input, field: jsonl ? (field ?? "text") : nil)
        let D = embedder.dimension
        let progress = EmbedKit.Progress("embed", unit: "texts", quiet: quiet)
        // Output: JSON lines to stdout, or a safetensors matrix assembled from a spool.
        var jsonOut: ByteWriter? = nil
        var spool: TensorSpool? = nil
        if let out {
            let dir = out == "-" ? "." : (URL(fileURLWithPath: out).deletingLastPathComponent().path)
            spool = try TensorSpool(dtype: .f32, directory: dir)
        } else {
            jsonOut = try ByteWriter(path: "-")
        }
        var count = 0
        // Chunks of texts keep memory bounded; within a chunk batches are sorted by length.
        while let texts = try source.next(maxCount: 4096) {
            let vectors = try embedder.embed(texts)
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
        if let spool, let out {
            let w = SafetensorsWriter()
            w.metadata["model"] = model
            w.add("embeddings", shape: [count, D], spool: spool)
            try w.write(to: out)
        }
        try jsonOut?.commit()
        progress.finish()
    }
}
