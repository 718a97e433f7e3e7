import Foundation
import IO
import NN
import TestSupport
import Testing

/// Small defects found while hardening the readers (issue 16), each now a tested behaviour.
@Suite(.enabled(if: ToolRunner.path("embed") != nil && ToolRunner.path("tokenize") != nil, "needs the built tools"))
struct HardenedToolTests {
    /// A tiny model whose word embeddings are NaN: every vector comes out non-finite.
    static func poisonedModel(in dir: String) throws -> String {
        let model = try TinyModel.make(in: dir)
        let file = try SafetensorsFile(path: model + "/model.safetensors")
        let w = SafetensorsWriter()
        for name in file.names {
            var values = try file.floats(name)
            if name.hasSuffix("word_embeddings.weight") { values = values.map { _ in .nan } }
            w.add(name, shape: try file.info(name).shape, floats: values)
        }
        try w.write(to: model + "/model.safetensors")
        return model
    }

    @Test func nonFiniteEmbeddingIsAnErrorNamingTheLine() throws {
        let model = try Self.poisonedModel(in: TestPaths.scratch() + "/model")
        let r = try ToolRunner.run("embed", ["--model", model, "--quiet"], stdin: "hunden løper\n")
        #expect(r.status == 1)
        #expect(r.stderr.contains("-:1: the embedding is not finite"), "\(r.stderr)")
        #expect(!r.stdout.contains("nan"), "invalid JSON on stdout: \(r.stdout.prefix(200))")
    }

    /// `--quiet`: nothing on stderr but errors, the closing line included.
    @Test func embedQuietIsQuiet() throws {
        let model = try TinyModel.make(in: TestPaths.scratch() + "/model")
        let quiet = try ToolRunner.run("embed", ["--model", model, "--quiet"], stdin: "hunden løper\nkatten sover\n")
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
        #expect(quiet.stdout.split(separator: "\n").count == 2)
        let loud = try ToolRunner.run("embed", ["--model", model], stdin: "hunden løper\n")
        #expect(loud.status == 0 && !loud.stderr.isEmpty)
    }

    /// Binary tokens are not written to a terminal (`script` gives the tool one for stdout).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) for a terminal"))
    func tokenizeRefusesATerminal() throws {
        let work = TestPaths.scratch()
        let model = try TinyModel.make(in: work + "/model")
        _ = try TinyModel.dataset(in: work + "/data", rows: ["train": 3], seed: 1)
        let command = "\(ToolRunner.path("tokenize")!) --model \(model) --quiet \(work)/data/train.jsonl; echo status=$?"
        let r = try ToolRunner.run("/usr/bin/script", ["-qec", command, "/dev/null"])
        #expect(r.stdout.contains("not writing a binary tokens file to a terminal"), "\(r.stdout.prefix(300))")
        #expect(r.stdout.contains("status=1"))
        // Into a pipe, stdout is fine (counted by wc: the bytes are not UTF-8).
        let piped = try ToolRunner.run("/bin/sh", ["-c", "\(ToolRunner.path("tokenize")!) --model \(model) --quiet \(work)/data/train.jsonl | wc -c"])
        #expect(piped.status == 0 && (Int(piped.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 100,
                "\(piped.stdout) \(piped.stderr)")
    }

    /// A hostile `Split` pattern makes `tokenize` fail with the file and line, not hang.
    @Test func catastrophicRegexNamesTheLine() throws {
        let work = TestPaths.scratch()
        let dir = work + "/model"
        try FileSystem.createDirectory(dir)
        var tokenizer = try FileSystem.readJSON(TestPaths.fixtures + "/fuzz-seeds/tokenizer/wordlevel.json")
        guard case .object(var obj) = tokenizer else { Issue.record("not an object"); return }
        obj["pre_tokenizer"] = ["type": "Split", "pattern": ["Regex": "(?=(a|aa)*c)a"], "behavior": "Isolated", "invert": false]
        tokenizer = .object(obj)
        try FileSystem.writeText(tokenizer.serialized(), to: dir + "/tokenizer.json")
        let text = "{\"text\": \"kort\"}\n{\"text\": \"" + String(repeating: "a", count: 5_000) + "\"}\n"
        try FileSystem.writeText(text, to: work + "/in.jsonl")
        let r = try ToolRunner.run("tokenize", ["--model", dir, "--columns", "text", "--quiet", "-o", work + "/out.safetensors",
                                                work + "/in.jsonl"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("in.jsonl:2: regex \"(?=(a|aa)*c)a\": gave up after"), "\(r.stderr)")
        #expect(!FileSystem.exists(work + "/out.safetensors"))
    }

    /// SentencePiece / tiktoken models ship `tokenizer.model`; a saved model keeps it.
    @Test func savedModelsKeepTokenizerModel() throws {
        let work = TestPaths.scratch()
        let base = try TinyModel.make(in: work + "/base")
        try FileSystem.writeText("sentencepiece bytes", to: base + "/tokenizer.model")
        let model = try SentenceModel.load(directory: base)
        try model.save(to: work + "/saved")
        #expect(try FileSystem.readText(work + "/saved/tokenizer.model") == "sentencepiece bytes")
    }
}
