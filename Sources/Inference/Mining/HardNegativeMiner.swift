import Foundation
import IO

/// sentence-transformers' `util.mine_hard_negatives` (6.3.0), exact search only: embeds the
/// distinct anchors and the corpus with `encode_query` / `encode_document` semantics (prompts,
/// L2-normalized), finds each anchor's nearest corpus entries by cosine similarity, and picks
/// negatives with the options' exclusions, filters, window and sampling. The corpus is embedded and
/// searched a chunk at a time, so memory is the anchors' vectors and texts, not the corpus' vectors.
package final class HardNegativeMiner {
    package let embedder: TextEmbedder
    package var options: MiningOptions
    package var queryPrompt = ""
    package var corpusPrompt = ""
    /// Corpus texts embedded (and searched) at a time.
    package var chunkSize = 16384
    /// Where the lines sentence-transformers prints go (stderr by default).
    package var report: (String) -> Void = { log($0) }

    package init(embedder: TextEmbedder, options: MiningOptions) {
        self.embedder = embedder
        self.options = options
    }

    package struct Result {
        package var resolved: MiningOptions.Resolved
        package var positiveScores: [Float]
        package var negatives: MinedNegatives
    }

    package func mine(_ data: PairsData, progress: ProgressBar? = nil) throws -> Result {
        let resolved = try options.resolved(maxPositives: data.maxRowsPerQuery)
        if options.includePositives {
            if options.filtersSet {
                report("warning: with --include-positives, --range-min, --range-max, the score filters and random sampling may still discard the positives")
            }
            if options.outputFormat != .nTuple { report("warning: --include-positives writes n-tuples (to keep the ranking order)") }
        }
        for line in MiningReport.header(data: data, resolved: resolved) { report(line) }
        let nq = data.queries.count
        let D = embedder.dimension
        var queries: [Float] = []
        queries.reserveCapacity(nq * D)
        var start = 0
        while start < nq {
            let end = min(nq, start + chunkSize)
            queries += try embedder.embed(data.queries.texts(start..<end), prompt: queryPrompt, normalized: true, progress: progress)
            start = end
        }
        let candidates = NegativeCandidates(data: data, queries: queries, dimension: D, candidateCount: resolved.candidateCount)
        queries = []
        start = 0
        while start < data.corpus.count {
            let end = min(data.corpus.count, start + chunkSize)
            candidates.add(try embedder.embed(data.corpus.texts(start..<end), prompt: corpusPrompt, normalized: true, progress: progress))
            start = end
        }
        let negatives = MinedNegatives.select(candidates, options: options, resolved: resolved)
        return Result(resolved: resolved, positiveScores: candidates.positiveScores, negatives: negatives)
    }
}

/// The lines `mine_hard_negatives` prints: before mining, and after it the score statistics
/// table, what each filter skipped, and how many rows the window ran short of.
package enum MiningReport {
    /// What sentence-transformers prints before mining: a derived range_max, duplicate anchors.
    package static func header(data: PairsData, resolved: MiningOptions.Resolved) -> [String] {
        var out: [String] = []
        if resolved.rangeMaxDerived { out.append("Setting range_max to \(resolved.rangeMax) based on the provided parameters.") }
        let nq = data.queries.count
        if nq != data.rowCount { out.append("Found \(nq) unique queries out of \(data.rowCount) total queries.") }
        if data.maxRowsPerQuery > 1 {
            out.append("Found an average of \(String(format: "%.3f", Double(data.rowCount) / Double(nq))) positives per query.")
        }
        return out
    }

    /// What sentence-transformers prints after mining.
    package static func lines(summary s: MinedRows.Summary, skipped: [MinedNegatives.Skip], options o: MiningOptions) -> [String] {
        func row(_ a: String, _ b: String, _ c: String, _ d: String) -> String {
            a.padding(toLength: max(6, a.count), withPad: " ", startingAt: 0) + " " + pad(b) + " " + pad(c) + " " + pad(d)
        }
        func pad(_ s: String) -> String { String(repeating: " ", count: max(0, 14 - s.count)) + s }
        var out = [row("Metric", "Positive", "Negative", "Difference"),
                   row("Count", grouped(s.positive.count), grouped(s.negative.count), "")]
        let stats: [(String, ([Double]) -> Double)] = [
            ("Mean", { $0.isEmpty ? .nan : $0.reduce(0, +) / Double($0.count) }),
            ("Median", { $0.isEmpty ? .nan : $0.sorted()[($0.count - 1) / 2] }),
            ("Std", std),
            ("Min", { $0.min() ?? .infinity }),
            ("25%", { quantile($0, 0.25) }),
            ("50%", { quantile($0, 0.5) }),
            ("75%", { quantile($0, 0.75) }),
            ("Max", { $0.max() ?? -.infinity }),
        ]
        let columns = [s.positive, s.negative, s.difference].map { $0.map(Double.init) }
        for (name, f) in stats {
            let v = columns.map { f($0) }
            out.append(row(name, fixed(v[0]), fixed(v[1]), fixed(v[2])))
        }
        for k in skipped {
            out.append("Skipped \(grouped(k.count)) potential negatives (\(String(format: "%.2f", k.ratio * 100))%) due to the \(k.name) of \(k.value).")
        }
        let missing = s.maximumRows - s.rows
        if missing > 0 {
            var names = ["range_max"]
            if o.rangeMin > 0 { names.append("range_min") }
            if o.absoluteMargin != nil { names.append("absolute_margin") }
            if o.relativeMargin != nil { names.append("relative_margin") }
            if o.maxScore != nil { names.append("max_score") }
            let list = names.count > 1 ? names.dropLast().joined(separator: ", ") + " and " + names.last! : names[0]
            out.append("Could not find enough negatives for \(missing) samples (\(String(format: "%.2f", Double(missing) / Double(s.maximumRows) * 100))%). Consider adjusting the \(list) parameter\(names.count > 1 ? "s" : "") if you'd like to find more valid negatives.")
        }
        return out
    }

    /// Python's `f"{n:,}"`.
    package static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Python's `f"{x:.4f}"` (nan, inf and -inf as Python writes them).
    package static func fixed(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        return String(format: "%.4f", x)
    }

    /// torch.std: the unbiased estimate (nan below two values).
    package static func std(_ v: [Double]) -> Double {
        guard v.count > 1 else { return .nan }
        let mean = v.reduce(0, +) / Double(v.count)
        return (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)).squareRoot()
    }

    /// torch.quantile with linear interpolation; +inf for no values (as sentence-transformers).
    package static func quantile(_ v: [Double], _ q: Double) -> Double {
        guard !v.isEmpty else { return .infinity }
        let s = v.sorted(), pos = q * Double(s.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, s.count - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - Double(lo))
    }
}
