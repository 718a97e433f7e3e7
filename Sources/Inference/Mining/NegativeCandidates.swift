import IO
import NN

/// The first stage of mining: each query's `candidateCount` nearest corpus entries by cosine
/// similarity (ordered by score, then corpus index), and the score of every (query, positive) pair,
/// computed while the corpus streams past in chunks, so that its embeddings are never all in memory.
package final class NegativeCandidates {
    package let data: PairsData
    package let dimension: Int
    package let candidateCount: Int
    private let search: TopKSearch
    private let queries: [Float]
    /// Score of each (query, distinct positive) pair, aligned with `data.positives`.
    package private(set) var positiveScores: [Float]
    /// Pair numbers sorted by their positive's corpus index, and the query of each pair.
    private let pairsByCorpus: [Int]
    private let pairQuery: [Int32]
    private var nextPair = 0

    /// `queries` holds the L2-normalized embeddings [data.queries.count, dimension].
    package init(data: PairsData, queries: [Float], dimension: Int, candidateCount: Int) {
        precondition(queries.count == data.queries.count * dimension)
        self.data = data
        self.dimension = dimension
        self.candidateCount = candidateCount
        self.queries = queries
        search = queries.withUnsafeBufferPointer {
            TopKSearch(queries: $0, count: data.queries.count, dimension: dimension, k: candidateCount)
        }
        positiveScores = [Float](repeating: 0, count: data.pairCount)
        var owner = [Int32](repeating: 0, count: data.pairCount)
        for q in 0..<data.queries.count {
            for p in data.positiveOffsets[q]..<data.positiveOffsets[q + 1] { owner[p] = Int32(q) }
        }
        pairQuery = owner
        let positives = data.positives
        pairsByCorpus = (0..<data.pairCount).sorted { positives[$0] < positives[$1] || (positives[$0] == positives[$1] && $0 < $1) }
    }

    /// The next corpus entries' L2-normalized embeddings [count, dimension], in corpus order.
    package func add(_ vectors: [Float]) {
        let count = vectors.count / dimension, first = search.corpusCount
        let D = dimension
        vectors.withUnsafeBufferPointer { v in
            search.add(v.baseAddress!, count: count)
            queries.withUnsafeBufferPointer { q in
                let positives = data.positives
                while nextPair < pairsByCorpus.count {
                    let pair = pairsByCorpus[nextPair]
                    let c = Int(positives[pair])
                    guard c < first + count else { break }
                    positiveScores[pair] = NN.dot(q.baseAddress! + Int(pairQuery[pair]) * D, v.baseAddress! + (c - first) * D, D)
                    nextPair += 1
                }
            }
        }
    }

    /// Corpus entries seen so far.
    package var corpusCount: Int { search.corpusCount }

    /// Query q's candidates, best first, padded with (-inf, -1) to `candidateCount` when the corpus
    /// is smaller (as mine_hard_negatives pads torch.topk's result).
    package func candidates(_ q: Int) -> [(score: Float, index: Int)] {
        var h = search.hits(q)
        while h.count < candidateCount { h.append((-.infinity, -1)) }
        return h
    }
}
