import IO

/// A checkpoint tensor the encoder does not train (BERT's pooler, NorBERT3's position_indices
/// buffers), kept to be written back when the model is saved so Python loads it without warnings.
package struct WeightTensor: Sendable {
    package let name: String
    package let dtype: DType
    package let shape: [Int]
    package let bytes: [UInt8]
}

/// Fills a ParameterSet from a model folder's weights (model.safetensors, pytorch_model.bin, or
/// their sharded forms). State-dict names may carry a prefix (`bert.` in BertForPreTraining
/// checkpoints such as NbAiLab/nb-bert-base); it is found from the `anchor` tensor. Shapes are
/// checked against the layout. Tensors under the same prefix that `keep` accepts — the ones the
/// architecture's base model (what AutoModel builds) holds but we do not train, such as BERT's pooler
/// — are returned to be saved back (floats as F32, integers as I64). Everything else, pretraining
/// heads above all (`cls.*`, `classifier.*`), is dropped as AutoModel drops it; saved back, it would
/// make Python warn about unexpected weights.
func loadWeights(into params: ParameterSet, directory: String, anchor: String,
                 keep: (String) -> Bool) throws -> (store: any TensorStore, extra: [WeightTensor]) {
    let store = try openWeights(directory: directory)
    let path = store.path
    guard let prefix = ["", "bert.", "model.", "roberta.", "norbert3.", "encoder."].first(where: { store.contains($0 + anchor) }) else {
        throw EmbedError("\(path): no tensor '\(anchor)' (with or without a 'bert.' prefix): not a checkpoint of this architecture")
    }
    for e in params.entries {
        let name = prefix + e.name
        guard store.contains(name) else { throw EmbedError("\(path): missing tensor '\(name)'") }
        let shape = try store.shape(name)
        guard shape == e.shape else {
            throw EmbedError("\(path): tensor '\(name)' has shape \(shape), but config.json implies \(e.shape)")
        }
        try store.readFloats(name, into: params.values + e.offset, count: e.count)
    }
    var extra: [WeightTensor] = []
    for name in store.names where name.hasPrefix(prefix) {
        let local = String(name.dropFirst(prefix.count))
        guard params.entry(local) == nil, keep(local) else { continue }
        let shape = try store.shape(name)
        if try store.dtype(name).isFloat {
            let v = try store.floats(name)
            extra.append(WeightTensor(name: local, dtype: .f32, shape: shape, bytes: v.withUnsafeBytes { Array($0) }))
        } else {
            let v = try store.ints(name).map { Int64($0) }
            extra.append(WeightTensor(name: local, dtype: .i64, shape: shape, bytes: v.withUnsafeBytes { Array($0) }))
        }
    }
    return (store, extra)
}
