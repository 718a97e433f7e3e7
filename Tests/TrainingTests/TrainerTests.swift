import Foundation
import IO
import Inference
import NN
import TestSupport
import Testing
import Training

/// The trainer end to end on a tiny random model: artefacts, checkpoint pruning, determinism and
/// resume equivalence.
@Suite struct TrainerTests {
    func options(output: String, _ extra: [String] = []) throws -> TrainOptions {
        let yaml = """
            model: {name: tiny, max_seq_length: 32}
            dataset: {name: synthetic, max_eval_samples: 40}
            training:
              output_dir: \(output)
              per_device_train_batch_size: 8
              per_device_eval_batch_size: 16
              num_train_epochs: 2
              learning_rate: 1.0e-3
              warmup_ratio: 0.1
              eval_steps: 4
              save_steps: 4
              save_total_limit: 2
              logging_steps: 2
              seed: 7
            """
        return try TrainOptions.resolve(configText: Array(yaml.utf8), configPath: "test.yaml", overrides: extra)
    }

    func run(_ opts: TrainOptions, model: String, stopAfter: Int? = nil) throws -> TrainingResult {
        let inputs = TrainingInputs(modelDirectory: model, train: TinyModel.triplets(rows: 60, seed: 3), trainSource: "train",
                                    eval: TinyModel.triplets(rows: 50, seed: 4), evalSource: "eval")
        let trainer = try Trainer(options: opts, inputs: inputs)
        trainer.stopAfterStep = stopAfter
        return try trainer.run()
    }

    @Test func trainsSavesAndResumesIdentically() throws {
        let root = TestPaths.scratch()
        let base = try TinyModel.make(in: root + "/base")
        // 60 rows / 8 = 8 batches per epoch, 2 epochs = 16 steps; checkpoints every 4, keep 2 (+ best).
        let a = try run(try options(output: root + "/a"), model: base)
        #expect(a.steps == 16 && !a.interrupted)
        let fm = FileManager.default
        for f in ["modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json",
                  "config.json", "model.safetensors", "README.md", "trainer_state.json"] {
            #expect(fm.fileExists(atPath: root + "/a/" + f), "final folder lacks \(f)")
        }
        let kept = Checkpoint.list(in: root + "/a").map(\.step)
        #expect(kept.count >= 2 && kept.count <= 3 && kept.last == 16, "checkpoints kept: \(kept)")
        if let best = a.bestCheckpoint { #expect(fm.fileExists(atPath: best), "the best checkpoint was pruned") }
        // Metrics: a line per logging step and per evaluation, TensorBoard events alongside.
        let lines = try String(contentsOfFile: root + "/a/logs/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let parsed = try lines.map { try JSON.parse(String($0)) }
        #expect(parsed.filter { $0["loss"] != nil }.count == 8)
        #expect(parsed.filter { $0["eval_cosine_accuracy"] != nil }.count == 4)
        let events = try fm.contentsOfDirectory(atPath: root + "/a/logs").filter { $0.hasPrefix("events.out.tfevents") }
        #expect(events.count == 1)
        let parsedEvents = try readEvents(root + "/a/logs/" + events[0])
        #expect(parsedEvents.contains { $0.scalars.contains { $0.0 == "train/loss" } })
        #expect(parsedEvents.contains { $0.scalars.contains { $0.0 == "eval/cosine_accuracy" } })
        // Training helped: final eval beats the first eval of step 4? At least the loss fell.
        let losses = parsed.compactMap { $0["loss"]?.double }
        #expect(losses.last! < losses.first!, "loss went from \(losses.first!) to \(losses.last!)")

        // Determinism: the same config and seed give the same weights, bit for bit.
        _ = try run(try options(output: root + "/b"), model: base)
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/a/model.safetensors"))
                == Data(contentsOf: URL(fileURLWithPath: root + "/b/model.safetensors")))

        // Resume: stop after 6 steps (a checkpoint is written), resume, and end where run a ended,
        // with the same logged losses.
        let c1 = try run(try options(output: root + "/c"), model: base, stopAfter: 6)
        #expect(c1.interrupted && c1.steps == 6)
        #expect(Checkpoint.list(in: root + "/c").map(\.step).contains(6))
        let resumed = try options(output: root + "/c")
        var r = resumed
        r.resume = .latest
        _ = try run(r, model: base)
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/a/model.safetensors"))
                == Data(contentsOf: URL(fileURLWithPath: root + "/c/model.safetensors")))
        let cLines = try String(contentsOfFile: root + "/c/logs/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let cLosses = try cLines.map { try JSON.parse(String($0)) }.compactMap { $0["loss"]?.double }
        #expect(cLosses == losses, "resumed losses \(cLosses) vs \(losses)")
    }

    /// The saved folder reloads to exactly the weights the trainer ended with.
    /// `training.bf16` sets the model's matrix products (fp32 where the CPU cannot run bf16), and a
    /// bf16 run trains to the end with a loss close to fp32's and, where bf16 runs, other weights.
    @Test func bf16ReachesTheModelAndTrains() throws {
        let root = TestPaths.scratch()
        let base = try TinyModel.make(in: root + "/base")
        let inputs = TrainingInputs(modelDirectory: base, train: TinyModel.triplets(rows: 60, seed: 3), trainSource: "train",
                                    eval: TinyModel.triplets(rows: 50, seed: 4), evalSource: "eval")
        let fp32 = try Trainer(options: try options(output: root + "/fp32"), inputs: inputs)
        #expect(fp32.model.encoder.matmulPrecision == .fp32)
        let bf16 = try Trainer(options: try options(output: root + "/bf16", ["training.bf16=true"]), inputs: inputs)
        #expect(bf16.model.encoder.matmulPrecision == (MatmulPrecision.bf16Supported ? .bf16 : .fp32))
        let a = try fp32.run(), b = try bf16.run()
        #expect(a.steps == 16 && b.steps == 16)
        let wa = try SafetensorsFile(path: root + "/fp32/model.safetensors"), wb = try SafetensorsFile(path: root + "/bf16/model.safetensors")
        let name = try #require(wa.names.first { $0.hasSuffix("query.weight") })
        let (xa, xb) = (try wa.floats(name), try wb.floats(name))
        #expect(relativeError(xb, xa) < 1e-2, "bf16 weights far from fp32's")
        #expect((xa == xb) == !MatmulPrecision.bf16Supported, "bf16 training gave the fp32 weights")
    }

    @Test func reloadedModelGivesTheSameEmbeddings() throws {
        let root = TestPaths.scratch()
        let base = try TinyModel.make(in: root + "/base")
        var opts = try options(output: root + "/out")
        opts.config.training.numTrainEpochs = 1
        let inputs = TrainingInputs(modelDirectory: base, train: TinyModel.triplets(rows: 60, seed: 3), trainSource: "train",
                                    eval: nil, evalSource: nil)
        let trainer = try Trainer(options: opts, inputs: inputs)
        _ = try trainer.run()
        let batch = PackedBatch(sequences: [[1, 7, 9, 2], [1, 30, 2]])
        let reloaded = try SentenceModel.load(directory: root + "/out")
        #expect(reloaded.embed(batch) == trainer.model.embed(batch))
        #expect(reloaded.embed(batch) != (try SentenceModel.load(directory: base)).embed(batch))
    }
}
