import EmbedKit
import Foundation

/// A tiny random BERT sentence model written to a folder in the sentence-transformers layout, for
/// tests that train, save and reload without ../shared.
enum TinyModel {
    static let vocab = 50

    static func make(in dir: String, seed: UInt64 = 1) throws -> String {
        let config = BertConfig(vocabSize: vocab, hiddenSize: 16, layers: 2, heads: 2, intermediateSize: 32,
                                maxPositions: 40, typeVocabSize: 2, layerNormEps: 1e-12, activation: .gelu,
                                hiddenDropout: 0.1, attentionDropout: 0.1)
        let encoder = BertEncoder(config: config)
        var r = SplitMix64(seed: seed)
        let p = encoder.parameters
        for e in p.entries {
            for i in 0..<e.count {
                let u = Float(r.next() >> 40) / Float(1 << 24) - 0.5
                p.values[e.offset + i] = e.name.hasSuffix("LayerNorm.weight") ? 1 : (e.name.hasSuffix("bias") ? 0 : u * 0.2)
            }
        }
        let json: JSON = [
            "architectures": ["BertModel"], "model_type": "bert", "vocab_size": .number(Double(vocab)),
            "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
            "max_position_embeddings": 40, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "pad_token_id": 0,
        ]
        let model = SentenceModel(directory: dir, transformerDirectory: dir, encoder: encoder, pooling: .mean,
                                  normalize: false, configJSON: json, passthrough: [], maxSeqLength: 32)
        try model.save(to: dir)
        return dir
    }

    /// Random triplets of token ids ([CLS]=1 … [SEP]=2), lengths 3–12; `rows` rows.
    static func triplets(rows: Int, seed: UInt64) -> InMemoryTokenTable {
        var r = SplitMix64(seed: seed)
        func seq() -> [Int32] {
            let n = 1 + Int(r.next() % 10)
            return [1] + (0..<n).map { _ in Int32(3 + r.next() % UInt64(vocab - 3)) } + [2]
        }
        var a: [[Int32]] = [], p: [[Int32]] = [], n: [[Int32]] = []
        for _ in 0..<rows {
            let s = seq()
            a.append(s)
            // A positive that shares most tokens with its anchor, so there is something to learn.
            p.append(s.count > 3 ? Array(s.prefix(s.count - 2)) + [2] : s + [5, 2])
            n.append(seq())
        }
        return InMemoryTokenTable([("anchor", a), ("positive", p), ("negative", n)])
    }
}
