import ArgumentParser
import IO

/// A command-line tool (or subcommand) of this package. It implements `execute()`; `run()` is the
/// one error path every tool shares: an `EmbedError` (whose message already names the file, line or
/// key at fault) prints as `error: …` — one line per problem — and exits with status 1; an
/// `ExitCode` the tool chose (e.g. 130 after Ctrl-C) and argument errors pass through unchanged.
package protocol Tool: ParsableCommand {
    func execute() throws
}

extension Tool {
    package func run() throws {
        try reportingErrors { try execute() }
    }
}

/// Runs `body`, turning errors into `error: …` on stderr and an exit status (see `Tool`).
package func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as EmbedError {
        printError(error.message)
        throw ExitCode.failure
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch {
        printError("\(error)")
        throw ExitCode.failure
    }
}

/// `error: <line>` on stderr for each line of the message (a config can have several problems).
package func printError(_ message: String) {
    for line in message.split(separator: "\n", omittingEmptySubsequences: false) {
        writeStderr("error: \(line)\n")
    }
}

/// A `Tool` whose work is asynchronous (a server): `execute()` is `async`, errors take the same path.
package protocol AsyncTool: AsyncParsableCommand {
    func execute() async throws
}

extension AsyncTool {
    package func run() async throws {
        do {
            try await execute()
        } catch {
            try reportingErrors { throw error }
        }
    }
}
