import Foundation
import IO
import NN
import TestSupport
import Training
import Testing

/// `kill -9` at random moments: whatever a tool was doing (tokenizing, training, writing a
/// checkpoint, converting a dataset), its outputs are afterwards complete or absent, never
/// half-written, and running it again (`--resume` for train) gives the same bytes as a run that was
/// never interrupted. No temporary file outlives the rerun.
@Suite(.serialized, .enabled(if: ToolRunner.path("train") != nil && ToolRunner.path("tokenize") != nil
    && ToolRunner.path("fetch-data") != nil, "needs the built tools"))
struct KillTests {
    static let kills = 6

    /// Starts `tool`, kills it with SIGKILL after `delay` seconds (if still running); returns
    /// whether it was killed before finishing.
    static func runAndKill(_ tool: String, _ arguments: [String], stdin: String = "", after delay: Double) throws -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(ToolRunner.path(tool)))
        p.arguments = arguments
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(delay)
        while p.isRunning, Date() < deadline { usleep(2_000) }
        let killed = p.isRunning
        if killed { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        return killed && p.terminationReason == .uncaughtSignal
    }

    /// The wall time of a complete run, to spread the kills over.
    static func timed(_ body: () throws -> Void) rethrows -> Double {
        let start = Date()
        try body()
        return Date().timeIntervalSince(start)
    }

    static func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// Files a dead process left behind: our temporaries all start with a dot.
    static func leftovers(_ dir: String) -> [String] {
        FileSystem.list(dir).filter { $0.hasPrefix(".") }
    }

    /// Kill times as fractions of a run's wall time, spread over [0, 1.1], from a fixed seed. Each
    /// is scaled by the latest uninterrupted run (the load of a shared machine changes during a test).
    static func fractions(seed: UInt64) -> [Double] {
        var r = SplitMix64(seed: seed)
        return (0..<kills).map { k in
            let u = Double(r.next() >> 11) / Double(1 << 53)
            return 1.1 * (Double(k) + u) / Double(kills)
        }
    }

    @Test func tokenize() throws {
        let work = TestPaths.scratch()
        let model = try TinyModel.make(in: work + "/model")
        _ = try TinyModel.dataset(in: work + "/data", rows: ["train": 60_000], seed: 5)
        let input = work + "/data/train.jsonl"
        let args = { (out: String) in ["--model", model, "--quiet", "--max-seq-length", "16", "-o", out, input] }
        let reference = work + "/reference.tokens.safetensors"
        let duration = try Self.timed {
            let r = try ToolRunner.run("tokenize", args(reference))
            #expect(r.status == 0, "\(r.stderr)")
        }
        try Self.killAndRerun("tokenize", args, reference: reference, duration: duration,
                              output: work + "/out/train.tokens.safetensors", seed: 1)
    }

    @Test func fetchDataConversion() throws {
        let work = TestPaths.scratch()
        _ = try TinyModel.dataset(in: work + "/data", rows: ["train": 150_000], seed: 6)
        let args = { (out: String) in ["dataset", work + "/data", "--split", "train", "--quiet", "-o", out] }
        let reference = work + "/reference.jsonl.zst"
        let duration = try Self.timed {
            let r = try ToolRunner.run("fetch-data", args(reference))
            #expect(r.status == 0, "\(r.stderr)")
        }
        try Self.killAndRerun("fetch-data", args, reference: reference, duration: duration,
                              output: work + "/out/train.jsonl.zst", seed: 2)
    }

    /// Kills `tool` at spread-out moments of a run (the kill times follow the latest complete run's
    /// length): whatever the output path then holds is the whole reference file or nothing, a rerun
    /// gives the reference, and no temporary file stays behind.
    static func killAndRerun(_ tool: String, _ args: (String) -> [String], reference: String, duration first: Double,
                             output out: String, seed: UInt64) throws {
        let want = try #require(bytes(reference))
        let dir = (out as NSString).deletingLastPathComponent
        try FileSystem.createDirectory(dir)
        var duration = first, killedCount = 0
        for fraction in fractions(seed: seed) {
            FileSystem.remove(out)
            if try runAndKill(tool, args(out), after: fraction * duration) { killedCount += 1 }
            if let got = bytes(out) { #expect(got == want, "a killed \(tool) left a different \(out)") }
            var again: ToolRunner.Result!
            duration = try timed { again = try ToolRunner.run(tool, args(out)) }
            #expect(again.status == 0, "\(again.stderr)")
            #expect(bytes(out) == want, "the rerun differs from an uninterrupted run")
            #expect(leftovers(dir).isEmpty, "left behind: \(leftovers(dir))")
        }
        #expect(killedCount >= kills / 2, "only \(killedCount) runs were killed before they finished")
    }

    /// Checkpoints every step, so many kills land while one is being written.
    @Test func trainAndResume() throws {
        let work = TestPaths.scratch()
        let model = try TinyModel.make(in: work + "/model")
        _ = try TinyModel.dataset(in: work + "/data", rows: ["train": 96], seed: 7)
        let tokens = work + "/train.tokens.safetensors"
        let tok = try ToolRunner.run("tokenize", ["--model", model, "--quiet", "-o", tokens, work + "/data/train.jsonl"])
        #expect(tok.status == 0, "\(tok.stderr)")
        let config = "model: {name: tiny, max_seq_length: 16}\ntraining: {per_device_train_batch_size: 8, max_steps: 24, save_steps: 1, save_total_limit: 2, logging_steps: 1, seed: 3, load_best_model_at_end: false}\n"
        let args = { (out: String) in
            ["--config", "-", "--model-dir", model, "--train-tokens", tokens, "--eval-tokens", "none", "--quiet",
             "--set", "training.output_dir=\(out)"]
        }
        let reference = work + "/reference"
        let duration = try Self.timed {
            let r = try ToolRunner.run("train", args(reference), stdin: config)
            #expect(r.status == 0, "\(r.stderr.suffix(500))")
        }
        let want = try #require(Self.bytes(reference + "/model.safetensors"))
        var killedCount = 0
        for (k, fraction) in Self.fractions(seed: 3).enumerated() {
            let delay = fraction * duration
            let out = work + "/run\(k)"
            if try Self.runAndKill("train", args(out), stdin: config, after: delay) { killedCount += 1 }
            // Every checkpoint on offer is whole: it loads, model and optimizer state.
            for c in Checkpoint.list(in: out) {
                let loaded = try SentenceModel.load(directory: c.path)
                let optimizer = AdamW(parameters: loaded.encoder.parameters, weightDecay: 0.01)
                _ = try Checkpoint.loadState(c.path, optimizer: optimizer)
            }
            if FileManager.default.fileExists(atPath: out + "/model.safetensors") {
                #expect(Self.bytes(out + "/model.safetensors") == want)
            }
            let resume = Checkpoint.list(in: out).isEmpty ? [] : ["--resume"]
            let again = try ToolRunner.run("train", args(out) + resume, stdin: config)
            #expect(again.status == 0, "\(again.stderr.suffix(500))")
            #expect(Self.bytes(out + "/model.safetensors") == want, "run \(k) (killed after \(delay) s, rerun \(resume)) differs")
            #expect(Self.leftovers(out).isEmpty, "left behind: \(Self.leftovers(out))")
        }
        #expect(killedCount >= Self.kills / 2, "only \(killedCount) runs were killed before they finished")
    }
}
