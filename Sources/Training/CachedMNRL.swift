import IO
import NN

/// CachedMultipleNegativesRankingLoss (GradCache, Gao et al. 2021) as sentence-transformers runs
/// it, so that a batch of 256+ triplets trains in the activation memory of one mini-batch:
///
/// 1. embed every (column, mini-batch) — anchors 0..<m, m..<2m, …, then positives, then negatives —
///    keeping only the embeddings (the encoder's activation buffers hold one mini-batch and are
///    overwritten by the next);
/// 2. the loss and its gradient with respect to every embedding, over the full batch (exactly
///    MNRL's: each anchor still ranks against all the batch's candidates);
/// 3. re-run each mini-batch's forward pass, now to back-propagate its share of that gradient into
///    the parameters.
///
/// Dropout: sentence-transformers snapshots torch's RNG before each mini-batch of step 1 and
/// restores it for the re-run. Here dropout masks are keyed by each sequence's place in the whole
/// batch (`PackedBatch.sequenceIDs`), so the re-run draws the first pass's masks by construction —
/// and they are also the masks plain MNRL draws for the same batch: cached_mnrl with dropout on
/// gives mnrl's losses and gradients to float rounding (stronger than sentence-transformers, whose
/// plain MNRL draws other masks than its cached loss).
extension MNRLObjective {
    @discardableResult
    package func accumulateCached(_ batch: TripletBatch, dropout: DropoutContext?, lossScale: Float = 1) -> Float {
        let C = model.dimension, B = batch.size
        let pieces = Self.miniBatches(columns: batch.columns, size: B, miniBatchSize: batch.loss.miniBatchSize)
        var embeddings = [Float](repeating: 0, count: batch.columns * B * C)
        embeddings.withUnsafeMutableBufferPointer { e in
            for p in pieces {
                let out = forward(Self.miniBatch(batch, column: p.column, rows: p.rows), dropout: dropout)
                precondition(out.count == p.rows.count * C)
                (e.baseAddress! + (p.column * B + p.rows.lowerBound) * C).update(from: out, count: p.rows.count * C)
            }
        }
        let (loss, d) = lossGradient(embeddings, size: B, columns: batch.columns, lossScale: lossScale,
                                     loss: batch.loss, labels: batch.labels)
        for p in pieces {
            _ = forward(Self.miniBatch(batch, column: p.column, rows: p.rows), dropout: dropout)
            let start = (p.column * B + p.rows.lowerBound) * C
            backward(Array(d[start..<(start + p.rows.count * C)]))
        }
        return loss
    }

    /// (column, rows) of each mini-batch, in sentence-transformers' order: column by column,
    /// `miniBatchSize` rows at a time.
    package static func miniBatches(columns: Int, size: Int, miniBatchSize: Int) -> [(column: Int, rows: Range<Int>)] {
        let m = max(1, miniBatchSize)
        return (0..<columns).flatMap { c in
            stride(from: 0, to: size, by: m).map { (c, $0..<min(size, $0 + m)) }
        }
    }

    /// Rows of one column of the batch, each keeping its dropout identity in the whole batch.
    package static func miniBatch(_ batch: TripletBatch, column: Int, rows: Range<Int>) -> TripletBatch {
        var mb = PackedBatch()
        var ids: [Int] = []
        ids.reserveCapacity(rows.count)
        let p = batch.packed
        for r in rows {
            let i = column * batch.size + r
            mb.append(p.tokens[p.offsets[i]..<p.offsets[i + 1]])
            ids.append(p.sequenceID(i))
        }
        mb.sequenceIDs = ids
        return TripletBatch(packed: mb, size: rows.count, columns: 1)
    }
}
