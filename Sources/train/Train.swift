import ArgumentParser
import EmbedKit

@main
struct Train: ParsableCommand {
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

    /// Gives a bare `--resume` its implicit value before swift-argument-parser sees the arguments.
    static func main() {
        main(TrainOptions.normalizeArguments(Array(CommandLine.arguments.dropFirst())))
    }

    func run() throws {
        let options: TrainOptions
        do {
            options = try TrainOptions.resolve(configPath: config, overrides: overrides, quickTest: quickTest,
                                               resume: resume, checkOnly: check)
        } catch let error as EmbedError {
            // One line per problem (a config can have several), each marked as an error.
            for line in error.message.split(separator: "\n") { writeStderr("error: \(line)\n") }
            throw ExitCode.failure
        }
        if options.checkOnly {
            print(options.summary())
            return
        }
        writeStderr(options.summary() + "\n")
        writeStderr("error: training is not implemented yet: the configuration above is valid, but this build has no trainer (use --check to only validate)\n")
        throw ExitCode.failure
    }
}
