import DataParallel
import IO
import Inference
import NN

/// One micro-batch: `columns` groups of `size` sequences packed in order — all anchors, then all
/// positives, then (optionally) all negatives; or all sentence1, then all sentence2 — with the loss
/// of the dataset it came from and, for CoSENT, the gold scores. Under data parallelism it is one
/// rank's share of the step's global micro-batch: rows `firstRow ..< firstRow + size` of
/// `globalSize` (MNRL only: the trainer refuses other losses on several ranks).
package struct TripletBatch: Sendable {
    package var packed: PackedBatch
    package var size: Int
    package var columns: Int
    package var firstRow: Int
    package var globalSize: Int
    /// One gold score per row (CoSENT), else nil.
    package var labels: [Float]?
    package var loss: TrainingLoss

    package init(packed: PackedBatch, size: Int, columns: Int, firstRow: Int = 0, globalSize: Int? = nil,
                 labels: [Float]? = nil, loss: TrainingLoss = .mnrl) {
        precondition(packed.count == size * columns, "a batch of \(columns) columns × \(size) rows")
        precondition(labels == nil || labels!.count == size, "one score per row")
        self.packed = packed
        self.size = size
        self.columns = columns
        self.firstRow = firstRow
        self.globalSize = globalSize ?? size
        self.labels = labels
        self.loss = loss
        precondition(firstRow >= 0 && firstRow + size <= self.globalSize, "rows outside the global batch")
    }

    /// The rows of a global micro-batch of `rows` rows that rank `rank` of `ranks` computes:
    /// contiguous, as even as possible (a full batch of N·b rows gives rank r rows r·b ..< (r+1)·b).
    package static func share(of rows: Int, rank: Int, ranks: Int) -> Range<Int> {
        (rows * rank / ranks)..<(rows * (rank + 1) / ranks)
    }

    /// Rank `rank`'s share of the global micro-batch `rows` (row indices into `columns`' tables):
    /// its rows packed column by column, each sequence keyed for dropout by its place in the global
    /// batch (column · rows.count + row), so that the rank draws exactly the masks one process with
    /// the whole batch would.
    package static func share(_ rows: [Int], rank: Int, ranks: Int, columns: Int,
                              ids: (_ column: Int, _ row: Int) -> UnsafeBufferPointer<Int32>) -> TripletBatch {
        let mine = share(of: rows.count, rank: rank, ranks: ranks)
        var packed = PackedBatch()
        var sequenceIDs: [Int] = []
        for c in 0..<columns {
            for i in mine {
                packed.append(ids(c, rows[i]))
                sequenceIDs.append(c * rows.count + i)
            }
        }
        if ranks > 1 { packed.sequenceIDs = sequenceIDs }
        return TripletBatch(packed: packed, size: mine.count, columns: columns, firstRow: mine.lowerBound, globalSize: rows.count)
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

    /// Adds the parameter gradients for d(loss)/d(embeddings) of the last forward; `layerDone` as
    /// in `TransformerEncoder.backward`.
    package func backward(_ dEmbeddings: [Float], layerDone: ((Int) -> Void)? = nil) {
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
        model.encoder.backward(dHidden, layerDone: layerDone)
    }

    /// forward → loss → backward on one rank of a data-parallel job, for MNRL over the whole global
    /// micro-batch (sentence-transformers' `gather_across_devices=True`): the ranks all-gather their
    /// candidates (positives and negatives), each scores its own anchors against all of them (its
    /// positives start at column k·firstRow of the gathered block), and a reduce-scatter sums every
    /// rank's gradient of each candidate back to the rank that computed it. Each rank's loss is
    /// weighted by its share of the anchors (size / globalSize), so the ranks' gradients sum to the
    /// gradient one process would get for the whole batch. Returns this rank's share of the global
    /// loss (the ranks' shares sum to it).
    package func accumulateGradients(_ batch: TripletBatch, dropout: DropoutContext?, lossScale: Float,
                                     communicator comm: any Communicator, layerDone: ((Int) -> Void)?) -> Double {
        precondition(batch.loss.kind == .mnrl && batch.loss.matryoshkaDims.isEmpty, "data-parallel training computes MNRL only, not \(batch.loss.description)")
        let C = model.dimension, k = batch.columns - 1, b = batch.size, M = batch.globalSize
        let counts = (0..<comm.size).map { TripletBatch.share(of: M, rank: $0, ranks: comm.size).count * k * C }
        precondition(counts[comm.rank] == k * b * C, "the batch is not this rank's share")
        let embeddings = b > 0 ? forward(batch, dropout: dropout) : []
        var candidates = [Float](repeating: 0, count: max(k * M * C, 1))
        var dCandidates = [Float](repeating: 0, count: max(k * M * C, 1))
        var dEmbeddings = [Float](repeating: 0, count: max((k + 1) * b * C, 1))
        var share = 0.0
        embeddings.withUnsafeBufferPointer { e in
            candidates.withUnsafeMutableBufferPointer { all in
                // An empty array may have no address; a rank without rows sends nothing from it.
                let mine = e.baseAddress.map { $0 + b * C } ?? UnsafePointer(all.baseAddress!)
                comm.startAllGather(mine, into: all.baseAddress!, counts: counts).wait()
            }
        }
        if b > 0 {
            let r = embeddings.withUnsafeBufferPointer { e in
                candidates.withUnsafeBufferPointer { all in
                    dEmbeddings.withUnsafeMutableBufferPointer { dE in
                        dCandidates.withUnsafeMutableBufferPointer { dAll in
                            multipleNegativesRankingLoss(anchors: e.baseAddress!, candidates: all.baseAddress!, B: b, N: k * M, C: C,
                                                         scale: batch.loss.scale, lossScale: lossScale * Float(b) / Float(M), labelOffset: k * batch.firstRow,
                                                         dAnchors: dE.baseAddress!, dCandidates: dAll.baseAddress!)
                        }
                    }
                }
            }
            share = Double(r.loss) * Double(b) / Double(M)
        }
        dCandidates.withUnsafeBufferPointer { dAll in
            dEmbeddings.withUnsafeMutableBufferPointer { dE in
                comm.startReduceScatter(dAll.baseAddress!, into: dE.baseAddress! + b * C, counts: counts).wait()
            }
        }
        if b > 0 {
            backward(dEmbeddings, layerDone: layerDone)
        } else if let layerDone {
            // No rows here, so no gradient; announce the layers all the same, as the other ranks do.
            for l in model.encoder.layerParameterRanges.indices.reversed() { layerDone(l) }
        }
        return share
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
