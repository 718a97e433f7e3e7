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
        let f = ConfigFields(json: json, path: path)
        let act = json["hidden_act"]?.string ?? "gelu"
        guard let activation = Activation(configName: act) else {
            throw EmbedError("\(path): hidden_act '\(act)' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)")
        }
        let modelType = json["model_type"]?.string ?? "bert"
        let roberta = ["roberta", "xlm-roberta", "camembert"].contains(modelType)
        self.init(
            vocabSize: try f.int("vocab_size"),
            hiddenSize: try f.int("hidden_size"),
            layers: try f.int("num_hidden_layers"),
            heads: try f.int("num_attention_heads"),
            intermediateSize: try f.int("intermediate_size"),
            maxPositions: try f.int("max_position_embeddings", 512),
            typeVocabSize: try f.int("type_vocab_size", 2),
            layerNormEps: try f.float("layer_norm_eps", 1e-12),
            activation: activation,
            hiddenDropout: try f.probability("hidden_dropout_prob", 0.1),
            attentionDropout: try f.probability("attention_probs_dropout_prob", 0.1),
            positionOffset: roberta ? try f.int("pad_token_id", 1, minimum: 0) + 1 : 0
        )
        try f.checkHeads(hidden: hiddenSize, heads: heads)
        guard maxSequenceLength > 0 else { throw EmbedError("\(path): max_position_embeddings leaves no positions after the padding offset") }
    }

    /// The longest sequence the position table allows.
    public var maxSequenceLength: Int { maxPositions - positionOffset }
}
