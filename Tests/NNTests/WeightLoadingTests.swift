import Foundation
import IO
import NN
import TestSupport
import Testing

/// Checkpoints as the hub has them: a `bert.` prefix and pretraining heads (BertForPreTraining, as
/// NbAiLab/nb-bert-base), F16/BF16 storage, wrong shapes.
@Suite struct WeightLoadingTests {
    /// Writes TinyModel's weights under `prefix`, plus `extra` tensors, as model.safetensors.
    func checkpoint(prefix: String, extra: [String: [Int]], dtype: DType = .f32) throws -> (dir: String, reference: SentenceModel) {
        let dir = try TinyModel.make(in: TestPaths.scratch() + "/m")
        let reference = try SentenceModel.load(directory: dir)
        let file = try SafetensorsFile(path: dir + "/model.safetensors")
        let w = SafetensorsWriter()
        for name in file.names {
            let v = try file.floats(name), shape = try file.info(name).shape
            switch dtype {
            case .f16: w.add(prefix + name, dtype: .f16, shape: shape, bytes: v.flatMap { withUnsafeBytes(of: Float16($0).bitPattern.littleEndian) { Array($0) } })
            case .bf16: w.add(prefix + name, dtype: .bf16, shape: shape, bytes: v.flatMap { withUnsafeBytes(of: UInt16($0.bitPattern >> 16).littleEndian) { Array($0) } })
            default: w.add(prefix + name, shape: shape, floats: v)
            }
        }
        for (name, shape) in extra { w.add(name, shape: shape, floats: [Float](repeating: 0.5, count: shape.reduce(1, *))) }
        try w.write(to: dir + "/model.safetensors")
        return (dir, reference)
    }

    @Test func prefixedCheckpointKeepsThePoolerAndDropsHeads() throws {
        let (dir, reference) = try checkpoint(prefix: "bert.", extra: ["bert.pooler.dense.weight": [16, 16], "bert.pooler.dense.bias": [16],
                                                                       "cls.predictions.bias": [TinyModel.vocab]])
        let model = try SentenceModel.load(directory: dir)
        #expect(model.passthrough.map(\.name).sorted() == ["pooler.dense.bias", "pooler.dense.weight"])
        let batch = PackedBatch(sequences: [[2, 7, 9, 3]])
        #expect(model.embed(batch) == reference.embed(batch))
        // Saved as BertModel.save_pretrained names them: no prefix, no pretraining head.
        let out = TestPaths.scratch() + "/saved"
        try model.save(to: out)
        let saved = try SafetensorsFile(path: out + "/model.safetensors")
        #expect(saved.tensors["pooler.dense.weight"] != nil && saved.tensors["embeddings.word_embeddings.weight"] != nil)
        #expect(!saved.names.contains { $0.hasPrefix("bert.") || $0.hasPrefix("cls.") })
    }

    @Test(arguments: [DType.f16, .bf16])
    func halfPrecisionCheckpointsWiden(_ dtype: DType) throws {
        let (dir, reference) = try checkpoint(prefix: "", extra: [:], dtype: dtype)
        let model = try SentenceModel.load(directory: dir)
        let got = model.embed(PackedBatch(sequences: [[2, 7, 9, 3]])), want = reference.embed(PackedBatch(sequences: [[2, 7, 9, 3]]))
        let err = zip(got, want).map { abs($0 - $1) }.max()!
        #expect(err < (dtype == .f16 ? 5e-3 : 5e-2), "\(dtype): max difference \(err)")
        #expect(err > 0)
    }

    @Test func wrongShapeNamesTheTensor() throws {
        let dir = try TinyModel.make(in: TestPaths.scratch() + "/m")
        var config = try JSON.parse(try ByteReader(path: dir + "/config.json").readAll()).object!
        config["intermediate_size"] = 24
        try JSON.object(config).serialized().write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        #expect(throws: EmbedError.self) { try SentenceModel.load(directory: dir) }
        do { _ = try SentenceModel.load(directory: dir) } catch let e as EmbedError {
            #expect(e.message.contains("encoder.layer.0.intermediate.dense.weight") && e.message.contains("[32, 16]"))
        }
    }

    @Test func badConfigValuesNameTheKey() throws {
        let base: JSONObject = JSONObject([("model_type", "bert"), ("vocab_size", 10), ("hidden_size", 10), ("num_hidden_layers", 1),
                                           ("num_attention_heads", 3), ("intermediate_size", 8)])
        #expect(throws: EmbedError("c.json: hidden_size 10 is not a multiple of num_attention_heads 3")) {
            try BertConfig(json: .object(base), path: "c.json")
        }
        var bad = base
        bad["num_attention_heads"] = 2
        bad["hidden_act"] = "swish"
        #expect(throws: EmbedError("c.json: hidden_act 'swish' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)")) {
            try BertConfig(json: .object(bad), path: "c.json")
        }
        bad["hidden_act"] = "gelu"
        bad["hidden_dropout_prob"] = 1.5
        #expect(throws: EmbedError.self) { try BertConfig(json: .object(bad), path: "c.json") }
    }
}
