import IO
import Inference
import NN

/// One micro-batch for MultipleNegativesRankingLoss: `columns` groups of `size` sequences packed in
/// order — all anchors, then all positives, then (optionally) all negatives.
package struct TripletBatch: Sendable {
    package var packed: PackedBatch
    package var size: Int
    package var columns: Int

    package init(packed: PackedBatch, size: Int, columns: Int) {
        precondition(packed.count == size * columns, "a batch of \(columns) columns × \(size) rows")
        self.packed = packed
        self.size = size
        self.columns = columns
    }
}

/// The training objective: encode, pool, (normalize,) MNRL, and back. The three phases are separate
/// functions so that data-parallel ranks can all-gather embeddings between `forward` and
/// `lossGradient`, then run `backward` on their own rows.
package final class MNRLObjective {
    package let model: SentenceModel
    /// sentence-transformers' default scale (1 / temperature 0.05).
    package var scale: Float = 20
    private var pooled: [Float] = []
    private var normalized: [Float] = []
    private var norms: [Float] = []
    private var argmax: [Int32] = []
    private var lastOffsets: [Int] = [0]

    package init(model: SentenceModel) { self.model = model }

    /// Sentence embeddings [columns·size, C] of the batch (the model's output), keeping what
    /// backward needs.
    package func forward(_ batch: TripletBatch, dropout: DropoutContext?) -> [Float] {
        let C = model.dimension, n = batch.packed.count
        let hidden = model.encoder.forward(batch.packed, dropout: dropout)
        lastOffsets = batch.packed.offsets
        pooled = [Float](repeating: 0, count: n * C)
        argmax = model.pooling == .max ? [Int32](repeating: 0, count: n * C) : []
        pooled.withUnsafeMutableBufferPointer { p in
            argmax.withUnsafeMutableBufferPointer { a in
                poolingForward(p.baseAddress!, hidden, offsets: batch.packed.offsets, C: C, mode: model.pooling, argmax: a.baseAddress)
            }
        }
        guard model.normalize else { return pooled }
        normalized = [Float](repeating: 0, count: n * C)
        norms = [Float](repeating: 0, count: n)
        normalized.withUnsafeMutableBufferPointer { o in
            norms.withUnsafeMutableBufferPointer { nr in
                pooled.withUnsafeBufferPointer { normalizeRowsForward(o.baseAddress!, norms: nr.baseAddress!, $0.baseAddress!, rows: n, C: C) }
            }
        }
        return normalized
    }

    /// The loss of embeddings [columns·size, C] and its gradient scaled by `lossScale`
    /// (e.g. 1 / accumulation steps).
    package func lossGradient(_ embeddings: [Float], size: Int, columns: Int, lossScale: Float = 1) -> (loss: Float, dEmbeddings: [Float]) {
        let C = model.dimension
        var d = [Float](repeating: 0, count: embeddings.count)
        let r = embeddings.withUnsafeBufferPointer { e in
            d.withUnsafeMutableBufferPointer { g in
                multipleNegativesRankingLoss(anchors: e.baseAddress!, candidates: e.baseAddress! + size * C,
                                             B: size, N: (columns - 1) * size, C: C, scale: scale, lossScale: lossScale,
                                             dAnchors: g.baseAddress!, dCandidates: g.baseAddress! + size * C)
            }
        }
        return (r.loss, d)
    }

    /// The loss only (evaluation).
    package func loss(_ embeddings: [Float], size: Int, columns: Int) -> Float {
        embeddings.withUnsafeBufferPointer { e in
            multipleNegativesRankingLoss(anchors: e.baseAddress!, candidates: e.baseAddress! + size * model.dimension,
                                         B: size, N: (columns - 1) * size, C: model.dimension, scale: scale).loss
        }
    }

    /// Adds the parameter gradients for d(loss)/d(embeddings) of the last forward.
    package func backward(_ dEmbeddings: [Float]) {
        let C = model.dimension, n = lastOffsets.count - 1
        var dPooled = dEmbeddings
        if model.normalize {
            dPooled.withUnsafeMutableBufferPointer { dp in
                dEmbeddings.withUnsafeBufferPointer { de in
                    normalized.withUnsafeBufferPointer { y in
                        norms.withUnsafeBufferPointer { nr in
                            normalizeRowsBackward(dp.baseAddress!, de.baseAddress!, y: y.baseAddress!, norms: nr.baseAddress!, rows: n, C: C)
                        }
                    }
                }
            }
        }
        let T = lastOffsets[n]
        let dHidden = UnsafeMutablePointer<Float>.allocate(capacity: max(T * C, 1))
        defer { dHidden.deallocate() }
        dPooled.withUnsafeBufferPointer { dp in
            argmax.withUnsafeBufferPointer { a in
                poolingBackward(dHidden, dp.baseAddress!, offsets: lastOffsets, C: C, mode: model.pooling, argmax: a.baseAddress)
            }
        }
        model.encoder.backward(dHidden)
    }

    /// forward → loss → backward on one process: returns the loss, adds lossScale·∇ to the gradients.
    @discardableResult
    package func accumulateGradients(_ batch: TripletBatch, dropout: DropoutContext?, lossScale: Float = 1) -> Float {
        let e = forward(batch, dropout: dropout)
        let (loss, d) = lossGradient(e, size: batch.size, columns: batch.columns, lossScale: lossScale)
        backward(d)
        return loss
    }
}
