import ArgumentParser
import EmbedKit

@main
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Not built yet.",
        version: EmbedKitVersion.string
    )

    func run() throws {
        throw EmbedError("tokenize: not implemented yet")
    }
}
