import ArgumentParser
import EmbedKit

@main
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Not built yet.",
        version: EmbedKitVersion.string
    )

    func run() throws {
        throw EmbedError("embed: not implemented yet")
    }
}
