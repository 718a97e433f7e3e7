/// The fields of a Hugging Face BERT `config.json` that the forward pass depends on.
public struct BertConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    public var activation: Activation
    public var hiddenDropout: Float
    public var attentionDropout: Float
    /// RoBERTa-family models number positions from `padTokenId + 1` instead of 0.
    public var positionOffset: Int

    public init(vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int,
                maxPositions: Int = 512, typeVocabSize: Int = 2, layerNormEps: Float = 1e-12,
                activation: Activation = .gelu, hiddenDropout: Float = 0.1, attentionDropout: Float = 0.1,
                positionOffset: Int = 0) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.activation = activation
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
        self.positionOffset = positionOffset
    }

    /// Reads the config, naming the file and key of anything missing or invalid.
    public init(json: JSON, path: String) throws {
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if let v = json[key], !v.isNull {
                guard let i = v.int, i >= 0 else { throw EmbedError("\(path): '\(key)' must be a non-negative integer") }
                return i
            }
            if let fallback { return fallback }
            throw EmbedError("\(path): missing '\(key)'")
        }
        func float(_ key: String, _ fallback: Double) throws -> Float {
            guard let v = json[key], !v.isNull else { return Float(fallback) }
            guard let d = v.double, d >= 0 else { throw EmbedError("\(path): '\(key)' must be a non-negative number") }
            return Float(d)
        }
        let act = json["hidden_act"]?.string ?? "gelu"
        guard let activation = Activation(configName: act) else {
            throw EmbedError("\(path): hidden_act '\(act)' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)")
        }
        let modelType = json["model_type"]?.string ?? "bert"
        let roberta = ["roberta", "xlm-roberta", "camembert"].contains(modelType)
        self.init(
            vocabSize: try int("vocab_size"),
            hiddenSize: try int("hidden_size"),
            layers: try int("num_hidden_layers"),
            heads: try int("num_attention_heads"),
            intermediateSize: try int("intermediate_size"),
            maxPositions: try int("max_position_embeddings", 512),
            typeVocabSize: try int("type_vocab_size", 2),
            layerNormEps: try float("layer_norm_eps", 1e-12),
            activation: activation,
            hiddenDropout: try float("hidden_dropout_prob", 0.1),
            attentionDropout: try float("attention_probs_dropout_prob", 0.1),
            positionOffset: roberta ? try int("pad_token_id", 1) + 1 : 0
        )
        guard hiddenSize > 0, heads > 0, hiddenSize % heads == 0 else {
            throw EmbedError("\(path): hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(heads)")
        }
        guard vocabSize > 0, layers > 0, intermediateSize > 0, typeVocabSize > 0 else {
            throw EmbedError("\(path): vocab_size, num_hidden_layers, intermediate_size and type_vocab_size must be positive")
        }
        guard hiddenDropout < 1, attentionDropout < 1 else { throw EmbedError("\(path): dropout probabilities must be below 1") }
    }

    /// The longest sequence the position table allows.
    public var maxSequenceLength: Int { maxPositions - positionOffset }
}
