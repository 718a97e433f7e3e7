import IO

/// The fields of a NorBERT3 (LTG-BERT) `config.json`.
package struct NorbertConfig: EncoderConfig {
    package var shape: EncoderShape
    /// Relative positions are bucketed logarithmically into 2·bucketSize − 1 rows.
    package var bucketSize: Int

    package init(shape: EncoderShape, bucketSize: Int = 32) {
        self.shape = shape
        self.bucketSize = bucketSize
    }

    /// NorBERT3's defaults (LayerNorm ε 1e-7, dropout 0.1, 512 positions, 32 buckets) for the sizes given.
    package init(vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int,
                 maxPositions: Int = 512, bucketSize: Int = 32, layerNormEps: Float = 1e-7,
                 hiddenDropout: Float = 0.1, attentionDropout: Float = 0.1) {
        let shape = EncoderShape(vocabSize: vocabSize, hiddenSize: hiddenSize, layers: layers, heads: heads,
                                 intermediateSize: intermediateSize, maxPositions: maxPositions, layerNormEps: layerNormEps,
                                 hiddenDropout: hiddenDropout, attentionDropout: attentionDropout)
        self.init(shape: shape, bucketSize: bucketSize)
    }

    package init(json: JSON, path: String) throws {
        let f = ConfigFields(json: json, path: path)
        self.init(shape: try EncoderShape(f, layerNormEps: 1e-7), bucketSize: try f.int("position_bucket_size", 32, minimum: 2))
    }

    /// Whether a config.json describes this architecture (model_type, architectures or auto_map).
    package static func matches(_ json: JSON) -> Bool {
        if json["model_type"]?.string?.lowercased() == "norbert" { return true }
        if json["architectures"]?.array?.contains(where: { $0.string?.hasPrefix("Norbert") == true }) == true { return true }
        return json["auto_map"]?["AutoModel"]?.string?.contains("modeling_norbert") == true
    }
}
