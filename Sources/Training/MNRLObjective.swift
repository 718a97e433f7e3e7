import IO
import Inference
import NN

/// One micro-batch: `columns` groups of `size` sequences packed in order — all anchors, then all
/// positives, then (optionally) all negatives; or all sentence1, then all sentence2 — with the loss
/// of the dataset it came from and, for CoSENT, the gold scores.
package struct TripletBatch: Sendable {
    package var packed: PackedBatch
    package var size: Int
    package var columns: Int
    /// One gold score per row (CoSENT), else nil.
    package var labels: [Float]?
    package var loss: TrainingLoss

    package init(packed: PackedBatch, size: Int, columns: Int, labels: [Float]? = nil, loss: TrainingLoss = .mnrl) {
        precondition(packed.count == size * columns, "a batch of \(columns) columns × \(size) rows")
        precondition(labels == nil || labels!.count == size, "one score per row")
        self.packed = packed
        self.size = size
        self.columns = columns
        self.labels = labels
        self.loss = loss
    }
}

/// The training objective: encode, pool, (normalize,) the batch's loss (MNRL by default; any
/// `TrainingLoss`), and back. The three phases are separate functions so that data-parallel ranks
/// can all-gather embeddings between `forward` and `lossGradient`, then run `backward` on their own
/// rows; cached_mnrl runs them per mini-batch (`accumulateCached`).
package final class MNRLObjective {
    package let model: SentenceModel
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
    package func lossGradient(_ embeddings: [Float], size: Int, columns: Int, lossScale: Float = 1,
                              loss: TrainingLoss = .mnrl, labels: [Float]? = nil) -> (loss: Float, dEmbeddings: [Float]) {
        var d = [Float](repeating: 0, count: embeddings.count)
        let value = embeddings.withUnsafeBufferPointer { e in
            d.withUnsafeMutableBufferPointer { g in
                loss.compute(e.baseAddress!, size: size, columns: columns, C: model.dimension, labels: labels,
                                        lossScale: lossScale, dEmbeddings: g.baseAddress!)
            }
        }
        return (value, d)
    }

    /// The loss only (evaluation).
    package func loss(_ embeddings: [Float], size: Int, columns: Int, loss: TrainingLoss = .mnrl, labels: [Float]? = nil) -> Float {
        embeddings.withUnsafeBufferPointer { e in
            loss.compute(e.baseAddress!, size: size, columns: columns, C: model.dimension, labels: labels)
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
    /// cached_mnrl batches go through `accumulateCached`, with the same result.
    @discardableResult
    package func accumulateGradients(_ batch: TripletBatch, dropout: DropoutContext?, lossScale: Float = 1) -> Float {
        if batch.loss.kind == .cachedMNRL { return accumulateCached(batch, dropout: dropout, lossScale: lossScale) }
        let e = forward(batch, dropout: dropout)
        let (loss, d) = lossGradient(e, size: batch.size, columns: batch.columns, lossScale: lossScale,
                                     loss: batch.loss, labels: batch.labels)
        backward(d)
        return loss
    }
}
