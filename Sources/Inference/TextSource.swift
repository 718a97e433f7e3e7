import IO
import NN
import Tokenizers

/// Texts read in chunks from plain lines or a JSON Lines field, with errors naming file and line.
package final class TextSource {
    private enum Reader {
        case lines(LineReader)
        case jsonl(JSONLReader, field: String)
    }

    private let reader: Reader
    package let path: String
    /// The line number of each text the last `next` returned (blank JSONL lines are skipped).
    package private(set) var lineNumbers: [Int] = []

    /// `field` nil reads each line as one text; otherwise each line is a JSON object and the text is
    /// its `field`.
    package init(path: String, field: String?) throws {
        self.path = path
        reader = try field.map { .jsonl(try JSONLReader(path: path), field: $0) } ?? .lines(try LineReader(path: path))
    }

    /// Up to `maxCount` texts; nil at the end.
    package func next(maxCount: Int) throws -> [String]? {
        var out: [String] = []
        lineNumbers.removeAll(keepingCapacity: true)
        switch reader {
        case .lines(let lines):
            while out.count < maxCount, let line = try lines.next() {
                guard let text = String(validating: line, as: UTF8.self) else {
                    throw EmbedError("\(path):\(lines.lineNumber): invalid UTF-8")
                }
                out.append(text)
                lineNumbers.append(lines.lineNumber)
            }
        case .jsonl(let rows, let field):
            while out.count < maxCount, let row = try rows.next() {
                guard let text = row[field]?.string else {
                    throw EmbedError("\(path):\(rows.lineNumber): no string field '\(field)'")
                }
                out.append(text)
                lineNumbers.append(rows.lineNumber)
            }
        }
        return out.isEmpty ? nil : out
    }
}
