import Foundation
import IO
import Inference
import NN
import TestSupport
import Testing

/// The STS evaluation: scipy's Pearson and Spearman (average ranks for ties) and
/// EmbeddingSimilarityEvaluator's metrics, names and values; Matryoshka truncation.
@Suite struct SimilarityEvaluatorTests {
    @Test func ranksAverageTies() {
        #expect(SimilarityEvaluator.ranks([0.1, 0.5, 0.5]) == [1, 2.5, 2.5])
        #expect(SimilarityEvaluator.ranks([3, 1, 2, 1, 3, 3]) == [5, 1.5, 3, 1.5, 5, 5])
        #expect(SimilarityEvaluator.ranks([]) == [])
    }

    @Test func correlationsAsScipy() {
        // scipy.stats.spearmanr([0.1, 0.5, 0.5], [1, 2, 3]) = 1.5/√3 (the worked example in the spec).
        #expect(abs(SimilarityEvaluator.spearman([0.1, 0.5, 0.5], [1, 2, 3]) - 1.5 / 3.0.squareRoot()) < 1e-12)
        // scipy.stats.pearsonr([1, 2, 3, 4], [1, 3, 2, 5])[0] = 0.8315218406202999
        #expect(abs(SimilarityEvaluator.pearson([1, 2, 3, 4], [1, 3, 2, 5]) - 0.8315218406202999) < 1e-12)
        #expect(abs(SimilarityEvaluator.pearson([1, 2, 3], [3, 2, 1]) + 1) < 1e-12)
        #expect(SimilarityEvaluator.pearson([1, 1, 1], [1, 2, 3]).isNaN)
        #expect(SimilarityEvaluator.spearman([1], [1]).isNaN)
    }

    @Test func metricNamesAsTheEvaluator() {
        let m = SimilarityMetrics(pearson: [0.1, 0.2, 0.3, 0.4], spearman: [0.5, 0.6, 0.7, 0.1], count: 3)
        #expect(m.named.map(\.0) == ["pearson_cosine", "spearman_cosine", "pearson_euclidean", "spearman_euclidean",
                                     "pearson_manhattan", "spearman_manhattan", "pearson_dot", "spearman_dot",
                                     "pearson_max", "spearman_max"])
        #expect(m.named.last!.1 == 0.7 && m.named[8].1 == 0.4)
    }

    /// bert-tiny's embeddings of 12 scored pairs: every metric of sentence-transformers'
    /// EmbeddingSimilarityEvaluator (tools/make_loss_reference.py), through a tokens table.
    @Test(.enabled(if: TestPaths.hasShared("reference/bert-tiny/model"), "needs ../shared/reference/bert-tiny/model"))
    func matchesEmbeddingSimilarityEvaluator() throws {
        let ref = try SafetensorsFile(path: TestPaths.fixtures + "/losses/loss-reference-bert-tiny.safetensors")
        let model = try SentenceModel.load(directory: TestPaths.sharedFile("reference/bert-tiny/model"))
        var columns: [(column: String, rows: [[Int32]])] = []
        for c in ["sentence1", "sentence2"] {
            let ids = try ref.int32s("input.pairs12.\(c).input_ids"), mask = try ref.int32s("input.pairs12.\(c).attention_mask")
            let w = try ref.info("input.pairs12.\(c).input_ids").shape[1]
            columns.append((c, (0..<12).map { r in
                Array(ids[(r * w)..<(r * w + Int(mask[(r * w)..<((r + 1) * w)].reduce(0, +)))])
            }))
        }
        let table = InMemoryTokenTable(columns, scores: ["score": try ref.floats("labels.pairs12")])
        let m = try SimilarityEvaluator.evaluate(model: model, table: table, columns: ["sentence1", "sentence2"], scoreColumn: "score",
                                                 batchSize: 5)
        #expect(m.count == 12)
        for (name, value) in m.named {
            let want = Double(try ref.floats("sts.\(name)")[0])
            #expect(abs(value - want) < 2e-5, "\(name): \(value) vs sentence-transformers \(want)")
        }
        #expect(ref.metadata["sts_primary"] == "spearman_max")
    }

    @Test func truncationKeepsThePrefixAndRenormalizesOnRequest() {
        let e: [Float] = [3, 4, 12, 0, 0, 5, 0, 1]   // two rows of 4
        #expect(truncateEmbeddings(e, rows: 2, dimension: 4, to: 2, normalize: false) == [3, 4, 0, 5])
        #expect(truncateEmbeddings(e, rows: 2, dimension: 4, to: 2, normalize: true) == [0.6, 0.8, 0, 1])
        #expect(truncateEmbeddings(e, rows: 2, dimension: 4, to: 4, normalize: true) == e)
    }
}
