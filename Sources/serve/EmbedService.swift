import IO
import Inference
import NIOPosix
import NN

/// The server's limits and what /info reports (TEI's option names and defaults where TEI has them).
struct ServerSettings: Sendable {
    var modelID: String
    var servedModelName: String
    var dimension: Int
    var pooling: String
    /// The model's max_seq_length: longer inputs are cut (auto-truncate) or refused.
    var maxInputLength: Int
    var maxConcurrentRequests = 512
    var maxBatchTokens = 16_384
    var maxBatchRequests = 32
    var maxClientBatchSize = 32
    var maxBodyBytes = 2_000_000
    var autoTruncate = true
    var tokenizationWorkers = 1
}

/// From a request's inputs to its vectors: validation in TEI's order and with TEI's messages,
/// tokenization on a thread pool (never on the event loops), the batching queue, then the request's
/// own `dimensions` and normalization. Every outcome is counted in the metrics.
final class EmbedService: Sendable {
    struct Timings: Sendable {
        var tokenization = 0.0, queue = 0.0, inference = 0.0
    }

    struct Result: Sendable {
        let vectors: [[Float]]
        /// Tokens fed to the model (after truncation, special tokens included), over all inputs.
        let tokens: Int
        let characters: Int
        /// Means over the inputs, in seconds (TEI's per-request figures).
        let timings: Timings
        let total: Double
    }

    let settings: ServerSettings
    let queue: BatchQueue
    let metrics: ServerMetrics
    /// `prompts` of config_sentence_transformers.json, for TEI's `prompt_name`.
    let prompts: [String: String]
    private let embedder: UncheckedSendable<TextEmbedder>
    private let pool: NIOThreadPool
    private let modelNormalizes: Bool

    /// Only the embedder's tokenizer (thread-safe) is used here; the model runs on the queue's worker.
    init(settings: ServerSettings, embedder: TextEmbedder, queue: BatchQueue, metrics: ServerMetrics,
         pool: NIOThreadPool, prompts: [String: String]) {
        self.settings = settings
        self.embedder = UncheckedSendable(embedder)
        self.queue = queue
        self.metrics = metrics
        self.pool = pool
        self.prompts = prompts
        modelNormalizes = embedder.model.normalize
    }

    /// Runs CPU work (tokenizing, scoring a corpus) on the blocking pool.
    func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    func embed(_ items: [InputItem], single: Bool, options: EmbedOptions, shape: APIError.Shape) async throws -> Result {
        let start = ProgressBar.now()
        let method = "method=\"\(single ? "single" : "batch")\""
        metrics.increment("te_request_count", method)
        do {
            let result = try await validatedEmbed(items, options: options, start: start)
            metrics.increment("te_request_success", method)
            metrics.observe("te_request_duration", result.total)
            metrics.observe("te_request_tokenization_duration", result.timings.tokenization)
            metrics.observe("te_request_queue_duration", result.timings.queue)
            metrics.observe("te_request_inference_duration", result.timings.inference)
            return result
        } catch let error as APIError {
            metrics.increment("te_request_failure", "err=\"\(error.kind.rawValue)\"")
            throw error.shaped(shape)
        } catch let error as CancellationError {
            throw error  // counted as dropped by the queue
        } catch {
            metrics.increment("te_request_failure", "err=\"inference\"")
            throw APIError(.Backend, "\(error)", kind: .inference).shaped(shape)
        }
    }

    private func validatedEmbed(_ items: [InputItem], options: EmbedOptions, start: Double) async throws -> Result {
        if items.isEmpty { throw APIError(.Empty, "`inputs` cannot be empty") }
        if items.count > settings.maxClientBatchSize {
            throw APIError(.Validation, "batch size \(items.count) > maximum allowed batch size \(settings.maxClientBatchSize)",
                           kind: .batch_size)
        }
        if let d = options.dimensions {
            if d == 0 { throw APIError(.Validation, "`dimensions` should be positive") }
            if d > settings.dimension {
                throw APIError(.Validation, "`dimensions` should be smaller than the maximum embedding dimension. (\(d) > \(settings.dimension))")
            }
        }
        if items.contains(where: \.isEmpty) { throw APIError(.Empty, "`inputs` cannot be empty") }
        var promptText = ""
        if let name = options.promptName {
            guard let p = prompts[name] else {
                let known = prompts.keys.sorted().joined(separator: ", ")
                throw APIError(.Validation, "prompt `\(name)` cannot be found (the model's prompts: \(known.isEmpty ? "none" : known))",
                               kind: .tokenization)
            }
            if items.contains(where: { if case .ids = $0 { true } else { false } }) {
                throw APIError(.Validation, "`prompt_name` cannot be used with token ids", kind: .tokenization)
            }
            promptText = p
        }
        guard queue.tryAcquire(items.count) else {
            throw APIError(.Overloaded, "Model is overloaded", kind: .overloaded)
        }
        defer { queue.release(items.count) }

        let tokStart = ProgressBar.now()
        let truncation: TextEmbedder.Truncation = !options.truncate ? .none : options.keepEnd ? .keepEnd : .keepStart
        let embedder = self.embedder, maxLength = settings.maxInputLength, prompt = promptText
        let tokenized = try await offload {
            try items.map { try Self.tokenize($0, prompt: prompt, truncation: truncation, embedder: embedder.value, maxLength: maxLength) }
        }
        let tokenization = (ProgressBar.now() - tokStart) / Double(items.count)

        metrics.increment("te_embed_count", by: items.count)
        let outputs = try await queue.submit(tokenized)
        metrics.increment("te_embed_success", by: items.count)

        let vectors = outputs.map { shape($0.vector, options) }
        let end = ProgressBar.now()
        var timings = Timings(tokenization: tokenization)
        for (ids, o) in zip(tokenized, outputs) {
            metrics.observe("te_request_input_length", Double(ids.count))
            metrics.observe("te_embed_tokenization_duration", tokenization)
            metrics.observe("te_embed_queue_duration", o.queueSeconds)
            metrics.observe("te_embed_inference_duration", o.inferenceSeconds)
            metrics.observe("te_embed_duration", end - start)
            timings.queue += o.queueSeconds / Double(items.count)
            timings.inference += o.inferenceSeconds / Double(items.count)
        }
        let characters = items.reduce(0) { n, item in
            if case .text(let s) = item { return n + s.unicodeScalars.count }
            return n
        }
        return Result(vectors: vectors, tokens: tokenized.reduce(0) { $0 + $1.count }, characters: characters,
                      timings: timings, total: end - start)
    }

    /// One input's ids: a text through the model's tokenizer (as `embed` does it, with the request's
    /// truncation), token ids as sent (cut the same way).
    private static func tokenize(_ item: InputItem, prompt: String, truncation: TextEmbedder.Truncation,
                                 embedder: TextEmbedder, maxLength: Int) throws -> [Int32] {
        switch item {
        case .text(let text):
            let text = prompt + text
            // TEI's cheap guard before tokenizing: at most max_input_length × 250 characters.
            if case .none = truncation, text.utf8.count > maxLength * 250, text.unicodeScalars.count > maxLength * 250 {
                throw APIError(.Validation, "`inputs` must have less than \(maxLength * 250) characters. Given: \(text.unicodeScalars.count)",
                               kind: .tokenization)
            }
            do {
                return try embedder.tokenize(text, truncation: truncation)
            } catch let e as TextEmbedder.TextTooLong {
                throw APIError(.Validation, "`inputs` must have less than \(e.limit) tokens. Given: \(e.tokens)", kind: .tokenization)
            } catch {
                throw APIError(.Tokenizer, "\(error)", kind: .tokenization)
            }
        case .ids(let ids):
            if ids.count > maxLength {
                switch truncation {
                case .none:
                    throw APIError(.Validation, "`inputs` must have less than \(maxLength) tokens. Given: \(ids.count)", kind: .tokenization)
                case .keepStart: return try checked(Array(ids.prefix(maxLength)), embedder)
                case .keepEnd: return try checked(Array(ids.suffix(maxLength)), embedder)
                }
            }
            return try checked(ids, embedder)
        }
    }

    private static func checked(_ ids: [Int32], _ embedder: TextEmbedder) throws -> [Int32] {
        do {
            try embedder.checkVocabulary(ids, text: 0)
        } catch {
            throw APIError(.Tokenizer, "token ids must be below the model's vocabulary size \(embedder.model.encoder.vocabularySize)",
                           kind: .tokenization)
        }
        return ids
    }

    /// The request's view of a model vector: its first `dimensions` values (Matryoshka), then
    /// L2-normalized when asked — unless the model's Normalize module already did it, so that the
    /// vector stays bit for bit what `embed` writes.
    private func shape(_ vector: [Float], _ options: EmbedOptions) -> [Float] {
        let cut = options.dimensions.map { $0 < vector.count } ?? false
        var v = cut ? Array(vector.prefix(options.dimensions!)) : vector
        if options.normalize && (cut || !modelNormalizes) {
            var norm: Float = 0
            v.withUnsafeMutableBufferPointer { p in
                normalizeRowsForward(p.baseAddress!, norms: &norm, p.baseAddress!, rows: 1, C: p.count)
            }
        }
        return v
    }
}
