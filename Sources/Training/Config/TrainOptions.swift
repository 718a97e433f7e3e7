import IO
import Inference
import NN

/// What `train` was asked to do: the validated config (file, then `--quick-test`, then `--set`
/// overrides, in that order, so a `--set` can adjust a quick test), where to resume from, and
/// whether only to check. The trainer takes this one value.
package struct TrainOptions: Sendable, Equatable {
    /// Where training restarts from.
    package enum Resume: Sendable, Equatable {
        /// The newest `checkpoint-N` directory in `training.output_dir`.
        case latest
        /// A checkpoint directory.
        case checkpoint(String)
    }

    package var configPath: String
    package var overrides: [String]
    package var quickTest: Bool
    /// The config with everything applied; `training.resumeFromCheckpoint` agrees with `resume`.
    package var config: TrainingConfig
    package var resume: Resume?
    /// `--check`: validate and print the summary, do not train.
    package var checkOnly: Bool

    package static let defaultConfigPath = "configs/training_config.yaml"

    /// The word that, as a checkpoint, means "the newest one in output_dir" (`--resume` with no
    /// value stands for it too). A directory really named so is reached as `./latest`.
    package static let latestKeyword = "latest"

    /// The seed's `--quick-test` (its main.py): 1,000 training triplets, 200 evaluation triplets,
    /// one epoch, evaluation and checkpoints every 50 steps, a log line every 10, so the whole
    /// pipeline runs end to end in minutes. Applied as overrides after the file, before `--set`.
    package static let quickTestOverrides = [
        "dataset.max_train_samples=1000",
        "dataset.max_eval_samples=200",
        "training.num_train_epochs=1",
        "training.eval_steps=50",
        "training.save_steps=50",
        "training.logging_steps=10",
    ]

    package init(configPath: String, overrides: [String], quickTest: Bool, config: TrainingConfig,
                resume: Resume?, checkOnly: Bool) {
        self.configPath = configPath
        self.overrides = overrides
        self.quickTest = quickTest
        self.config = config
        self.resume = resume
        self.checkOnly = checkOnly
    }

    /// Loads and validates the config and combines it with the command line. `resume` is the
    /// `--resume` value (`latest` for the bare flag); it wins over the file's resume_from_checkpoint.
    package static func resolve(configPath: String = defaultConfigPath, overrides: [String] = [],
                               quickTest: Bool = false, resume: String? = nil, checkOnly: Bool = false) throws -> TrainOptions {
        let bytes = try ByteReader(path: configPath).readAll()
        return try resolve(configText: bytes, configPath: configPath, overrides: overrides, quickTest: quickTest,
                           resume: resume, checkOnly: checkOnly)
    }

    /// As `resolve`, with the config's bytes already read.
    package static func resolve(configText: [UInt8], configPath: String, overrides: [String] = [],
                               quickTest: Bool = false, resume: String? = nil, checkOnly: Bool = false) throws -> TrainOptions {
        var all: [ConfigOverride] = []
        if quickTest { all += quickTestOverrides.map { ConfigOverride(assignment: $0, origin: "--quick-test (\($0))") } }
        all += overrides.map { ConfigOverride(assignment: $0) }
        var config = try TrainingConfig.parse(bytes: configText, path: configPath, overrides: all)
        if let resume {
            guard !resume.isEmpty else { throw EmbedError("--resume: the checkpoint path is empty") }
            config.training.resumeFromCheckpoint = resume
        }
        let point: Resume? = config.training.resumeFromCheckpoint.map {
            $0 == latestKeyword ? .latest : .checkpoint($0)
        }
        return TrainOptions(configPath: configPath, overrides: overrides, quickTest: quickTest, config: config,
                            resume: point, checkOnly: checkOnly)
    }

    /// Gives a bare `--resume` (last, or followed by another option) the value `latest`, because
    /// an option with an optional value is not something swift-argument-parser can declare.
    package static func normalizeArguments(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            out.append(a)
            if a == "--" {
                out += arguments[(i + 1)...]
                break
            }
            if a == "--resume" {
                let next = i + 1 < arguments.count ? arguments[i + 1] : "-"
                if next.hasPrefix("-") { out.append(latestKeyword) }
            }
            i += 1
        }
        return out
    }

    /// The config summary plus what the command line added.
    package func summary() -> String {
        var lines: [(label: String, text: String)] = [("Config", configPath)]
        if quickTest { lines.append(("Quick test", TrainOptions.quickTestOverrides.joined(separator: ", "))) }
        if !overrides.isEmpty { lines.append(("Overrides", overrides.joined(separator: ", "))) }
        return TrainingConfig.formatSummary(lines + config.summaryLines())
    }
}
