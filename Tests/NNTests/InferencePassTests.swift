import Foundation
import IO
import NN
import TestSupport
import Testing

/// The inference pass (one layer's buffers, nothing kept for backward) gives bit for bit what the
/// training forward gives in evaluation mode, and embedding splits large batches by a token budget.
@Suite struct InferencePassTests {
    static func encoder(_ arch: String) -> any TransformerEncoder {
        let enc: any TransformerEncoder = arch == "bert"
            ? BertEncoder(config: BertConfig(vocabSize: 40, hiddenSize: 16, layers: 3, heads: 2, intermediateSize: 24, maxPositions: 64))
            : NorbertEncoder(config: NorbertConfig(vocabSize: 40, hiddenSize: 16, layers: 3, heads: 2, intermediateSize: 20,
                                                   maxPositions: 64, bucketSize: 8))
        var r = SplitMix64(seed: 3)
        let p = enc.parameters
        for i in 0..<p.count { p.values[i] = (Float(r.next() >> 40) / 16_777_216 - 0.5) * 0.6 }
        return enc
    }

    static func batch(_ lengths: [Int], seed: UInt64) -> PackedBatch {
        var r = SplitMix64(seed: seed)
        return PackedBatch(sequences: lengths.map { n in (0..<n).map { _ in Int32(r.next() % 40) } })
    }

    @Test(arguments: ["bert", "norbert"])
    func inferenceEqualsTheForwardPass(_ arch: String) {
        let enc = Self.encoder(arch)
        let C = enc.hiddenSize
        // A small batch, then a larger one (the inference buffers grow), then the small one again.
        for lengths in [[3, 9, 1], [40, 17, 33, 2, 64], [3, 9, 1]] {
            let b = Self.batch(lengths, seed: UInt64(lengths.count))
            let n = b.tokenCount * C
            let want = Array(UnsafeBufferPointer(start: enc.forward(b, dropout: nil), count: n))
            let got = Array(UnsafeBufferPointer(start: enc.infer(b), count: n))
            #expect(got.elementsEqual(want) { $0.bitPattern == $1.bitPattern }, "\(arch) \(lengths)")
        }
        // Training after inference still has its own buffers and gradients.
        let b = Self.batch([5, 6], seed: 9)
        let ctx = DropoutContext(seed: 1, step: 0)
        let h = Array(UnsafeBufferPointer(start: enc.forward(b, dropout: ctx), count: b.tokenCount * C))
        _ = enc.infer(Self.batch([7], seed: 2))
        let h2 = Array(UnsafeBufferPointer(start: enc.forward(b, dropout: ctx), count: b.tokenCount * C))
        #expect(h == h2)
    }

    /// A batch over the token budget is embedded in several passes of whole sequences: the same
    /// vectors (each sequence's computation is its own; the products' rows do not depend on how
    /// many rows a call has).
    @Test(arguments: ["bert", "norbert"])
    func embeddingSplitsByTokenBudget(_ arch: String) {
        let model = SentenceModel(directory: "", transformerDirectory: "", encoder: Self.encoder(arch), pooling: .mean,
                                  normalize: true, configJSON: .null, passthrough: [], maxSeqLength: 64)
        let b = Self.batch([40, 17, 33, 2, 64, 5, 5, 5, 12], seed: 4)
        let whole = model.embed(b)
        for budget in [1, 20, 64, 70, 100] {
            let split = model.embed(b, maxTokensPerPass: budget)
            #expect(relativeError(split, whole) <= 1e-6, "\(arch) budget \(budget)")
        }
    }
}
