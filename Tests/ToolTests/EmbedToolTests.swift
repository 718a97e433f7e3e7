import Foundation
import IO
import Inference
import NN
import TestSupport
import Training
import Testing

/// Text in, vectors out, against SentenceTransformer("all-MiniLM-L6-v2").encode on a few hundred
/// real Norwegian sentences (tools/make_model_reference.py): tokenizer, truncation at 256 tokens,
/// model, pooling and normalization together.
@Suite(.enabled(if: TestPaths.minilm != nil, "needs models/pypi/all-MiniLM-L6-v2 (make minilm)"))
struct EmbedToolTests {
    static let fixture = TestPaths.fixtures + "/model/minilm-embeddings.safetensors"

    func reference() throws -> (texts: [String], vectors: [Float]) {
        let ref = try SafetensorsFile(path: Self.fixture)
        let texts = try #require(try JSON.parse(ref.metadata["texts"]!).array?.compactMap(\.string))
        return (texts, try ref.floats("embeddings"))
    }

    /// The vectors of `embed`'s JSON lines output, one row a line.
    func vectors(_ stdout: String) throws -> [[Float]] {
        try stdout.split(separator: "\n").map { line in
            try #require(try JSON.parse(String(line))["embedding"]?.array?.compactMap { $0.double.map(Float.init) })
        }
    }

    func worstCosine(_ got: [Float], _ want: [Float], dimension C: Int) -> Float {
        var worst: Float = 1
        for r in 0..<(want.count / C) {
            let g = got[(r * C)..<((r + 1) * C)], w = want[(r * C)..<((r + 1) * C)]
            let dot = zip(g, w).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            let ng = g.reduce(0) { $0 + $1 * $1 }.squareRoot(), nw = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
            worst = min(worst, dot / (ng * nw))
        }
        return worst
    }

    @Test func textEmbedderMatchesSentenceTransformers() throws {
        let (texts, want) = try reference()
        #expect(texts.count == 310)
        let embedder = try TextEmbedder(directory: TestPaths.minilm!)
        let got = try embedder.embed(texts)
        #expect(worstCosine(got, want, dimension: 384) >= 0.99999)
    }

    /// bf16 matrix products on the 310 real sentences: every vector within cosine 0.999 of the fp32
    /// one and of sentence-transformers'; and fp32 afterwards gives exactly the vectors it gave
    /// before (the precision is a per-call choice that leaves no state behind). Where bf16 cannot
    /// run, asking for it gives the fp32 vectors bit for bit.
    @Test func bf16VectorsStayWithinToleranceOfFp32() throws {
        let (texts, want) = try reference()
        let embedder = try TextEmbedder(directory: TestPaths.minilm!)
        let fp32 = try embedder.embed(texts)
        embedder.model.encoder.matmulPrecision = MatmulPrecision.resolve(.bf16)
        let bf16 = try embedder.embed(texts)
        embedder.model.encoder.matmulPrecision = .fp32
        let again = try embedder.embed(texts)
        #expect(again.elementsEqual(fp32) { $0.bitPattern == $1.bitPattern }, "fp32 after bf16 changed")
        if MatmulPrecision.bf16Supported {
            let toFp32 = worstCosine(bf16, fp32, dimension: 384), toTorch = worstCosine(bf16, want, dimension: 384)
            #expect(toFp32 >= 0.999 && toTorch >= 0.999, "worst cosine: \(toFp32) to fp32, \(toTorch) to PyTorch")
            // bf16 really ran: the vectors are not the fp32 ones.
            #expect(toFp32 < 0.99999, "bf16 vectors equal fp32's (worst cosine \(toFp32))")
        } else {
            #expect(bf16.elementsEqual(fp32) { $0.bitPattern == $1.bitPattern })
        }
    }

    /// `embed --bf16`: the same vectors as the library's bf16 path, or, without AVX512-BF16, the
    /// fp32 vectors and one note on stderr.
    @Test(.enabled(if: ToolRunner.path("embed") != nil, "the embed binary was not built"))
    func embedToolBf16() throws {
        let (texts, want) = try reference()
        let input = texts.joined(separator: "\n") + "\n"
        let r = try ToolRunner.run("embed", ["--model", TestPaths.minilm!, "--bf16"], stdin: input)
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try vectors(r.stdout)
        #expect(rows.count == texts.count)
        #expect(worstCosine(rows.flatMap { $0 }, want, dimension: 384) >= 0.999)
        let notes = r.stderr.components(separatedBy: "bf16 requested").count - 1
        #expect(notes == (MatmulPrecision.bf16Supported ? 0 : 1), "\(r.stderr)")
    }

    /// The `embed` tool: JSON lines on stdout in input order, and the safetensors output.
    @Test(.enabled(if: ToolRunner.path("embed") != nil, "the embed binary was not built"))
    func embedToolMatchesSentenceTransformers() throws {
        let (texts, want) = try reference()
        // Texts may contain no newlines (one per line); the fixture's are single lines.
        let input = texts.joined(separator: "\n") + "\n"
        let r = try ToolRunner.run("embed", ["--model", TestPaths.minilm!, "--quiet"], stdin: input)
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try vectors(r.stdout)
        #expect(rows.count == texts.count)
        #expect(worstCosine(rows.flatMap { $0 }, want, dimension: 384) >= 0.99999)

        let dir = TestPaths.scratch()
        try input.write(toFile: dir + "/in.txt", atomically: true, encoding: .utf8)
        let s = try ToolRunner.run("embed", ["--model", TestPaths.minilm!, "--quiet", "--batch-size", "7",
                                             "--out", dir + "/e.safetensors", dir + "/in.txt"])
        #expect(s.status == 0, "\(s.stderr)")
        let file = try SafetensorsFile(path: dir + "/e.safetensors")
        #expect(try file.info("embeddings").shape == [310, 384])
        #expect(worstCosine(try file.floats("embeddings"), want, dimension: 384) >= 0.99999)
    }

    @Test(.enabled(if: ToolRunner.path("embed") != nil, "the embed binary was not built"))
    func embedToolErrorsNameTheProblem() throws {
        let missing = try ToolRunner.run("embed", ["--model", "/nonexistent/model"], stdin: "x\n")
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent/model"))
        let badJSON = try ToolRunner.run("embed", ["--model", TestPaths.minilm!, "--field", "text", "--quiet"],
                                         stdin: "{\"text\": \"ok\"}\n{\"text\": 3}\n")
        #expect(badJSON.status == 1 && badJSON.stderr.contains("-:2: no string field 'text'"))
        let path = TestPaths.scratch() + "/bad.txt"
        _ = FileManager.default.createFile(atPath: path, contents: Data([0x6F, 0x6B, 0x0A, 0xC3, 0x28, 0x0A]))
        let badUTF8 = try ToolRunner.run("embed", ["--model", TestPaths.minilm!, "--quiet", path])
        #expect(badUTF8.status == 1 && badUTF8.stderr.contains("bad.txt:2: invalid UTF-8"), "\(badUTF8.stderr)")
    }
}
