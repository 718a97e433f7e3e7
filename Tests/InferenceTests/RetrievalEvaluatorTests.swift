import Foundation
import IO
import Inference
import TestSupport
import Testing

/// Retrieval metrics against sentence-transformers' InformationRetrievalEvaluator on the same
/// vectors (a pairs file, a BEIR folder with graded, zero-score and missing judgements), and on
/// cases worked out by hand.
@Suite struct RetrievalEvaluatorTests {
    static let expected = try? MineIRFixture.json("retrieval.json")

    static func expectMatches(_ m: RetrievalMetrics, _ key: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let want = Self.expected![key]!.object!
        #expect(m.values.map(\.name) == want.keys, sourceLocation: sourceLocation)
        for (name, value) in m.values {
            let w = want[name]!.double!
            #expect(abs(value - w) <= 1e-12, "\(key) \(name): \(value) vs \(w)", sourceLocation: sourceLocation)
        }
    }

    @Test func pairsMatchTheEvaluator() throws {
        let data = try PairsData.read(path: MineIRFixture.dir + "/pairs.jsonl", columns: nil)
        let judgements = RetrievalJudgements(
            relevant: (0..<data.queries.count).map { Array(data.positives(of: $0)).sorted() },
            relevantCount: (0..<data.queries.count).map { data.positives(of: $0).count })
        var chunks = stride(from: 0, to: data.corpus.count, by: 10).map { MineIRFixture.embed(data.corpus.texts($0..<min($0 + 10, data.corpus.count))) }
        let m = try RetrievalSearch().evaluate(
            queries: MineIRFixture.embed(data.queries.texts(0..<data.queries.count)), dimension: MineIRFixture.dimension,
            judgements: judgements, corpusCount: data.corpus.count, tieRanks: nil) { chunks.isEmpty ? nil : chunks.removeFirst() }
        Self.expectMatches(m, "pairs")
        #expect(m.queries == 81 && m.corpus == data.corpus.count && m.primaryMetric == "cosine_ndcg@10")
    }

    static func beir(keepZeroScores: Bool) throws -> (BEIRFolder.Loaded, RetrievalMetrics) {
        var folder = BEIRFolder(path: MineIRFixture.dir + "/beir", split: "test")
        folder.keepZeroScores = keepZeroScores
        let loaded = try folder.load()
        let reader = try folder.corpusReader()
        let m = try RetrievalSearch().evaluate(queries: MineIRFixture.embed(loaded.queryTexts), dimension: MineIRFixture.dimension,
                                               judgements: loaded.judgements, corpusCount: loaded.corpusIds.count,
                                               tieRanks: loaded.tieRanks) {
            try reader.next(maxCount: 16).map { MineIRFixture.embed($0) }
        }
        return (loaded, m)
    }

    @Test func beirFolderMatchesTheEvaluator() throws {
        let (loaded, m) = try Self.beir(keepZeroScores: false)
        Self.expectMatches(m, "beir")
        // q5's only judgement has score 0 and q99 has none: neither is evaluated. q3's second
        // relevant id is not in the corpus, and still counts.
        #expect(!loaded.queryIds.contains("q5") && !loaded.queryIds.contains("q99") && loaded.queryIds.count == 23)
        #expect(loaded.skippedRows == 2)
        let q3 = loaded.queryIds.firstIndex(of: "q3")!, q1 = loaded.queryIds.firstIndex(of: "q1")!
        #expect(loaded.judgements.relevantCount[q3] == 2 && loaded.judgements.relevant[q3].count == 1)
        #expect(loaded.judgements.relevantCount[q1] == 3)
        // Ties go by id as strings: "10" before "9".
        let i10 = loaded.corpusIds.index(of: "10")!, i9 = loaded.corpusIds.index(of: "9")!
        #expect(loaded.tieRanks[i10] < loaded.tieRanks[i9] && loaded.tieRanks[i9] > loaded.tieRanks[loaded.corpusIds.index(of: "40")!])

        let (all, keepAll) = try Self.beir(keepZeroScores: true)
        Self.expectMatches(keepAll, "beir-keep-zero-scores")
        #expect(all.queryIds.count == 24 && all.skippedRows == 0)
    }

    @Test func beirErrorsNameTheFile() throws {
        let dir = TestPaths.scratch()
        try FileManager.default.createDirectory(atPath: dir + "/qrels", withIntermediateDirectories: true)
        try "{\"_id\":\"d1\",\"text\":\"x\"}\n{\"_id\":\"d1\",\"text\":\"y\"}\n".write(toFile: dir + "/corpus.jsonl", atomically: true, encoding: .utf8)
        try "{\"_id\":\"q1\",\"text\":\"x\"}\n".write(toFile: dir + "/queries.jsonl", atomically: true, encoding: .utf8)
        try "query-id\tcorpus-id\tscore\nq1\td1\tlots\n".write(toFile: dir + "/qrels/dev.tsv", atomically: true, encoding: .utf8)
        #expect { try BEIRFolder(path: dir, split: "test").load() } throws: { "\($0)".contains("no qrels/test.tsv (it has qrels/dev.tsv; choose one with --split)") }
        #expect { try BEIRFolder(path: dir, split: "dev").load() } throws: { "\($0)".contains("qrels/dev.tsv:2: the score 'lots' is not a number") }
        try "query-id\tcorpus-id\tscore\nq1\td1\t1\n".write(toFile: dir + "/qrels/dev.tsv", atomically: true, encoding: .utf8)
        #expect { try BEIRFolder(path: dir, split: "dev").load() } throws: { "\($0)".contains("corpus.jsonl:2: the document id 'd1' occurs twice") }
        #expect(BEIRFolder.isBEIR(dir) && !BEIRFolder.isBEIR(dir + "/qrels"))
    }

    // MARK: Hand-computed

    /// One score function's metrics for rankings given directly.
    static func metrics(_ ranked: [[Int]], relevant: [[Int]], counts: [Int]? = nil) -> [String: Double] {
        let values = RetrievalMetrics.compute(function: .cosine, ranked: ranked, relevantCount: counts ?? relevant.map(\.count),
                                              isRelevant: { relevant[$0].contains($1) }, cutoffs: RetrievalCutoffs())
        return Dictionary(uniqueKeysWithValues: values.map { (String($0.name.dropFirst("cosine_".count)), $0.value) })
    }

    @Test func severalRelevantDocuments() {
        // Relevant at ranks 1 and 3 of 10.
        let m = Self.metrics([[0, 5, 1, 6, 7, 8, 9, 10, 11, 12]], relevant: [[0, 1]])
        #expect(m["accuracy@1"] == 1 && m["precision@1"] == 1 && m["recall@1"] == 0.5)
        #expect(m["precision@3"] == 2.0 / 3 && m["recall@3"] == 1 && m["precision@10"] == 0.2)
        #expect(m["mrr@10"] == 1)
        #expect(m["ndcg@10"] == (1 + 1 / log2(4.0)) / (1 + 1 / log2(3.0)))
        #expect(m["map@100"] == (1.0 + 2.0 / 3) / 2)
    }

    @Test func queriesWithoutRelevantDocumentsAreLeftOut() {
        let with = Self.metrics([[3, 0, 1], [0, 1, 2]], relevant: [[0], []])
        let alone = Self.metrics([[3, 0, 1]], relevant: [[0]])
        #expect(with == alone)
        #expect(alone["accuracy@1"] == 0 && alone["accuracy@3"] == 1 && alone["mrr@10"] == 0.5)
        // A corpus smaller than k: precision still divides by k.
        #expect(alone["precision@10"] == 0.1 && alone["recall@10"] == 1)
        // No relevant document found at all.
        let none = Self.metrics([[1, 2]], relevant: [[0]])
        #expect(none["ndcg@10"] == 0 && none["map@100"] == 0 && none["mrr@10"] == 0 && none["accuracy@10"] == 0)
    }

    @Test func relevantDocumentsMissingFromTheCorpusStillCount() {
        // Two relevant ids, one of them not in the corpus; the other found at rank 2.
        let m = Self.metrics([[4, 0, 1]], relevant: [[0]], counts: [2])
        #expect(m["recall@3"] == 0.5 && m["precision@3"] == 1.0 / 3 && m["mrr@10"] == 0.5)
        #expect(m["ndcg@10"] == (1 / log2(3.0)) / (1 + 1 / log2(3.0)))
        #expect(m["map@100"] == 0.5 / 2)
    }

    /// Equal scores: the evaluator ranks by corpus id (as strings), so "10" comes before "9".
    @Test func tiesGoByCorpusId() throws {
        let q: [Float] = [1, 0]
        let corpus: [Float] = [1, 0, 1, 0, 0.5, 0.5]  // ids "9", "10", "11": the first two tie
        let judgements = RetrievalJudgements(relevant: [[0]], relevantCount: [1])
        func run(_ ranks: [Int32]?) throws -> RetrievalMetrics {
            var chunk: [Float]? = corpus
            return try RetrievalSearch(functions: [.cosine, .dot]).evaluate(
                queries: q, dimension: 2, judgements: judgements, corpusCount: 3, tieRanks: ranks) {
                defer { chunk = nil }
                return chunk
            }
        }
        let byId = try run([2, 0, 1])  // "10" < "11" < "9"
        #expect(byId.value("cosine_mrr@10") == 0.5 && byId.value("dot_mrr@10") == 0.5)
        let byPosition = try run(nil)
        #expect(byPosition.value("cosine_mrr@10") == 1)
        #expect(byId.values.map(\.name) == RetrievalMetrics.names(functions: [.cosine, .dot]))
    }

    /// The primary metric: the score function with the best NDCG, the first by name on a tie.
    @Test func primaryMetricPrefersTheBestThenTheFirstName() {
        let v: [(name: String, value: Double)] = [("dot_ndcg@10", 0.5), ("cosine_ndcg@10", 0.5)]
        #expect(RetrievalMetrics.primary(v, functions: [.dot, .cosine], cutoffs: RetrievalCutoffs()) == "cosine_ndcg@10")
        let w: [(name: String, value: Double)] = [("cosine_ndcg@10", 0.4), ("dot_ndcg@10", 0.5)]
        #expect(RetrievalMetrics.primary(w, functions: [.cosine, .dot], cutoffs: RetrievalCutoffs()) == "dot_ndcg@10")
    }

    @Test func meansAreNumpys() {
        // np.sum, pairwise (8 lanes, blocks of 128, halves above), differs from a running sum in
        // the last bits; the values are numpy's own.
        let tenths = [Double](repeating: 0.1, count: 10)
        #expect(RetrievalMetrics.numpySum(tenths) == 1.0 && tenths.reduce(0, +) == 0.9999999999999999)
        #expect(RetrievalMetrics.numpySum((0..<1000).map { 1 / Double($0 + 1) }) == 7.485470860550345)
        #expect(RetrievalMetrics.numpySum((0..<300).map { 0.1 * Double(($0 * 7) % 13) }) == 179.40000000000003)
    }

    @Test func csvRowLikeTheEvaluators() throws {
        let path = TestPaths.scratch() + "/ir.csv"
        let m = RetrievalMetrics(values: RetrievalMetrics.names(functions: [.cosine]).map { ($0, 0.5) }, queries: 1, corpus: 1,
                                 primaryMetric: "cosine_ndcg@10")
        try m.appendCSV(path: path, functions: [.cosine], cutoffs: RetrievalCutoffs(), epoch: -1, steps: -1)
        try m.appendCSV(path: path, functions: [.cosine], cutoffs: RetrievalCutoffs(), epoch: 1, steps: 20)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0] == "epoch,steps,cosine-Accuracy@1,cosine-Accuracy@3,cosine-Accuracy@5,cosine-Accuracy@10,cosine-Precision@1,cosine-Recall@1,cosine-Precision@3,cosine-Recall@3,cosine-Precision@5,cosine-Recall@5,cosine-Precision@10,cosine-Recall@10,cosine-MRR@10,cosine-NDCG@10,cosine-MAP@100")
        #expect(lines[1].hasPrefix("-1,-1,0.5,") && lines[2].hasPrefix("1,20,0.5,"))
    }
}
