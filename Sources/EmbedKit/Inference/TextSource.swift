/// Texts read in chunks from plain lines or a JSON Lines field, with errors naming file and line.
public final class TextSource {
    private let lines: LineReader
    private let field: String?
    public var path: String { lines.path }

    /// `field` nil reads each line as one text; otherwise each line is a JSON object and the text is
    /// its `field`.
    public init(path: String, field: String?) throws {
        lines = try LineReader(path: path)
        self.field = field
    }

    /// Up to `maxCount` texts; nil at the end.
    public func next(maxCount: Int) throws -> [String]? {
        var out: [String] = []
        while out.count < maxCount, let line = try lines.next() {
            if let field {
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                let value: JSON
                do {
                    value = try JSON.parse(UnsafeRawBufferPointer(line))
                } catch {
                    throw EmbedError("\(path):\(lines.lineNumber):\(error.column): \(error.message)")
                }
                guard let text = value[field]?.string else {
                    throw EmbedError("\(path):\(lines.lineNumber): no string field '\(field)'")
                }
                out.append(text)
            } else {
                guard let text = String(validating: line, as: UTF8.self) else {
                    throw EmbedError("\(path):\(lines.lineNumber): invalid UTF-8")
                }
                out.append(text)
            }
        }
        return out.isEmpty ? nil : out
    }
}
