import IO
import Inference
import NN
import TestSupport
import Testing
import Training

/// The llm.c test: ten training steps with dropout off must give PyTorch's losses (1e-4 relative).
/// Fixtures come from tools/make_model_reference.py (sentence-transformers' MNRL, torch AdamW with
/// decay except biases/LayerNorm, transformers' linear warmup schedule, clip_grad_norm_ 1.0).
@Suite struct TrainingLossTests {
    @Test(.enabled(if: TestPaths.hasShared("reference/bert-tiny/model"), "needs ../shared/reference/bert-tiny"))
    func tenStepsOfTinyBert() throws {
        try replay(model: TestPaths.sharedFile("reference/bert-tiny/model"), fixture: "train10-bert-tiny.safetensors")
    }

    @Test(.enabled(if: TestPaths.minilm != nil, "needs models/pypi/all-MiniLM-L6-v2 (make minilm)"))
    func tenStepsOfMiniLM() throws {
        try replay(model: TestPaths.minilm!, fixture: "train10-minilm.safetensors")
    }

    func replay(model dir: String, fixture: String) throws {
        let ref = try SafetensorsFile(path: TestPaths.fixtures + "/model/" + fixture)
        let model = try SentenceModel.load(directory: dir)
        let objective = MNRLObjective(model: model)
        let lr = Double(ref.metadata["lr"]!)!
        let steps = Int(ref.metadata["steps"]!)!
        let schedule = LRSchedule(kind: .linear, baseLR: lr, warmupSteps: Int(ref.metadata["warmup_steps"]!)!, totalSteps: steps)
        let optimizer = AdamW(parameters: model.encoder.parameters, weightDecay: 0.01)
        let wantLoss = try ref.floats("loss"), wantLR = try ref.floats("lr"), wantNorm = try ref.floats("grad_norm")
        for s in 0..<steps {
            var packed = PackedBatch()
            var size = 0
            for col in ["anchor", "positive", "negative"] {
                let ids = try ref.int32s("step\(s).\(col).input_ids")
                let offsets = try ref.ints("step\(s).\(col).offsets")
                size = offsets.count - 1
                for r in 0..<size { packed.append(ids[offsets[r]..<offsets[r + 1]]) }
            }
            let stepLR = schedule.lr(at: s)
            let r = trainStep(objective: objective, optimizer: optimizer, microBatches: [TripletBatch(packed: packed, size: size, columns: 3)],
                              seed: nil, step: s, lr: stepLR, maxGradNorm: 1.0)
            let loss = Float(r.loss), norm = r.gradNorm
            #expect(abs(Float(stepLR) - wantLR[s]) <= 1e-6 * max(wantLR[s], 1e-12), "step \(s): lr \(stepLR) vs \(wantLR[s])")
            #expect(abs(loss - wantLoss[s]) <= 1e-4 * wantLoss[s], "step \(s): loss \(loss) vs PyTorch \(wantLoss[s])")
            #expect(abs(Float(norm) - wantNorm[s]) <= 1e-3 * wantNorm[s], "step \(s): grad norm \(norm) vs \(wantNorm[s])")
        }
    }
}

/// all-MiniLM-L6-v2 on real Norwegian sentences: the vectors of SentenceTransformer.encode.
@Suite(.enabled(if: TestPaths.minilm != nil, "needs models/pypi/all-MiniLM-L6-v2 (make minilm)"))
struct MiniLMEmbeddingTests {
    @Test func vectorsMatchSentenceTransformers() throws {
        let ref = try SafetensorsFile(path: TestPaths.fixtures + "/model/minilm-embeddings.safetensors")
        let model = try SentenceModel.load(directory: TestPaths.minilm!)
        #expect(model.normalize && model.pooling == .mean && model.maxSeqLength == 256)
        let ids = try ref.int32s("input_ids"), offsets = try ref.ints("offsets")
        let want = try ref.floats("embeddings")
        let C = model.dimension, n = offsets.count - 1
        var worst: Float = 1
        for start in stride(from: 0, to: n, by: 32) {
            let end = min(n, start + 32)
            var batch = PackedBatch()
            for r in start..<end { batch.append(ids[offsets[r]..<offsets[r + 1]]) }
            let got = model.embed(batch)
            for r in start..<end {
                let g = Array(got[((r - start) * C)..<((r - start + 1) * C)]), w = Array(want[(r * C)..<((r + 1) * C)])
                let cos = zip(g, w).reduce(Float(0)) { $0 + $1.0 * $1.1 } / (norm(g) * norm(w))
                worst = min(worst, cos)
            }
        }
        #expect(worst >= 0.99999, "worst cosine \(worst)")
    }

    func norm(_ v: [Float]) -> Float { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}
