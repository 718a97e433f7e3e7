import Foundation
import IO
import TestSupport
import Testing

/// A `datasets:` config through the Makefile: every dataset fetched and tokenized (the scored
/// pairs with their score column), one training run over both with Matryoshka dimensions, the first
/// dataset evaluated; nothing re-runs when nothing changed.
@Suite(.enabled(if: pipelineToolsReady, "needs make and the built tools beside the test bundle"))
struct MultiDatasetPipelineTests {
    @Test func trainsTwoDatasetsThroughTheMakefile() throws {
        let work = TestPaths.scratch()
        _ = try TinyModel.make(in: work + "/src/tiny-bert")
        _ = try TinyModel.dataset(in: work + "/src/tiny-triplets", rows: ["train": 32, "dev": 16, "test": 12], seed: 5)
        try FileManager.default.createDirectory(atPath: work + "/src/tiny-sts", withIntermediateDirectories: true)
        let pairs = try STSAndDimsToolTests.pairs(in: work + "/src/tiny-sts", count: 24)
        try FileManager.default.moveItem(atPath: pairs, toPath: work + "/src/tiny-sts/train.jsonl")
        let out = work + "/out"
        let cfg = work + "/config.yaml"
        try """
            model: {name: \(work)/src/tiny-bert, max_seq_length: 16}
            datasets:
              - {name: \(work)/src/tiny-triplets, max_eval_samples: 16}
              - {name: \(work)/src/tiny-sts, columns: [sentence1, sentence2], score_column: score, loss: cosent}
            training:
              output_dir: \(out)
              per_device_train_batch_size: 8
              learning_rate: 1.0e-3
              eval_steps: 4
              save_steps: 4
              logging_steps: 1
              matryoshka_dims: [16, 8]
              seed: 3
            """.write(toFile: cfg, atomically: true, encoding: .utf8)
        let run = try MakefilePipelineTests.make(["train", "CONFIG=\(cfg)"], workdir: work)
        #expect(run.output.contains("Triplet accuracy on test"))
        let tokens = try TokenizedFile(path: work + "/data/tiny-sts/tiny-bert/train.tokens.safetensors")
        #expect(tokens.columns == ["sentence1", "sentence2"] && tokens.scores(column: "score")?.count == 24)
        // 32 + 24 rows in batches of 8: 4 + 3 steps.
        let metrics = try String(contentsOfFile: out + "/logs/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSON.parse(String($0)) }
        #expect(metrics.filter { $0["loss"] != nil }.count == 7)
        #expect(metrics.contains { $0["eval_dim_8_cosine_accuracy"] != nil })
        let card = try String(contentsOfFile: out + "/README.md", encoding: .utf8)
        #expect(card.contains("\"matryoshka_dims\": [") && card.contains("- \"loss:CoSENTLoss\""))
        #expect(FileManager.default.fileExists(atPath: out + "/eval/finetuned.json"))
        let q = try MakefilePipelineTests.make(["-q", out + "/model.safetensors", "CONFIG=\(cfg)"], workdir: work, expectSuccess: false)
        #expect(q.status == 0, "make -q says something is out of date:\n\(q.output)")
    }
}
