import Foundation
import IO
import Inference
import NN
import TestSupport
import Testing
import Training

/// The trainer with the new losses and several datasets, on the tiny random model: cached_mnrl
/// trains as mnrl does; triplets and scored pairs train together (every batch from one dataset,
/// with its loss), with Matryoshka dimensions evaluated and recorded; resume stays exact.
@Suite struct MultiDatasetTrainingTests {
    static func options(output: String, _ yaml: String, _ extra: [String] = []) throws -> TrainOptions {
        let text = """
            model: {name: tiny, max_seq_length: 32}
            \(yaml)
            training:
              output_dir: \(output)
              per_device_train_batch_size: 8
              per_device_eval_batch_size: 16
              num_train_epochs: 1
              learning_rate: 1.0e-3
              warmup_ratio: 0.1
              eval_steps: 3
              save_steps: 3
              logging_steps: 1
              seed: 7
            """
        return try TrainOptions.resolve(configText: Array(text.utf8), configPath: "test.yaml", overrides: extra)
    }

    /// Pairs over the tiny vocabulary with a gold score: a sentence against itself shortened (high)
    /// or against another one (low).
    static func scoredPairs(rows: Int, seed: UInt64) -> InMemoryTokenTable {
        let t = TinyModel.triplets(rows: rows, seed: seed)
        var s1: [[Int32]] = [], s2: [[Int32]] = [], scores: [Float] = []
        for r in 0..<rows {
            s1.append(Array(t.ids(column: "anchor", row: r)))
            let similar = r % 2 == 0
            s2.append(Array(t.ids(column: similar ? "positive" : "negative", row: r)))
            scores.append(similar ? 0.8 + Float(r % 3) * 0.1 : Float(r % 4) * 0.1)
        }
        return InMemoryTokenTable([("sentence1", s1), ("sentence2", s2)], scores: ["score": scores])
    }

    static func losses(_ dir: String) throws -> [Double] {
        try String(contentsOfFile: dir + "/logs/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .compactMap { try JSON.parse(String($0))["loss"]?.double }
    }

    static func weights(_ dir: String) throws -> [Float] {
        try SafetensorsFile(path: dir + "/model.safetensors").floats("encoder.layer.1.output.dense.weight")
    }

    /// training.loss cached_mnrl with mini-batches of 3 trains as mnrl does (dropout on): the same
    /// logged losses and final weights, to float rounding.
    @Test func cachedMNRLTrainsAsMNRL() throws {
        let root = TestPaths.scratch()
        let base = try TinyModel.make(in: root + "/base")
        func train(_ out: String, _ extra: [String]) throws {
            let inputs = TrainingInputs(modelDirectory: base, train: TinyModel.triplets(rows: 40, seed: 3), trainSource: "train",
                                        eval: nil, evalSource: nil)
            _ = try Trainer(options: try Self.options(output: out, "dataset: {name: synthetic}", extra), inputs: inputs).run()
        }
        try train(root + "/plain", [])
        try train(root + "/cached", ["training.loss=cached_mnrl", "training.mini_batch_size=3"])
        let a = try Self.losses(root + "/plain"), b = try Self.losses(root + "/cached")
        #expect(a.count == 5 && b.count == 5)
        for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-5 * abs(x), "losses \(a) vs \(b)") }
        expectClose(try Self.weights(root + "/cached"), try Self.weights(root + "/plain"), "final weights", tolerance: 1e-4)
        let card = try String(contentsOfFile: root + "/cached/README.md", encoding: .utf8)
        #expect(card.contains("- \"loss:CachedMultipleNegativesRankingLoss\"") && card.contains("\"mini_batch_size\": 3"), "\(card)")
    }

    static let twoDatasets = """
        datasets:
          - {name: nli, max_eval_samples: 30}
          - {name: sts, columns: [sentence1, sentence2], score_column: score, loss: cosent}
        """

    func trainTwo(_ root: String, _ out: String, base: String, _ extra: [String] = [], stopAfter: Int? = nil) throws -> TrainingResult {
        let inputs = TrainingInputs(modelDirectory: base, train: TinyModel.triplets(rows: 40, seed: 3), trainSource: "nli",
                                    eval: TinyModel.triplets(rows: 30, seed: 4), evalSource: "nli-dev",
                                    otherTrain: [(Self.scoredPairs(rows: 20, seed: 9), "sts")])
        let trainer = try Trainer(options: try Self.options(output: out, Self.twoDatasets,
                                                            ["training.matryoshka_dims=[16, 8, 4]"] + extra), inputs: inputs)
        trainer.stopAfterStep = stopAfter
        return try trainer.run()
    }

    /// NLI triplets (MNRL) and scored pairs (CoSENT) in one run, Matryoshka around both: the
    /// proportional sampler's 5 + 3 batches, accuracy at every dimension in the log and the card.
    @Test func tripletsAndScoredPairsWithMatryoshka() throws {
        let root = TestPaths.scratch()
        let base = try TinyModel.make(in: root + "/base")
        let r = try trainTwo(root, root + "/a", base: base)
        #expect(r.steps == 8 && !r.interrupted)
        let lines = try String(contentsOfFile: root + "/a/logs/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { try JSON.parse(String($0)) }
        let evals = lines.filter { $0["eval_cosine_accuracy"] != nil }
        #expect(!evals.isEmpty)
        for e in evals {
            for d in [16, 8, 4] { #expect(e["eval_dim_\(d)_cosine_accuracy"]?.double != nil, "no accuracy at \(d) dimensions") }
            // The full size is one of the dimensions: the same vectors.
            #expect(e["eval_dim_16_cosine_accuracy"]?.double == e["eval_cosine_accuracy"]?.double)
        }
        let card = try String(contentsOfFile: root + "/a/README.md", encoding: .utf8)
        // The card (sentence-transformers' format): both losses inside MatryoshkaLoss, its dimensions, the sampler.
        for piece in ["- \"loss:MatryoshkaLoss\"", "- \"loss:MultipleNegativesRankingLoss\"", "- \"loss:CoSENTLoss\"",
                      "<code>MatryoshkaLoss</code>", "<code>CoSENTLoss</code>", "\"matryoshka_dims\": [",
                      "- `multi_dataset_batch_sampler`: proportional"] {
            #expect(card.contains(piece), "the model card lacks '\(piece)'")
        }
        // Round robin: one batch of each in turn until the smaller (3 batches) runs out: 6 steps.
        let rr = try trainTwo(root, root + "/rr", base: base, ["training.multi_dataset_sampler=round_robin"])
        #expect(rr.steps == 6)
    }

    /// Stopped and resumed, a multi-dataset run logs the same losses and ends with the same weights.
    @Test func multiDatasetRunResumesExactly() throws {
        let root = TestPaths.scratch()
        let base = try TinyModel.make(in: root + "/base")
        _ = try trainTwo(root, root + "/a", base: base)
        let stopped = try trainTwo(root, root + "/b", base: base, stopAfter: 4)
        #expect(stopped.interrupted && stopped.steps == 4)
        _ = try trainTwo(root, root + "/b", base: base, ["training.resume_from_checkpoint=latest"])
        #expect(try Self.losses(root + "/b") == Self.losses(root + "/a"))
        #expect(try Self.weights(root + "/b") == Self.weights(root + "/a"))
    }

    @Test func inputsThatDoNotFitTheConfigAreErrors() throws {
        let root = TestPaths.scratch()
        let base = try TinyModel.make(in: root + "/base")
        func error(_ yaml: String, _ extra: [String] = [], other: [(table: any TokenTable, source: String)]) -> String {
            do {
                let inputs = TrainingInputs(modelDirectory: base, train: TinyModel.triplets(rows: 10, seed: 3), trainSource: "nli",
                                            eval: nil, evalSource: nil, otherTrain: other)
                _ = try Trainer(options: try Self.options(output: root + "/x", yaml, extra), inputs: inputs)
                return ""
            } catch { return "\(error)" }
        }
        #expect(error(Self.twoDatasets, other: []).contains("2 training datasets need 2 tokens files, got 1"))
        let unscored = InMemoryTokenTable([("sentence1", [[1, 5, 2]]), ("sentence2", [[1, 6, 2]])])
        #expect(error(Self.twoDatasets, other: [(unscored, "sts.tokens")]).contains("sts.tokens: no score column 'score' (tokenize it with --score-column score)"))
        #expect(error("dataset: {name: x}", ["training.matryoshka_dims=[32, 8]"], other: [])
            .contains("training.matryoshka_dims: 32 is larger than the model's 16 dimensions"))
    }
}
