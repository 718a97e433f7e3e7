import Foundation
import Hub
import IO
import TestSupport
import Testing

/// The built `upload` and `train` tools against `FakeHub`: what a user runs and sees.
@Suite(.serialized, .enabled(if: ToolRunner.path("upload") != nil && ToolRunner.path("train") != nil, "needs the built tools"))
struct UploadToolTests {
    /// The environment of a user with `token` (none: no token anywhere), on the fake hub.
    static func environment(_ hub: FakeHub, token: String?, dir: String) -> [String: String] {
        ["HF_ENDPOINT": hub.endpoint, "HF_TOKEN": token ?? "", "HUGGING_FACE_HUB_TOKEN": "", "HF_HOME": dir + "/hf-home",
         "HF_TOKEN_PATH": dir + "/no-token-file", "HF_HUB_OFFLINE": ""]
    }

    @Test func uploadPrintsTheCommitURLAndFailsClearly() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let dir = TestPaths.scratch()
        let files = try HubUploadTests.modelFolder(in: dir + "/model")
        let r = try ToolRunner.run("upload", ["alice/tiny", dir + "/model", "--quiet", "--commit-message", "v1"],
                                   environment: Self.environment(hub, token: "hf_write", dir: dir))
        #expect(r.status == 0, "\(r.stderr)")
        let head = try #require(hub.head(.model, "alice/tiny"))
        #expect(r.stdout == "\(hub.endpoint)/alice/tiny/commit/\(head)\n")
        #expect(r.stderr.isEmpty)
        #expect(hub.files(.model, "alice/tiny")?["model.safetensors"] == files["model.safetensors"])

        // Without --quiet, progress and a summary go to stderr; stdout stays the URL alone.
        try HubUploadTests.write(["config.json": Array("{}".utf8)], to: dir + "/model")
        let again = try ToolRunner.run("upload", ["alice/tiny", dir + "/model", "--exclude", "*.bin"],
                                       environment: Self.environment(hub, token: "hf_write", dir: dir))
        #expect(again.status == 0 && again.stdout.hasPrefix(hub.endpoint + "/alice/tiny/commit/") && again.stdout.split(separator: "\n").count == 1)
        #expect(again.stderr.contains("1 to commit") && again.stderr.contains("committed 1 file"), "\(again.stderr)")

        let noToken = try ToolRunner.run("upload", ["alice/tiny", dir + "/model"], environment: Self.environment(hub, token: nil, dir: dir))
        #expect(noToken.status == 1 && noToken.stdout.isEmpty)
        #expect(noToken.stderr.hasPrefix("error: uploading needs a Hugging Face token with write access"), "\(noToken.stderr)")
        let badID = try ToolRunner.run("upload", ["not a repo", dir + "/model"], environment: Self.environment(hub, token: "hf_write", dir: dir))
        #expect(badID.status != 0 && badID.stderr.contains("is not a repository id"))
        let missing = try ToolRunner.run("upload", ["alice/tiny", dir + "/nope"], environment: Self.environment(hub, token: "hf_write", dir: dir))
        #expect(missing.status == 1 && missing.stderr.contains("nope: no such file or folder"), "\(missing.stderr)")
    }

    /// A tiny model, its tokenized training split, and a config training it for a few steps.
    static func trainingSetup(_ dir: String) throws -> (args: [String], config: String) {
        let model = try TinyModel.make(in: dir + "/base")
        _ = try TinyModel.dataset(in: dir + "/data", rows: ["train": 32], seed: 5)
        let tokens = dir + "/train.tokens.safetensors"
        let tok = try ToolRunner.run("tokenize", ["--model", model, "--quiet", "-o", tokens, dir + "/data/train.jsonl"])
        #expect(tok.status == 0, "\(tok.stderr)")
        let args = ["--config", "-", "--model-dir", model, "--train-tokens", tokens, "--eval-tokens", "none",
                    "--set", "training.output_dir=\(dir)/out"]
        let config = "model: {name: tiny, max_seq_length: 16}\ntraining: {per_device_train_batch_size: 8, max_steps: 4, eval_steps: 2, save_steps: 2, logging_steps: 1, seed: 3}\n"
        return (args, config)
    }

    @Test func trainPushesTheFinalModelWhenTrainingEnds() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let dir = TestPaths.scratch()
        let (args, config) = try Self.trainingSetup(dir)
        let r = try ToolRunner.run("train", args + ["--set", "training.push_to_hub=true", "--set", "training.hub_model_id=alice/trained",
                                                    "--set", "training.hub_private_repo=true"],
                                   stdin: config, environment: Self.environment(hub, token: "hf_write", dir: dir))
        #expect(r.status == 0, "\(r.stderr.suffix(800))")
        #expect(r.stderr.contains("Push to hub:") && r.stderr.contains("Pushed \(dir)/out to the hub: \(hub.endpoint)/alice/trained/commit/"))
        let remote = try #require(hub.files(.model, "alice/trained"))
        #expect(hub.isPrivate(.model, "alice/trained") == true)
        // The output folder without its checkpoints, byte for byte; the card names the repo.
        let local = FileSystem.listFilesRecursively(dir + "/out").filter { !$0.hasPrefix("checkpoint-") }
        #expect(local.contains("model.safetensors") && local.contains("README.md") && local.contains("1_Pooling/config.json"))
        #expect(FileManager.default.fileExists(atPath: dir + "/out/checkpoint-2/model.safetensors"))
        #expect(Set(remote.keys) == Set(local).union([".gitattributes"]))
        for path in local { #expect(remote[path] == (try HubFetchTests.read(dir + "/out/" + path)), "\(path)") }
        #expect(String(decoding: remote["README.md"]!, as: UTF8.self).contains("SentenceTransformer(\"alice/trained\")"))
        let commit = try HubUploadTests.lines(try #require(hub.hub.requests(matching: "/commit/main").last).body)
        #expect(commit.first?["value"]?["summary"] == "End of training")
        #expect(hub.hub.requests(matching: "/api/whoami-v2").count == 1)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/make"), "needs make"))
    func makePushUploadsTheTrainedModel() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let dir = TestPaths.scratch()
        let (args, config) = try Self.trainingSetup(dir)
        let trained = try ToolRunner.run("train", args + ["--quiet"], stdin: config)
        #expect(trained.status == 0, "\(trained.stderr.suffix(500))")
        try "model: {name: tiny, max_seq_length: 16}\ntraining: {output_dir: \(dir)/out}\n".write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
        func make(_ extra: [String]) throws -> ToolRunner.Result {
            try ToolRunner.run("/usr/bin/make", ["--no-print-directory", "-C", TestPaths.packageRoot, "SKIP_BUILD=1",
                                                 "BIN=\(ToolRunner.productsDirectory!)", "WORKDIR=\(dir)", "CONFIG=\(dir)/config.yaml", "push"] + extra,
                               environment: Self.environment(hub, token: "hf_write", dir: dir))
        }
        let missing = try make([])
        #expect(missing.status != 0 && missing.stdout.contains("make push needs REPO=org/name"), "\(missing.stdout)")
        let pushed = try make(["REPO=alice/made", "PRIVATE=1"])
        #expect(pushed.status == 0, "\(pushed.stdout)\n\(pushed.stderr.suffix(800))")
        let head = try #require(hub.head(.model, "alice/made"))
        #expect(pushed.stdout.contains("\(hub.endpoint)/alice/made/commit/\(head)"))
        #expect(hub.isPrivate(.model, "alice/made") == true)
        let remote = try #require(hub.files(.model, "alice/made"))
        let local = FileSystem.listFilesRecursively(dir + "/out").filter { !$0.hasPrefix("checkpoint-") }
        #expect(Set(remote.keys) == Set(local).union([".gitattributes"]))
        for path in local { #expect(remote[path] == (try HubFetchTests.read(dir + "/out/" + path)), "\(path)") }
        // Pushed again unchanged: nothing is sent, no commit.
        let again = try make(["REPO=alice/made"])
        #expect(again.status == 0 && again.stderr.contains("nothing to commit") && hub.head(.model, "alice/made") == head)
        #expect(hub.hub.requests(matching: "/commit/").count == 1)
    }

    @Test func aFailedPushIsAnErrorAfterTheModelIsSaved() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let dir = TestPaths.scratch()
        let (args, config) = try Self.trainingSetup(dir)
        // The token is fine, but alice may not create repos under bob: the upload fails at the end.
        let r = try ToolRunner.run("train", args + ["--set", "training.push_to_hub=true", "--set", "training.hub_model_id=bob/trained"],
                                   stdin: config, environment: Self.environment(hub, token: "hf_write", dir: dir))
        #expect(r.status == 1)
        #expect(r.stderr.contains("error: the model is saved in \(dir)/out, but the upload to the hub failed: bob/trained: cannot create the repository"),
                "\(r.stderr.suffix(800))")
        #expect(r.stderr.contains("error: send it again with: upload bob/trained \(dir)/out --exclude 'checkpoint-*'"))
        #expect(FileManager.default.fileExists(atPath: dir + "/out/model.safetensors"))
        #expect(FileManager.default.fileExists(atPath: dir + "/out/README.md"))

        // No token, or a read-only one: refused before training starts.
        for (token, text) in [(nil, "there is no Hugging Face token"), ("hf_read", "is read-only"), ("hf_nope", "the hub refuses the token")] {
            let d = TestPaths.scratch()
            let (a, c) = try Self.trainingSetup(d)
            let early = try ToolRunner.run("train", a + ["--set", "training.push_to_hub=true"], stdin: c,
                                           environment: Self.environment(hub, token: token, dir: d))
            #expect(early.status == 1 && early.stderr.contains(text), "\(early.stderr.suffix(500))")
            #expect(!FileManager.default.fileExists(atPath: d + "/out/model.safetensors"))
            #expect(!early.stderr.contains("Training:"))
        }
    }
}
