import ArgumentParser
import EmbedKit

@main
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Not built yet.",
        version: EmbedKitVersion.string
    )

    func run() throws {
        throw EmbedError("evaluate: not implemented yet")
    }
}
