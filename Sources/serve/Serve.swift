import ArgumentParser
import CLI
import Foundation
import Hummingbird
import IO
import Inference
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

@main
struct Serve: AsyncTool {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over HTTP: TEI's and OpenAI's embeddings APIs, and a search page over a corpus.",
        discussion: """
            Runs an HTTP server compatible with Hugging Face text-embeddings-inference (TEI 1.9) \
            and with OpenAI's embeddings API. Concurrent requests are batched dynamically: inputs \
            queue and run together in batches of at most --max-batch-tokens tokens and \
            --batch-size texts, and a text's vector is `embed`'s for it, whatever batch it \
            lands in (up to float rounding: sums run in a batch-dependent order; a request's \
            inputs are queued together, so a request alone gets the same vectors every time). Past \
            --max-concurrent-requests inputs in flight, requests get 429 at once. SIGTERM or \
            Ctrl-C stops accepting connections, answers what is queued and exits 0.

            Routes:
              POST /embed            TEI: {"inputs": str | [str], "normalize"?, "truncate"?,
                                     "truncation_direction"?, "prompt_name"?, "dimensions"?} -> [[...]]
              POST /v1/embeddings    OpenAI: {"input": str | [str], "model"?, "dimensions"?,
                                     "encoding_format"?: "float" | "base64"} (also /embeddings)
              GET  /health  /info  /metrics (Prometheus, TEI's metric names)
              GET  /search?q=...&k=10  and  GET /  (the search page), with --corpus

            As TEI 1.9: validation errors are 422 (a text longer than the model takes with \
            "truncate": false too), an empty input 400, too many inputs 422, overload 429, and \
            "truncate" defaults to true (--no-auto-truncate changes it). Errors are JSON: \
            {"error", "error_type"} (PascalCase types), and {"message", "code", "type"} on \
            /v1/embeddings. Unlike TEI, a body over --max-body-bytes (413), one that is not JSON \
            (400) or of the wrong shape (422) also gets a JSON error, and "normalize": false \
            returns the model's own output (normalized anyway when the model has a Normalize \
            module, as `embed` does).

            Examples:
              serve --model models/my-model --port 8080
              curl -s localhost:8080/embed -H 'Content-Type: application/json' -d '{"inputs": ["Hei!"]}'
              curl -s localhost:8080/v1/embeddings -H 'Content-Type: application/json' \\
                -d '{"input": "Hva er hovedstaden i Norge?", "model": "my-model"}'
              serve --model models/my-model --corpus data/test.jsonl.zst --field anchor   # then open http://127.0.0.1:8080/
              embed --model models/my-model --field anchor data/test.jsonl.zst -o anchors.safetensors
              serve --model models/my-model --corpus data/test.jsonl.zst --field anchor --vectors anchors.safetensors
            """,
        version: EmbedKitVersion.string
    )

    @OptionGroup var model: ModelOptions

    @Option(name: [.long, .customLong("hostname")], help: ArgumentHelp("Address to listen on (0.0.0.0: every interface).", valueName: "address"))
    var host = "127.0.0.1"

    @Option(name: [.short, .long], help: ArgumentHelp("Port to listen on (0: any free port, printed at start).", valueName: "n"))
    var port = 8080

    @OptionGroup var batch: BatchOptions
    @OptionGroup var precision: PrecisionOptions

    @Option(name: .customLong("max-batch-tokens"), help: ArgumentHelp(
        "Tokens per forward pass: queued inputs are batched up to this many tokens (TEI's default).", valueName: "n"))
    var maxBatchTokens = 16_384

    @Option(name: .customLong("max-concurrent-requests"), help: ArgumentHelp(
        "Inputs in flight (queued or running) before new requests get 429 (TEI's default; one per input).", valueName: "n"))
    var maxConcurrentRequests = 512

    @Option(name: .customLong("max-client-batch-size"), help: ArgumentHelp("Inputs allowed in one request (more: 422).", valueName: "n"))
    var maxClientBatchSize = 32

    @Option(name: [.customLong("max-body-bytes"), .customLong("payload-limit")], help: ArgumentHelp(
        "Largest request body in bytes (more: 413); TEI's --payload-limit.", valueName: "n"))
    var maxBodyBytes = 2_000_000

    @Flag(inversion: .prefixedNo, help: "Cut texts longer than the model's max length when a request does not say \"truncate\" (else 422).")
    var autoTruncate = true

    @Option(name: .customLong("served-model-name"), help: ArgumentHelp(
        "The model name in /info and OpenAI responses (default: the model folder's name).", valueName: "name"))
    var servedModelName: String?

    @Option(name: .long, help: ArgumentHelp(
        "Texts to search (plain lines, or JSON Lines; .zst/.gz read too): embedded at start, or read from --vectors.", valueName: "file"))
    var corpus: String?

    @Option(name: .long, help: ArgumentHelp("The JSON Lines field holding the corpus text (default for .jsonl: text).", valueName: "name"))
    var field: String?

    @Option(name: .long, help: ArgumentHelp(
        "The corpus's vectors as `embed -o FILE.safetensors` wrote them for the same file and model (skips embedding at start).",
        valueName: "file"))
    var vectors: String?

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var log: LogOptions

    /// Tests only: hold every batch this long before the model runs, so that a test can fill the
    /// queue deterministically (429s, graceful shutdown with work queued).
    @Option(name: .customLong("test-batch-delay-ms"), help: .hidden)
    var testBatchDelayMs = 0

    func validate() throws {
        for (name, value) in [("--max-batch-tokens", maxBatchTokens), ("--max-concurrent-requests", maxConcurrentRequests),
                              ("--max-client-batch-size", maxClientBatchSize), ("--max-body-bytes", maxBodyBytes)] where value < 1 {
            throw ValidationError("\(name) must be positive")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        if (field != nil || vectors != nil) && corpus == nil { throw ValidationError("--field and --vectors go with --corpus") }
    }

    func execute() async throws {
        threads.apply()
        log.apply()
        let embedder = try TextEmbedder(directory: model.model, batchSize: batch.batchSize, maxSeqLength: model.maxSeqLength,
                                        bf16: precision.bf16)
        let maxInputLength = embedder.model.maxSeqLength
        guard maxInputLength <= maxBatchTokens else {
            throw EmbedError("--max-batch-tokens \(maxBatchTokens) is below the model's max length \(maxInputLength): raise it or lower --max-seq-length")
        }
        // The first text loads the tokenizer's tables and sizes the model's buffers: not on a request.
        _ = try embedder.embed(["warm-up"])
        let corpusIndex = try corpus.map {
            try CorpusIndex.load(path: $0, field: field, vectorsPath: vectors, embedder: embedder)
        }
        let settings = ServerSettings(
            modelID: model.model,
            servedModelName: servedModelName ?? URL(fileURLWithPath: model.model).standardizedFileURL.lastPathComponent,
            dimension: embedder.dimension, pooling: embedder.model.pooling.rawValue, maxInputLength: maxInputLength,
            maxConcurrentRequests: maxConcurrentRequests, maxBatchTokens: maxBatchTokens, maxBatchRequests: batch.batchSize,
            maxClientBatchSize: maxClientBatchSize, maxBodyBytes: maxBodyBytes, autoTruncate: autoTruncate,
            tokenizationWorkers: max(1, Parallel.workers - 1))

        let metrics = ServerMetrics(maxInputLength: maxInputLength)
        let queue = BatchQueue(maxPermits: maxConcurrentRequests, maxBatchTokens: maxBatchTokens,
                               maxBatchCount: batch.batchSize, metrics: metrics)
        let pool = NIOThreadPool(numberOfThreads: settings.tokenizationWorkers)
        pool.start()
        let service = EmbedService(settings: settings, embedder: embedder, queue: queue, metrics: metrics, pool: pool,
                                   prompts: Self.prompts(in: embedder.model.directory))
        let model = UncheckedSendable(embedder)  // used by the worker thread alone from here on
        let worker = BatchWorker(queue: queue, delaySeconds: Double(testBatchDelayMs) / 1000) { ids in
            try model.value.embed(ids: ids)
        }

        var logger = Logger(label: "serve")
        logger.logLevel = Log.quiet ? .error : .warning
        let scheme = "http://\(host.contains(":") ? "[\(host)]" : host)"
        let hasCorpus = corpusIndex != nil
        let app = Application(
            router: Routes(service: service, corpus: corpusIndex).router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "norembed-serve/\(EmbedKitVersion.string)"),
            services: [worker],
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? 0
                IO.log("serve: listening on \(scheme):\(bound) (\(settings.servedModelName), \(settings.dimension) dimensions)"
                       + (hasCorpus ? "; search page at \(scheme):\(bound)/" : ""))
            },
            logger: logger)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        try await pool.shutdownGracefully()
        IO.log("serve: stopped")
    }

    /// `prompts` of config_sentence_transformers.json (TEI's `prompt_name`), if the model has any.
    static func prompts(in directory: String) -> [String: String] {
        guard let json = try? FileSystem.readJSON(directory + "/config_sentence_transformers.json"),
              let prompts = json["prompts"]?.object else { return [:] }
        var out: [String: String] = [:]
        for (name, value) in prompts { if let s = value.string { out[name] = s } }
        return out
    }
}
