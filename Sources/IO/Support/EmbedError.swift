/// The one error type the tools show to users: a message that already names the file, line or key
/// at fault. Executables print it as `error: <message>` and exit non-zero.
package struct EmbedError: Error, CustomStringConvertible, Sendable, Equatable {
    package let message: String

    package init(_ message: String) { self.message = message }

    package var description: String { message }

    /// Prefixes the message with where it happened, e.g. `data/train.jsonl.zst:12: ...`.
    package func at(_ location: String) -> EmbedError { EmbedError("\(location): \(message)") }
}
