import IO

/// What every transformer encoder's `config.json` says about its size and regularization, read
/// once for BERT and NorBERT3 alike. The architectures' configs wrap it and add their own fields;
/// `config.hiddenSize` reads through to it.
package struct EncoderShape: Sendable, Equatable {
    package var vocabSize: Int
    package var hiddenSize: Int
    package var layers: Int
    package var heads: Int
    package var intermediateSize: Int
    package var maxPositions: Int
    package var layerNormEps: Float
    package var hiddenDropout: Float
    package var attentionDropout: Float

    package init(vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int, maxPositions: Int,
                 layerNormEps: Float, hiddenDropout: Float, attentionDropout: Float) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.layerNormEps = layerNormEps
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
    }

    /// Reads the shared keys, naming the file and key of anything missing or invalid.
    /// `layerNormEps` is the architecture's default (BERT 1e-12, NorBERT3 1e-7).
    init(_ f: ConfigFields, layerNormEps: Double) throws {
        self.init(vocabSize: try f.int("vocab_size"), hiddenSize: try f.int("hidden_size"),
                  layers: try f.int("num_hidden_layers"), heads: try f.int("num_attention_heads"),
                  intermediateSize: try f.int("intermediate_size"), maxPositions: try f.int("max_position_embeddings", 512),
                  layerNormEps: try f.float("layer_norm_eps", layerNormEps),
                  hiddenDropout: try f.probability("hidden_dropout_prob", 0.1),
                  attentionDropout: try f.probability("attention_probs_dropout_prob", 0.1))
        guard hiddenSize % heads == 0 else {
            throw EmbedError("\(f.path): hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(heads)")
        }
    }
}

/// An architecture's config: the shared shape plus its own fields, with the shape's fields
/// readable (and settable) as its own.
@dynamicMemberLookup
package protocol EncoderConfig: Sendable, Equatable {
    var shape: EncoderShape { get set }
}

extension EncoderConfig {
    package subscript<T>(dynamicMember key: WritableKeyPath<EncoderShape, T>) -> T {
        get { shape[keyPath: key] }
        set { shape[keyPath: key] = newValue }
    }
}

/// Typed reads of a Hugging Face `config.json`, with errors naming the file and the key.
struct ConfigFields {
    let json: JSON
    let path: String

    /// An integer ≥ `minimum`; `fallback` when the key is absent or null (else it is required).
    func int(_ key: String, _ fallback: Int? = nil, minimum: Int = 1) throws -> Int {
        if let v = json[key], !v.isNull {
            guard let i = v.int, i >= minimum else { throw EmbedError("\(path): '\(key)' must be an integer ≥ \(minimum)") }
            return i
        }
        if let fallback { return fallback }
        throw EmbedError("\(path): missing '\(key)'")
    }

    /// A number in `range`; `fallback` when absent or null.
    func float(_ key: String, _ fallback: Double, in range: Range<Double> = 0..<Double.infinity) throws -> Float {
        guard let v = json[key], !v.isNull else { return Float(fallback) }
        guard let d = v.double, range.contains(d) else {
            throw EmbedError("\(path): '\(key)' must be a number in [\(range.lowerBound), \(range.upperBound))")
        }
        return Float(d)
    }

    /// A dropout probability, in [0, 1).
    func probability(_ key: String, _ fallback: Double) throws -> Float { try float(key, fallback, in: 0..<1) }
}
