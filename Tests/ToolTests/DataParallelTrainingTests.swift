import Foundation
import IO
import TestSupport
import Training
import Testing

/// `mpirun -np 2 train` with per-device batch 8 is the same computation as one `train` with batch
/// 16 (MNRL over the whole global batch, dropout keyed by each sequence's place in it): the same
/// per-step losses, evaluations and final weights, to float32 summation order.
@Suite(.serialized, .enabled(if: MPIRun.available && ToolRunner.path("train") != nil && ToolRunner.path("tokenize") != nil,
                             "needs mpirun (Debian: openmpi-bin) and the built tools"))
struct DataParallelTrainingTests {
    struct Setup {
        let work, model, trainTokens, evalTokens: String
        let bert: Bool
    }

    /// A tiny model (random BERT, or NorBERT3 from ../shared) and 45 training triplets — so that an
    /// epoch's last global batch of 13 splits 6 + 7 over two ranks — and 20 evaluation triplets.
    static func prepare(bert: Bool) throws -> Setup {
        let work = TestPaths.scratch()
        let model: String
        if bert {
            model = try TinyModel.make(in: work + "/model")
        } else {
            model = work + "/model"
            try FileManager.default.copyItem(atPath: TestPaths.sharedFile("reference/norbert3-tiny/model"), toPath: model)
        }
        _ = try TinyModel.dataset(in: work + "/data", rows: ["train": 45, "dev": 20], seed: 5)
        let s = Setup(work: work, model: model, trainTokens: work + "/train.tokens.safetensors",
                      evalTokens: work + "/dev.tokens.safetensors", bert: bert)
        for (split, out) in [("train", s.trainTokens), ("dev", s.evalTokens)] {
            let r = try ToolRunner.run("tokenize", ["--model", model, "--quiet", "-o", out, "\(work)/data/\(split).jsonl"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        return s
    }

    /// A config file (mpirun gives stdin to rank 0 only, so never `--config -`); `training` changes
    /// or adds keys of the training section.
    static func config(_ s: Setup, name: String, batch: Int, accumulation: Int = 1, trainRows: Int? = nil,
                       training: KeyValuePairs<String, String> = [:]) throws -> (config: String, output: String) {
        let output = "\(s.work)/\(name)"
        let path = "\(s.work)/\(name).yaml"
        var keys: [(String, String)] = [
            ("output_dir", output), ("per_device_train_batch_size", "\(batch)"), ("gradient_accumulation_steps", "\(accumulation)"),
            ("per_device_eval_batch_size", "8"), ("max_steps", "6"), ("learning_rate", "1.0e-3"), ("warmup_ratio", "0.2"),
            ("eval_steps", "3"), ("save_steps", "3"), ("logging_steps", "1"), ("seed", "11"),
        ]
        for (k, v) in training {
            if let i = keys.firstIndex(where: { $0.0 == k }) { keys[i].1 = v } else { keys.append((k, v)) }
        }
        let yaml = "model: {name: tiny, max_seq_length: 16}\n" + (trainRows.map { "dataset: {max_train_samples: \($0)}\n" } ?? "")
            + "training:\n" + keys.map { "  \($0.0): \($0.1)\n" }.joined()
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, output)
    }

    static func arguments(_ s: Setup, config: String) -> [String] {
        ["--config", config, "--model-dir", s.model, "--train-tokens", s.trainTokens, "--eval-tokens", s.evalTokens]
    }

    /// Trains on one process (np nil) or with mpirun.
    @discardableResult
    static func train(_ s: Setup, config: String, np: Int? = nil, more: [String] = [],
                      sourceLocation: SourceLocation = #_sourceLocation) throws -> ToolRunner.Result {
        let args = arguments(s, config: config) + more
        let r = try np.map { try MPIRun.run(np: $0, ToolRunner.path("train")!, args) }
            ?? ToolRunner.run("train", args, environment: ["EMBEDKIT_THREADS": "1"])
        #expect(r.status == 0, "train (np \(np ?? 1)) exited \(r.status):\n\(r.stderr.suffix(3000))", sourceLocation: sourceLocation)
        return r
    }

    /// metrics.jsonl's lines by step (the last line for a step, as a resumed run logs again the
    /// steps that the interrupted run logged after its checkpoint).
    static func metrics(_ output: String) throws -> (losses: [Int: Double], evals: [Int: JSON]) {
        var losses: [Int: Double] = [:], evals: [Int: JSON] = [:]
        for line in try String(contentsOfFile: output + "/logs/metrics.jsonl", encoding: .utf8).split(separator: "\n") {
            let j = try JSON.parse(String(line))
            guard let step = j["step"]?.int else { continue }
            if let l = j["loss"]?.double { losses[step] = l }
            if j["eval_loss"] != nil { evals[step] = j }
        }
        return (losses, evals)
    }

    static func expectSameLosses(_ a: String, _ b: String, steps: ClosedRange<Int>, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (la, ea) = try metrics(a), (lb, eb) = try metrics(b)
        for step in steps {
            guard let x = la[step], let y = lb[step] else {
                Issue.record("step \(step): no loss logged (\(la.keys.sorted()) vs \(lb.keys.sorted()))", sourceLocation: sourceLocation)
                continue
            }
            #expect(abs(x - y) <= 1e-5 * abs(y), "step \(step): loss \(x) vs \(y)", sourceLocation: sourceLocation)
        }
        for (step, y) in eb where steps.contains(step) {
            guard let x = ea[step] else { Issue.record("no evaluation at step \(step)", sourceLocation: sourceLocation); continue }
            let (xl, yl) = (x["eval_loss"]!.double!, y["eval_loss"]!.double!)
            #expect(abs(xl - yl) <= 1e-5 * abs(yl), "step \(step): eval loss \(xl) vs \(yl)", sourceLocation: sourceLocation)
            #expect(x["eval_cosine_accuracy"] == y["eval_cosine_accuracy"], "step \(step): eval accuracy differs", sourceLocation: sourceLocation)
        }
    }

    /// The weights after `steps` steps at learning rate 1e-3 to 1e-5 relative: max |a − b| over all
    /// the model's weights, over max |b|. Except BERT's attention key bias: its gradient is exactly
    /// zero in exact arithmetic (softmax ignores a shift shared by all of a query's scores), so what
    /// backward computes for it is rounding noise, which AdamW turns into steps of up to lr whatever
    /// its size; they change no output. It is held to what AdamW can do, lr per step (see
    /// ../shared/README.md on `after_step`).
    static func expectSameWeights(_ a: String, _ b: String, steps: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let fa = try SafetensorsFile(path: a), fb = try SafetensorsFile(path: b)
        #expect(fa.tensors.keys.sorted() == fb.tensors.keys.sorted(), sourceLocation: sourceLocation)
        var diff: Float = 0, scale: Float = 0, worst = ""
        for name in fb.tensors.keys.sorted() where fb.tensors[name]?.dtype == .f32 {
            let x = try fa.floats(name), y = try fb.floats(name)
            guard x.count == y.count else { Issue.record("\(name): shapes differ", sourceLocation: sourceLocation); continue }
            if name.hasSuffix("attention.self.key.bias") {
                let d = zip(x, y).map { abs($0 - $1) }.max() ?? 0
                #expect(d <= 1e-3 * Float(steps), "\(name): max |diff| \(d)", sourceLocation: sourceLocation)
                continue
            }
            for (u, v) in zip(x, y) {
                if abs(u - v) > diff { (diff, worst) = (abs(u - v), name) }
                scale = max(scale, abs(v))
            }
        }
        #expect(diff <= 1e-5 * scale, "weights: max |diff| \(diff) (in \(worst)), max |weight| \(scale)", sourceLocation: sourceLocation)
    }

    func twoRanksMatchOneProcess(bert: Bool) throws {
        let s = try Self.prepare(bert: bert)
        let one = try Self.config(s, name: "one", batch: 16)
        let two = try Self.config(s, name: "two", batch: 8)
        try Self.train(s, config: one.config)
        let r = try Self.train(s, config: two.config, np: 2)
        #expect(r.stderr.contains("Data-parallel: 2 ranks") && r.stderr.contains("batches of 16 (2 ranks × 8)"), "\(r.stderr.prefix(2000))")
        try Self.expectSameLosses(two.output, one.output, steps: 1...6)
        // After the last step, and the final model (the best checkpoint, sent from rank 0 to all).
        try Self.expectSameWeights(two.output + "/checkpoint-6/model.safetensors", one.output + "/checkpoint-6/model.safetensors", steps: 6)
        try Self.expectSameWeights(two.output + "/model.safetensors", one.output + "/model.safetensors", steps: 6)
        // Rank 0 alone wrote: one log, checkpoints of whole steps, the model.
        let lines = try String(contentsOfFile: two.output + "/logs/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6 + 2, "metrics.jsonl has \(lines.count) lines")
        #expect(Checkpoint.list(in: two.output).map(\.step) == [3, 6])
    }

    @Test func bertTwoRanksMatchOneProcess() throws { try twoRanksMatchOneProcess(bert: true) }

    @Test(.enabled(if: TestPaths.hasShared("reference/norbert3-tiny/model/pytorch_model.bin"), "needs ../shared/reference/norbert3-tiny"))
    func norbertTwoRanksMatchOneProcess() throws { try twoRanksMatchOneProcess(bert: false) }

    /// Per-device 4 × 2 ranks × 2 accumulation steps against 8 × 2 on one process.
    @Test func gradientAccumulationMatchesOneProcess() throws {
        let s = try Self.prepare(bert: true)
        let one = try Self.config(s, name: "one", batch: 8, accumulation: 2)
        let two = try Self.config(s, name: "two", batch: 4, accumulation: 2)
        try Self.train(s, config: one.config)
        try Self.train(s, config: two.config, np: 2)
        try Self.expectSameLosses(two.output, one.output, steps: 1...6)
        try Self.expectSameWeights(two.output + "/checkpoint-6/model.safetensors", one.output + "/checkpoint-6/model.safetensors", steps: 6)
    }

    /// Three ranks, and 26 rows in global batches of 12: each epoch ends with a batch of 2 rows, so
    /// one rank has no rows in that step (it still takes part in every collective).
    @Test func aRankWithoutRowsInAStep() throws {
        let s = try Self.prepare(bert: true)
        let one = try Self.config(s, name: "one", batch: 12, trainRows: 26)
        let three = try Self.config(s, name: "three", batch: 4, trainRows: 26)
        try Self.train(s, config: one.config)
        let r = try Self.train(s, config: three.config, np: 3)
        #expect(r.stderr.contains("3 batches of 12 (3 ranks × 4) per epoch"), "\(r.stderr.prefix(2000))")
        try Self.expectSameLosses(three.output, one.output, steps: 1...6)
        try Self.expectSameWeights(three.output + "/checkpoint-6/model.safetensors", one.output + "/checkpoint-6/model.safetensors", steps: 6)
    }

    // MARK: Interruptions

    /// A run long enough to be interrupted: checkpoints every `save` steps, no evaluation.
    static func longConfig(_ s: Setup, name: String, batch: Int, save: Int, logging: Int = 1) throws -> (config: String, output: String) {
        try config(s, name: name, batch: batch, training: [
            "max_steps": "3000", "lr_scheduler": "constant", "warmup_ratio": "0", "save_steps": "\(save)",
            "eval_steps": "\(save)", "load_best_model_at_end": "false", "logging_steps": "\(logging)",
        ])
    }

    /// Waits until rank 0 has logged `step N/`; returns false if the job ended first.
    static func waitForStep(_ n: Int, log: String, process: Process) -> Bool {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && process.isRunning {
            if ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("step \(n)/") { return true }
            usleep(20_000)
        }
        return false
    }

    /// Rank 1 is killed (SIGKILL, as by the OOM killer) mid-run: the job ends, mpirun names the rank,
    /// and the last checkpoint resumes — with 2 ranks, or with 1 process of batch 16 (the same
    /// global batch) — to the same weights and losses as an uninterrupted run.
    @Test func killedRankResumes() throws {
        let s = try Self.prepare(bert: true)
        let two = try Self.longConfig(s, name: "two", batch: 8, save: 5)
        let one = try Self.longConfig(s, name: "one", batch: 16, save: 5)
        let log = s.work + "/killed.log"
        let job = try MPIRun.start(np: 2, ToolRunner.path("train")!, Self.arguments(s, config: two.config), stderrPath: log)
        #expect(Self.waitForStep(12, log: log, process: job), "training ended before it could be interrupted")
        let victim = try #require(MPIRun.rankPID(1, of: job.processIdentifier), "rank 1 not found among mpirun's children")
        kill(victim, SIGKILL)
        job.waitUntilExit()
        let stderr = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(job.terminationStatus != 0)
        #expect(stderr.contains("process rank 1") && stderr.contains("signal 9"), "\(stderr.suffix(1500))")
        let k = try #require(Checkpoint.list(in: two.output).last?.step)
        #expect(k >= 10 && k % 5 == 0)
        #expect(!FileManager.default.fileExists(atPath: two.output + "/model.safetensors"))
        let end = k + 4

        // The same job (and, from a copy, one process with the same global batch) resumes.
        try FileManager.default.copyItem(atPath: two.output, toPath: one.output)
        let resumed = try Self.train(s, config: two.config, np: 2, more: ["--resume", "--stop-after", "\(end)"])
        #expect(resumed.stderr.contains("Resuming from \(two.output)/checkpoint-\(k) at step \(k)"), "\(resumed.stderr.suffix(1500))")
        try Self.train(s, config: one.config, more: ["--resume", "--stop-after", "\(end)"])
        let straight = try Self.longConfig(s, name: "straight", batch: 16, save: 5)
        try Self.train(s, config: straight.config, more: ["--stop-after", "\(end)"])
        for out in [two.output, one.output] {
            try Self.expectSameWeights("\(out)/checkpoint-\(end)/model.safetensors", "\(straight.output)/checkpoint-\(end)/model.safetensors", steps: end)
            try Self.expectSameLosses(out, straight.output, steps: 1...end)
        }
        // A different global batch cannot resume it.
        let three = try Self.longConfig(s, name: "two", batch: 4, save: 5)
        let wrong = try MPIRun.run(np: 2, ToolRunner.path("train")!, Self.arguments(s, config: three.config) + ["--resume"])
        #expect(wrong.status != 0 && wrong.stderr.contains("global batch of 16"), "\(wrong.stderr.suffix(1500))")
    }

    /// SIGTERM to mpirun (which reaches the ranks odls_base_sigkill_timeout seconds later) and SIGUSR1
    /// (forwarded at once) stop every rank after the same step with one checkpoint, and the run
    /// resumes from it to an uninterrupted run's weights.
    @Test(arguments: [SIGTERM, SIGUSR1])
    func signalToMpirunStopsWithOneCheckpoint(_ sig: Int32) throws {
        let s = try Self.prepare(bert: true)
        // A log line every 25 steps: once mpirun is ending the job it stops reading the ranks'
        // output, and rank 0 would block writing a line every few milliseconds into the full pipe.
        let two = try Self.longConfig(s, name: "two", batch: 8, save: 3000, logging: 25)
        let log = s.work + "/signal.log"
        let job = try MPIRun.start(np: 2, ToolRunner.path("train")!, Self.arguments(s, config: two.config),
                                   options: ["--mca", "odls_base_sigkill_timeout", "3"], stderrPath: log)
        #expect(Self.waitForStep(25, log: log, process: job), "training ended before it could be interrupted")
        kill(job.processIdentifier, sig)
        job.waitUntilExit()
        let stderr = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let name = sig == SIGTERM ? "SIGTERM" : "SIGUSR1"
        #expect(job.terminationStatus != 0)
        if sig == SIGUSR1 { #expect(job.terminationStatus == 128 + SIGUSR1) }
        #expect(stderr.contains("Stopped by \(name) after step") && stderr.contains("checkpoint saved"), "\(stderr.suffix(1500))")
        let checkpoints = Checkpoint.list(in: two.output)
        #expect(checkpoints.count == 1, "checkpoints: \(checkpoints.map(\.step))")
        let stopped = try #require(checkpoints.last?.step)
        #expect(stderr.contains("after step \(stopped);"))

        let end = stopped + 3
        try Self.train(s, config: two.config, np: 2, more: ["--resume", "--stop-after", "\(end)"])
        let straight = try Self.longConfig(s, name: "straight", batch: 16, save: 3000, logging: 25)
        try Self.train(s, config: straight.config, more: ["--stop-after", "\(end)"])
        try Self.expectSameWeights("\(two.output)/checkpoint-\(end)/model.safetensors", "\(straight.output)/checkpoint-\(end)/model.safetensors", steps: end)
    }
}
