import ArgumentParser
import EmbedKit

@main
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Not built yet.",
        version: EmbedKitVersion.string
    )

    func run() throws {
        throw EmbedError("train: not implemented yet")
    }
}
