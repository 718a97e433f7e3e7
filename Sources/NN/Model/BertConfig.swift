import IO

/// The fields of a Hugging Face BERT (or RoBERTa-family) `config.json` that the forward pass
/// depends on.
package struct BertConfig: EncoderConfig {
    package var shape: EncoderShape
    package var typeVocabSize: Int
    package var activation: Activation
    /// RoBERTa-family models number positions from `padTokenId + 1` instead of 0.
    package var positionOffset: Int

    package init(shape: EncoderShape, typeVocabSize: Int = 2, activation: Activation = .gelu, positionOffset: Int = 0) {
        self.shape = shape
        self.typeVocabSize = typeVocabSize
        self.activation = activation
        self.positionOffset = positionOffset
    }

    /// BERT's defaults (LayerNorm ε 1e-12, dropout 0.1, 512 positions) for the sizes given.
    package init(vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int,
                 maxPositions: Int = 512, typeVocabSize: Int = 2, layerNormEps: Float = 1e-12,
                 activation: Activation = .gelu, hiddenDropout: Float = 0.1, attentionDropout: Float = 0.1) {
        self.init(shape: EncoderShape(vocabSize: vocabSize, hiddenSize: hiddenSize, layers: layers, heads: heads,
                                      intermediateSize: intermediateSize, maxPositions: maxPositions, layerNormEps: layerNormEps,
                                      hiddenDropout: hiddenDropout, attentionDropout: attentionDropout),
                  typeVocabSize: typeVocabSize, activation: activation)
    }

    /// Reads the config, naming the file and key of anything missing or invalid.
    package init(json: JSON, path: String) throws {
        let f = ConfigFields(json: json, path: path)
        let act = json["hidden_act"]?.string ?? "gelu"
        guard let activation = Activation(configName: act) else {
            throw EmbedError("\(path): hidden_act '\(act)' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)")
        }
        let modelType = json["model_type"]?.string ?? "bert"
        let roberta = ["roberta", "xlm-roberta", "camembert"].contains(modelType)
        self.init(shape: try EncoderShape(f, layerNormEps: 1e-12), typeVocabSize: try f.int("type_vocab_size", 2),
                  activation: activation, positionOffset: roberta ? try f.int("pad_token_id", 1, minimum: 0) + 1 : 0)
        guard maxSequenceLength > 0 else { throw EmbedError("\(path): max_position_embeddings leaves no positions after the padding offset") }
    }

    /// The longest sequence the position table allows.
    package var maxSequenceLength: Int { shape.maxPositions - positionOffset }
}
