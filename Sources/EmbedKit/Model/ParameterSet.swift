/// All trainable tensors of a model in ONE contiguous Float buffer, with a gradient buffer of the
/// same layout (llm.c style). Optimizer state, gradient clipping and (later) all-reduce across ranks
/// then work on flat arrays, and each tensor is a named view at a fixed offset.
public final class ParameterSet: @unchecked Sendable {
    public struct Entry: Sendable, Equatable {
        /// The PyTorch state-dict name, e.g. `encoder.layer.0.attention.self.query.weight`.
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public let count: Int
        /// Whether AdamW applies weight decay (not to biases and LayerNorm parameters, as the
        /// transformers Trainer groups them).
        public let decay: Bool
    }

    public let entries: [Entry]
    public let count: Int
    public let values: UnsafeMutablePointer<Float>
    public let grads: UnsafeMutablePointer<Float>
    private let index: [String: Int]

    /// Lays the tensors out in the order given. Models choose the order so that tensors used together
    /// are adjacent (e.g. query, key and value weights form one [3C, C] matrix).
    public init(_ layout: [(name: String, shape: [Int], decay: Bool)]) {
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

    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The value pointer of a tensor that the model itself declared (a missing name is a bug).
    public func value(_ name: String) -> UnsafeMutablePointer<Float> {
        guard let e = entry(name) else { preconditionFailure("no parameter \(name)") }
        return values + e.offset
    }

    public func grad(_ name: String) -> UnsafeMutablePointer<Float> {
        guard let e = entry(name) else { preconditionFailure("no parameter \(name)") }
        return grads + e.offset
    }

    public func zeroGrads() {
        let t0 = OpProfiler.shared.begin()
        defer { OpProfiler.shared.end(.zeroGrads, t0) }
        Parallel.chunks(count, minChunk: 1 << 16) { r in
            (grads + r.lowerBound).update(repeating: 0, count: r.count)
        }
    }

    /// Copies values from another set with the same layout.
    public func copyValues(from other: ParameterSet) {
        precondition(other.count == count)
        values.update(from: other.values, count: count)
    }
}
