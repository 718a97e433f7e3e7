import IO

/// All trainable tensors of a model in ONE contiguous Float buffer, with a gradient buffer of the
/// same layout (llm.c style). Optimizer state, gradient clipping and (later) all-reduce across ranks
/// then work on flat arrays, and each tensor is a named view at a fixed offset.
package final class ParameterSet: @unchecked Sendable {
    package struct Entry: Sendable, Equatable {
        /// The PyTorch state-dict name, e.g. `encoder.layer.0.attention.self.query.weight`.
        package let name: String
        package let shape: [Int]
        package let offset: Int
        package let count: Int
        /// Whether AdamW applies weight decay (not to biases and LayerNorm parameters, as the
        /// transformers Trainer groups them).
        package let decay: Bool
    }

    package let entries: [Entry]
    package let count: Int
    package let values: UnsafeMutablePointer<Float>
    package let grads: UnsafeMutablePointer<Float>
    private let index: [String: Int]

    /// Lays the tensors out in the order given. Models choose the order so that tensors used together
    /// are adjacent (e.g. query, key and value weights form one [3C, C] matrix).
    package init(_ layout: [(name: String, shape: [Int], decay: Bool)]) {
        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var offset = 0
        for t in layout {
            precondition(index[t.name] == nil, "duplicate parameter \(t.name)")
            let n = t.shape.reduce(1, *)
            index[t.name] = entries.count
            entries.append(Entry(name: t.name, shape: t.shape, offset: offset, count: n, decay: t.decay))
            offset += n
        }
        self.entries = entries
        self.index = index
        count = offset
        values = .allocate(capacity: max(offset, 1))
        values.initialize(repeating: 0, count: max(offset, 1))
        grads = .allocate(capacity: max(offset, 1))
        grads.initialize(repeating: 0, count: max(offset, 1))
    }

    deinit {
        values.deallocate()
        grads.deallocate()
    }

    package func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The value pointer of a tensor that the model itself declared (a missing name is a bug).
    package func value(_ name: String) -> UnsafeMutablePointer<Float> {
        guard let e = entry(name) else { preconditionFailure("no parameter \(name)") }
        return values + e.offset
    }

    package func grad(_ name: String) -> UnsafeMutablePointer<Float> {
        guard let e = entry(name) else { preconditionFailure("no parameter \(name)") }
        return grads + e.offset
    }

    /// A model's pointer views built twice from the same names: over the values and over the
    /// gradients (e.g. one struct of pointers per layer).
    package func views<V>(_ make: (_ tensor: (String) -> UnsafeMutablePointer<Float>) -> V) -> (values: V, grads: V) {
        (make(value), make(grad))
    }

    package func zeroGrads() {
        let t0 = OpProfiler.shared.begin()
        defer { OpProfiler.shared.end(.zeroGrads, t0) }
        Parallel.chunks(count, minChunk: 1 << 16) { r in
            (grads + r.lowerBound).update(repeating: 0, count: r.count)
        }
    }

    /// Copies values from another set with the same layout.
    package func copyValues(from other: ParameterSet) {
        precondition(other.count == count)
        values.update(from: other.values, count: count)
    }
}
