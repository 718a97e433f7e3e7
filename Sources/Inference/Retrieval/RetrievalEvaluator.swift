import IO
import NN

/// The queries of a retrieval evaluation and what is relevant to each, by corpus position.
package struct RetrievalJudgements: Sendable {
    /// Per query: the corpus positions of its relevant documents, sorted.
    package var relevant: [[Int32]]
    /// Per query: how many documents are relevant, ids missing from the corpus included.
    package var relevantCount: [Int]

    package init(relevant: [[Int32]], relevantCount: [Int]) {
        self.relevant = relevant
        self.relevantCount = relevantCount
    }

    package func isRelevant(_ q: Int, _ index: Int) -> Bool {
        let r = relevant[q]
        var lo = 0, hi = r.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Int(r[mid]) < index { lo = mid + 1 } else { hi = mid }
        }
        return lo < r.count && Int(r[lo]) == index
    }
}

/// sentence-transformers' `InformationRetrievalEvaluator` over vectors: exact search of the whole
/// corpus per score function (a running top-k over corpus chunks, see `TopKSearch`), then the
/// metrics. The corpus arrives a chunk at a time, so its vectors are never all in memory.
package struct RetrievalSearch {
    package var functions: [ScoreFunction] = [.cosine, .dot]
    package var cutoffs = RetrievalCutoffs()

    package init(functions: [ScoreFunction] = [.cosine, .dot], cutoffs: RetrievalCutoffs = RetrievalCutoffs()) {
        self.functions = functions
        self.cutoffs = cutoffs
    }

    /// `queries`: the model's raw vectors [judgements.count, dimension]. `nextCorpus` returns the
    /// next chunk's raw vectors (nil at the end). `tieRanks[i]`: corpus entry i's place in corpus-id
    /// order (nil: the corpus order is the id order).
    package func evaluate(queries: [Float], dimension D: Int, judgements: RetrievalJudgements, corpusCount: Int,
                          tieRanks: [Int32]?, nextCorpus: () throws -> [Float]?) throws -> RetrievalMetrics {
        let nq = judgements.relevant.count
        precondition(queries.count == nq * D)
        let k = cutoffs.maxK
        var normalizedQueries = queries
        normalizeRows(&normalizedQueries, dimension: D)
        let searches = functions.map { f in
            (f == .cosine ? normalizedQueries : queries).withUnsafeBufferPointer {
                TopKSearch(queries: $0, count: nq, dimension: D, k: k, tieRanks: tieRanks)
            }
        }
        var seen = 0
        while let chunk = try nextCorpus() {
            var normalized: [Float] = []
            if functions.contains(.cosine) {
                normalized = chunk
                normalizeRows(&normalized, dimension: D)
            }
            for (f, s) in zip(functions, searches) {
                (f == .cosine ? normalized : chunk).withUnsafeBufferPointer { s.add($0.baseAddress!, count: chunk.count / D) }
            }
            seen += chunk.count / D
        }
        guard seen == corpusCount else { throw EmbedError("internal error: \(seen) corpus vectors for a corpus of \(corpusCount)") }
        var values: [(name: String, value: Double)] = []
        for (f, s) in zip(functions, searches) {
            let ranked = (0..<nq).map { q in s.hits(q).map(\.index) }
            values += RetrievalMetrics.compute(function: f, ranked: ranked, relevantCount: judgements.relevantCount,
                                               isRelevant: judgements.isRelevant, cutoffs: cutoffs)
        }
        return RetrievalMetrics(values: values, queries: judgements.relevantCount.filter { $0 > 0 }.count, corpus: corpusCount,
                                primaryMetric: RetrievalMetrics.primary(values, functions: functions, cutoffs: cutoffs))
    }
}

extension RetrievalSearch {
    /// Retrieval on pairs: each distinct anchor is a query, the distinct positives are the corpus,
    /// and a query's positives are its relevant documents. Texts are embedded with the model's
    /// query and document prompts; the corpus `chunkSize` texts at a time.
    package func evaluate(pairs data: PairsData, embedder: TextEmbedder, prompts: ModelPrompts, chunkSize: Int = 50000,
                          progress: ProgressBar? = nil) throws -> RetrievalMetrics {
        let judgements = RetrievalJudgements(
            relevant: (0..<data.queries.count).map { Array(data.positives(of: $0)).sorted() },
            relevantCount: (0..<data.queries.count).map { data.positiveOffsets[$0 + 1] - data.positiveOffsets[$0] })
        let queries = try embedder.embed(data.queries.texts(0..<data.queries.count), prompt: prompts.query, normalized: false, progress: progress)
        var start = 0
        return try evaluate(queries: queries, dimension: embedder.dimension, judgements: judgements, corpusCount: data.corpus.count,
                            tieRanks: nil) {
            guard start < data.corpus.count else { return nil }
            let end = min(data.corpus.count, start + chunkSize)
            defer { start = end }
            return try embedder.embed(data.corpus.texts(start..<end), prompt: prompts.document, normalized: false, progress: progress)
        }
    }

    /// Retrieval on a tokenized pairs table (the trainer's eval split, `tokenize` output): as on
    /// pairs, with texts identified by their token ids (texts that tokenize alike are one). Each row
    /// is embedded (the model's raw vectors).
    package func evaluate(table: any TokenTable, anchor: String, positive: String, rows: Int, model: SentenceModel,
                          batchSize: Int, progress: ProgressBar? = nil) throws -> RetrievalMetrics {
        let vectors = [anchor, positive].map { c in
            model.embedAll(count: rows, batchSize: batchSize, progress: progress) { table.ids(column: c, row: $0) }
        }
        return try evaluate(table: table, anchor: anchor, positive: positive, rows: rows, anchorVectors: vectors[0],
                            positiveVectors: vectors[1], dimension: model.dimension)
    }

    /// As above, with every row's vectors given ([rows, dimension] per column).
    package func evaluate(table: any TokenTable, anchor: String, positive: String, rows: Int, anchorVectors: [Float],
                          positiveVectors: [Float], dimension D: Int) throws -> RetrievalMetrics {
        var queryRows: [Int] = [], docRows: [Int] = []
        var queryOf: [[Int32]: Int] = [:], docOf: [[Int32]: Int] = [:]
        var relevant: [[Int32]] = []
        for r in 0..<rows {
            let a = Array(table.ids(column: anchor, row: r)), p = Array(table.ids(column: positive, row: r))
            let q = queryOf[a] ?? {
                queryOf[a] = queryRows.count
                queryRows.append(r)
                relevant.append([])
                return queryRows.count - 1
            }()
            let d = docOf[p] ?? {
                docOf[p] = docRows.count
                docRows.append(r)
                return docRows.count - 1
            }()
            if !relevant[q].contains(Int32(d)) { relevant[q].append(Int32(d)) }
        }
        func gather(_ v: [Float], _ rows: [Int]) -> [Float] {
            var out = [Float](repeating: 0, count: rows.count * D)
            for (i, r) in rows.enumerated() { out.replaceSubrange((i * D)..<((i + 1) * D), with: v[(r * D)..<((r + 1) * D)]) }
            return out
        }
        let judgements = RetrievalJudgements(relevant: relevant.map { $0.sorted() }, relevantCount: relevant.map(\.count))
        var corpus: [Float]? = gather(positiveVectors, docRows)
        return try evaluate(queries: gather(anchorVectors, queryRows), dimension: D, judgements: judgements,
                            corpusCount: docRows.count, tieRanks: nil) {
            defer { corpus = nil }
            return corpus
        }
    }
}
