import Foundation

/// A checkpoint tensor kept as raw bytes (not trained), to be written back when the model is saved.
public struct WeightTensor: Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let bytes: [UInt8]
}

/// Fills a ParameterSet from the model folder's weights file. State-dict names may carry a prefix
/// (`bert.` in BertForPreTraining checkpoints such as NbAiLab/nb-bert-base); it is found from the
/// `anchor` tensor. Shapes are checked against the layout. Tensors under the same prefix that the
/// encoder does not use are returned, to be saved back unchanged; other heads (`cls.*`) are dropped,
/// as AutoModel drops them.
func loadWeights(into params: ParameterSet, directory: String, anchor: String) throws -> [WeightTensor] {
    let path = directory + "/model.safetensors"
    guard FileManager.default.fileExists(atPath: path) else {
        throw EmbedError("\(directory): no model.safetensors")
    }
    let file = try SafetensorsFile(path: path)
    guard let prefix = ["", "bert.", "model.", "roberta.", "encoder."].first(where: { file.tensors[$0 + anchor] != nil }) else {
        throw EmbedError("\(path): no tensor '\(anchor)' (with or without a 'bert.' prefix): not a checkpoint of this architecture")
    }
    for e in params.entries {
        let name = prefix + e.name
        guard let info = file.tensors[name] else { throw EmbedError("\(path): missing tensor '\(name)'") }
        guard info.shape == e.shape else {
            throw EmbedError("\(path): tensor '\(name)' has shape \(info.shape), but config.json implies \(e.shape)")
        }
        try file.readFloats(name, into: params.values + e.offset, count: e.count)
    }
    var extra: [WeightTensor] = []
    for name in file.names where name.hasPrefix(prefix) {
        let local = String(name.dropFirst(prefix.count))
        guard params.entry(local) == nil, let info = file.tensors[name] else { continue }
        // Buffers transformers recreates itself are not saved by it either.
        if local.hasSuffix("position_ids") { continue }
        extra.append(WeightTensor(name: local, dtype: info.dtype, shape: info.shape, bytes: Array(try file.bytes(name))))
    }
    return extra
}
