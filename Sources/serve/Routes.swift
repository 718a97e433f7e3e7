import Foundation
import Hummingbird
import IO
import NIOCore

/// The HTTP routes: TEI's (`/embed`, `/health`, `/info`, `/metrics`, and `/` + `/invocations` as
/// aliases of `/embed`), OpenAI's (`/v1/embeddings`, `/embeddings`), and with a corpus the search
/// API and page (`/search`, and `/` for GET).
struct Routes: Sendable {
    let service: EmbedService
    let corpus: CorpusIndex?

    var settings: ServerSettings { service.settings }
    var metrics: ServerMetrics { service.metrics }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        let routes = self
        for path in ["/embed", "/", "/invocations"] {
            router.post(RouterPath(path)) { request, _ in try await routes.embed(request) }
        }
        for path in ["/v1/embeddings", "/embeddings"] {
            router.post(RouterPath(path)) { request, _ in try await routes.openAIEmbed(request) }
        }
        for path in ["/health", "/ping"] {
            router.get(RouterPath(path)) { _, _ in try routes.health() }
        }
        router.get("/info") { _, _ in routes.info() }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: routes.metrics.render())))
        }
        router.get("/search") { request, _ in try await routes.search(request) }
        router.get("/") { request, _ in
            // TEI answers GET / as /health; with a corpus it is the search page.
            routes.corpus == nil ? try routes.health() : try await routes.searchPage(request)
        }
        return router
    }

    // MARK: Embedding

    /// TEI's POST /embed: `{"inputs", "normalize"?, "truncate"?, "truncation_direction"?,
    /// "prompt_name"?, "dimensions"?}` → `[[…], …]`.
    func embed(_ request: Request) async throws -> Response {
        let (items, single, options) = try await counted {
            let body = try await RequestBody.read(request, limit: settings.maxBodyBytes, shape: .tei)
            let (items, single) = try body.inputs("inputs")
            let options = EmbedOptions(normalize: try body.bool("normalize") ?? true,
                                       truncate: try body.bool("truncate") ?? settings.autoTruncate,
                                       keepEnd: try body.keepEnd(), promptName: try body.string("prompt_name"),
                                       dimensions: try body.count("dimensions"))
            return (items, single, options)
        }
        let result = try await service.embed(items, single: single, options: options, shape: .tei)
        var json = "["
        for (i, v) in result.vectors.enumerated() {
            if i > 0 { json += "," }
            appendVector(v, to: &json)
        }
        json += "]"
        return jsonResponse(json, timings: result)
    }

    /// OpenAI's POST /v1/embeddings: `{"input", "model"?, "encoding_format"?, "dimensions"?,
    /// "user"?}` → `{"object": "list", "data": [{"object": "embedding", "embedding", "index"}],
    /// "model", "usage"}`. Always normalized, truncated per --auto-truncate, as TEI does.
    func openAIEmbed(_ request: Request) async throws -> Response {
        let (items, single, options, base64) = try await counted {
            let body = try await RequestBody.read(request, limit: settings.maxBodyBytes, shape: .openAI)
            let (items, single) = try body.inputs("input")
            let format = try body.string("encoding_format") ?? "float"
            guard format == "float" || format == "base64" else {
                throw body.invalid("`encoding_format` must be \"float\" or \"base64\", not \"\(format)\"")
            }
            _ = try body.string("model")  // any name is accepted (TEI only logs a mismatch)
            _ = try body.string("user")
            let options = EmbedOptions(normalize: true, truncate: settings.autoTruncate, dimensions: try body.count("dimensions"))
            return (items, single, options, format == "base64")
        }
        let result = try await service.embed(items, single: single, options: options, shape: .openAI)
        var json = "{\"object\":\"list\",\"data\":["
        for (i, v) in result.vectors.enumerated() {
            json += i > 0 ? ",{\"object\":\"embedding\",\"index\":\(i),\"embedding\":" : "{\"object\":\"embedding\",\"index\":\(i),\"embedding\":"
            if base64 {
                json += "\"" + Self.base64(v) + "\""
            } else {
                appendVector(v, to: &json)
            }
            json += "}"
        }
        json += "],\"model\":"
        JSON.writeString(settings.servedModelName, to: &json)
        json += ",\"usage\":{\"prompt_tokens\":\(result.tokens),\"total_tokens\":\(result.tokens)}}"
        return jsonResponse(json, timings: result)
    }

    /// Errors found before a request reaches the embedding service (body too large, not JSON,
    /// wrong types) are counted as `te_request_failure{err="validation"}`.
    private func counted<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            metrics.increment("te_request_failure", "err=\"validation\"")
            throw error
        }
    }

    /// OpenAI's base64 encoding: the float32 values little-endian, end to end, in standard base64.
    static func base64(_ v: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(v.count * 4)
        for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return Data(bytes).base64EncodedString()
    }

    /// Floats in Swift's shortest round-trip form, as `embed` writes them.
    private func appendVector(_ v: [Float], to out: inout String) {
        out += "["
        for (c, x) in v.enumerated() {
            if c > 0 { out += "," }
            out += x.description
        }
        out += "]"
    }

    /// A JSON response with TEI's timing headers (milliseconds; per input for a batch).
    private func jsonResponse(_ json: String, timings r: EmbedService.Result) -> Response {
        func ms(_ s: Double) -> String { String(Int((s * 1000).rounded())) }
        var headers: HTTPFields = [.contentType: "application/json"]
        let t = r.timings
        for (name, value) in [
            ("x-compute-type", "cpu"), ("x-compute-time", ms(t.tokenization + t.queue + t.inference)),
            ("x-compute-characters", String(r.characters)), ("x-compute-tokens", String(r.tokens)),
            ("x-total-time", ms(r.total)), ("x-tokenization-time", ms(t.tokenization)),
            ("x-queue-time", ms(t.queue)), ("x-inference-time", ms(t.inference)),
        ] {
            headers[HTTPFields.Element.Name(name)!] = value  // HTTPField.Name
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    // MARK: Health and information

    /// 200 with an empty body while the model worker runs (503 once it has stopped), as TEI.
    func health() throws -> Response {
        if service.queue.isClosed { throw APIError(.Unhealthy, "unhealthy", kind: .inference) }
        return Response(status: .ok)
    }

    /// TEI's /info keys, plus `dimensions` and, with a corpus, `corpus_size`.
    func info() -> Response {
        var info = JSONObject()
        func number(_ key: String, _ n: Int) { info[key] = .number(Double(n)) }
        info["model_id"] = .string(settings.modelID)
        info["model_sha"] = .null
        info["model_dtype"] = "float32"
        info["served_model_name"] = .string(settings.servedModelName)
        info["model_type"] = ["embedding": ["pooling": .string(settings.pooling)]]
        number("dimensions", settings.dimension)
        number("max_concurrent_requests", settings.maxConcurrentRequests)
        number("max_input_length", settings.maxInputLength)
        number("max_batch_tokens", settings.maxBatchTokens)
        number("max_batch_requests", settings.maxBatchRequests)
        number("max_client_batch_size", settings.maxClientBatchSize)
        number("max_body_bytes", settings.maxBodyBytes)
        info["auto_truncate"] = .bool(settings.autoTruncate)
        number("tokenization_workers", settings.tokenizationWorkers)
        info["version"] = .string(EmbedKitVersion.string)
        info["sha"] = .null
        info["docker_label"] = .null
        if let corpus { info["corpus_size"] = .number(Double(corpus.count)) }
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: JSON.object(info).serialized())))
    }

    // MARK: Search

    struct SearchResult {
        let query: String
        let k: Int
        let hits: [SearchPage.Hit]
        let seconds: Double
    }

    /// The query's `q` and `k`, its vector through the batching queue, and the corpus's top k.
    func runSearch(_ request: Request) async throws -> SearchResult {
        guard let corpus else {
            throw APIError(.NotFound, "no corpus is loaded: start serve with --corpus FILE")
        }
        let start = ProgressBar.now()
        let params = Self.queryParameters(request.uri.query)
        let query = params["q"] ?? ""
        var wanted = 10
        if let s = params["k"], !s.isEmpty {
            guard let n = Int(s), n >= 1 else {
                throw APIError(.Validation, "`k` must be a positive integer, not \"\(s)\"")
            }
            wanted = n
        }
        let k = min(wanted, corpus.count)
        if query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw APIError(.Empty, "`q` cannot be empty")
        }
        let result = try await service.embed([.text(query)], single: true,
                                             options: EmbedOptions(normalize: true, truncate: true), shape: .tei)
        let vector = result.vectors[0]
        let found = try await service.offload { corpus.search(vector, k: k) }
        let hits = found.enumerated().map { SearchPage.Hit(rank: $0 + 1, index: $1.index, score: $1.score, text: corpus.text($1.index)) }
        return SearchResult(query: query, k: k, hits: hits, seconds: ProgressBar.now() - start)
    }

    /// GET /search?q=…&k=10 → `{"query", "k", "hits": [{"rank", "index", "score", "text"}]}`
    /// (`index` is the text's 0-based row in the corpus file).
    func search(_ request: Request) async throws -> Response {
        let r = try await runSearch(request)
        let hits: [JSON] = r.hits.map {
            ["rank": .number(Double($0.rank)), "index": .number(Double($0.index)),
             "score": .number(Double($0.score)), "text": .string($0.text)]
        }
        let body: JSON = ["query": .string(r.query), "k": .number(Double(r.k)), "hits": .array(hits)]
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: body.serialized())))
    }

    /// GET / with a corpus: the page, with the hits for `q` when there is one.
    func searchPage(_ request: Request) async throws -> Response {
        guard let corpus else { throw APIError(.NotFound, "no corpus is loaded") }
        let params = Self.queryParameters(request.uri.query)
        let query = params["q"] ?? ""
        let k = params["k"].flatMap { Int($0) }.map { max(1, min($0, corpus.count)) } ?? min(10, corpus.count)
        var result: SearchResult? = nil
        var error: String? = nil
        var status = HTTPResponse.Status.ok
        if !query.isEmpty {
            do {
                result = try await runSearch(request)
            } catch let e as APIError {
                error = e.message
                status = e.status
            }
        }
        let html = SearchPage.render(query: query, k: result?.k ?? k, hits: result?.hits ?? [], corpusSize: corpus.count,
                                     corpusName: URL(fileURLWithPath: corpus.path).lastPathComponent,
                                     modelName: settings.servedModelName, error: error,
                                     milliseconds: result.map { $0.seconds * 1000 })
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A query string's parameters as an HTML form sends them (`+` for a space, then %-escapes).
    static func queryParameters(_ query: String?) -> [String: String] {
        var out: [String: String] = [:]
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            out[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return out
    }
}
