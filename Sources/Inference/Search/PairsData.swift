import IO

/// (anchor, positive) pairs deduplicated as sentence-transformers does for mining and for retrieval
/// on pairs: the queries are the distinct anchors in order of first occurrence, the corpus the
/// distinct texts (any extra corpus texts first, then the positives), and each query's positives the
/// distinct corpus entries paired with it, in order of first occurrence.
package final class PairsData {
    package let anchorColumn: String
    package let positiveColumn: String
    package let queries = UniqueTexts()
    package let corpus = UniqueTexts()
    /// Rows read, duplicates included.
    package private(set) var rowCount = 0
    private var rowQuery: [Int32] = []
    private var rowCorpus: [Int32] = []
    /// Queries with a row whose positive is the anchor itself.
    private var selfPaired: Set<Int32> = []

    /// Per query q, its distinct positives are `positives[positiveOffsets[q]..<positiveOffsets[q + 1]]`
    /// (corpus indices). Built by `finish()`.
    package private(set) var positiveOffsets: [Int] = [0]
    package private(set) var positives: [Int32] = []
    /// The most rows any anchor has (duplicate rows counted, as pandas' groupby count does).
    package private(set) var maxRowsPerQuery = 0

    package init(anchorColumn: String, positiveColumn: String) {
        self.anchorColumn = anchorColumn
        self.positiveColumn = positiveColumn
    }

    /// Adds a corpus text that is not (necessarily) anyone's positive; call before `add(anchor:positive:)`.
    package func addCorpus(_ text: String) { corpus.insert(text) }

    package func add(anchor: String, positive: String) {
        let q = Int32(queries.insert(anchor).index), c = Int32(corpus.insert(positive).index)
        rowQuery.append(q)
        rowCorpus.append(c)
        if anchor.utf8.elementsEqual(positive.utf8) { selfPaired.insert(q) }
        rowCount += 1
    }

    /// Groups the rows by query; call once, after the last row.
    package func finish() {
        let n = queries.count
        var rows = [Int](repeating: 0, count: n)
        for q in rowQuery { rows[Int(q)] += 1 }
        maxRowsPerQuery = rows.max() ?? 0
        // Rows grouped by query, in input order within each (a stable counting sort).
        var start = [Int](repeating: 0, count: n + 1)
        for q in 0..<n { start[q + 1] = start[q] + rows[q] }
        var next = start
        var grouped = [Int32](repeating: 0, count: rowCount)
        for (r, q) in rowQuery.enumerated() {
            grouped[next[Int(q)]] = rowCorpus[r]
            next[Int(q)] += 1
        }
        positives = []
        positives.reserveCapacity(rowCount)
        positiveOffsets = [0]
        positiveOffsets.reserveCapacity(n + 1)
        for q in 0..<n {
            let first = positives.count
            // A linear scan for the usual handful of positives, a set for many.
            let many = rows[q] > 16
            var seen = Set<Int32>()
            for c in grouped[start[q]..<start[q + 1]] {
                let new = many ? seen.insert(c).inserted : !positives[first...].contains(c)
                if new { positives.append(c) }
            }
            positiveOffsets.append(positives.count)
        }
        rowQuery = []
        rowCorpus = []
    }

    /// The number of (query, distinct positive) pairs.
    package var pairCount: Int { positives.count }

    package func positives(of q: Int) -> ArraySlice<Int32> { positives[positiveOffsets[q]..<positiveOffsets[q + 1]] }

    /// Whether a row pairs query q with its own text.
    package func isSelfPaired(_ q: Int) -> Bool { selfPaired.contains(Int32(q)) }

    /// Reads pairs from JSON Lines (plain, .gz, .zst; `-` for stdin). `columns` nil takes the first
    /// row's first two keys, as `mine_hard_negatives` takes the dataset's first two columns. Other
    /// columns are ignored. `extraCorpus` texts come first in the corpus.
    package static func read(path: String, columns: (anchor: String, positive: String)?, limit: Int? = nil,
                             extraCorpus: TextSource? = nil) throws -> PairsData {
        let reader = try JSONLReader(path: path)
        var data: PairsData?
        func make(_ a: String, _ p: String) throws -> PairsData {
            let d = PairsData(anchorColumn: a, positiveColumn: p)
            if let extraCorpus {
                while let texts = try extraCorpus.next(maxCount: 4096) { for t in texts { d.addCorpus(t) } }
            }
            return d
        }
        if let columns { data = try make(columns.anchor, columns.positive) }
        while limit.map({ (data?.rowCount ?? 0) < $0 }) ?? true, let row = try reader.next() {
            if data == nil {
                let keys = row.keys
                guard keys.count >= 2 else {
                    throw EmbedError("\(path):\(reader.lineNumber): the first row has \(keys.count) column\(keys.count == 1 ? "" : "s"); pairs need an anchor and a positive column")
                }
                data = try make(keys[0], keys[1])
            }
            let d = data!
            func text(_ name: String) throws -> String {
                guard let v = row[name] else {
                    throw EmbedError("\(path):\(reader.lineNumber): no column '\(name)' (the row has: \(row.keys.joined(separator: ", ")))")
                }
                guard let s = v.string else { throw EmbedError("\(path):\(reader.lineNumber): column '\(name)' is not a string") }
                return s
            }
            d.add(anchor: try text(d.anchorColumn), positive: try text(d.positiveColumn))
        }
        guard let d = data, d.rowCount > 0 else { throw EmbedError("\(path): no pairs (the file has no rows)") }
        d.finish()
        return d
    }
}
