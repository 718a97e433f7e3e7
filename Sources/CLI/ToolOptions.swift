import ArgumentParser
import IO

// The options the tools share, declared once so that the same flag means the same thing in every
// tool: `--model`, `--max-seq-length`, `--batch-size`, `--threads`, `--quiet`. Each tool also takes
// its main input as a positional argument (`-` for stdin) and its main output as `-o/--output`.

/// The model a tool runs, and where it truncates texts.
package struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The model folder (sentence-transformers or Hugging Face layout).", valueName: "dir"))
    package var model: String

    @Option(name: .customLong("max-seq-length"), help: ArgumentHelp(
        "Truncate texts at this many tokens, special tokens included (default: the model's max_seq_length).", valueName: "n"))
    package var maxSeqLength: Int?

    package init() {}

    package func validate() throws {
        if let maxSeqLength, maxSeqLength < 1 { throw ValidationError("--max-seq-length must be positive") }
    }
}

/// How many texts go through the model at once.
package struct BatchOptions: ParsableArguments {
    @Option(name: .customLong("batch-size"), help: ArgumentHelp("Texts per forward pass.", valueName: "n"))
    package var batchSize = 32

    package init() {}

    package func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }
}

/// The precision of the model's matrix products.
package struct PrecisionOptions: ParsableArguments {
    @Flag(name: .long, help: ArgumentHelp(
        "bf16 matrix products (fp32 sums) on CPUs with AVX512-BF16: faster, vectors within a cosine of 0.999 of fp32's; elsewhere fp32, with a note."))
    package var bf16 = false

    package init() {}
}

/// How many cores the tool uses.
package struct ThreadOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Worker threads (default: the CPUs this process may run on, or EMBEDKIT_THREADS).", valueName: "n"))
    package var threads: Int?

    package init() {}

    package func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// Sets the worker count for the whole process; call before any parallel work.
    package func apply() {
        if let threads { Parallel.setWorkers(threads) }
    }
}

/// What the tool says on stderr.
package struct LogOptions: ParsableArguments {
    @Flag(name: .long, help: "Nothing on stderr but errors: no progress, no log lines, no summary.")
    package var quiet = false

    package init() {}

    /// Silences progress bars and log lines for the whole process (errors still print).
    package func apply() {
        if quiet { Log.quiet = true }
    }
}
