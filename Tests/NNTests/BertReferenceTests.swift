import IO
import NN
import TestSupport
import Testing

/// The whole BERT training step against PyTorch: `../shared/reference/bert-tiny/reference.safetensors`
/// holds a tiny random BertModel's hidden states, mean-pooled embeddings, MNRL scores and loss, every
/// parameter gradient, the gradient norm and the weights after one clipped AdamW step.
@Suite(.enabled(if: TestPaths.hasShared("reference/bert-tiny/reference.safetensors"),
                "needs ../shared/reference/bert-tiny (PyTorch reference tensors)"))
struct BertReferenceTests {
    static let dir = TestPaths.sharedFile("reference/bert-tiny")

    @Test func oneTrainingStepMatchesPyTorch() throws {
        let ref = try SafetensorsFile(path: Self.dir + "/reference.safetensors")
        let model = try SentenceModel.load(directory: Self.dir + "/model")
        let step = try ReferenceStep(reference: ref, model: model)
        try step.check(reference: ref, model: model)
    }
}

/// Runs one MNRL training step on a reference's inputs and compares every stage. Shared by the BERT
/// and NorBERT3 reference tests.
struct ReferenceStep {
    let columns = ["anchor", "positive", "negative"]
    var batch = PackedBatch()
    var rows = 0
    /// Each column is padded to its own longest sequence.
    var widths: [Int] = []
    var lengths: [[Int]] = []

    init(reference ref: SafetensorsFile, model: SentenceModel) throws {
        for col in columns {
            let ids = try ref.int32s("input.\(col).input_ids")
            let mask = try ref.int32s("input.\(col).attention_mask")
            let shape = try ref.info("input.\(col).input_ids").shape
            rows = shape[0]
            let seqLen = shape[1]
            widths.append(seqLen)
            var lens: [Int] = []
            for r in 0..<rows {
                let len = Int(mask[(r * seqLen)..<((r + 1) * seqLen)].reduce(0, +))
                lens.append(len)
                batch.append(ids[(r * seqLen)..<(r * seqLen + len)])
            }
            lengths.append(lens)
        }
    }

    func check(reference ref: SafetensorsFile, model: SentenceModel) throws {
        let enc = model.encoder
        let C = enc.hiddenSize, B = rows
        // Forward: last hidden states at the real tokens.
        let hidden = enc.forward(batch, dropout: nil)
        for (ci, col) in columns.enumerated() {
            let full = try ref.floats("output.\(col).last_hidden_state")
            var expected: [Float] = [], got: [Float] = []
            let seqLen = widths[ci]
            for r in 0..<B {
                let seq = ci * B + r
                for t in 0..<lengths[ci][r] {
                    expected += full[((r * seqLen + t) * C)..<((r * seqLen + t + 1) * C)]
                    got += UnsafeBufferPointer(start: hidden + (batch.offsets[seq] + t) * C, count: C)
                }
            }
            expectClose(got, expected, "output.\(col).last_hidden_state")
        }
        // Pooling.
        var emb = [Float](repeating: 0, count: 3 * B * C)
        emb.withUnsafeMutableBufferPointer { poolingForward($0.baseAddress!, hidden, offsets: batch.offsets, C: C, mode: model.pooling) }
        for (ci, col) in columns.enumerated() {
            expectClose(Array(emb[(ci * B * C)..<((ci + 1) * B * C)]), try ref.floats("output.\(col).embedding"), "output.\(col).embedding")
        }
        // MNRL: anchors against [positives; negatives].
        var dEmb = [Float](repeating: 0, count: 3 * B * C)
        let result = emb.withUnsafeBufferPointer { e in
            dEmb.withUnsafeMutableBufferPointer { d in
                multipleNegativesRankingLoss(anchors: e.baseAddress!, candidates: e.baseAddress! + B * C, B: B, N: 2 * B, C: C,
                                             scale: 20, dAnchors: d.baseAddress!, dCandidates: d.baseAddress! + B * C)
            }
        }
        expectClose(result.scores, try ref.floats("output.scores"), "output.scores")
        expectClose([result.loss], try ref.floats("output.loss"), "output.loss")
        for (ci, col) in columns.enumerated() {
            expectClose(Array(dEmb[(ci * B * C)..<((ci + 1) * B * C)]), try ref.floats("grad.\(col).embedding"), "grad.\(col).embedding")
        }
        // Backward into every parameter.
        let params = enc.parameters
        params.zeroGrads()
        let dHidden = UnsafeMutablePointer<Float>.allocate(capacity: batch.tokenCount * C)
        defer { dHidden.deallocate() }
        dEmb.withUnsafeBufferPointer { poolingBackward(dHidden, $0.baseAddress!, offsets: batch.offsets, C: C, mode: model.pooling) }
        enc.backward(dHidden)
        for e in params.entries {
            let got = Array(UnsafeBufferPointer(start: params.grads + e.offset, count: e.count))
            let want = try ref.floats("grad.\(e.name)")
            if want.allSatisfy({ abs($0) < 1e-7 }) {
                // Mathematically zero (the key bias: softmax ignores a per-row constant), so both are
                // float noise; require ours to be noise-sized too.
                #expect(got.allSatisfy { abs($0) < 1e-6 }, "grad.\(e.name) should be ~0")
                continue
            }
            expectClose(got, want, "grad.\(e.name)")
            // Word-embedding rows of tokens not in the batch must stay exactly zero.
            #expect(zip(got, want).allSatisfy { ($0 == 0) == ($1 == 0) || abs($1) < 1e-12 }, "grad.\(e.name): zero pattern differs")
        }
        // Clip to norm 1 and take one AdamW step (lr 1e-3, weight decay 0.01).
        guard ref.tensors["output.grad_norm_before_clip"] != nil else { return }
        let norm = clipGradients(params, maxNorm: 1.0)
        expectClose([Float(norm)], try ref.floats("output.grad_norm_before_clip"), "output.grad_norm_before_clip")
        let opt = AdamW(parameters: params, weightDecay: 0.01)
        opt.update(params, lr: 1e-3)
        for e in params.entries {
            let got = Array(UnsafeBufferPointer(start: params.values + e.offset, count: e.count))
            let want = try ref.floats("after_step.\(e.name)")
            let before = try ref.floats("param.\(e.name)")
            let grad = try ref.floats("grad.\(e.name)")
            // Adam's first step moves a weight by ≈ lr·sign(g), so where g is float noise the step is
            // noise too: compare those elements with an absolute tolerance of about lr.
            var worst: Float = 0
            for i in 0..<e.count {
                let tol: Float = abs(grad[i]) < 1e-7 ? 1.01e-3 : 1e-5 * max(1, abs(want[i]))
                worst = max(worst, abs(got[i] - want[i]) / tol)
                if grad[i] == 0 && e.name.contains("word_embeddings") {
                    // Rows never looked up: only decay moves them, exactly as in PyTorch.
                    #expect(abs(got[i] - before[i] * (1 - 1e-3 * 0.01)) <= 1e-7 * max(1, abs(before[i])))
                }
            }
            #expect(worst <= 1, "after_step.\(e.name): off by \(worst)× the tolerance")
        }
    }
}
