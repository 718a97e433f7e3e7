import Foundation
import IO
import Inference
import NN
import TestSupport
import Testing
import Training

/// `train`'s command line: the options the trainer receives, and the built binary's exit statuses.
@Suite struct TrainOptionsTests {
    static func resolve(_ yaml: String = "{}", overrides: [String] = [], quickTest: Bool = false,
                        resume: String? = nil) throws -> TrainOptions {
        try TrainOptions.resolve(configText: Array(yaml.utf8), configPath: "c.yaml", overrides: overrides,
                                 quickTest: quickTest, resume: resume)
    }

    @Test func bareResumeGetsTheLatestKeyword() {
        #expect(TrainOptions.normalizeArguments(["--resume"]) == ["--resume", "latest"])
        #expect(TrainOptions.normalizeArguments(["--resume", "--check"]) == ["--resume", "latest", "--check"])
        #expect(TrainOptions.normalizeArguments(["--resume", "ck/checkpoint-5", "--check"]) == ["--resume", "ck/checkpoint-5", "--check"])
        #expect(TrainOptions.normalizeArguments(["--resume=ck"]) == ["--resume=ck"])
        #expect(TrainOptions.normalizeArguments(["--check"]) == ["--check"])
        #expect(TrainOptions.normalizeArguments(["--", "--resume"]) == ["--", "--resume"])
    }

    /// The seed's main.py --quick-test: 1000 train, 200 eval samples, 1 epoch, eval/save every 50, log every 10.
    @Test func quickTestMirrorsTheSeed() throws {
        let o = try Self.resolve(quickTest: true)
        let c = o.config
        #expect(c.dataset.maxTrainSamples == 1000 && c.dataset.maxEvalSamples == 200)
        #expect(c.training.numTrainEpochs == 1)
        #expect(c.training.evalSteps == 50 && c.training.saveSteps == 50 && c.training.loggingSteps == 10)
        #expect(o.quickTest)
        // Everything else stays as the file says.
        var expected = TrainingConfig.defaults
        expected.dataset.maxTrainSamples = 1000
        expected.dataset.maxEvalSamples = 200
        expected.training.evalSteps = 50
        expected.training.saveSteps = 50
        expected.training.loggingSteps = 10
        #expect(c == expected)
    }

    @Test func setComesAfterQuickTest() throws {
        let o = try Self.resolve("training: {num_train_epochs: 3}", overrides: ["dataset.max_train_samples=500"], quickTest: true)
        #expect(o.config.dataset.maxTrainSamples == 500)
        #expect(o.config.training.numTrainEpochs == 1)
        let bad = #expect(throws: EmbedError.self) {
            try Self.resolve(overrides: ["training.eval_steps=30"], quickTest: true)
        }
        #expect(bad?.message == "--set training.eval_steps=30: training.save_steps (50) must be a multiple of training.eval_steps (30) when load_best_model_at_end is true, so that the best evaluation has a checkpoint")
    }

    @Test func resumeFromCommandLineOrFile() throws {
        #expect(try Self.resolve().resume == nil)
        #expect(try Self.resolve(resume: "latest").resume == .latest)
        let fromFlag = try Self.resolve("training: {resume_from_checkpoint: a/checkpoint-1}", resume: "b/checkpoint-2")
        #expect(fromFlag.resume == .checkpoint("b/checkpoint-2"))
        #expect(fromFlag.config.training.resumeFromCheckpoint == "b/checkpoint-2")
        #expect(try Self.resolve("training: {resume_from_checkpoint: a/checkpoint-1}").resume == .checkpoint("a/checkpoint-1"))
        #expect(try Self.resolve("training: {resume_from_checkpoint: latest}").resume == .latest)
        #expect(throws: EmbedError.self) { try Self.resolve(resume: "") }
    }

    @Test func summaryAddsTheCommandLine() throws {
        let s = try Self.resolve(overrides: ["training.seed=9"], quickTest: true, resume: "latest").summary()
        #expect(s.contains("Config:"))
        #expect(s.contains("c.yaml"))
        #expect(s.contains("Quick test:"))
        #expect(s.contains("Overrides:"))
        #expect(s.contains("training.seed=9"))
        #expect(s.contains("the newest checkpoint in models/norbert3-base-nli-norwegian"))
    }

    @Test func resolveReadsTheFile() throws {
        let o = try TrainOptions.resolve(configPath: TrainingConfigTests.configPath, checkOnly: true)
        #expect(o.config == .defaults && o.checkOnly)
    }
}

/// Runs the built `train` executable: errors must reach the user as a message and a non-zero exit.
@Suite struct TrainBinaryTests {
    typealias Result = ToolRunner.Result

    static func run(_ arguments: [String], stdin: String? = nil) throws -> Result {
        try ToolRunner.run("train", arguments, stdin: stdin)
    }

    static let binary = ToolRunner.path("train")
    static let found = binary != nil

    @Test(.enabled(if: found, "the train binary was not found beside the test bundle (build it with swift build)"))
    func unknownKeyExitsNonZeroWithTheMessage() throws {
        let dir = TestPaths.scratch()
        let path = dir + "/bad.yaml"
        try "training:\n  lerning_rate: 1e-5\n".write(toFile: path, atomically: true, encoding: .utf8)
        let r = try Self.run(["--config", path, "--check"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("error: \(path):2:3: unknown key 'training.lerning_rate' (did you mean 'learning_rate'?)"))
        #expect(r.stdout.isEmpty)
    }

    @Test(.enabled(if: found, "the train binary was not found beside the test bundle (build it with swift build)"))
    func wrongTypeFromStdinExitsNonZero() throws {
        let r = try Self.run(["--config", "-", "--check"], stdin: "training:\n  per_device_train_batch_size: many\n")
        #expect(r.status == 1)
        #expect(r.stderr.contains("error: -:2:32: training.per_device_train_batch_size must be an integer, not the string 'many'"))
    }

    @Test(.enabled(if: found, "the train binary was not found beside the test bundle (build it with swift build)"))
    func checkPrintsTheSummaryAndSucceeds() throws {
        let r = try Self.run(["--check", "--set", "training.seed=5"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("ltg/norbert3-base"))
        #expect(r.stdout.contains("Seed:"))
        #expect(r.stdout.contains(" 5\n"))
        let stdin = try Self.run(["--config", "-", "--check"], stdin: "model: {name: from/stdin}\n")
        #expect(stdin.status == 0 && stdin.stdout.contains("from/stdin"))
    }

    @Test(.enabled(if: found, "the train binary was not found beside the test bundle (build it with swift build)"))
    func trainingWithoutItsInputsNamesTheMissingFile() throws {
        // A valid config but no tokenized data under --root: a clear error naming the file, a
        // failure status, and nothing written to the output directory.
        let root = TestPaths.scratch()
        let out = root + "/model"
        let r = try Self.run(["--quick-test", "--root", root, "--set", "training.output_dir=\(out)"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("error: \(root)/data/all-nli-norwegian/norbert3-base/train.tokens.safetensors: cannot open"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test(.enabled(if: found, "the train binary was not found beside the test bundle (build it with swift build)"))
    func bareResumeMeansTheNewestCheckpoint() throws {
        let r = try Self.run(["--resume", "--check"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Resume from:"))
        #expect(r.stdout.contains("the newest checkpoint in models/norbert3-base-nli-norwegian"))
        let given = try Self.run(["--check", "--resume", "somewhere/checkpoint-5"])
        #expect(given.status == 0 && given.stdout.contains("somewhere/checkpoint-5"))
    }

    @Test(.enabled(if: found, "the train binary was not found beside the test bundle (build it with swift build)"))
    func helpHasExamplesAndVersionAnswers() throws {
        let help = try Self.run(["--help"])
        #expect(help.status == 0)
        for piece in ["--config", "--set", "--quick-test", "--resume", "--check", "Examples:", "train --check"] {
            #expect(help.stdout.contains(piece), "help lacks \(piece)")
        }
        let version = try Self.run(["--version"])
        #expect(version.status == 0 && version.stdout.contains(EmbedKitVersion.string))
        let bad = try Self.run(["--set"])
        #expect(bad.status != 0)
    }
}
