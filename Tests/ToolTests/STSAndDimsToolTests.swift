import Foundation
import IO
import Inference
import NN
import TestSupport
import Testing

/// `evaluate --task sts`, `tokenize --score-column` and `--dims` on `embed` and `evaluate`, with the
/// tiny model (its tokenizer knows only TinyModel.words).
@Suite(.enabled(if: ToolRunner.path("evaluate") != nil, "the tools were not built"))
struct STSAndDimsToolTests {
    /// Scored pairs of sentences over the tiny vocabulary (scores with ties).
    static func pairs(in dir: String, count: Int = 40) throws -> String {
        var r = SplitMix64(seed: 3)
        func sentence() -> String { (0..<(3 + Int(r.next() % 5))).map { _ in TinyModel.words[Int(r.next() % UInt64(TinyModel.words.count))] }.joined(separator: " ") }
        var lines: [String] = []
        for k in 0..<count {
            let a = sentence()
            let b = k % 3 == 0 ? a + " nå" : sentence()
            let row: JSON = ["sentence1": .string(a), "sentence2": .string(b), "score": .number(Double(k % 5) / 4)]
            lines.append(row.serialized())
        }
        let path = dir + "/pairs.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func json(_ r: ToolRunner.Result) throws -> JSON {
        #expect(r.status == 0, "\(r.stderr)")
        return try JSON.parse(r.stdout)
    }

    @Test func stsFromJSONLinesAndFromATokensFile() throws {
        let dir = TestPaths.scratch()
        let model = try TinyModel.make(in: dir + "/model")
        let pairs = try Self.pairs(in: dir)
        let fromText = try Self.json(try ToolRunner.run("evaluate", ["--model", model, "--task", "sts", "--quiet", pairs]))
        #expect(fromText["pairs"]?.int == 40)
        // The library on the same texts.
        let rows = try String(contentsOfFile: pairs, encoding: .utf8).split(separator: "\n").map { try JSON.parse(String($0)) }
        let embedder = try TextEmbedder(directory: model)
        let u = try embedder.embed(rows.map { $0["sentence1"]!.string! }), v = try embedder.embed(rows.map { $0["sentence2"]!.string! })
        let want = SimilarityEvaluator.score(u, v, scores: rows.map { $0["score"]!.double! }, dimension: embedder.dimension)
        for (name, value) in want.named {
            #expect(abs((fromText[name]?.double ?? .nan) - value) < 1e-9, "\(name)")
        }
        // tokenize keeps the score column; evaluating the tokens file gives the same numbers.
        let tokens = dir + "/pairs.tokens.safetensors"
        let t = try ToolRunner.run("tokenize", ["--model", model, "--columns", "sentence1,sentence2", "--score-column", "score",
                                                "--quiet", "-o", tokens, pairs])
        #expect(t.status == 0, "\(t.stderr)")
        let file = try TokenizedFile(path: tokens)
        #expect(file.scores(column: "score") == rows.map { Float($0["score"]!.double!) })
        let fromTokens = try Self.json(try ToolRunner.run("evaluate", ["--model", model, "--task", "sts", "--quiet", tokens,
                                                                       "--csv", dir + "/sts.csv"]))
        for (name, value) in want.named {
            #expect(abs((fromTokens[name]?.double ?? .nan) - value) < 1e-6, "\(name) from the tokens file")
        }
        let csv = try String(contentsOfFile: dir + "/sts.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "epoch,steps,cosine_pearson,cosine_spearman,euclidean_pearson,euclidean_spearman,manhattan_pearson,manhattan_spearman,dot_pearson,dot_spearman")
        #expect(csv.count == 2)
    }

    @Test func stsErrorsNameTheProblem() throws {
        let dir = TestPaths.scratch()
        let model = try TinyModel.make(in: dir + "/model")
        let noScore = try ToolRunner.run("evaluate", ["--model", model, "--task", "sts", "--quiet"],
                                         stdin: #"{"sentence1": "hunden sover", "sentence2": "katten sover"}"# + "\n")
        #expect(noScore.status == 1 && noScore.stderr.contains("-:1: no numeric score column 'score'"), "\(noScore.stderr)")
        let threeColumns = try ToolRunner.run("evaluate", ["--model", model, "--task", "sts", "--columns", "a,b,c"], stdin: "")
        #expect(threeColumns.status != 0 && threeColumns.stderr.contains("--columns needs two names for sts"))
        let tokens = dir + "/t.safetensors"
        _ = try ToolRunner.run("tokenize", ["--model", model, "--columns", "sentence1,sentence2", "--quiet", "-o", tokens, try Self.pairs(in: dir)])
        let unscored = try ToolRunner.run("evaluate", ["--model", model, "--task", "sts", "--quiet", tokens])
        #expect(unscored.status == 1 && unscored.stderr.contains("no score column 'score' (tokenize with --score-column score)"), "\(unscored.stderr)")
        let badScore = try ToolRunner.run("tokenize", ["--model", model, "--columns", "sentence1", "--score-column", "sentence2", "--quiet", "-o", tokens],
                                          stdin: #"{"sentence1": "hunden", "sentence2": "katten"}"# + "\n")
        #expect(badScore.status == 1 && badScore.stderr.contains("-:1: column 'sentence2' is not a number"), "\(badScore.stderr)")
    }

    /// `embed --dims N`: the first N dimensions; unit length with --normalize (or a normalizing model).
    @Test func embedDims() throws {
        let dir = TestPaths.scratch()
        let model = try TinyModel.make(in: dir + "/model")
        let text = "hunden sover i parken\nkatten leker med ball\n"
        func vectors(_ extra: [String]) throws -> [[Double]] {
            let r = try ToolRunner.run("embed", ["--model", model, "--quiet"] + extra, stdin: text)
            #expect(r.status == 0, "\(r.stderr)")
            return try r.stdout.split(separator: "\n").map { try JSON.parse(String($0))["embedding"]!.array!.map { $0.double! } }
        }
        let full = try vectors([]), cut = try vectors(["--dims", "6"]), unit = try vectors(["--dims", "6", "--normalize"])
        #expect(full[0].count == 16 && cut[0].count == 6)
        for k in 0..<2 {
            #expect(zip(cut[k], full[k].prefix(6)).allSatisfy { abs($0 - $1) < 1e-7 })
            let n = unit[k].reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(n - 1) < 1e-6)
            let scale = cut[k].reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(zip(unit[k], cut[k]).allSatisfy { abs($0 - $1 / scale) < 1e-6 })
        }
        let tooMany = try ToolRunner.run("embed", ["--model", model, "--dims", "17"], stdin: text)
        #expect(tooMany.status == 1 && tooMany.stderr.contains("--dims 17 must be between 1 and the model's 16 dimensions"), "\(tooMany.stderr)")
    }

    /// `evaluate --dims N` scores the cut vectors (and says so); the full-size call is unchanged.
    @Test func evaluateDims() throws {
        let dir = TestPaths.scratch()
        let model = try TinyModel.make(in: dir + "/model")
        let data = try TinyModel.dataset(in: dir + "/data", rows: ["test": 30], seed: 4) + "/test.jsonl"
        let full = try Self.json(try ToolRunner.run("evaluate", ["--model", model, "--quiet", data]))
        let cut = try Self.json(try ToolRunner.run("evaluate", ["--model", model, "--quiet", "--dims", "4", data]))
        #expect(full["dims"] == nil && cut["dims"]?.int == 4 && cut["triplets"]?.int == 30)
        // The library on the cut vectors.
        let embedder = try TextEmbedder(directory: model)
        try embedder.truncate(to: 4)
        let rows = try String(contentsOfFile: data, encoding: .utf8).split(separator: "\n").map { try JSON.parse(String($0)) }
        let e = try ["anchor", "positive", "negative"].map { c in try embedder.embed(rows.map { $0[c]!.string! }) }
        let want = TripletEvaluator.score(anchors: e[0], positives: e[1], negatives: e[2], count: 30, dimension: 4)
        #expect(cut["cosine_accuracy"]?.double == want.cosine && cut["dot_accuracy"]?.double == want.dot)
        let tokens = dir + "/test.tokens.safetensors"
        _ = try ToolRunner.run("tokenize", ["--model", model, "--quiet", "-o", tokens, data])
        let cutTokens = try Self.json(try ToolRunner.run("evaluate", ["--model", model, "--quiet", "--dims", "4", tokens]))
        #expect(cutTokens["cosine_accuracy"]?.double == want.cosine)
        // A list embeds once and reports each size as the single-size calls do, from text and from tokens.
        for input in [data, tokens] {
            let list = try Self.json(try ToolRunner.run("evaluate", ["--model", model, "--quiet", "--dims", "4,16", input]))
            let byDims = list["by_dims"]?.array ?? []
            #expect(list["dims"]?.array?.map { $0.int } == [4, 16] && byDims.count == 2, "\(list)")
            #expect(byDims.first?["dims"]?.int == 4 && byDims.first?["triplets"]?.int == 30)
            for name in ["cosine_accuracy", "dot_accuracy", "euclidean_accuracy", "manhattan_accuracy"] {
                #expect(byDims.first?[name]?.double == cut[name]?.double, "\(name) at 4 dimensions")
                #expect(byDims.last?[name]?.double == full[name]?.double, "\(name) at 16 dimensions")
            }
        }
        let bad = try ToolRunner.run("evaluate", ["--model", model, "--dims", "4,x", data])
        #expect(bad.status != 0 && bad.stderr.contains("--dims needs positive whole numbers"), "\(bad.stderr)")
        let csvList = try ToolRunner.run("evaluate", ["--model", model, "--dims", "4,8", "--csv", dir + "/x.csv", data])
        #expect(csvList.status != 0 && csvList.stderr.contains("--csv takes one --dims value"), "\(csvList.stderr)")
    }

    /// `evaluate --task sts --dims a,b` reports each size as the single-size call does.
    @Test func stsDimsList() throws {
        let dir = TestPaths.scratch()
        let model = try TinyModel.make(in: dir + "/model")
        let pairs = try Self.pairs(in: dir)
        let one = try Self.json(try ToolRunner.run("evaluate", ["--model", model, "--task", "sts", "--quiet", "--dims", "6", pairs]))
        let list = try Self.json(try ToolRunner.run("evaluate", ["--model", model, "--task", "sts", "--quiet", "--dims", "6,16", pairs]))
        let byDims = list["by_dims"]?.array ?? []
        #expect(byDims.count == 2 && byDims.first?["pairs"]?.int == 40, "\(list)")
        #expect(byDims.first?["spearman_cosine"]?.double == one["spearman_cosine"]?.double)
        #expect(byDims.first?["pearson_dot"]?.double == one["pearson_dot"]?.double)
    }
}
