import Foundation
import IO
import NN
import TestSupport
import Testing
import Training

/// The losses against sentence-transformers 6.3 on ../shared's tiny random BERT (mean pooling, no
/// dropout): loss values, embedding gradients and every parameter gradient of one step.
/// Tests/Fixtures/losses/loss-reference-bert-tiny.safetensors comes from tools/make_loss_reference.py.
@Suite(.enabled(if: TestPaths.hasShared("reference/bert-tiny/model"), "needs ../shared/reference/bert-tiny/model"))
struct LossReferenceTests {
    static let triplet = ["anchor", "positive", "negative"]
    static let pairs = ["sentence1", "sentence2"]

    let ref: SafetensorsFile
    let model: SentenceModel
    let objective: MNRLObjective

    init() throws {
        ref = try SafetensorsFile(path: TestPaths.fixtures + "/losses/loss-reference-bert-tiny.safetensors")
        model = try SentenceModel.load(directory: TestPaths.sharedFile("reference/bert-tiny/model"))
        objective = MNRLObjective(model: model)
    }

    /// The reference's padded inputs, unpadded and packed column after column.
    func batch(_ set: String, columns: [String], loss: TrainingLoss, labels: [Float]? = nil) throws -> TripletBatch {
        var packed = PackedBatch()
        var rows = 0
        for c in columns {
            let ids = try ref.int32s("input.\(set).\(c).input_ids"), mask = try ref.int32s("input.\(set).\(c).attention_mask")
            let shape = try ref.info("input.\(set).\(c).input_ids").shape
            rows = shape[0]
            for r in 0..<rows {
                let len = Int(mask[(r * shape[1])..<((r + 1) * shape[1])].reduce(0, +))
                packed.append(ids[(r * shape[1])..<(r * shape[1] + len)])
            }
        }
        return TripletBatch(packed: packed, size: rows, columns: columns.count, labels: labels, loss: loss)
    }

    /// One step's gradients (dropout off), and its loss.
    func step(_ batch: TripletBatch) -> Float {
        model.encoder.parameters.zeroGrads()
        return objective.accumulateGradients(batch, dropout: nil)
    }

    /// Every parameter gradient against `<prefix>.grad.*` (word embeddings stored sparsely).
    func expectGradients(_ prefix: String, tolerance: Float = 2e-5, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let params = model.encoder.parameters
        for e in params.entries {
            let got = Array(UnsafeBufferPointer(start: params.grads + e.offset, count: e.count))
            let key = "\(prefix).grad.\(e.name)"
            if ref.tensors[key + ".rows"] != nil {
                let rows = try ref.ints(key + ".rows"), values = try ref.floats(key + ".values")
                let width = e.count / e.shape[0]
                var want = [Float](repeating: 0, count: e.count)
                for (k, r) in rows.enumerated() { want.replaceSubrange((r * width)..<((r + 1) * width), with: values[(k * width)..<((k + 1) * width)]) }
                expectClose(got, want, key, tolerance: tolerance, sourceLocation: sourceLocation)
                #expect(zip(got, want).allSatisfy { ($0 == 0) == ($1 == 0) }, "\(key): rows of unused tokens must stay exactly 0",
                        sourceLocation: sourceLocation)
                continue
            }
            let want = try ref.floats(key)
            if want.allSatisfy({ abs($0) < 1e-7 }) {
                // The attention key bias: mathematically 0 (softmax ignores a per-row constant).
                #expect(got.allSatisfy { abs($0) < 1e-6 }, "\(key) should be ~0", sourceLocation: sourceLocation)
                continue
            }
            expectClose(got, want, key, tolerance: tolerance, sourceLocation: sourceLocation)
        }
    }

    func embeddings(_ batch: TripletBatch) -> [Float] { objective.forward(batch, dropout: nil) }

    func column(_ v: [Float], _ c: Int, rows: Int) -> [Float] {
        let C = model.dimension
        return Array(v[(c * rows * C)..<((c + 1) * rows * C)])
    }

    @Test func mnrl() throws {
        let b = try batch("trip16", columns: Self.triplet, loss: .mnrl)
        let e = embeddings(b)
        let (loss, d) = objective.lossGradient(e, size: 16, columns: 3)
        for (c, name) in Self.triplet.enumerated() {
            expectClose(column(e, c, rows: 16), try ref.floats("mnrl.emb.\(name)"), "mnrl.emb.\(name)")
            expectClose(column(d, c, rows: 16), try ref.floats("mnrl.grad_emb.\(name)"), "mnrl.grad_emb.\(name)")
        }
        expectClose([loss], try ref.floats("mnrl.loss"), "mnrl.loss")
        expectClose([step(b)], try ref.floats("mnrl.loss"), "mnrl.loss (step)")
        try expectGradients("mnrl")
    }

    /// CachedMNRL with mini-batches of 4 at batch 16: the same loss and gradients as MNRL — ours
    /// against sentence-transformers' cached loss, and against its plain MNRL step.
    @Test func cachedMNRLWithMiniBatchesOfFourEqualsMNRL() throws {
        let b = try batch("trip16", columns: Self.triplet, loss: TrainingLoss(kind: .cachedMNRL, miniBatchSize: 4))
        let loss = step(b)
        expectClose([loss], try ref.floats("cmnrl.loss"), "cmnrl.loss")
        expectClose([loss], try ref.floats("mnrl.loss"), "mnrl.loss")
        try expectGradients("cmnrl")
        try expectGradients("mnrl")
    }

    /// MatryoshkaLoss(MNRL, dims [32, 16, 8]): each dimension's term, the total, the embedding and
    /// parameter gradients; around the cached loss as well.
    @Test(arguments: [TrainingLoss.Kind.mnrl, .cachedMNRL])
    func matryoshka(_ kind: TrainingLoss.Kind) throws {
        let loss = TrainingLoss(kind: kind, miniBatchSize: 4, matryoshkaDims: [8, 32, 16])
        #expect(loss.matryoshkaDims == [32, 16, 8])
        let b = try batch("trip16", columns: Self.triplet, loss: loss)
        let e = embeddings(b)
        let C = model.dimension
        let terms = e.withUnsafeBufferPointer { p in
            matryoshkaLoss(embeddings: p.baseAddress!, rows: 48, C: C, dims: loss.matryoshkaDims, weights: loss.matryoshkaWeights) { x, d, _, _ in
                multipleNegativesRankingLoss(anchors: x, candidates: x + 16 * d, B: 16, N: 32, C: d, scale: 20).loss
            }
        }
        for (d, term) in zip(loss.matryoshkaDims, terms.perDimension) {
            expectClose([term], try ref.floats("mrl.loss_dim\(d)"), "mrl.loss_dim\(d)")
        }
        let (value, grad) = objective.lossGradient(e, size: 16, columns: 3, loss: loss)
        expectClose([value], try ref.floats("mrl.loss"), "mrl.loss")
        for (c, name) in Self.triplet.enumerated() {
            expectClose(column(grad, c, rows: 16), try ref.floats("mrl.grad_emb.\(name)"), "mrl.grad_emb.\(name)")
        }
        let prefix = kind == .mnrl ? "mrl" : "cmrl"
        expectClose([step(b)], try ref.floats("\(prefix).loss"), "\(prefix).loss")
        try expectGradients(prefix)
    }

    /// CoSENTLoss on 12 pairs whose scores have ties.
    @Test func cosent() throws {
        let labels = try ref.floats("labels.pairs12")
        let b = try batch("pairs12", columns: Self.pairs, loss: TrainingLoss(kind: .cosent), labels: labels)
        let e = embeddings(b)
        let C = model.dimension
        var cos: [Float] = []
        for k in 0..<12 {
            let u = Array(e[(k * C)..<((k + 1) * C)]), v = Array(e[((12 + k) * C)..<((13 + k) * C)])
            let dot = zip(u, v).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            cos.append(dot / (u.reduce(0) { $0 + $1 * $1 }.squareRoot() * v.reduce(0) { $0 + $1 * $1 }.squareRoot()))
        }
        expectClose(cos, try ref.floats("cosent.cos"), "cosent.cos")
        let (value, grad) = objective.lossGradient(e, size: 12, columns: 2, loss: b.loss, labels: labels)
        expectClose([value], try ref.floats("cosent.loss"), "cosent.loss")
        for (c, name) in Self.pairs.enumerated() {
            expectClose(column(grad, c, rows: 12), try ref.floats("cosent.grad_emb.\(name)"), "cosent.grad_emb.\(name)")
        }
        expectClose([step(b)], try ref.floats("cosent.loss"), "cosent.loss (step)")
        try expectGradients("cosent")
    }
}
