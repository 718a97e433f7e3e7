import ArgumentParser
import CLI
import Foundation
import IO
import Training

@main
struct Train: Tool {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a sentence-embedding model on (anchor, positive, negative) triplets.",
        discussion: """
            Reads the training configuration (YAML; see configs/training_config.yaml, where every key \
            is documented), applies the command line's changes, validates everything, and trains.

            Order of precedence: the file, then --quick-test, then each --set in order (a later one \
            wins). A --set value is read as YAML: 1e-5 is a number, null is null, 'text' is a string.

            Errors name the file, line and column (or the --set) at fault, suggest the closest valid \
            key for a misspelt one, and exit with status 1.

            Examples:
              train --check
                  Validate configs/training_config.yaml, print its key parameters.
              train --config configs/my_run.yaml
                  Train with another config file.
              train --set training.learning_rate=1e-5 --set training.seed=7
                  Change parameters for one run without editing the file.
              train --quick-test
                  The seed project's quick test: 1,000 training and 200 evaluation
                  triplets, one epoch, evaluation and checkpoints every 50 steps.
              train --resume
                  Continue from the newest checkpoint-N in training.output_dir.
              train --resume models/norbert3-base-nli-norwegian/checkpoint-1500
                  Continue from a given checkpoint.
              cat my.yaml | train --config - --check
                  Read the config from standard input.
              train --print-make-vars
                  The paths every stage uses for this config (the Makefile reads them).
              HF_TOKEN=hf_… train --set training.push_to_hub=true --set training.hub_model_id=my-org/my-model
                  Train, then upload the final model to the Hugging Face hub (see `upload`).

            Inputs (made by fetch-data and tokenize; see the Makefile): the base model in \
            models/base/<model>/ and the tokenized splits in data/<dataset>/<model>/. Outputs in \
            training.output_dir: checkpoint-N/ folders, the final model (loadable with \
            SentenceTransformer(output_dir)), logs/metrics.jsonl and TensorBoard event files in \
            logging_dir. Ctrl-C or SIGTERM finishes the current step, writes a checkpoint and exits \
            with status 130 or 143; --resume continues exactly where it stopped.
            """,
        version: EmbedKitVersion.string
    )

    @Option(name: .long, help: ArgumentHelp("The training configuration (YAML), or - for standard input.", valueName: "file"))
    var config: String = TrainOptions.defaultConfigPath

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override one config value, as section.key=value (e.g. training.learning_rate=1e-5). Repeatable.",
        valueName: "key=value"))
    var overrides: [String] = []

    @Flag(name: .customLong("quick-test"), help: "Run the seed's quick test: 1,000 training samples, 200 evaluation samples, eval/save every 50 steps.")
    var quickTest = false

    @Option(name: .long, help: ArgumentHelp(
        "Resume from a checkpoint directory; without a value (or with 'latest'), from the newest checkpoint-N in training.output_dir.",
        valueName: "checkpoint"))
    var resume: String?

    @Flag(name: .long, help: "Only validate the configuration and print its key parameters, then exit.")
    var check = false

    @Option(name: .customLong("model-dir"), help: ArgumentHelp(
        "The base model folder (default: models/base/<model>, where fetch-data puts model.name).", valueName: "dir"))
    var modelDir: String?

    @Option(name: .customLong("train-tokens"), help: ArgumentHelp(
        "The tokenized training split (default: data/<dataset>/<model>/<train_split>.tokens.safetensors).", valueName: "file"))
    var trainTokens: String?

    @Option(name: .customLong("eval-tokens"), help: ArgumentHelp(
        "The tokenized evaluation split (default: data/<dataset>/<model>/<eval_split>.tokens.safetensors, if it exists; 'none' to skip evaluation).",
        valueName: "file"))
    var evalTokens: String?

    @Option(name: .long, help: ArgumentHelp("Where models/ and data/ are (the Makefile's WORKDIR).", valueName: "dir"))
    var root = "."

    @Option(name: .customLong("stop-after"), help: ArgumentHelp(
        "Stop after this many optimizer steps in all (with a checkpoint), to continue later with --resume.", valueName: "steps"))
    var stopAfter: Int?

    @Flag(name: .customLong("print-make-vars"), help: "Print the pipeline's paths for this config as Makefile variables, then exit.")
    var printMakeVars = false

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var log: LogOptions

    /// Gives a bare `--resume` its implicit value before swift-argument-parser sees the arguments.
    static func main() {
        main(TrainOptions.normalizeArguments(Array(CommandLine.arguments.dropFirst())))
    }

    func execute() throws {
        threads.apply()
        log.apply()
        let options = try TrainOptions.resolve(configPath: config, overrides: overrides, quickTest: quickTest,
                                               resume: resume, checkOnly: check)
        if options.checkOnly {
            print(options.summary())
            return
        }
        let paths = PipelinePaths(config: options.config, root: root)
        if printMakeVars {
            print(paths.makeVariables(config: options.config), terminator: "")
            return
        }
        IO.log(options.summary())
        let push = options.config.training.pushToHub ? try PushToHub(training: options.config.training, quiet: log.quiet) : nil
        let result = try train(options, paths: paths)
        if result.interrupted && Trainer.stopRequest.isSet {
            throw ExitCode(Trainer.stopRequest.signalName == "SIGTERM" ? 143 : 130)
        }
        if let push, !result.interrupted { try push.run() }
    }

    func train(_ options: TrainOptions, paths: PipelinePaths) throws -> TrainingResult {
        let d = options.config.dataset
        let trainPath = trainTokens ?? paths.tokens(d.trainSplit)
        let train = try TokenizedFile(path: trainPath)
        var eval: TokenizedFile? = nil
        var evalPath: String? = nil
        switch evalTokens {
        case "none": break
        case .some(let p): evalPath = p
        case nil:
            let p = paths.tokens(d.evalSplit)
            if FileManager.default.fileExists(atPath: p) { evalPath = p } else { IO.log("No \(p): training without evaluation") }
        }
        if let evalPath { eval = try TokenizedFile(path: evalPath) }
        let inputs = TrainingInputs(modelDirectory: modelDir ?? paths.modelDirectory, train: train, trainSource: trainPath,
                                    eval: eval, evalSource: evalPath)
        let trainer = try Trainer(options: options, inputs: inputs)
        trainer.stopAfterStep = stopAfter
        Trainer.stopRequest.installHandlers()
        return try trainer.run()
    }
}
