import IO
import NN
import Tokenizers

/// Embeds many sequences in batches sorted by length (as sentence-transformers' encode does, so
/// batches hold similar lengths), returning vectors in input order. Packing means sorting no longer
/// saves padding here, but it keeps attention work per batch even and memory bounded.
extension SentenceModel {
    /// `sequence(i)` gives the ids of sequence i (already truncated). Returns [count, dimension].
    package func embedAll(count: Int, batchSize: Int, progress: ProgressBar? = nil,
                         sequence: (Int) -> UnsafeBufferPointer<Int32>) -> [Float] {
        let C = dimension
        var out = [Float](repeating: 0, count: count * C)
        let order = (0..<count).sorted { sequence($0).count > sequence($1).count }
        var start = 0
        while start < count {
            let end = min(count, start + max(1, batchSize))
            var batch = PackedBatch()
            for k in start..<end { batch.append(sequence(order[k])) }
            let e = embed(batch)
            out.withUnsafeMutableBufferPointer { o in
                for (j, k) in (start..<end).enumerated() {
                    (o.baseAddress! + order[k] * C).update(from: e, count: C, at: j * C)
                }
            }
            progress?.advance(by: end - start)
            start = end
        }
        return out
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    /// Copies `count` floats from `source[at...]`.
    func update(from source: [Float], count: Int, at offset: Int) {
        source.withUnsafeBufferPointer { update(from: $0.baseAddress! + offset, count: count) }
    }
}
