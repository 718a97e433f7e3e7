import IO
import NN
import TestSupport
import Testing
import Training

/// GradCache with dropout on: mini-batches re-run with their sequences' ids in the whole batch draw
/// exactly the masks plain MNRL draws, so cached_mnrl gives mnrl's loss and gradients to float
/// rounding at any mini-batch size (sentence-transformers' cached loss only equals its own replay).
@Suite struct CachedMNRLTests {
    static func model(normalize: Bool) -> SentenceModel {
        let encoder = BertEncoder(config: BertConfig(vocabSize: TinyModel.vocab, hiddenSize: 16, layers: 2, heads: 2, intermediateSize: 32,
                                                     maxPositions: 40, hiddenDropout: 0.1, attentionDropout: 0.1))
        var r = SplitMix64(seed: 11)
        let p = encoder.parameters
        for e in p.entries {
            for i in 0..<e.count {
                let u = Float(r.next() >> 40) / Float(1 << 24) - 0.5
                p.values[e.offset + i] = e.name.hasSuffix("LayerNorm.weight") ? 1 + 0.1 * u : u * 0.3
            }
        }
        return SentenceModel(directory: "", transformerDirectory: "", encoder: encoder, pooling: .mean, normalize: normalize,
                             configJSON: .null, passthrough: [], maxSeqLength: 32)
    }

    static func batch(rows: Int, loss: TrainingLoss) -> TripletBatch {
        let t = TinyModel.triplets(rows: rows, seed: 5)
        var packed = PackedBatch()
        for c in t.columns { for r in 0..<rows { packed.append(t.ids(column: c, row: r)) } }
        return TripletBatch(packed: packed, size: rows, columns: 3, loss: loss)
    }

    /// Loss and every gradient of one accumulation.
    static func run(_ model: SentenceModel, _ batch: TripletBatch, dropout: DropoutContext?) -> (Float, [Float]) {
        let objective = MNRLObjective(model: model)
        let p = model.encoder.parameters
        p.zeroGrads()
        let loss = objective.accumulateGradients(batch, dropout: dropout, lossScale: 0.5)
        return (loss, Array(UnsafeBufferPointer(start: p.grads, count: p.count)))
    }

    @Test(arguments: [(4, false), (5, true), (16, false), (1, true)])
    func cachedEqualsMNRLWithDropout(_ miniBatch: Int, _ normalize: Bool) {
        let model = Self.model(normalize: normalize)
        let dropout = DropoutContext(seed: 7, step: 3, microBatch: 1)
        for dims in [[Int](), [16, 8, 4]] {
            let plain = Self.run(model, Self.batch(rows: 16, loss: TrainingLoss(kind: .mnrl, matryoshkaDims: dims)), dropout: dropout)
            let cached = Self.run(model, Self.batch(rows: 16, loss: TrainingLoss(kind: .cachedMNRL, miniBatchSize: miniBatch,
                                                                                  matryoshkaDims: dims)), dropout: dropout)
            #expect(abs(cached.0 - plain.0) <= 1e-6 * plain.0, "loss \(cached.0) vs \(plain.0) (dims \(dims))")
            expectClose(cached.1, plain.1, "gradients, mini-batches of \(miniBatch), dims \(dims)", tolerance: 1e-5)
            // Dropout is really on: without it the step differs.
            let off = Self.run(model, Self.batch(rows: 16, loss: TrainingLoss(kind: .mnrl, matryoshkaDims: dims)), dropout: nil)
            #expect(abs(off.0 - plain.0) > 1e-4 * plain.0, "dropout changed nothing")
        }
    }

    /// sentence-transformers' mini-batch order: column by column, rows in steps of the mini-batch size.
    @Test func miniBatchOrder() {
        let order = MNRLObjective.miniBatches(columns: 2, size: 10, miniBatchSize: 4).map { "\($0.column):\($0.rows)" }
        #expect(order == ["0:0..<4", "0:4..<8", "0:8..<10", "1:0..<4", "1:4..<8", "1:8..<10"])
    }
}
