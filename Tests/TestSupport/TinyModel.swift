import IO
import NN
import Foundation
import Testing

/// A tiny random BERT sentence model written to a folder in the sentence-transformers layout, for
/// tests that train, save and reload without ../shared.
package enum TinyModel {
    /// A WordPiece vocabulary: the BERT specials, then whole Norwegian words.
    package static let words = ["hunden", "katten", "barnet", "mannen", "kvinnen", "løper", "sover", "spiser", "leker", "synger",
                        "i", "på", "under", "ved", "med", "parken", "huset", "snøen", "hagen", "byen",
                        "en", "et", "ei", "to", "tre", "rød", "blå", "stor", "liten", "glad",
                        "ikke", "nå", "i dag", "om", "kvelden", "morgenen", "ball", "bok", "bil", "sykkel",
                        "det", "er", "varmt", "kaldt", "regner"].filter { !$0.contains(" ") }
    package static let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    package static var vocab: Int { tokens.count }

    package static func make(in dir: String, seed: UInt64 = 1) throws -> String {
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
        // A BERT tokenizer from vocab.txt + tokenizer_config.json, as NB-BERT-style repos ship it.
        try (tokens.joined(separator: "\n") + "\n").write(toFile: dir + "/vocab.txt", atomically: true, encoding: .utf8)
        try #"{"do_lower_case": true, "model_max_length": 32, "tokenizer_class": "BertTokenizer"}"#
            .write(toFile: dir + "/tokenizer_config.json", atomically: true, encoding: .utf8)
        return dir
    }

    /// A local dataset folder of train/dev/test.jsonl with sentences over the vocabulary.
    package static func dataset(in dir: String, rows: [String: Int], seed: UInt64) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var r = SplitMix64(seed: seed)
        func sentence() -> [String] { (0..<(3 + Int(r.next() % 6))).map { _ in words[Int(r.next() % UInt64(words.count))] } }
        for (split, n) in rows.sorted(by: { $0.key < $1.key }) {
            var lines: [String] = []
            for _ in 0..<n {
                let a = sentence()
                let p = a.count > 3 ? Array(a.dropLast()) : a + ["nå"]
                let row: JSON = ["anchor": .string(a.joined(separator: " ")), "positive": .string(p.joined(separator: " ")),
                                 "negative": .string(sentence().joined(separator: " "))]
                lines.append(row.serialized())
            }
            try (lines.joined(separator: "\n") + "\n").write(toFile: "\(dir)/\(split).jsonl", atomically: true, encoding: .utf8)
        }
        return dir
    }

    /// Random triplets of token ids ([CLS]=1 … [SEP]=2), lengths 3–12; `rows` rows.
    package static func triplets(rows: Int, seed: UInt64) -> InMemoryTokenTable {
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
