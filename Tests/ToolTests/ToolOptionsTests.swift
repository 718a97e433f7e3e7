import Foundation
import IO
import TestSupport
import Testing

/// The tools share one vocabulary: the input is the positional argument, the main output
/// `-o/--output`, and `--model`, `--max-seq-length`, `--batch-size`, `--threads` and `--quiet`
/// mean the same everywhere; every error is `error: …` with exit status 1.
@Suite(.enabled(if: ["fetch-data", "tokenize", "train", "evaluate", "embed"].allSatisfy { ToolRunner.path($0) != nil },
                "needs the built tools"))
struct ToolOptionsTests {
    /// A tiny model and a few triplets, made once per test.
    func workspace() throws -> (dir: String, model: String, data: String) {
        let work = TestPaths.scratch()
        let model = try TinyModel.make(in: work + "/model")
        _ = try TinyModel.dataset(in: work + "/data", rows: ["test": 12], seed: 5)
        return (work, model, work + "/data/test.jsonl")
    }

    @Test func everyToolDocumentsTheSharedOptions() throws {
        let expected: [String: [String]] = [
            "tokenize": ["--model", "--max-seq-length", "-o, --output", "--threads", "--quiet", "<input>"],
            "embed": ["--model", "--max-seq-length", "-o, --output", "--batch-size", "--threads", "--quiet", "<input>"],
            "evaluate": ["--model", "--max-seq-length", "-o, --output", "--batch-size", "--threads", "--quiet", "<input>"],
            "train": ["--threads", "--quiet"],
        ]
        for (tool, options) in expected {
            let help = try ToolRunner.run(tool, ["--help"])
            #expect(help.status == 0)
            for option in options { #expect(help.stdout.contains(option), "\(tool) --help lacks \(option)") }
        }
        for sub in ["model", "dataset"] {
            let help = try ToolRunner.run("fetch-data", [sub, "--help"])
            #expect(help.stdout.contains("-o, --output") && help.stdout.contains("--quiet"), "fetch-data \(sub) --help")
        }
    }

    @Test func evaluateTakesItsInputAsArgumentOrDataAndWritesOutput() throws {
        let w = try workspace()
        let positional = try ToolRunner.run("evaluate", ["--model", w.model, "--quiet", w.data])
        let option = try ToolRunner.run("evaluate", ["--model", w.model, "--quiet", "--data", w.data])
        #expect(positional.status == 0 && option.status == 0, "\(positional.stderr)\(option.stderr)")
        #expect(positional.stderr.isEmpty, "--quiet printed: \(positional.stderr)")
        let metrics = try JSON.parse(positional.stdout)
        #expect(metrics["triplets"]?.int == 12)
        #expect(try JSON.parse(option.stdout)["cosine_accuracy"] == metrics["cosine_accuracy"])

        let out = w.dir + "/eval.json"
        let toFile = try ToolRunner.run("evaluate", ["--model", w.model, "--quiet", "-o", out, w.data])
        #expect(toFile.status == 0 && toFile.stdout.isEmpty)
        #expect(try JSON.parse(String(contentsOfFile: out, encoding: .utf8))["cosine_accuracy"] == metrics["cosine_accuracy"])

        let both = try ToolRunner.run("evaluate", ["--model", w.model, "--data", w.data, w.data])
        #expect(both.status != 0 && both.stderr.contains("give the input once"))
    }

    @Test func embedWritesTheFormatTheOutputNames() throws {
        let w = try workspace()
        let lines = w.dir + "/e.jsonl", matrix = w.dir + "/e.safetensors"
        for (args, path) in [(["-o", lines], lines), (["--output", matrix], matrix)] {
            let r = try ToolRunner.run("embed", ["--model", w.model, "--field", "anchor", "--quiet"] + args + [w.data])
            #expect(r.status == 0 && r.stdout.isEmpty && r.stderr.isEmpty, "\(r.stderr)")
            #expect(FileManager.default.fileExists(atPath: path))
        }
        let rows = try String(contentsOfFile: lines, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 12 && rows.allSatisfy { $0.hasPrefix("{\"embedding\":[") })
        #expect(try SafetensorsFile(path: matrix).info("embeddings").shape == [12, 16])

        // --threads 1 gives the same vectors as the default (to float noise: the sgemm split differs),
        // and --format safetensors writes the matrix to stdout.
        let one = try ToolRunner.run("embed", ["--model", w.model, "--field", "anchor", "--quiet", "--threads", "1",
                                               "-o", w.dir + "/one.safetensors", w.data])
        #expect(one.status == 0)
        expectClose(try SafetensorsFile(path: w.dir + "/one.safetensors").floats("embeddings"),
                    try SafetensorsFile(path: matrix).floats("embeddings"), "--threads 1 vectors")
        let piped = w.dir + "/piped.safetensors"
        let shell = try ToolRunner.run("/bin/sh", ["-c", "\"$0\" --model \"$1\" --field anchor --quiet --format safetensors \"$2\" > \"$3\"",
                                                   ToolRunner.path("embed")!, w.model, w.data, piped])
        #expect(shell.status == 0, "\(shell.stderr)")
        #expect(try SafetensorsFile(path: piped).floats("embeddings") == SafetensorsFile(path: matrix).floats("embeddings"))
    }

    @Test func quietLeavesStderrEmptyAndErrorsShareOneForm() throws {
        let w = try workspace()
        let tok = try ToolRunner.run("tokenize", ["--model", w.model, "--quiet", "-o", w.dir + "/t.safetensors", w.data])
        #expect(tok.status == 0 && tok.stderr.isEmpty, "\(tok.stderr)")
        let loud = try ToolRunner.run("tokenize", ["--model", w.model, "-o", w.dir + "/u.safetensors", w.data])
        #expect(loud.status == 0 && loud.stderr.contains("tokenize: 12 rows"))

        let missing = "/nonexistent/model"
        for (tool, args) in [("tokenize", ["--model", missing, "-o", w.dir + "/x", w.data]),
                             ("embed", ["--model", missing, w.data]),
                             ("evaluate", ["--model", missing, w.data]),
                             ("fetch-data", ["model", missing, "-o", w.dir + "/m"])] {
            let r = try ToolRunner.run(tool, args)
            #expect(r.status == 1, "\(tool): status \(r.status)")
            #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains(missing), "\(tool): \(r.stderr)")
        }
        let badThreads = try ToolRunner.run("embed", ["--model", w.model, "--threads", "0", w.data])
        #expect(badThreads.status != 0 && badThreads.stderr.contains("--threads must be at least 1"))
    }
}
