import Foundation
import IO
import Inference
import NN
import TestSupport
import Training
import Testing

/// Ctrl-C / SIGTERM: `train` finishes the step it is in, writes a checkpoint, exits non-zero
/// (128 + signal), and `--resume` ends where an uninterrupted run ends, bit for bit.
@Suite(.enabled(if: ToolRunner.path("train") != nil && ToolRunner.path("tokenize") != nil, "needs the built tools"))
struct TrainSignalTests {
    @Test(arguments: [SIGTERM, SIGINT])
    func signalCheckpointsAndResumes(_ sig: Int32) throws {
        let work = TestPaths.scratch()
        let model = try TinyModel.make(in: work + "/model")
        _ = try TinyModel.dataset(in: work + "/data", rows: ["train": 64], seed: 21)
        let tokens = work + "/train.tokens.safetensors"
        let tok = try ToolRunner.run("tokenize", ["--model", model, "--quiet", "-o", tokens, work + "/data/train.jsonl"])
        #expect(tok.status == 0, "\(tok.stderr)")
        func args(_ out: String) -> [String] {
            ["--config", "-", "--model-dir", model, "--train-tokens", tokens, "--eval-tokens", "none",
             "--set", "training.output_dir=\(out)"]
        }
        let config = "model: {name: tiny, max_seq_length: 16}\ntraining: {per_device_train_batch_size: 8, max_steps: 3000, save_steps: 1000, logging_steps: 1, seed: 3}\n"

        // Start a long run; once it has logged a few steps, signal it.
        let out = work + "/run"
        let bin = ToolRunner.path("train")!
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = args(out)
        let inPipe = Pipe()
        p.standardInput = inPipe
        let errPath = work + "/stderr"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardError = errHandle
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        inPipe.fileHandleForWriting.write(Data(config.utf8))
        try inPipe.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            if text.contains("step 5/") || !p.isRunning { break }
            usleep(20_000)
        }
        #expect(p.isRunning, "training ended before it could be interrupted")
        kill(p.processIdentifier, sig)
        p.waitUntilExit()
        try errHandle.close()
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        #expect(p.terminationStatus == 128 + sig, "exit status \(p.terminationStatus)\n\(stderr.suffix(500))")
        #expect(stderr.contains("checkpoint saved"))
        let checkpoints = Checkpoint.list(in: out)
        let stopped = try #require(checkpoints.last?.step)
        #expect(stopped >= 5 && stopped < 3000)
        #expect(!FileManager.default.fileExists(atPath: out + "/model.safetensors"))

        // Resume to a fixed end, and compare with an uninterrupted run to the same end.
        let end = stopped + 4
        let resumed = try ToolRunner.run("train", args(out) + ["--resume", "--set", "training.max_steps=3000", "--stop-after", "\(end)"],
                                         stdin: config)
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(500))")
        let straight = work + "/straight"
        let s = try ToolRunner.run("train", args(straight) + ["--stop-after", "\(end)"], stdin: config)
        #expect(s.status == 0, "\(s.stderr.suffix(500))")
        let a = try Data(contentsOf: URL(fileURLWithPath: "\(out)/checkpoint-\(end)/model.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: "\(straight)/checkpoint-\(end)/model.safetensors"))
        #expect(a == b, "resumed weights differ from an uninterrupted run's")
    }
}

/// Every tool answers --help (with examples) and --version.
@Suite(.enabled(if: ToolRunner.productsDirectory != nil, "the tools were not built beside the test bundle"))
struct ToolHelpTests {
    @Test(arguments: ["fetch-data", "tokenize", "train", "evaluate", "embed", "upload"])
    func helpAndVersion(_ tool: String) throws {
        let help = try ToolRunner.run(tool, ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Examples:") && help.stdout.contains("USAGE:"), "\(tool) --help lacks examples or usage")
        let version = try ToolRunner.run(tool, ["--version"])
        #expect(version.status == 0 && version.stdout.contains(EmbedKitVersion.string))
    }
}
