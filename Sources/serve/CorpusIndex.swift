import CBLAS
import Foundation
import IO
import Inference
import NN

/// The `--corpus` texts and their vectors, searched exactly: the query's cosine with every row in
/// one sgemv over the unit-length matrix, then a bounded heap for the top k. Exact search is enough
/// for a corpus one machine embeds at start; it is kept small and local to `serve` (the lead may
/// unify it with `mine`'s chunked top-k search).
final class CorpusIndex: @unchecked Sendable {
    let count: Int
    let dimension: Int
    let path: String
    /// All texts' UTF-8, end to end (one allocation, not one String per row).
    private let utf8: [UInt8]
    private let offsets: [Int]
    /// [count, dimension], every row of unit length.
    private let matrix: [Float]

    private init(path: String, utf8: [UInt8], offsets: [Int], matrix: [Float], dimension: Int) {
        self.path = path
        self.utf8 = utf8
        self.offsets = offsets
        self.matrix = matrix
        self.dimension = dimension
        count = offsets.count - 1
    }

    func text(_ i: Int) -> String {
        String(decoding: utf8[offsets[i]..<offsets[i + 1]], as: UTF8.self)
    }

    struct Hit: Sendable {
        let index: Int
        let score: Float
    }

    /// The `k` rows most similar to `query` (cosine), best first; ties go to the earlier row.
    func search(_ query: [Float], k: Int) -> [Hit] {
        let n = count, D = dimension, k = min(k, count)
        guard k > 0, query.count == D else { return [] }
        var q = query
        var norm: Float = 0
        q.withUnsafeMutableBufferPointer { normalizeRowsForward($0.baseAddress!, norms: &norm, $0.baseAddress!, rows: 1, C: D) }
        var scores = [Float](repeating: 0, count: n)
        matrix.withUnsafeBufferPointer { m in
            q.withUnsafeBufferPointer { qp in
                scores.withUnsafeMutableBufferPointer { s in
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(D), 1, m.baseAddress!, Int32(D),
                                qp.baseAddress!, 1, 0, s.baseAddress!, 1)
                }
            }
        }
        // A min-heap of the best k so far; its root is the weakest kept hit.
        func worse(_ a: Hit, _ b: Hit) -> Bool { a.score < b.score || (a.score == b.score && a.index > b.index) }
        var heap: [Hit] = []
        heap.reserveCapacity(k)
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && worse(heap[l], heap[m]) { m = l }
                if r < heap.count && worse(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        scores.withUnsafeBufferPointer { s in
            for i in 0..<n {
                let hit = Hit(index: i, score: s[i])
                if heap.count < k {
                    heap.append(hit)
                    var c = heap.count - 1
                    while c > 0, worse(heap[c], heap[(c - 1) / 2]) {
                        heap.swapAt(c, (c - 1) / 2)
                        c = (c - 1) / 2
                    }
                } else if worse(heap[0], hit) {
                    heap[0] = hit
                    siftDown(0)
                }
            }
        }
        return heap.sorted { worse($1, $0) }
    }

    /// Reads the texts (plain lines, or JSON Lines' `field`), then either loads their vectors from
    /// `vectorsPath` (what `embed -o FILE.safetensors` wrote for the same file) or embeds them.
    static func load(path: String, field: String?, vectorsPath: String?, embedder: TextEmbedder) throws -> CorpusIndex {
        let jsonl = field != nil || [".jsonl", ".jsonl.zst", ".jsonl.gz", ".json"].contains { path.hasSuffix($0) }
        let source = try TextSource(path: path, field: jsonl ? (field ?? "text") : nil)
        let D = embedder.dimension
        var utf8: [UInt8] = [], offsets = [0], matrix: [Float] = []
        let progress = vectorsPath == nil ? ProgressBar("embedding the corpus", unit: "texts") : nil
        while let texts = try source.next(maxCount: 4096) {
            for t in texts {
                utf8.append(contentsOf: t.utf8)
                offsets.append(utf8.count)
            }
            if let progress {
                matrix += try embedder.embed(texts)
                progress.advance(by: texts.count)
            }
        }
        progress?.finish()
        let n = offsets.count - 1
        guard n > 0 else { throw EmbedError("\(path): the corpus has no texts") }
        if let vectorsPath {
            let file = try SafetensorsFile(path: vectorsPath)
            let info = try file.info("embeddings")
            guard info.shape == [n, D] else {
                throw EmbedError("\(vectorsPath): 'embeddings' has shape \(info.shape), but \(path) has \(n) texts and the model \(D) dimensions (make it with: embed --model MODEL\(jsonl ? " --field \(field ?? "text")" : "") \(path) -o \(vectorsPath))")
            }
            matrix = try file.floats("embeddings")
        }
        if !(vectorsPath == nil && embedder.model.normalize) {
            let norms = UnsafeMutablePointer<Float>.allocate(capacity: n)
            defer { norms.deallocate() }
            matrix.withUnsafeMutableBufferPointer { m in normalizeRowsForward(m.baseAddress!, norms: norms, m.baseAddress!, rows: n, C: D) }
        }
        return CorpusIndex(path: path, utf8: utf8, offsets: offsets, matrix: matrix, dimension: D)
    }
}
