import CBLAS
import IO

/// Exact k-nearest-neighbour search by inner product, for a corpus that arrives in chunks: each
/// chunk is scored against every query with cblas_sgemm, one tile at a time, and merged into each
/// query's running top k. Memory is the queries, the k best per query and one score tile per
/// worker, whatever the corpus size (the query × corpus matrix never exists). The queries go to the
/// workers in fixed blocks, so results do not depend on the thread count.
///
/// Order: score descending, then `tieRank` ascending (default: the corpus index, i.e. the order in
/// which documents were added). sentence-transformers' evaluator orders ties by corpus id, which a
/// caller expresses as a rank. NaN scores are never kept.
package final class TopKSearch {
    package let queryCount: Int
    package let dimension: Int
    package let k: Int
    /// Corpus vectors added so far; the next chunk's first vector gets this index.
    package private(set) var corpusCount = 0

    private let queries: UnsafeMutablePointer<Float>
    private let scores: UnsafeMutablePointer<Float>
    private let indices: UnsafeMutablePointer<Int32>
    private let filled: UnsafeMutablePointer<Int32>
    private let ranks: UnsafeMutablePointer<Int32>?
    private let rankCount: Int

    /// Queries per sgemm call and corpus vectors per score tile: a 64 × 2048 tile is 512 KiB.
    static let queryBlock = 64
    static let corpusTile = 2048

    /// `queries` is [queryCount, dimension], row-major. `tieRanks[i]`, when given, is corpus vector
    /// i's place in the tie order (a permutation of 0..<corpus size).
    package init(queries q: UnsafeBufferPointer<Float>, count: Int, dimension: Int, k: Int, tieRanks: [Int32]? = nil) {
        precondition(q.count == count * dimension && k > 0 && k < Int(Int32.max))
        queryCount = count
        self.dimension = dimension
        self.k = k
        queries = .allocate(capacity: max(1, q.count))
        if let base = q.baseAddress { queries.initialize(from: base, count: q.count) }
        scores = .allocate(capacity: max(1, count * k))
        indices = .allocate(capacity: max(1, count * k))
        filled = .allocate(capacity: max(1, count))
        filled.initialize(repeating: 0, count: max(1, count))
        if let tieRanks {
            let r = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, tieRanks.count))
            r.initialize(from: tieRanks, count: tieRanks.count)
            ranks = r
            rankCount = tieRanks.count
        } else {
            ranks = nil
            rankCount = 0
        }
    }

    deinit {
        queries.deallocate()
        scores.deallocate()
        indices.deallocate()
        filled.deallocate()
        ranks?.deallocate()
    }

    /// Scores the next `count` corpus vectors ([count, dimension], row-major) against every query.
    package func add(_ corpus: UnsafePointer<Float>, count: Int) {
        guard count > 0, queryCount > 0 else { corpusCount += max(0, count); return }
        precondition(ranks == nil || corpusCount + count <= rankCount, "a tie rank for every corpus vector")
        let first = corpusCount
        let D = dimension, QB = TopKSearch.queryBlock, CT = min(TopKSearch.corpusTile, count)
        // Our workers each run a one-thread sgemm on their own queries (OpenBLAS threads would only
        // compete with them).
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
        // Fixed blocks of queries, dealt out to the workers: a query's scores come from the same
        // sgemm call shape whatever the worker count, so results do not depend on it.
        let blocks = (queryCount + QB - 1) / QB
        let parts = max(1, min(Parallel.workers, blocks))
        let q = UncheckedSendable(queries)
        Parallel.forEach(parts) { part in
            let firstBlock = blocks * part / parts, last = blocks * (part + 1) / parts
            let tile = UnsafeMutablePointer<Float>.allocate(capacity: QB * CT)
            defer { tile.deallocate() }
            var c0 = 0
            while c0 < count {
                let cols = min(CT, count - c0)
                for block in firstBlock..<last {
                    let b0 = block * QB, rows = min(QB, queryCount - b0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(cols), Int32(D), 1,
                                q.value + b0 * D, Int32(D), corpus + c0 * D, Int32(D), 0, tile, Int32(cols))
                    for r in 0..<rows { merge(query: b0 + r, tile + r * cols, count: cols, firstIndex: first + c0) }
                }
                c0 += cols
            }
        }
        corpusCount += count
    }

    @inline(__always)
    private func rank(_ index: Int32) -> Int32 { ranks.map { $0[Int(index)] } ?? index }

    /// Merges one query's scores for corpus vectors firstIndex..<firstIndex+count into its top k
    /// (kept sorted, best first).
    private func merge(query: Int, _ row: UnsafePointer<Float>, count: Int, firstIndex: Int) {
        let s = scores + query * k, ix = indices + query * k
        var n = Int(filled[query])
        var worst = n == k ? s[k - 1] : -Float.infinity
        for j in 0..<count {
            let v = row[j]
            guard v >= worst else { continue }  // also drops NaN
            let index = Int32(firstIndex + j)
            let r = rank(index)
            if n == k, v == worst, r >= rank(ix[k - 1]) { continue }
            // The first position whose entry the new one beats; entries after it move down one.
            var p = n
            while p > 0, v > s[p - 1] || (v == s[p - 1] && r < rank(ix[p - 1])) { p -= 1 }
            let last = min(n, k - 1)
            var m = last
            while m > p {
                s[m] = s[m - 1]
                ix[m] = ix[m - 1]
                m -= 1
            }
            if p < k {
                s[p] = v
                ix[p] = index
            }
            if n < k { n += 1 }
            worst = n == k ? s[k - 1] : -Float.infinity
        }
        filled[query] = Int32(n)
    }

    /// Query `q`'s best corpus vectors so far, best first (fewer than k while the corpus is smaller).
    package func hits(_ q: Int) -> [(score: Float, index: Int)] {
        let n = Int(filled[q])
        return (0..<n).map { (scores[q * k + $0], Int(indices[q * k + $0])) }
    }
}
