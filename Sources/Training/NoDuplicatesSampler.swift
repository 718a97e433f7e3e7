import IO
import Inference
import NN

/// Batches like sentence-transformers' NO_DUPLICATES batch sampler: a seeded shuffle of the rows,
/// then each batch takes rows in shuffled order, skipping (deferring to later batches) any row that
/// shares a text with a row already in the batch. With MultipleNegativesRankingLoss every other
/// row's texts are negatives, so a duplicate would be a false negative.
///
/// Texts are compared by a 64-bit hash of their token ids: two texts that tokenize alike give the
/// same embedding, which is exactly what makes a duplicate harmful.
package enum NoDuplicatesSampler {
    /// The batches (row indices) of one epoch. `values(i)` returns the hashes of row i's texts.
    /// As the Python sampler: the shuffle depends on `seed + epoch`; the number of batches is
    /// ⌈rows / batchSize⌉ (⌊⌋ with `dropLast`), and when skipping leaves fewer, the rows are
    /// reshuffled and sampled again to make up the count (a few rows then repeat in that epoch).
    /// A pass can also yield more (short batches at its end); the trainer, like transformers', runs
    /// only the expected number of batches per epoch.
    package static func epoch(rows: Int, batchSize: Int, seed: UInt64, epoch: Int, dropLast: Bool = false,
                             values: (Int) -> [UInt64]) -> [[Int]] {
        guard rows > 0, batchSize > 0 else { return [] }
        let expected = dropLast ? rows / batchSize : (rows + batchSize - 1) / batchSize
        var rng = SplitMix64(seed: seed &+ UInt64(epoch))
        func shuffled() -> [Int] {
            var order = Array(0..<rows)
            order.shuffle(using: &rng)
            return order
        }
        var batches = onePass(order: shuffled(), batchSize: batchSize, dropLast: dropLast, values: values)
        var passes = 0
        while batches.count < expected, passes < 4 {
            let more = onePass(order: shuffled(), batchSize: batchSize, dropLast: dropLast, values: values)
            if more.isEmpty { break }
            batches += more.prefix(expected - batches.count)
            passes += 1
        }
        return batches
    }

    /// One pass over the rows in `order` (a shuffle), walked as a linked list so skipped rows keep
    /// their order.
    static func onePass(order: [Int], batchSize: Int, dropLast: Bool, values: (Int) -> [UInt64]) -> [[Int]] {
        let rows = order.count
        guard rows > 0 else { return [] }
        var next = Array(1...rows)
        next[rows - 1] = -1
        var head = 0
        var batches: [[Int]] = []
        while head != -1 {
            var seen = Set<UInt64>()
            var batch: [Int] = []
            var cur = head, prev = -1
            var full = false
            while cur != -1 {
                let nxt = next[cur]
                let row = order[cur]
                let v = values(row)
                if v.contains(where: seen.contains) {
                    prev = cur
                    cur = nxt
                    continue
                }
                batch.append(row)
                if prev == -1 { head = nxt } else { next[prev] = nxt }
                if batch.count == batchSize {
                    full = true
                    break
                }
                seen.formUnion(v)
                cur = nxt
            }
            // A short batch means the walk reached the end; rows it skipped stay in the list and
            // start the next batch, so no row is lost.
            if full || (!dropLast && !batch.isEmpty) { batches.append(batch) }
        }
        return batches
    }

    /// A 64-bit hash of a token sequence.
    package static func hash(_ ids: UnsafeBufferPointer<Int32>) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(ids.count)
        for id in ids { h = SplitMix64.mix(h ^ UInt64(UInt32(bitPattern: id))) }
        return h
    }
}
