import IO
import NN
import Training
import Foundation

/// The model shapes the benchmark builds (random weights: speed does not depend on the values).
enum BenchModel: String, CaseIterable {
    case minilm, bert, norbert

    var title: String {
        switch self {
        case .minilm: "MiniLM-L6 (384×6, FFN 1536)"
        case .bert: "NB-BERT-base (768×12, FFN 3072, vocab 119547)"
        case .norbert: "NorBERT3-base (768×12, GEGLU 2048)"
        }
    }

    /// A SentenceModel with this architecture, weights ~ U(−0.035, 0.035) (std 0.02, as BERT's
    /// initializer), LayerNorm scales 1.
    func build(seed: UInt64) -> SentenceModel {
        let encoder: any TransformerEncoder
        switch self {
        case .minilm:
            encoder = BertEncoder(config: BertConfig(vocabSize: 30522, hiddenSize: 384, layers: 6, heads: 12, intermediateSize: 1536))
        case .bert:
            encoder = BertEncoder(config: BertConfig(vocabSize: 119_547, hiddenSize: 768, layers: 12, heads: 12, intermediateSize: 3072))
        case .norbert:
            encoder = NorbertEncoder(config: NorbertConfig(vocabSize: 50000, hiddenSize: 768, layers: 12, heads: 12, intermediateSize: 2048))
        }
        let p = encoder.parameters
        var rng = SplitMix64(seed: seed)
        for i in 0..<p.count {
            p.values[i] = (Float(rng.next() >> 40) * (1.0 / 16_777_216.0) * 2 - 1) * 0.035
        }
        for e in p.entries where e.name.lowercased().hasSuffix("layernorm.weight") || e.name.hasSuffix("layer_norm.weight") {
            p.values.advanced(by: e.offset).update(repeating: 1, count: e.count)
        }
        return SentenceModel(directory: "", transformerDirectory: "", encoder: encoder, pooling: .mean,
                             normalize: self == .minilm, configJSON: .null, passthrough: [], maxSeqLength: 128)
    }

    var vocab: Int {
        switch self {
        case .minilm: 30522
        case .bert: 119_547
        case .norbert: 50000
        }
    }
}

/// Sentence lengths (special tokens included) like Norwegian NLI sentences under a WordPiece
/// tokenizer: log-normal with median 18 and σ 0.5 (mean ≈ 20, 80% within 10–40), clamped to
/// 5…128. Drawn with integer arithmetic plus one `exp`, so tools/bench_torch.py reproduces the same
/// lengths exactly from the same seed. `scale` stretches them (e.g. 2 for the real nb-nn data with
/// MiniLM's English vocabulary, mean ≈ 41).
struct LengthSampler {
    var rng: SplitMix64
    var scale: Double

    init(seed: UInt64, scale: Double = 1) {
        rng = SplitMix64(seed: seed)
        self.scale = scale
    }

    mutating func next() -> Int {
        // Irwin–Hall: the sum of 12 uniforms of 24 bits, minus 6, is ≈ N(0, 1); exact in Double.
        var s: UInt64 = 0
        for _ in 0..<12 { s += rng.next() >> 40 }
        let z = (Double(s) - 6 * 16_777_216) / 16_777_216
        let len = (scale * exp(log(18.0) + 0.5 * z)).rounded()
        return Int(min(128, max(5, len)))
    }
}

/// A token sequence of the given length: [CLS] random ids [SEP].
func sentence(length: Int, vocab: Int, rng: inout SplitMix64) -> [Int32] {
    var ids: [Int32] = [101]
    for _ in 0..<(length - 2) { ids.append(Int32(1000 + Int(rng.next() % UInt64(vocab - 1000)))) }
    ids.append(102)
    return ids
}

struct Workload {
    /// Training batches: `batchSize` triplets each, packed anchors, positives, negatives; with
    /// several data-parallel ranks, this rank's share of each (the same global batches on every rank).
    var train: [TripletBatch] = []
    /// Embedding batches of the `embedCount` sentences, sorted by length descending as
    /// sentence-transformers' encode does, 32 per batch.
    var embed: [PackedBatch] = []

    init(vocab: Int, batchSize: Int, trainBatches: Int, embedCount: Int, embedBatch: Int, seed: UInt64, lengthScale: Double,
         rank: Int = 0, ranks: Int = 1) {
        var lengths = LengthSampler(seed: seed, scale: lengthScale)
        var ids = SplitMix64(seed: seed ^ 0xABCDEF)
        for _ in 0..<trainBatches {
            let all = PackedBatch(sequences: (0..<(3 * batchSize)).map { _ in sentence(length: lengths.next(), vocab: vocab, rng: &ids) })
            train.append(all.tokens.withUnsafeBufferPointer { t in
                TripletBatch.share(Array(0..<batchSize), rank: rank, ranks: ranks, columns: 3) { c, r in
                    let i = c * batchSize + r
                    return UnsafeBufferPointer(rebasing: t[all.offsets[i]..<all.offsets[i + 1]])
                }
            })
        }
        var sents = (0..<embedCount).map { _ in sentence(length: lengths.next(), vocab: vocab, rng: &ids) }
        sents.sort { $0.count > $1.count }
        for start in stride(from: 0, to: sents.count, by: embedBatch) {
            embed.append(PackedBatch(sequences: Array(sents[start..<min(sents.count, start + embedBatch)])))
        }
    }

    var trainTokens: [Int] { train.map { $0.packed.tokenCount } }
    var embedTokens: Int { embed.reduce(0) { $0 + $1.tokenCount } }
}
