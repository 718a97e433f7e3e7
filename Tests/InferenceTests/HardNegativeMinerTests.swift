import Foundation
import IO
import Inference
import TestSupport
import Testing

/// Mining against sentence-transformers' `mine_hard_negatives` on the same vectors (the fixture's
/// cases: filters, windows, random sampling, n-tuples, include_positives, an extra corpus), and the
/// pieces it is made of.
@Suite struct HardNegativeMinerTests {
    static let cases: [JSON] = (try? MineIRFixture.json("cases.json").array) ?? []

    static func options(_ c: JSON) -> MiningOptions {
        let o = c["options"]!
        var m = MiningOptions()
        m.rangeMin = o["range_min"]?.int ?? 0
        m.rangeMax = o["range_max"]?.int
        m.maxScore = o["max_score"]?.double
        m.minScore = o["min_score"]?.double
        m.absoluteMargin = o["absolute_margin"]?.double
        m.relativeMargin = o["relative_margin"]?.double
        m.numNegatives = o["num_negatives"]?.int ?? 3
        m.samplingStrategy = MiningOptions.Strategy(rawValue: o["sampling_strategy"]?.string ?? "top")!
        m.outputFormat = MiningOptions.Format(rawValue: o["output_format"]?.string ?? "triplet")!
        m.includePositives = o["include_positives"]?.bool ?? false
        m.outputScores = o["output_scores"]?.bool ?? false
        m.seed = UInt64(c["seed"]!.int!)
        return m
    }

    /// Mines a fixture case from the fixture's vectors, the corpus arriving in chunks of `chunk`.
    static func mine(_ c: JSON, chunk: Int = 7) throws -> (rows: [JSON], printed: [String]) {
        let data = try MineIRFixture.pairs(extraCorpus: c["extra_corpus"]!.bool!)
        let options = Self.options(c)
        let resolved = try options.resolved(maxPositives: data.maxRowsPerQuery)
        let candidates = NegativeCandidates(data: data, queries: MineIRFixture.embed(data.queries.texts(0..<data.queries.count)),
                                            dimension: MineIRFixture.dimension, candidateCount: resolved.candidateCount)
        var start = 0
        while start < data.corpus.count {
            let end = min(start + chunk, data.corpus.count)
            candidates.add(MineIRFixture.embed(data.corpus.texts(start..<end)))
            start = end
        }
        let negatives = MinedNegatives.select(candidates, options: options, resolved: resolved)
        let rows = MinedRows(data: data, positiveScores: candidates.positiveScores, negatives: negatives,
                             format: resolved.format, outputScores: options.outputScores)
        var lines: [JSON] = []
        let summary = try rows.write { text in lines += try text.split(separator: "\n").map { try JSON.parse(String($0)) } }
        let printed = MiningReport.header(data: data, resolved: resolved) + ["Negative candidates mined, preparing dataset..."]
            + MiningReport.lines(summary: summary, skipped: negatives.skipped, options: options)
        return (lines, printed)
    }

    @Test(arguments: HardNegativeMinerTests.cases.map { $0["name"]!.string! })
    func matchesSentenceTransformers(_ name: String) throws {
        let c = try #require(Self.cases.first { $0["name"]?.string == name })
        let expected = try MineIRFixture.jsonLines(MineIRFixture.dir + "/mine/\(name).jsonl")
        let (rows, printed) = try Self.mine(c)
        #expect(rows.count == expected.count)
        let different = zip(rows, expected).enumerated().filter { !jsonEqual($0.element.0, $0.element.1, tolerance: 1e-6) }
        #expect(different.isEmpty, "\(different.count) rows differ; first: row \(different.first?.offset ?? 0): \(different.first.map { "\($0.element.0.serialized()) vs \($0.element.1.serialized())" } ?? "")")
        #expect(rows.first?.object?.keys == c["columns"]!.array!.map { $0.string! })
        #expect(printed == c["printed"]!.array!.map { $0.string! })
    }

    /// The corpus chunking and the thread count change nothing but the last bits of the scores
    /// (other chunk widths are other sgemm shapes, which may sum in another order).
    @Test func chunksAndThreadsGiveTheSameRows() throws {
        let c = try #require(Self.cases.first { $0["name"]?.string == "absolute-margin-ntuple" })
        let reference = try Self.mine(c, chunk: 1000).rows
        func same(_ rows: [JSON]) -> Bool {
            rows.count == reference.count && zip(rows, reference).allSatisfy { jsonEqual($0, $1, tolerance: 1e-6) }
        }
        #expect(same(try Self.mine(c, chunk: 1).rows))
        let workers = Parallel.workers
        Parallel.setWorkers(1)
        defer { Parallel.setWorkers(workers) }
        #expect(same(try Self.mine(c, chunk: 13).rows))
        #expect(try Self.mine(c, chunk: 1000).rows == reference)
    }

    @Test func pairsAreGroupedAsSentenceTransformersGroupsThem() throws {
        let d = PairsData(anchorColumn: "q", positiveColumn: "a")
        d.addCorpus("x")
        d.addCorpus("b")
        for (q, a) in [("1", "a"), ("2", "b"), ("1", "c"), ("1", "a"), ("3", "3"), ("2", "1")] { d.add(anchor: q, positive: a) }
        d.finish()
        #expect(d.queries.texts(0..<3) == ["1", "2", "3"])
        // Extra texts first, then new positives in order of first occurrence.
        #expect(d.corpus.texts(0..<d.corpus.count) == ["x", "b", "a", "c", "3", "1"])
        #expect(d.positives(of: 0) == [2, 3] && d.positives(of: 1) == [1, 5] && d.positives(of: 2) == [4])
        #expect(d.maxRowsPerQuery == 3 && d.rowCount == 6 && d.pairCount == 5)
        #expect(d.isSelfPaired(2) && !d.isSelfPaired(0))
    }

    @Test func pairsFileErrorsNameFileAndLine() throws {
        let dir = TestPaths.scratch()
        func read(_ text: String, columns: (anchor: String, positive: String)? = nil) -> String {
            let p = dir + "/p.jsonl"
            _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
            do {
                _ = try PairsData.read(path: p, columns: columns)
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(read("{\"q\":\"a\",\"p\":\"b\"}\n{\"q\":\"a\"}\n").contains("p.jsonl:2: no column 'p' (the row has: q)"))
        #expect(read("{\"q\":\"a\",\"p\":3}\n").contains("p.jsonl:1: column 'p' is not a string"))
        #expect(read("{\"q\":\"a\"}\n").contains("p.jsonl:1: the first row has 1 column"))
        #expect(read("").contains("p.jsonl: no pairs"))
        #expect(read("{\"a\":\"x\",\"b\":\"y\"}\n", columns: ("anchor", "b")).contains("no column 'anchor'"))
        #expect(read("{\"a\":\"x\",\"b\":\"y\",\"c\":\"z\"}\n") == "")
    }

    @Test func rangeMaxIsDerivedAndCheckedAsInSentenceTransformers() throws {
        var o = MiningOptions()
        let derived = try o.resolved(maxPositives: 2)
        #expect(derived.rangeMax == 5 && derived.rangeMaxDerived && derived.candidateCount == 8 && derived.format == .triplet)
        o.rangeMin = 4
        o.relativeMargin = 0.05
        #expect(try o.resolved(maxPositives: 1).rangeMax == 35)
        o.relativeMargin = nil
        o.minScore = 0.1  // min_score alone does not widen the window
        #expect(try o.resolved(maxPositives: 1).rangeMax == 8)
        o.rangeMax = 4
        #expect(throws: EmbedError.self) { try o.resolved(maxPositives: 1) }
        o.rangeMax = 6
        #expect { try o.resolved(maxPositives: 1) } throws: { "\($0)".contains("cannot mine 3 negatives per query: only 2 candidates remain") }
        o.numNegatives = 0
        #expect { try o.resolved(maxPositives: 1) } throws: { "\($0)".contains("--num-negatives must be at least 1") }
        o = MiningOptions()
        o.includePositives = true
        #expect(try o.resolved(maxPositives: 1).format == .nTuple)
    }

    @Test func reportFormatsNumbersAsPython() {
        #expect(MiningReport.grouped(0) == "0" && MiningReport.grouped(999) == "999" && MiningReport.grouped(1_234_567) == "1,234,567")
        #expect(MiningReport.fixed(.nan) == "nan" && MiningReport.fixed(.infinity) == "inf" && MiningReport.fixed(0.123449) == "0.1234")
        #expect(MiningReport.quantile([1, 2, 3, 4], 0.25) == 1.75 && MiningReport.quantile([], 0.5) == .infinity)
        #expect(MiningReport.std([1]).isNaN && abs(MiningReport.std([1, 2, 3, 4]) - 1.2909944487358056) < 1e-15)
    }
}

/// CPython's `random.seed` + `random.sample(range(n), k)`, draw for draw (both of sample's branches).
@Suite struct PythonRandomTests {
    @Test func samplesAsCPython() throws {
        let draws = try #require(try MineIRFixture.json("random.json").array)
        var generators: [Int: PythonRandom] = [:]
        for d in draws {
            let seed = d["seed"]!.int!
            var r = generators[seed] ?? PythonRandom(seed: UInt64(seed))
            let got = r.sample(range: d["n"]!.int!, count: d["k"]!.int!)
            generators[seed] = r
            #expect(got == d["sample"]!.array!.map { $0.int! }, "seed \(seed), n \(d["n"]!.int!), k \(d["k"]!.int!)")
        }
        #expect(draws.count == 54)
    }

    /// The first 32-bit outputs after `random.seed(n)` (CPython: `random.getrandbits(32)`), for a
    /// one-word and a two-word seed.
    @Test func seedingIsCPythons() {
        var r = PythonRandom(seed: 0)
        #expect(r.nextUInt32() == 3_626_764_237)
        var big = PythonRandom(seed: (1 << 32) + 5)
        #expect(big.nextUInt32() == 675_479_763)
    }
}

/// The packed, byte-exact set of texts.
@Suite struct UniqueTextsTests {
    @Test func keepsFirstOccurrenceOrderAndComparesBytes() {
        let t = UniqueTexts()
        #expect(t.insert("b") == (0, true))
        #expect(t.insert("a") == (1, true))
        #expect(t.insert("b") == (0, false))
        // "é" precomposed and decomposed are different texts to Python (and here), equal to Swift's ==.
        #expect(t.insert("\u{E9}").inserted && t.insert("e\u{301}").inserted)
        #expect(t.insert("").inserted && t.index(of: "") == 4)
        #expect(t.count == 5 && t[3] == "e\u{301}" && t.index(of: "c") == nil)
        for i in 0..<10_000 { t.insert("text \(i)") }
        #expect(t.count == 10_005 && t.index(of: "text 9999") == 10_004 && t.index(of: "a") == 1)
    }

    @Test func sortsByCodePoints() {
        let t = UniqueTexts()
        for s in ["9", "10", "a", "B", "\u{E9}", "e\u{301}", "ab"] { t.insert(s) }
        let order = (0..<t.count).sorted { t.precedes($0, $1) }.map { t[$0] }
        #expect(order == ["10", "9", "B", "a", "ab", "e\u{301}", "\u{E9}"])
    }
}
