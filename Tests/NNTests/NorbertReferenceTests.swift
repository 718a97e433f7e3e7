import IO
import NN
import TestSupport
import Testing

/// NorBERT3 against ltgoslo's modeling_norbert.py: `../shared/reference/norbert3-tiny` holds a tiny
/// random NorbertModel and one MNRL training step (hidden states, embeddings, scores, loss, every
/// gradient, the clipped AdamW step).
@Suite(.enabled(if: TestPaths.hasShared("reference/norbert3-tiny/reference.safetensors"),
                "needs ../shared/reference/norbert3-tiny (PyTorch reference tensors)"))
struct NorbertReferenceTests {
    static let dir = TestPaths.sharedFile("reference/norbert3-tiny")

    /// The weights come from the reference's `param.*` tensors, so this checks the architecture
    /// alone (the checkpoint loader has its own test).
    @Test func oneTrainingStepMatchesPyTorch() throws {
        let ref = try SafetensorsFile(path: Self.dir + "/reference.safetensors")
        let model = try Self.model(params: ref)
        let step = try ReferenceStep(reference: ref, model: model)
        try step.check(reference: ref, model: model)
    }

    /// Sequences of 54–256 tokens, deep into the log-bucketed relative positions (beyond ±16).
    /// Fixture: tools/make_norbert_reference.py, from ltgoslo's modeling_norbert.py.
    @Test func longSequencesMatchPyTorch() throws {
        let params = try SafetensorsFile(path: Self.dir + "/reference.safetensors")
        let ref = try SafetensorsFile(path: TestPaths.fixtures + "/model/norbert3-long.safetensors")
        let model = try Self.model(params: params)
        let step = try ReferenceStep(reference: ref, model: model)
        #expect(step.lengths.joined().max() == 256)
        try step.check(reference: ref, model: model)
    }

    static func model(params ref: SafetensorsFile) throws -> SentenceModel {
        let configJSON = try JSON.parse(try ByteReader(path: Self.dir + "/model/config.json").readAll())
        let config = try NorbertConfig(json: configJSON, path: "config.json")
        let encoder = NorbertEncoder(config: config)
        for e in encoder.parameters.entries {
            try ref.readFloats("param.\(e.name)", into: encoder.parameters.values + e.offset, count: e.count)
        }
        return SentenceModel(directory: Self.dir + "/model", transformerDirectory: Self.dir + "/model", encoder: encoder,
                             pooling: .mean, normalize: false, configJSON: configJSON, passthrough: [], maxSeqLength: 512)
    }
}

/// Loading the hub's format: pytorch_model.bin through the safe unpickler, config.json's auto_map.
@Suite(.enabled(if: TestPaths.hasShared("reference/norbert3-tiny/model/pytorch_model.bin"),
                "needs ../shared/reference/norbert3-tiny/model"))
struct NorbertCheckpointTests {
    static let dir = TestPaths.sharedFile("reference/norbert3-tiny")

    @Test func loadsPytorchModelBinAndMatchesTheReferenceStep() throws {
        let model = try SentenceModel.load(directory: Self.dir + "/model")
        let encoder = try #require(model.encoder as? NorbertEncoder)
        #expect(model.pooling == .mean && !model.normalize)
        // Our log-bucket formula reproduces the checkpoint's stored position_indices exactly.
        let computed = RelativeBuckets(bucketSize: encoder.config.bucketSize, maxPosition: encoder.config.maxPositions,
                                       maxLength: encoder.config.maxPositions)
        #expect(computed.indices == encoder.buckets.indices)
        // The position_indices buffers are kept, to be saved back.
        #expect(model.passthrough.filter { $0.name.hasSuffix("position_indices") }.count == encoder.config.layers)
        let ref = try SafetensorsFile(path: Self.dir + "/reference.safetensors")
        let step = try ReferenceStep(reference: ref, model: model)
        try step.check(reference: ref, model: model)
    }
}
