import Foundation
import IO

/// Writes the mined rows as `mine_hard_negatives` returns them — grouped by query (first
/// occurrence), then by the query's positives — and gathers the scores of its statistics table.
package struct MinedRows {
    package let data: PairsData
    package let positiveScores: [Float]
    package let negatives: MinedNegatives
    package let format: MiningOptions.Format
    package let outputScores: Bool
    /// The negative column: `negative` for triplets, `negative_1` … for n-tuples (sentence-
    /// transformers' names with the default).
    package var negativeColumn = "negative"

    package init(data: PairsData, positiveScores: [Float], negatives: MinedNegatives, format: MiningOptions.Format, outputScores: Bool) {
        self.data = data
        self.positiveScores = positiveScores
        self.negatives = negatives
        self.format = format
        self.outputScores = outputScores
    }

    package var columns: [String] {
        var c = [data.anchorColumn, data.positiveColumn]
        switch format {
        case .triplet: c.append(negativeColumn)
        case .nTuple: c += (1...negatives.numNegatives).map { "\(negativeColumn)_\($0)" }
        }
        if outputScores { c.append("scores") }
        return c
    }

    /// What a run produced, for the report.
    package struct Summary: Sendable {
        package var rows = 0
        /// The most rows the format allows (sentence-transformers' `maximum_possible_samples`).
        package var maximumRows = 0
        package var positive: [Float] = []
        package var negative: [Float] = []
        package var difference: [Float] = []
    }

    /// Writes every row (one JSON object a line) through `write`.
    package func write(_ write: (String) throws -> Void) throws -> Summary {
        var summary = Summary()
        summary.positive = positiveScores
        let keys = columns.map { name -> String in
            var k = ""
            JSON.writeString(name, to: &k)
            return k + ":"
        }
        let N = negatives.numNegatives
        var line = ""
        for q in 0..<data.queries.count {
            let anchor = data.queries[q]
            let negs = negatives.negatives(q)
            let valid = negs.filter { $0.score != -.infinity }
            for p in data.positiveOffsets[q]..<data.positiveOffsets[q + 1] {
                let positive = data.corpus[Int(data.positives[p])], ps = positiveScores[p]
                switch format {
                case .triplet:
                    summary.maximumRows += N
                    for n in valid {
                        line.removeAll(keepingCapacity: true)
                        row(&line, keys, [anchor, positive, data.corpus[n.index]], scores: outputScores ? [ps, n.score] : nil)
                        try write(line)
                        summary.rows += 1
                        summary.negative.append(n.score)
                        summary.difference.append(ps - n.score)
                    }
                case .nTuple:
                    summary.maximumRows += 1
                    guard valid.count == N else { continue }
                    line.removeAll(keepingCapacity: true)
                    row(&line, keys, [anchor, positive] + negs.map { data.corpus[$0.index] },
                        scores: outputScores ? [ps] + negs.map(\.score) : nil)
                    try write(line)
                    summary.rows += 1
                    for n in negs {
                        summary.negative.append(n.score)
                        summary.difference.append(ps - n.score)
                    }
                }
            }
        }
        return summary
    }

    private func row(_ line: inout String, _ keys: [String], _ texts: [String], scores: [Float]?) {
        line += "{"
        for (i, t) in texts.enumerated() {
            if i > 0 { line += "," }
            line += keys[i]
            JSON.writeString(t, to: &line)
        }
        if let scores {
            line += "," + keys[texts.count] + "["
            // Python floats of float32 values: the shortest repr of the widened double.
            line += scores.map { Double($0).description }.joined(separator: ",")
            line += "]"
        }
        line += "}\n"
    }
}
