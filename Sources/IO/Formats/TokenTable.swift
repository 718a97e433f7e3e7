/// Rows of tokenized text columns, as the trainer and evaluator read them: the `tokenize` stage's
/// safetensors file (TokenizedFile), or an in-memory table in tests.
package protocol TokenTable: AnyObject {
    var rows: Int { get }
    var columns: [String] { get }
    /// Row `row` of `column`: token ids with special tokens, valid while the table lives.
    func ids(column: String, row: Int) -> UnsafeBufferPointer<Int32>
    /// A numeric column's values (e.g. a pair's gold score), one per row; nil when there is none.
    func scores(column: String) -> [Float]?
}

/// A TokenTable held in memory.
package final class InMemoryTokenTable: TokenTable {
    package let columns: [String]
    package let rows: Int
    private let storage: [String: (ids: UnsafeMutablePointer<Int32>, offsets: [Int])]
    private let scoreColumns: [String: [Float]]

    /// `data[column][row]` are the ids; `scores[column]` a numeric column's values.
    package init(_ data: [(column: String, rows: [[Int32]])], scores: [String: [Float]] = [:]) {
        columns = data.map(\.column)
        scoreColumns = scores
        rows = data.first?.rows.count ?? 0
        var s: [String: (ids: UnsafeMutablePointer<Int32>, offsets: [Int])] = [:]
        for (c, r) in data {
            precondition(r.count == rows, "every column needs the same number of rows")
            let flat = r.flatMap { $0 }
            let p = UnsafeMutablePointer<Int32>.allocate(capacity: max(flat.count, 1))
            p.initialize(from: flat, count: flat.count)
            var offsets = [0]
            for x in r { offsets.append(offsets.last! + x.count) }
            s[c] = (p, offsets)
        }
        storage = s
        precondition(scores.values.allSatisfy { $0.count == rows }, "one score per row")
    }

    package func scores(column: String) -> [Float]? { scoreColumns[column] }

    deinit { for (_, v) in storage { v.ids.deallocate() } }

    package func ids(column: String, row: Int) -> UnsafeBufferPointer<Int32> {
        let s = storage[column]!
        return UnsafeBufferPointer(start: s.ids + s.offsets[row], count: s.offsets[row + 1] - s.offsets[row])
    }
}

extension TokenTable {
    /// Fails unless every sequence of the first `rows` rows fits the model: no longer than
    /// `maxLength` (else the tokens were made for a longer limit) and every id inside the vocabulary
    /// (else they were made with another model's tokenizer — and would read outside the embeddings).
    package func validate(columns: [String], rows n: Int, maxLength: Int, vocabularySize: Int, source: String) throws {
        for c in columns {
            for r in 0..<n {
                let s = ids(column: c, row: r)
                if s.count > maxLength {
                    throw EmbedError("\(source): row \(r + 1) of '\(c)' has \(s.count) tokens, more than the model's \(maxLength); tokenize again with --max-seq-length \(maxLength)")
                }
                if s.isEmpty { throw EmbedError("\(source): row \(r + 1) of '\(c)' has no tokens") }
                if let bad = s.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
                    throw EmbedError("\(source): row \(r + 1) of '\(c)' has token id \(bad), outside the model's vocabulary of \(vocabularySize): tokenized for another model?")
                }
            }
        }
    }

    /// Fails with a message naming `source` unless every column exists.
    package func require(columns needed: [String], source: String) throws {
        for c in needed where !columns.contains(c) {
            throw EmbedError("\(source): no column '\(c)' (it has \(columns.joined(separator: ", ")))")
        }
    }
}

/// The `tokenize` stage's output is the trainer's input.
extension TokenizedFile: TokenTable {}
