import ArgumentParser
import CLI
import DataParallel
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
              HF_TOKEN=hf_… train --set training.push_to_hub=true --set training.hub_model_id=my-org/my-model
                  Train, then upload the final model to the Hugging Face hub (see `upload`).
              mpirun -np 4 --hostfile hosts --map-by ppr:1:node --bind-to none train --config my_run.yaml
                  Data-parallel training with 4 MPI ranks, one per machine: the global batch
                  is 4 × per_device_train_batch_size, and the result that of one process with
                  that batch (README: "Training on several machines"; make train NP=4).
              train --model-card
                  Rewrite the trained model's card and curves, adding evaluate's results.

            Inputs (made by fetch-data and tokenize; see the Makefile): the base model in \
            models/base/<model>/ and the tokenized splits in data/<dataset>/<model>/. Outputs in \
            training.output_dir: checkpoint-N/ folders, the final model (loadable with \
            SentenceTransformer(output_dir)) with its model card README.md, training_curves.svg \
            (redrawn at every evaluation), logs/metrics.jsonl and TensorBoard event files in \
            logging_dir. Ctrl-C, SIGTERM or SIGUSR1 finishes the current step, writes a checkpoint and \
            exits with status 128 + the signal (130, 143, 138); --resume continues exactly where it \
            stopped. Under mpirun, rank 0 alone writes; SIGUSR1 to mpirun (forwarded to every rank) \
            stops all ranks after the same step, as does Ctrl-C when mpirun runs with \
            --mca odls_base_sigkill_timeout 30.
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
        "The tokenized training split (default: data/<dataset>/<model>/<train_split>.tokens.safetensors; <train_split>-mined with mining.enabled); with a datasets: list, once per dataset, in order.",
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

    @Flag(name: .customLong("model-card"), help: ArgumentHelp(
        "Rewrite the model card (README.md) and training_curves.svg of the model in training.output_dir from the files the run left, adding evaluate's results in output_dir/eval/ when they are newer than the model; then exit (make evaluate runs this)."))
    var modelCard = false

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var log: LogOptions

    /// Gives a bare `--resume` its implicit value before swift-argument-parser sees the arguments.
    static func main() {
        main(TrainOptions.normalizeArguments(Array(CommandLine.arguments.dropFirst())))
    }

    func execute() throws {
        do {
            try trainAsThisRank()
        } catch let e as EmbedError where (Launch.rankFromEnvironment() ?? 0) > 0 {
            // Every rank reports its own errors (its machine may lack a file); say which one.
            throw EmbedError("rank \(Launch.rankFromEnvironment()!) on \(ProcessInfo.processInfo.hostName): \(e.message)")
        } catch is RankZeroFailed {
            throw ExitCode.failure  // rank 0 reports the error
        }
    }

    func trainAsThisRank() throws {
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
        if modelCard {
            let d = options.config.dataset
            let evalPath = evalTokens == "none" ? nil : (evalTokens ?? paths.tokens(d.evalSplit))
            let card = try ModelCard.refresh(config: options.config, trainTokens: trainTokens.first ?? paths.tokens(paths.trainingSplit),
                                             evalTokens: evalPath)
            IO.log("Wrote the model card \(card)")
            return
        }
        let communicator = try Launch.communicator()
        if communicator.rank > 0 { Log.quiet = true }  // rank 0 speaks for the job
        IO.log(options.summary())
        if let mpi = communicator as? MPICommunicator { IO.log(Launch.startupNotes(mpi)) }
        // Only rank 0 uploads; its token is checked before training, not after hours of it.
        let push = options.config.training.pushToHub && communicator.rank == 0
            ? try PushToHub(training: options.config.training, quiet: log.quiet) : nil
        let result = try train(options, paths: paths, communicator: communicator)
        // Every rank gets here after the same step: end MPI cleanly, then report a stop by signal.
        communicator.finish()
        if result.interrupted, let signal = result.stopSignal { throw ExitCode(128 + signal) }
        if let push, !result.interrupted { try push.run() }
    }

    func train(_ options: TrainOptions, paths: PipelinePaths, communicator: any Communicator) throws -> TrainingResult {
        let d = options.config.dataset, datasets = options.config.trainDatasets
        guard trainTokens.isEmpty || trainTokens.count == datasets.count else {
            throw ValidationError("--train-tokens: \(datasets.count) training dataset\(datasets.count == 1 ? "" : "s") need \(datasets.count) tokens files, got \(trainTokens.count)")
        }
        let trainPaths = trainTokens.isEmpty
            ? [paths.tokens(paths.trainingSplit)] + datasets.dropFirst().map { paths.tokens(of: $0, $0.trainSplit) } : trainTokens
        let train = try TokenizedFile(path: trainPaths[0])
        let otherTrain = try trainPaths.dropFirst().map { (table: try TokenizedFile(path: $0) as any TokenTable, source: $0) }
        var eval: TokenizedFile? = nil
        var evalPath: String? = nil
        switch evalTokens {
        case "none": break
        case .some(let p): evalPath = p
        case nil:
            let p = paths.tokens(d.evalSplit)
            if options.config.training.evalTask == .triplet ? !d.isTriplets : d.scoreColumn != nil {
                IO.log("Training without evaluation (it needs (anchor, positive, negative) triplets, or pairs for eval_task retrieval, as the first dataset)")
            } else if FileManager.default.fileExists(atPath: p) { evalPath = p } else { IO.log("No \(p): training without evaluation") }
        }
        if let evalPath { eval = try TokenizedFile(path: evalPath) }
        let inputs = TrainingInputs(modelDirectory: modelDir ?? paths.modelDirectory, train: train, trainSource: trainPaths[0],
                                    eval: eval, evalSource: evalPath, trainText: train.textSource, evalText: eval?.textSource,
                                    otherTrain: otherTrain)
        let trainer = try Trainer(options: options, inputs: inputs, communicator: communicator)
        trainer.stopAfterStep = stopAfter
        Trainer.stopRequest.installHandlers()
        return try trainer.run()
    }
}
