import IO
import NN
import TestSupport
import Testing

/// The running top-k search against a brute-force ranking of the whole score matrix (Double dot
/// products, sorted by score descending then tie rank), with ties, uneven chunks and tiles, a
/// corpus smaller than k, custom tie ranks, and one worker against all.
@Suite struct TopKSearchTests {
    /// Vectors with few distinct values, so that exact ties between different corpus vectors are common.
    static func vectors(_ n: Int, _ d: Int, seed: UInt64, levels: Int = 0) -> [Float] {
        var r = SplitMix64(seed: seed)
        return (0..<(n * d)).map { _ in
            let u = Float(r.next() >> 40) / Float(1 << 24) - 0.5
            return levels > 0 ? (u * Float(levels)).rounded() / Float(levels) : u
        }
    }

    static func bruteForce(_ q: [Float], _ c: [Float], nq: Int, nc: Int, d: Int, k: Int, ranks: [Int32]?) -> [[Int]] {
        (0..<nq).map { i in
            let s: [Float] = (0..<nc).map { j in
                var acc: Float = 0
                for x in 0..<d { acc += q[i * d + x] * c[j * d + x] }
                return acc
            }
            let rank = { (j: Int) in ranks.map { Int($0[j]) } ?? j }
            return Array((0..<nc).sorted { s[$0] > s[$1] || (s[$0] == s[$1] && rank($0) < rank($1)) }.prefix(k))
        }
    }

    func run(nq: Int, nc: Int, d: Int, k: Int, chunks: [Int], levels: Int, ranks: [Int32]? = nil, seed: UInt64) {
        let q = Self.vectors(nq, d, seed: seed, levels: levels), c = Self.vectors(nc, d, seed: seed + 1, levels: levels)
        let search = q.withUnsafeBufferPointer { TopKSearch(queries: $0, count: nq, dimension: d, k: k, tieRanks: ranks) }
        var start = 0
        for n in chunks {
            c.withUnsafeBufferPointer { search.add($0.baseAddress! + start * d, count: n) }
            start += n
        }
        #expect(start == nc && search.corpusCount == nc)
        let want = Self.bruteForce(q, c, nq: nq, nc: nc, d: d, k: k, ranks: ranks)
        var wrong = 0
        for i in 0..<nq {
            let got = search.hits(i)
            if got.map(\.index) != want[i] { wrong += 1 }
            // Scores come back sorted, best first.
            #expect(zip(got, got.dropFirst()).allSatisfy { $0.score >= $1.score })
        }
        #expect(wrong == 0, "\(wrong) of \(nq) queries ranked differently (nq \(nq), nc \(nc), k \(k))")
    }

    /// Exact values (levels of 1/4 in 4 dimensions): every score is exact in float32, so the sgemm's
    /// summation order cannot matter and ties are real.
    @Test func tiesGoToTheLowerCorpusIndex() {
        run(nq: 37, nc: 300, d: 4, k: 10, chunks: [300], levels: 4, seed: 3)
        run(nq: 5, nc: 2500, d: 4, k: 33, chunks: [1000, 1, 1499], levels: 2, seed: 4)
    }

    @Test func tiesFollowTheGivenRanks() {
        let nc = 200
        var r = SplitMix64(seed: 9)
        var ranks = (0..<Int32(nc)).map { $0 }
        ranks.shuffle(using: &r)
        run(nq: 20, nc: nc, d: 4, k: 15, chunks: [64, 136], levels: 2, ranks: ranks, seed: 5)
    }

    @Test func chunksAndTilesDoNotChangeTheResult() {
        // More corpus than one tile (2048) and more queries than one block (64), in odd chunks.
        run(nq: 300, nc: 5000, d: 8, k: 7, chunks: [2049, 3, 2948], levels: 4, seed: 6)
    }

    @Test func aCorpusSmallerThanKGivesEveryEntry() {
        run(nq: 3, nc: 5, d: 4, k: 12, chunks: [2, 3], levels: 0, seed: 7)
        let q: [Float] = [1, 0]
        let s = q.withUnsafeBufferPointer { TopKSearch(queries: $0, count: 1, dimension: 2, k: 4) }
        #expect(s.hits(0).isEmpty)
    }

    @Test func oneWorkerGivesTheSameHits() {
        let nq = 70, nc = 900, d = 16, k = 9
        let q = Self.vectors(nq, d, seed: 8), c = Self.vectors(nc, d, seed: 9)
        func hits() -> [[Int]] {
            let s = q.withUnsafeBufferPointer { TopKSearch(queries: $0, count: nq, dimension: d, k: k) }
            c.withUnsafeBufferPointer { s.add($0.baseAddress!, count: nc) }
            return (0..<nq).map { s.hits($0).map(\.index) }
        }
        let all = hits()
        let workers = Parallel.workers
        Parallel.setWorkers(1)
        defer { Parallel.setWorkers(workers) }
        #expect(hits() == all)
    }

    @Test func nanScoresAreNeverKept() {
        let q: [Float] = [1, 1]
        let c: [Float] = [.nan, 0, 1, 0, 0, 1]
        let s = q.withUnsafeBufferPointer { TopKSearch(queries: $0, count: 1, dimension: 2, k: 3) }
        c.withUnsafeBufferPointer { s.add($0.baseAddress!, count: 3) }
        #expect(s.hits(0).map(\.index) == [1, 2])
    }
}
