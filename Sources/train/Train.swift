import ArgumentParser
import CLI
import Foundation
import IO
import Training

@main
struct Train: Tool {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a sentence-embedding model on triplets (and on scored pairs, with datasets: and cosent).",
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
              train --set training.loss=cached_mnrl --set training.per_device_train_batch_size=256
                  A batch of 256 triplets in the memory of mini-batches of 32 (GradCache).
              train --set 'training.matryoshka_dims=[768, 256, 64]'
                  Matryoshka embeddings: the vectors cut to 256 or 64 dimensions work too.
              cat my.yaml | train --config - --check
                  Read the config from standard input.
              train --print-make-vars
                  The paths every stage uses for this config (the Makefile reads them).

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
        "The tokenized training split (default: data/<dataset>/<model>/<train_split>.tokens.safetensors); with a datasets: list, once per dataset, in order.",
        valueName: "file"))
    var trainTokens: [String] = []

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
        let result = try train(options, paths: paths)
        if result.interrupted && Trainer.stopRequest.isSet {
            throw ExitCode(Trainer.stopRequest.signalName == "SIGTERM" ? 143 : 130)
        }
    }

    func train(_ options: TrainOptions, paths: PipelinePaths) throws -> TrainingResult {
        let d = options.config.dataset, datasets = options.config.trainDatasets
        guard trainTokens.isEmpty || trainTokens.count == datasets.count else {
            throw ValidationError("--train-tokens: \(datasets.count) training dataset\(datasets.count == 1 ? "" : "s") need \(datasets.count) tokens files, got \(trainTokens.count)")
        }
        let trainPaths = trainTokens.isEmpty
            ? [paths.tokens(d.trainSplit)] + datasets.dropFirst().map { paths.tokens(of: $0, $0.trainSplit) } : trainTokens
        let train = try TokenizedFile(path: trainPaths[0])
        let otherTrain = try trainPaths.dropFirst().map { (table: try TokenizedFile(path: $0) as any TokenTable, source: $0) }
        var eval: TokenizedFile? = nil
        var evalPath: String? = nil
        switch evalTokens {
        case "none": break
        case .some(let p): evalPath = p
        case nil:
            let p = paths.tokens(d.evalSplit)
            if !d.isTriplets {
                IO.log("Training without evaluation (it needs (anchor, positive, negative) triplets as the first dataset)")
            } else if FileManager.default.fileExists(atPath: p) { evalPath = p } else { IO.log("No \(p): training without evaluation") }
        }
        if let evalPath { eval = try TokenizedFile(path: evalPath) }
        let inputs = TrainingInputs(modelDirectory: modelDir ?? paths.modelDirectory, train: train, trainSource: trainPaths[0],
                                    eval: eval, evalSource: evalPath, otherTrain: otherTrain)
        let trainer = try Trainer(options: options, inputs: inputs)
        trainer.stopAfterStep = stopAfter
        Trainer.stopRequest.installHandlers()
        return try trainer.run()
    }
}
