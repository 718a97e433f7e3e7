import ArgumentParser
import EmbedKit

@main
struct FetchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch-data",
        abstract: "Not built yet.",
        version: EmbedKitVersion.string
    )

    func run() throws {
        throw EmbedError("fetch-data: not implemented yet")
    }
}
