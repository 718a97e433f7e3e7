import Foundation
import IO
import Inference
import NN
import TestSupport
import Training
import Testing

let pipelineToolsReady = ToolRunner.productsDirectory != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/make")

/// The whole pipeline through the Makefile's targets, on a tiny model and dataset made here:
/// fetch-data (local folders) → tokenize → train → evaluate, with the built tools (SKIP_BUILD=1).
/// Checks every artefact, the file dependencies (nothing re-runs when nothing changed; a changed
/// value re-runs its stage), checkpoint pruning, resume equivalence and determinism.
@Suite(.enabled(if: pipelineToolsReady, "needs make and the built tools beside the test bundle"))
struct MakefilePipelineTests {
    struct Run {
        let status: Int32
        let output: String
    }

    /// Runs make in the package root with a scratch WORKDIR.
    @discardableResult
    static func make(_ args: [String], workdir: String, expectSuccess: Bool = true,
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        p.arguments = ["--no-print-directory", "-C", TestPaths.packageRoot, "SKIP_BUILD=1", "BIN=\(ToolRunner.productsDirectory!)",
                       "WORKDIR=\(workdir)"] + args
        let log = workdir + "/make-\(UUID().uuidString.prefix(6)).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = h
        p.standardError = h
        try p.run()
        p.waitUntilExit()
        try h.close()
        let out = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        if expectSuccess {
            #expect(p.terminationStatus == 0, "make \(args.joined(separator: " ")) failed:\n\(out.suffix(3000))",
                    sourceLocation: sourceLocation)
        }
        return Run(status: p.terminationStatus, output: out)
    }

    static func config(workdir: String, output: String) throws -> String {
        let path = workdir + "/config.yaml"
        try """
            model: {name: \(workdir)/src/tiny-bert, max_seq_length: 16}
            dataset: {name: \(workdir)/src/tiny-triplets, max_eval_samples: 24}
            training:
              output_dir: \(output)
              per_device_train_batch_size: 8
              per_device_eval_batch_size: 16
              num_train_epochs: 2
              learning_rate: 1.0e-3
              eval_steps: 4
              save_steps: 4
              save_total_limit: 2
              logging_steps: 2
              seed: 11
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func trainsThroughTheMakefile() throws {
        let work = TestPaths.scratch()
        let fm = FileManager.default
        _ = try TinyModel.make(in: work + "/src/tiny-bert")
        _ = try TinyModel.dataset(in: work + "/src/tiny-triplets", rows: ["train": 56, "dev": 24, "test": 20], seed: 5)
        let out = work + "/out"
        let cfg = try Self.config(workdir: work, output: out)

        // make train: every stage, every artefact.
        let first = try Self.make(["train", "CONFIG=\(cfg)"], workdir: work)
        #expect(first.output.contains("Triplet accuracy on test"))
        // It ends by saying where the pages are.
        #expect(first.output.contains("Model card:      \(out)/README.md\nTraining curves: \(out)/training_curves.svg\nReport:          \(out)/eval/report.html"))
        for f in ["models/base/tiny-bert/fetch-info.json", "models/base/tiny-bert/vocab.txt",
                  "data/tiny-triplets/train.jsonl.zst", "data/tiny-triplets/dev.jsonl.zst", "data/tiny-triplets/test.jsonl.zst",
                  "data/tiny-triplets/tiny-bert/train.tokens.safetensors", "data/tiny-triplets/tiny-bert/test.tokens.safetensors"] {
            #expect(fm.fileExists(atPath: work + "/" + f), "missing \(f)")
        }
        for f in ["modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json",
                  "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "README.md",
                  "eval/base.json", "eval/finetuned.json", "eval/triplet_evaluation_finetuned_results.csv",
                  "logs/metrics.jsonl", "training_curves.svg", "eval/report.html"] {
            #expect(fm.fileExists(atPath: out + "/" + f), "missing \(out)/\(f)")
        }
        // 56 rows / 8 = 7 steps per epoch, 14 in all: logs at 2, 4, …, 14; evals at 4, 8, 12 and the end.
        let metrics = try String(contentsOfFile: out + "/logs/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSON.parse(String($0)) }
        #expect(metrics.filter { $0["loss"] != nil }.map { $0["step"]!.int! } == [2, 4, 6, 8, 10, 12, 14])
        #expect(metrics.filter { $0["eval_cosine_accuracy"] != nil }.map { $0["step"]!.int! } == [4, 8, 12, 14])
        let events = try fm.contentsOfDirectory(atPath: out + "/logs").filter { $0.hasPrefix("events.out.tfevents") }
        #expect(events.count == 1)
        let parsed = try readEvents(out + "/logs/" + events[0])
        #expect(parsed.filter { $0.scalars.contains { $0.0 == "train/loss" } }.count == 7)
        // Checkpoints every 4 steps, at most 2 kept plus the best.
        let kept = Checkpoint.list(in: out).map(\.step)
        #expect(kept.count >= 2 && kept.count <= 3 && kept.allSatisfy { $0 % 4 == 0 }, "kept \(kept)")
        let finetuned = try JSON.parse(try ByteReader(path: out + "/eval/finetuned.json").readAll())
        #expect(finetuned["triplets"]?.int == 20)
        // The card has the test results (train --model-card after evaluate) and the report its curves.
        let card = try String(contentsOfFile: out + "/README.md", encoding: .utf8)
        #expect(card.contains("type: \"tiny-triplets-test\"") && card.contains("#### Base model vs fine-tuned"))
        #expect(try String(contentsOfFile: out + "/eval/report.html", encoding: .utf8).contains("Training curves"))

        // Nothing changed: every file target is up to date.
        let q = try Self.make(["-q", out + "/model.safetensors", out + "/eval/finetuned.json", "CONFIG=\(cfg)"],
                              workdir: work, expectSuccess: false)
        #expect(q.status == 0, "make -q says something is out of date:\n\(q.output)")
        // A changed value re-runs its stage (and what follows): max_seq_length re-tokenizes.
        let q2 = try Self.make(["-q", work + "/data/tiny-triplets/tiny-bert/train.tokens.safetensors", "CONFIG=\(cfg)",
                                "SET=model.max_seq_length=12"], workdir: work, expectSuccess: false)
        #expect(q2.status != 0)

        // Determinism and resume: the same config again (fresh output), and a run stopped after 5
        // steps then resumed, end with the same weights, bit for bit, and the same logged losses.
        let again = work + "/out-again"
        try Self.make(["fit", "CONFIG=\(cfg)", "SET=training.output_dir=\(again)"], workdir: work)
        let weights = try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: again + "/model.safetensors")) == weights)
        let resumed = work + "/out-resumed"
        try Self.make(["fit", "CONFIG=\(cfg)", "SET=training.output_dir=\(resumed)", "TRAIN_FLAGS=--stop-after 5"], workdir: work)
        #expect(!fm.fileExists(atPath: resumed + "/model.safetensors"))
        #expect(Checkpoint.list(in: resumed).map(\.step).last == 5)
        try Self.make(["fit", "CONFIG=\(cfg)", "SET=training.output_dir=\(resumed)", "TRAIN_FLAGS=--resume"], workdir: work)
        #expect(try Data(contentsOf: URL(fileURLWithPath: resumed + "/model.safetensors")) == weights)
        func losses(_ dir: String) throws -> [Double] {
            try String(contentsOfFile: dir + "/logs/metrics.jsonl", encoding: .utf8).split(separator: "\n")
                .compactMap { try JSON.parse(String($0))["loss"]?.double }
        }
        #expect(try losses(resumed) == losses(out))
    }
}

/// NorBERT3 through the same pipeline, from a local folder holding the hub's format
/// (pytorch_model.bin, config.json with auto_map, the LTG tokenizer): the saved model keeps the
/// architecture — config.json with its auto_map, the original parameter names and the
/// position_indices buffers — and reloads to the same vectors.
@Suite(.enabled(if: pipelineToolsReady && TestPaths.hasShared("reference/norbert3-tiny/model/pytorch_model.bin"),
                "needs make, the built tools and ../shared/reference/norbert3-tiny"))
struct NorbertPipelineTests {
    @Test func trainsNorbert3ThroughTheMakefile() throws {
        let work = TestPaths.scratch()
        let fm = FileManager.default
        try fm.createDirectory(atPath: work + "/src", withIntermediateDirectories: true)
        try fm.copyItem(atPath: TestPaths.sharedFile("reference/norbert3-tiny/model"), toPath: work + "/src/norbert3-tiny")
        // The hub's NorBERT3 repos ship their modeling code; saving must carry such files along.
        try "# stand-in for ltgoslo's modeling_norbert.py\n".write(toFile: work + "/src/norbert3-tiny/modeling_norbert.py",
                                                                atomically: true, encoding: .utf8)
        _ = try TinyModel.dataset(in: work + "/src/tiny-triplets", rows: ["train": 24, "dev": 16, "test": 16], seed: 9)
        let out = work + "/out"
        try """
            model: {name: \(work)/src/norbert3-tiny, max_seq_length: 32}
            dataset: {name: \(work)/src/tiny-triplets}
            training: {output_dir: \(out), per_device_train_batch_size: 8, max_steps: 3, eval_steps: 3, save_steps: 3, logging_steps: 1}
            """.write(toFile: work + "/config.yaml", atomically: true, encoding: .utf8)
        try MakefilePipelineTests.make(["train", "CONFIG=\(work)/config.yaml"], workdir: work)

        let config = try JSON.parse(try ByteReader(path: out + "/config.json").readAll())
        #expect(config["auto_map"]?["AutoModel"]?.string == "modeling_norbert.NorbertModel")
        #expect(fm.fileExists(atPath: out + "/modeling_norbert.py"))
        let weights = try SafetensorsFile(path: out + "/model.safetensors")
        #expect(weights.metadata["format"] == "pt")
        #expect(try weights.info("transformer.layers.1.attention.position_indices").dtype == .i64)
        #expect(weights.tensors["embedding.word_embedding.weight"] != nil && weights.tensors["transformer.layers.0.mlp.mlp.1.weight"] != nil)
        let reloaded = try SentenceModel.load(directory: out)
        #expect(reloaded.encoder is NorbertEncoder)
        let metrics = try JSON.parse(try ByteReader(path: out + "/eval/finetuned.json").readAll())
        #expect(metrics["triplets"]?.int == 16)
    }
}
