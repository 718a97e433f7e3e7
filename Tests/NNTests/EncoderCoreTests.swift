import Foundation
import IO
import NN
import TestSupport
import Testing

/// What the encoders share: the arena sized by the same `take` calls that carve it, the parameter
/// layout named once, and the input checks at the top of every forward pass.
@Suite struct EncoderCoreTests {
    /// Both encoders' parameter layouts: every tensor once, in the order PyTorch's state dict
    /// groups them, with weight decay on matrices only.
    @Test func parameterLayoutsNameEveryTensorOnce() {
        let bert = BertEncoder(config: BertConfig(vocabSize: 30, hiddenSize: 8, layers: 2, heads: 2, intermediateSize: 12))
        let names = bert.parameters.entries.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names.count == 5 + 2 * 16)
        #expect(Array(names[5..<11]) == ["query", "key", "value"].map { "encoder.layer.0.attention.self.\($0).weight" }
                + ["query", "key", "value"].map { "encoder.layer.0.attention.self.\($0).bias" })
        #expect(bert.parameters.entries.allSatisfy { $0.decay == ($0.shape.count == 2) })

        let norbert = NorbertEncoder(config: NorbertConfig(vocabSize: 30, hiddenSize: 8, layers: 2, heads: 2, intermediateSize: 6, bucketSize: 4))
        #expect(norbert.parameters.entries.map(\.name).prefix(6) == [
            "embedding.word_embedding.weight", "embedding.relative_embedding", "embedding.relative_layer_norm.weight",
            "embedding.relative_layer_norm.bias", "transformer.layers.0.attention.in_proj_qk.weight",
            "transformer.layers.0.attention.in_proj_qk.bias",
        ])
        #expect(norbert.parameters.entry("transformer.layers.1.mlp.mlp.1.weight")?.shape == [12, 8])
        #expect(norbert.parameters.entry("transformer.layers.1.mlp.mlp.4.weight")?.shape == [8, 6])
        #expect(norbert.parameters.entry("transformer.layers.1.mlp.mlp.1.bias") == nil)
    }

    /// A forward pass with an id outside the vocabulary, or a sequence longer than the position
    /// table, stops with a message instead of reading out of bounds (run in a child process, since
    /// it ends the process).
    @Test(arguments: ["outOfVocabularyChild", "tooLongChild"])
    func badBatchesStopWithAMessage(_ child: String) throws {
        let dir = TestPaths.scratch()
        let (status, output) = try ChildTest.run(child, directory: dir)
        #expect(status != 0, "the forward pass accepted the bad batch")
        let message = child == "outOfVocabularyChild" ? "has id 30, outside the vocabulary of 30"
            : "has 17 tokens; the model takes at most 16"
        #expect(output.contains(message), "\(output.suffix(2000))")
    }

    static func tinyBert() -> BertEncoder {
        BertEncoder(config: BertConfig(vocabSize: 30, hiddenSize: 8, layers: 1, heads: 2, intermediateSize: 12, maxPositions: 16))
    }

    @Test(.enabled(if: ChildTest.isChild("outOfVocabularyChild"), "runs only as a child of badBatchesStopWithAMessage"))
    func outOfVocabularyChild() {
        _ = Self.tinyBert().forward(PackedBatch(sequences: [[1, 2, 3], [1, 30, 2]]), dropout: nil)
    }

    @Test(.enabled(if: ChildTest.isChild("tooLongChild"), "runs only as a child of badBatchesStopWithAMessage"))
    func tooLongChild() {
        _ = Self.tinyBert().forward(PackedBatch(sequences: [[1, 2], Array(repeating: 5, count: 17)]), dropout: nil)
    }

    /// The same batch through a grown arena (a bigger batch first) gives the same hidden states:
    /// buffers carved with headroom are used only up to the batch's size.
    @Test func aGrownArenaGivesTheSameResult() {
        let enc = Self.tinyBert()
        var r = SplitMix64(seed: 3)
        for i in 0..<enc.parameters.count { enc.parameters.values[i] = Float(r.next() >> 40) / Float(1 << 24) - 0.5 }
        let small = PackedBatch(sequences: [[1, 4, 5, 2], [1, 7, 2]])
        let first = Array(UnsafeBufferPointer(start: enc.forward(small, dropout: nil), count: small.tokenCount * 8))
        let big = PackedBatch(sequences: (0..<20).map { _ in [1] + (0..<13).map { Int32(3 + $0) } + [2] })
        _ = enc.forward(big, dropout: DropoutContext(seed: 1, step: 0))
        let again = Array(UnsafeBufferPointer(start: enc.forward(small, dropout: nil), count: small.tokenCount * 8))
        #expect(first == again)
    }

    /// Dropout masks are keyed by a sequence's place in the whole batch, not by where it sits in the
    /// packed buffers: a sequence computed alone (with its id) gets the hidden states it gets inside
    /// the full batch — what data-parallel ranks and cached mini-batches rely on.
    @Test(arguments: ["bert", "norbert"])
    func dropoutMasksFollowTheSequenceNotTheBatch(_ arch: String) {
        let enc: any TransformerEncoder = arch == "bert"
            ? BertEncoder(config: BertConfig(vocabSize: 30, hiddenSize: 8, layers: 2, heads: 2, intermediateSize: 12,
                                             maxPositions: 32, hiddenDropout: 0.3, attentionDropout: 0.3))
            : NorbertEncoder(config: NorbertConfig(vocabSize: 30, hiddenSize: 8, layers: 2, heads: 2, intermediateSize: 6,
                                                   maxPositions: 32, bucketSize: 4, hiddenDropout: 0.3, attentionDropout: 0.3))
        var r = SplitMix64(seed: 9)
        for i in 0..<enc.parameters.count { enc.parameters.values[i] = Float(r.next() >> 40) / Float(1 << 24) - 0.5 }
        let seqs: [[Int32]] = [[1, 4, 5, 6, 2], [1, 7, 8, 2], [1, 9, 10, 11, 12, 13, 2]]
        let ctx = DropoutContext(seed: 5, step: 3, microBatch: 1)
        let full = PackedBatch(sequences: seqs)
        let all = Array(UnsafeBufferPointer(start: enc.forward(full, dropout: ctx), count: full.tokenCount * 8))
        for b in 0..<seqs.count {
            var one = PackedBatch(sequences: [seqs[b]])
            one.sequenceIDs = [b]
            let alone = Array(UnsafeBufferPointer(start: enc.forward(one, dropout: ctx), count: one.tokenCount * 8))
            expectClose(alone, Array(all[(full.offsets[b] * 8)..<(full.offsets[b + 1] * 8)]), "\(arch) sequence \(b)", tolerance: 1e-6)
        }
        // And the masks are really there: another id gives other hidden states.
        var moved = PackedBatch(sequences: [seqs[1]])
        moved.sequenceIDs = [7]
        let other = Array(UnsafeBufferPointer(start: enc.forward(moved, dropout: ctx), count: moved.tokenCount * 8))
        #expect(relativeError(other, Array(all[(full.offsets[1] * 8)..<(full.offsets[2] * 8)])) > 1e-3)
    }
}
