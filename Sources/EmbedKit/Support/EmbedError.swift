/// The one error type the tools show to users: a message that already names the file, line or key
/// at fault. Executables print it as `error: <message>` and exit non-zero.
public struct EmbedError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }

    /// Prefixes the message with where it happened, e.g. `data/train.jsonl.zst:12: ...`.
    public func at(_ location: String) -> EmbedError { EmbedError("\(location): \(message)") }
}
