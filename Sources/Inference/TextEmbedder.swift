import IO
import NN
import Tokenizers

/// Text in, vectors out: a sentence model with its tokenizer, truncating at the model's
/// max_seq_length as sentence-transformers does (after stripping each text).
package final class TextEmbedder {
    package let model: SentenceModel
    package let tokenizer: Tokenizer
    package var batchSize: Int
    /// Normalize output vectors even when the model has no Normalize module.
    package var forceNormalize: Bool
    /// Cut vectors to their first N dimensions (a Matryoshka model's shorter embeddings),
    /// re-normalized when the model normalizes or `forceNormalize` is set; nil keeps them whole.
    package var truncateDim: Int?

    package init(model: SentenceModel, tokenizer: Tokenizer, batchSize: Int = 32, forceNormalize: Bool = false) {
        self.model = model
        self.tokenizer = tokenizer
        self.batchSize = batchSize
        self.forceNormalize = forceNormalize
    }

    /// Loads the model folder and the tokenizer next to its transformer. `bf16`: matrix products
    /// in bf16 where the CPU has AVX512-BF16 (else fp32, said once on stderr).
    package convenience init(directory: String, batchSize: Int = 32, maxSeqLength: Int? = nil, forceNormalize: Bool = false,
                             bf16: Bool = false) throws {
        let model = try SentenceModel.load(directory: directory)
        model.encoder.matmulPrecision = MatmulPrecision.resolve(bf16 ? .bf16 : .fp32)
        model.encoder.freezeWeights()  // this model is only ever used for inference
        if let maxSeqLength {
            guard maxSeqLength > 0, maxSeqLength <= model.encoder.maxPositions else {
                throw EmbedError("--max-seq-length \(maxSeqLength) must be between 1 and the model's \(model.encoder.maxPositions)")
            }
            model.maxSeqLength = maxSeqLength
        }
        self.init(model: model, tokenizer: try Tokenizer.load(directory: model.transformerDirectory),
                  batchSize: batchSize, forceNormalize: forceNormalize)
    }

    /// A model already in memory, with the tokenizer of a model folder.
    package convenience init(model: SentenceModel, tokenizerDirectory: String, batchSize: Int = 32) throws {
        self.init(model: model, tokenizer: try Tokenizer.load(directory: tokenizerDirectory), batchSize: batchSize)
    }

    package var dimension: Int { model.dimension }

    /// The length of the vectors `embed` returns.
    package var outputDimension: Int { min(truncateDim ?? dimension, dimension) }

    /// Sets `truncateDim`, checked against the model (`--dims`).
    package func truncate(to dims: Int?) throws {
        if let dims, dims < 1 || dims > dimension {
            throw EmbedError("--dims \(dims) must be between 1 and the model's \(dimension) dimensions")
        }
        truncateDim = dims
    }

    /// Token ids of each text (on all cores), checked against the model's vocabulary.
    package func tokenize(_ texts: [String]) throws -> [[Int32]] {
        let ids = try tokenizer.encodeBatch(texts, maxLength: model.maxSeqLength, threads: Parallel.workers)
        for (i, s) in ids.enumerated() { try checkVocabulary(s, text: i) }
        return ids
    }

    /// Where a text longer than max_seq_length is cut (a server's per-request choice).
    package enum Truncation: Sendable {
        /// Keep the start, as `embed` and sentence-transformers do.
        case keepStart
        /// Keep the end (TEI's `truncation_direction: left`).
        case keepEnd
        /// Do not cut: a longer text is an error (`TextTooLong`).
        case none
    }

    /// A text with more tokens than the model takes, under `Truncation.none`.
    package struct TextTooLong: Error, Sendable {
        package let tokens: Int
        package let limit: Int
    }

    /// One text's ids (special tokens included), checked against the vocabulary. With `.keepStart`
    /// they are exactly what `tokenize(_:)` gives for the text.
    package func tokenize(_ text: String, truncation: Truncation) throws -> [Int32] {
        let limit = model.maxSeqLength
        let ids: [Int32]
        switch truncation {
        case .keepStart: ids = try tokenizer.encode(text, maxLength: limit)
        case .keepEnd: ids = try tokenizer.encodeKeepingEnd(text, maxLength: limit)
        case .none:
            ids = try tokenizer.encode(text, maxLength: nil)
            if ids.count > limit { throw TextTooLong(tokens: ids.count, limit: limit) }
        }
        try checkVocabulary(ids, text: 0)
        return ids
    }

    /// Throws when an id is outside the model's embedding matrix (a tokenizer of another model).
    package func checkVocabulary(_ ids: [Int32], text i: Int) throws {
        let vocab = model.encoder.vocabularySize
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocab }) {
            throw EmbedError("text \(i + 1): token id \(bad) is outside the model's vocabulary of \(vocab): the tokenizer does not belong to this model")
        }
    }

    /// Vectors [texts.count, dimension], in input order.
    package func embed(_ texts: [String], progress: ProgressBar? = nil) throws -> [Float] {
        try embed(ids: try tokenize(texts), progress: progress)
    }

    package func embed(ids: [[Int32]], progress: ProgressBar? = nil) throws -> [Float] {
        let flat = ids.flatMap { $0 }
        var offsets = [0]
        for s in ids { offsets.append(offsets.last! + s.count) }
        var out = flat.withUnsafeBufferPointer { f in
            model.embedAll(count: ids.count, batchSize: batchSize, progress: progress) { i in
                UnsafeBufferPointer(rebasing: f[offsets[i]..<offsets[i + 1]])
            }
        }
        if let d = truncateDim, d < dimension {
            return truncateEmbeddings(out, rows: ids.count, dimension: dimension, to: d, normalize: model.normalize || forceNormalize)
        }
        if forceNormalize && !model.normalize {
            let C = dimension, n = ids.count
            out.withUnsafeMutableBufferPointer { o in
                let norms = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
                defer { norms.deallocate() }
                normalizeRowsForward(o.baseAddress!, norms: norms, o.baseAddress!, rows: n, C: C)
            }
        }
        return out
    }
}
