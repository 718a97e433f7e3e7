import IO
import NN

/// Matryoshka truncation of embeddings [rows, C] to their first `d` dimensions, re-normalized when
/// `normalize` (the model normalizes its output, or the caller asked for unit vectors).
///
/// sentence-transformers' `encode(truncate_dim=d)` slices without re-normalizing, so its truncated
/// vectors of a model with a Normalize module are not unit length unless `normalize_embeddings=True`
/// is passed as well; here a normalizing model stays normalizing at every dimension. Cosine
/// similarity is the same either way; dot products differ.
package func truncateEmbeddings(_ e: [Float], rows: Int, dimension C: Int, to d: Int, normalize: Bool) -> [Float] {
    guard d < C else { return e }
    var out = [Float](repeating: 0, count: rows * d)
    e.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { o in
            truncateRows(o.baseAddress!, src.baseAddress!, rows: rows, C: C, d: d)
            if normalize {
                let norms = UnsafeMutablePointer<Float>.allocate(capacity: max(rows, 1))
                defer { norms.deallocate() }
                normalizeRowsForward(o.baseAddress!, norms: norms, o.baseAddress!, rows: rows, C: d)
            }
        }
    }
    return out
}
