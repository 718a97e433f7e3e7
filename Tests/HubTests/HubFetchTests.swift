import Foundation
import Hub
import IO
import TestSupport
import Testing

/// End-to-end fetches against `FakeHub` (a real HTTP server on 127.0.0.1): downloads through the
/// cache, resume, verification, errors, offline mode, and the dataset conversion.
@Suite(.serialized) struct HubFetchTests {
    static func bytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
    }

    static let modelFiles: [String: [UInt8]] = [
        "config.json": Array(#"{"model_type": "bert", "hidden_size": 8}"#.utf8),
        "model.safetensors": bytes(300_000, seed: 1),
        "pytorch_model.bin": bytes(1000, seed: 2),
        "tokenizer.json": Array(#"{"version": "1.0", "note": "blåbærsyltetøy"}"#.utf8),
        "tokenizer_config.json": Array("{}".utf8),
        "vocab.txt": Array("[PAD]\n[UNK]\nø\n".utf8),
        "modules.json": Array(#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]"#.utf8),
        "sentence_bert_config.json": Array(#"{"max_seq_length": 128}"#.utf8),
        "1_Pooling/config.json": Array(#"{"pooling_mode_mean_tokens": true}"#.utf8),
        "modeling_custom.py": Array("# custom code\n".utf8),
        "README.md": Array("# a model\n".utf8),
        "onnx/model.onnx": bytes(5000, seed: 3),
        ".gitattributes": Array("*.bin filter=lfs\n".utf8),
    ]

    static let wanted = [
        "1_Pooling/config.json", "config.json", "model.safetensors", "modeling_custom.py", "modules.json",
        "sentence_bert_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
    ]

    /// A hub with the model, a client on a fresh cache, a scratch folder; stopped afterwards.
    static func withHub(
        token: String? = nil, _ body: (FakeHub, HubClient, String) throws -> Void
    ) throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let dir = TestPaths.scratch()
        let client = try HubClient(endpoint: hub.endpoint, token: token ?? "", offline: false, cacheDir: dir + "/cache")
        client.quiet = true
        client.retry = RetryPolicy(maxAttempts: 4, baseDelay: 0.001, maxDelay: 0.002)
        try body(hub, client, dir)
    }

    static func read(_ path: String) throws -> [UInt8] { try ByteReader(path: path, detectCompression: false).readAll() }

    static func listFiles(_ dir: String) -> [String] {
        let e = FileManager.default.enumerator(atPath: dir)
        var out: [String] = []
        while let p = e?.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + p, isDirectory: &isDir), !isDir.boolValue { out.append(p) }
        }
        return out.sorted()
    }

    @Test func downloadsAModelThroughTheCacheInHuggingFaceLayout() throws {
        try Self.withHub(token: "hf_secret") { hub, client, dir in
            let commit = hub.add(.model, "test-org/tiny-bert", files: Self.modelFiles, token: "hf_secret")
            let out = dir + "/model"
            let result = try ModelFetcher(client: client).fetch(repo: "test-org/tiny-bert", revision: "main", to: out)
            #expect(result.commit == commit)
            #expect(result.files.sorted() == Self.wanted)
            #expect(Self.listFiles(out) == (Self.wanted + ["fetch-info.json"]).sorted())
            for f in Self.wanted { #expect(try Self.read(out + "/" + f) == Self.modelFiles[f], "\(f)") }
            let info = try JSON.parse(Self.read(out + "/fetch-info.json"))
            #expect(info["repo"]?.string == "test-org/tiny-bert")
            #expect(info["revision"]?.string == "main")
            #expect(info["commit"]?.string == commit)

            // The cache is laid out as huggingface_hub lays it out.
            let repoDir = dir + "/cache/models--test-org--tiny-bert"
            #expect(try String(contentsOfFile: repoDir + "/refs/main", encoding: .utf8) == commit)
            let sha = SHA256.hash(Self.modelFiles["model.safetensors"]!)
            let link = try FileManager.default.destinationOfSymbolicLink(atPath: repoDir + "/snapshots/\(commit)/model.safetensors")
            #expect(link == "../../blobs/\(sha)")
            #expect(try Self.read(repoDir + "/blobs/\(sha)") == Self.modelFiles["model.safetensors"])
            let pooling = try FileManager.default.destinationOfSymbolicLink(atPath: repoDir + "/snapshots/\(commit)/1_Pooling/config.json")
            #expect(pooling == "../../../blobs/\(FakeHub.gitBlobID(Self.modelFiles["1_Pooling/config.json"]!))")
            #expect(FileManager.default.fileExists(atPath: dir + "/cache/CACHEDIR.TAG"))
            #expect(!FileManager.default.fileExists(atPath: repoDir + "/snapshots/\(commit)/pytorch_model.bin"))

            // The token went to the hub, never to the CDN (which would have answered 400).
            #expect(hub.hub.requests.allSatisfy { $0.headers["authorization"] == "Bearer hf_secret" })
            #expect(!hub.cdn.requests.isEmpty)
            #expect(hub.cdn.requests.allSatisfy { $0.headers["authorization"] == nil })
            // The tree listing was paginated.
            #expect(hub.hub.requests(matching: "/tree/").count > 1)

            // A second fetch of the same commit finds the output up to date and downloads nothing.
            let cdnBefore = hub.cdn.requests.count
            let again = try ModelFetcher(client: client).fetch(repo: "test-org/tiny-bert", to: out)
            #expect(again.upToDate)
            #expect(hub.cdn.requests.count == cdnBefore)
            #expect(hub.hub.requests(matching: "/resolve/").count == Self.wanted.count)

            // Into another folder: the files come from the cache, not the network.
            _ = try ModelFetcher(client: client).fetch(repo: "test-org/tiny-bert", to: dir + "/model2")
            #expect(hub.cdn.requests.count == cdnBefore)
            #expect(try Self.read(dir + "/model2/model.safetensors") == Self.modelFiles["model.safetensors"])
        }
    }

    @Test func prefersPytorchBinOnlyWithoutSafetensors() throws {
        var files = Self.modelFiles
        files["model.safetensors"] = nil
        #expect(try ModelFetcher.selectFiles(Array(files.keys)).contains("pytorch_model.bin"))
        #expect(try !ModelFetcher.selectFiles(Array(Self.modelFiles.keys)).contains("pytorch_model.bin"))
        #expect(throws: EmbedError.self) { try ModelFetcher.selectFiles(["config.json", "README.md"]) }
    }

    @Test func offlineModeUsesTheCacheAndSendsNothing() throws {
        try Self.withHub { hub, client, dir in
            let commit = hub.add(.model, "test-org/tiny-bert", files: Self.modelFiles)
            _ = try ModelFetcher(client: client).fetch(repo: "test-org/tiny-bert", to: dir + "/a")
            hub.stop()  // nothing answers any more
            let before = hub.hub.requests.count + hub.cdn.requests.count
            let offline = try HubClient(endpoint: hub.endpoint, token: "", offline: true, cacheDir: dir + "/cache")
            offline.quiet = true
            let result = try ModelFetcher(client: offline).fetch(repo: "test-org/tiny-bert", to: dir + "/b")
            #expect(result.commit == commit)
            #expect(Self.listFiles(dir + "/b") == (Self.wanted + ["fetch-info.json"]).sorted())
            #expect(hub.hub.requests.count + hub.cdn.requests.count == before)
            // Offline without the files cached: a clear error.
            #expect {
                _ = try ModelFetcher(client: offline).fetch(repo: "test-org/other", to: dir + "/c")
            } throws: { ($0 as? EmbedError)?.message.contains("offline mode (HF_HUB_OFFLINE)") == true }
        }
    }

    @Test func fallsBackToTheCacheWhenTheHubIsDown() throws {
        try Self.withHub { hub, client, dir in
            hub.add(.model, "test-org/tiny-bert", files: Self.modelFiles)
            _ = try ModelFetcher(client: client).fetch(repo: "test-org/tiny-bert", to: dir + "/a")
            hub.failures = ["/api/models/": Array(repeating: 500, count: 20)]
            let result = try ModelFetcher(client: client).fetch(repo: "test-org/tiny-bert", to: dir + "/b")
            #expect(result.files.count == Self.wanted.count)
        }
    }

    @Test func resumesADroppedDownloadWithARangeRequest() throws {
        try Self.withHub { hub, client, dir in
            hub.add(.model, "test-org/tiny-bert", files: Self.modelFiles)
            hub.dropOnce = ["model.safetensors", "tokenizer.json"]
            _ = try ModelFetcher(client: client).fetch(repo: "test-org/tiny-bert", to: dir + "/m")
            #expect(try Self.read(dir + "/m/model.safetensors") == Self.modelFiles["model.safetensors"])
            #expect(try Self.read(dir + "/m/tokenizer.json") == Self.modelFiles["tokenizer.json"])
            let gets = hub.cdn.requests.filter { $0.method == "GET" }
            #expect(gets.count == 2)
            #expect(gets[1].headers["range"] == "bytes=150000-")
            #expect(hub.hub.requests(matching: "/api/resolve-cache/").contains { $0.headers["range"] != nil })
        }
    }

    @Test func resumesAPartialFileLeftByAnEarlierRun() throws {
        try Self.withHub { hub, client, dir in
            hub.add(.model, "test-org/tiny-bert", files: Self.modelFiles)
            let weights = Self.modelFiles["model.safetensors"]!
            let blobs = dir + "/cache/models--test-org--tiny-bert/blobs"
            try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
            try Data(weights[0..<100_000]).write(to: URL(fileURLWithPath: blobs + "/\(SHA256.hash(weights)).incomplete"))
            _ = try ModelFetcher(client: client).fetch(repo: "test-org/tiny-bert", to: dir + "/m")
            #expect(try Self.read(dir + "/m/model.safetensors") == weights)
            #expect(hub.cdn.requests.filter { $0.method == "GET" }.map { $0.headers["range"] } == ["bytes=100000-"])
            #expect(!FileManager.default.fileExists(atPath: blobs + "/\(SHA256.hash(weights)).incomplete"))
        }
    }

    @Test func rejectsACorruptedDownload() throws {
        try Self.withHub { hub, client, dir in
            let commit = hub.add(.model, "test-org/tiny-bert", files: Self.modelFiles)
            hub.corrupt = ["model.safetensors"]
            #expect {
                _ = try ModelFetcher(client: client).fetch(repo: "test-org/tiny-bert", to: dir + "/m")
            } throws: { e in
                let m = (e as? EmbedError)?.message ?? ""
                return m.contains("model.safetensors") && m.contains("sha256 mismatch") && m.contains("rejected")
            }
            let repoDir = dir + "/cache/models--test-org--tiny-bert"
            let sha = SHA256.hash(Self.modelFiles["model.safetensors"]!)
            #expect(!FileManager.default.fileExists(atPath: repoDir + "/blobs/\(sha)"))
            #expect(!FileManager.default.fileExists(atPath: repoDir + "/blobs/\(sha).incomplete"))
            #expect(!FileManager.default.fileExists(atPath: repoDir + "/snapshots/\(commit)/model.safetensors"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/m/model.safetensors"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/m/fetch-info.json"))
            // A small git-stored file is checked against its git blob id too.
            hub.corrupt = ["config.json"]
            #expect {
                try client.download(HubRepo("test-org/tiny-bert"), path: "config.json", revision: "main", force: true)
            } throws: { ($0 as? EmbedError)?.message.contains("git blob id mismatch") == true }
        }
    }

    @Test func retriesATransientFailure() throws {
        try Self.withHub { hub, client, dir in
            hub.add(.model, "test-org/tiny-bert", files: Self.modelFiles)
            hub.failures = ["/cdn/": [503, 503], "/revision/": [503], "/tree/": [502]]
            _ = try ModelFetcher(client: client).fetch(repo: "test-org/tiny-bert", to: dir + "/m")
            #expect(try Self.read(dir + "/m/model.safetensors") == Self.modelFiles["model.safetensors"])
            #expect(hub.cdn.requests.filter { $0.method == "GET" }.count == 3)
            #expect(hub.hub.requests(matching: "/revision/").count == 2)
        }
    }

    @Test func reportsHTTPErrorsClearly() throws {
        try Self.withHub { hub, client, dir in
            hub.add(.model, "test-org/private", files: Self.modelFiles, token: "hf_right")
            hub.add(.model, "test-org/gated", files: Self.modelFiles, token: "hf_right", gated: true)
            hub.add(.model, "test-org/tiny-bert", files: Self.modelFiles)
            func message(_ body: () throws -> Void) -> String {
                do { try body(); return "no error" } catch { return (error as? EmbedError)?.message ?? "\(error)" }
            }
            let fetcher = ModelFetcher(client: client)
            let unauthorized = message { _ = try fetcher.fetch(repo: "test-org/private", to: dir + "/p") }
            #expect(unauthorized.contains("test-org/private@main: repository not found or not accessible"))
            #expect(unauthorized.contains("HTTP 401") && unauthorized.contains("set HF_TOKEN"))
            let gated = message { _ = try fetcher.fetch(repo: "test-org/gated", to: dir + "/g") }
            #expect(gated.contains("gated") && gated.contains("HTTP 403"))
            let missing = message { _ = try fetcher.fetch(repo: "test-org/nope", to: dir + "/n") }
            #expect(missing.contains("repository not found") && missing.contains("HTTP 401"))
            let badRevision = message { _ = try fetcher.fetch(repo: "test-org/tiny-bert", revision: "v9", to: dir + "/r") }
            #expect(badRevision.contains("revision 'v9' not found") && badRevision.contains("HTTP 404"))
            let noFile = message { try client.download(HubRepo("test-org/tiny-bert"), path: "nope.txt", revision: "main") }
            #expect(noFile.contains("no file 'nope.txt'") && noFile.contains("HTTP 404"))
            hub.failures = ["/api/models/test-org/tiny-bert": Array(repeating: 500, count: 10)]
            let serverError = message { _ = try fetcher.fetch(repo: "test-org/tiny-bert", to: dir + "/s") }
            #expect(serverError.contains("server error") && serverError.contains("HTTP 500") && serverError.contains("4 attempts"))
            hub.failures = [:]
            hub.failures = ["/cdn/": Array(repeating: 404, count: 10)]
            let cdnMissing = message { _ = try fetcher.fetch(repo: "test-org/tiny-bert", to: dir + "/c") }
            #expect(cdnMissing.contains("model.safetensors") && cdnMissing.contains("HTTP 404") && !cdnMissing.contains("secret"))
            hub.failures = [:]

            // With the right token the private repo downloads.
            let authed = try HubClient(endpoint: hub.endpoint, token: "hf_right", offline: false, cacheDir: dir + "/cache")
            authed.quiet = true
            #expect(try ModelFetcher(client: authed).fetch(repo: "test-org/private", to: dir + "/ok").files.count == Self.wanted.count)
        }
    }

    @Test func connectionRefusedIsAClearError() throws {
        let dir = TestPaths.scratch()
        let server = try TestHTTPServer { _ in .init(500) }
        let endpoint = server.baseURL
        server.stop()  // the port is now closed
        let client = try HubClient(endpoint: endpoint, token: "", offline: false, cacheDir: dir + "/cache")
        client.quiet = true
        client.retry = RetryPolicy(maxAttempts: 2, baseDelay: 0.001, maxDelay: 0.001)
        #expect {
            _ = try ModelFetcher(client: client).fetch(repo: "test-org/tiny-bert", to: dir + "/m")
        } throws: { e in
            let m = (e as? EmbedError)?.message ?? ""
            return m.contains("cannot reach the hub") && m.contains("127.0.0.1")
        }
    }

    // MARK: Datasets

    static let parquetDir = TestPaths.fixtures + "/parquet/"

    static func jsonlRows(_ path: String) throws -> [JSONObject] {
        let r = try JSONLReader(path: path)
        var rows: [JSONObject] = []
        while let o = try r.next() { rows.append(o) }
        return rows
    }

    static func project(_ rows: [JSONObject], _ columns: [String]) -> [JSONObject] {
        rows.map { row in JSONObject(columns.map { ($0, row[$0]!) }) }
    }

    @Test func convertsADatasetSplitFromTheReposConfigs() throws {
        try Self.withHub { hub, client, dir in
            let a = try Self.read(Self.parquetDir + "zstd_dictionary_v2.parquet")
            let b = try Self.read(Self.parquetDir + "snappy_plain_v1.parquet")
            let readme = """
                ---
                language: [nb, nn]
                configs:
                - config_name: pair
                  data_files:
                  - split: train
                    path: pair/train-*
                - config_name: triplet
                  data_files:
                  - split: train
                    path: triplet/train-*
                  - split: dev
                    path: triplet/dev-*
                ---
                # NLI, Norwegian
                """
            let commit = hub.add(.dataset, "test-org/nli-nb", files: [
                "README.md": Array(readme.utf8),
                "triplet/train-00000-of-00002.parquet": a,
                "triplet/train-00001-of-00002.parquet": b,
                "triplet/dev-00000-of-00001.parquet": b,
                "pair/train-00000-of-00001.parquet": b,
            ])
            let fetcher = DatasetFetcher(client: client)
            fetcher.quiet = true
            let out = dir + "/train.jsonl.zst"
            let cols = ["anchor", "positive", "negative"]
            let result = try fetcher.fetch(repo: "test-org/nli-nb", split: "train", columns: cols, config: "triplet", to: out)
            let expected = try Self.project(
                Self.jsonlRows(Self.parquetDir + "zstd_dictionary_v2.jsonl") + Self.jsonlRows(Self.parquetDir + "snappy_plain_v1.jsonl"), cols)
            #expect(try Self.jsonlRows(out) == expected)
            #expect(result.rows == expected.count)
            #expect(result.commit == commit)
            #expect(result.sources == ["triplet/train-00000-of-00002.parquet", "triplet/train-00001-of-00002.parquet"])
            // The output is zstd (magic 28 B5 2F FD).
            #expect(Array(try Self.read(out).prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])
            // The dataset cache folder follows huggingface_hub's naming.
            #expect(FileManager.default.fileExists(atPath: dir + "/cache/datasets--test-org--nli-nb/refs/main"))

            // --max-rows stops early: the second file is never downloaded.
            let cdnBefore = hub.cdn.requests.count
            let few = try fetcher.fetch(repo: "test-org/nli-nb", split: "dev", columns: ["anchor"], maxRows: 7, config: "triplet", to: dir + "/dev.jsonl")
            #expect(few.rows == 7)
            #expect(try Self.jsonlRows(dir + "/dev.jsonl") == Array(Self.project(Self.jsonlRows(Self.parquetDir + "snappy_plain_v1.jsonl"), ["anchor"]).prefix(7)))
            #expect(hub.cdn.requests.count == cdnBefore)  // dev's file is b, cached already
            _ = try fetcher.fetch(repo: "test-org/nli-nb", split: "train", maxRows: 3, config: "triplet", to: dir + "/t3.jsonl")
            #expect(hub.cdn.requests.count == cdnBefore)

            // Several configs and none chosen: the error lists them. A missing column: listed too.
            #expect {
                _ = try fetcher.fetch(repo: "test-org/nli-nb", split: "train", to: dir + "/x.jsonl")
            } throws: { ($0 as? EmbedError)?.message.contains("several configs (pair, triplet)") == true }
            #expect {
                _ = try fetcher.fetch(repo: "test-org/nli-nb", split: "train", columns: ["anchor", "hypothesis"], config: "triplet", to: dir + "/x.jsonl")
            } throws: { e in
                let m = (e as? EmbedError)?.message ?? ""
                return m.contains("no column 'hypothesis'") && m.contains("anchor, positive, negative, label")
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/x.jsonl"))

            // Offline: the same conversion from the cache alone.
            hub.stop()
            let offline = try HubClient(endpoint: hub.endpoint, token: "", offline: true, cacheDir: dir + "/cache")
            let offlineFetcher = DatasetFetcher(client: offline)
            offlineFetcher.quiet = true
            _ = try offlineFetcher.fetch(repo: "test-org/nli-nb", split: "train", columns: cols, config: "triplet", to: dir + "/again.jsonl")
            #expect(try Self.jsonlRows(dir + "/again.jsonl") == expected)
        }
    }

    @Test func usesTheHubsParquetConversionWhenTheRepoHasNoReadableFiles() throws {
        try Self.withHub { hub, client, dir in
            let a = try Self.read(Self.parquetDir + "gzip_dictionary_v2.parquet")
            hub.add(.dataset, "test-org/scripted", files: ["scripted.py": Array("# loading script\n".utf8), "data.tar.gz": [1, 2, 3]])
            hub.add(.dataset, "test-org/scripted", revision: "refs/convert/parquet", files: [
                "default/train/0000.parquet": a,
                "default/test/0000.parquet": a,
            ])
            let fetcher = DatasetFetcher(client: client)
            fetcher.quiet = true
            let result = try fetcher.fetch(repo: "test-org/scripted", split: "train", columns: ["anchor", "label", "flag"], to: dir + "/t.jsonl")
            #expect(result.revision == "refs/convert/parquet")
            #expect(try Self.jsonlRows(dir + "/t.jsonl") == Self.project(Self.jsonlRows(Self.parquetDir + "gzip_dictionary_v2.jsonl"), ["anchor", "label", "flag"]))
            #expect(hub.hub.requests.contains { $0.path.contains("/revision/refs%2Fconvert%2Fparquet") })
            #expect(hub.hub.requests.contains { $0.path.contains("/datasets/test-org/scripted/resolve/") })
            #expect(FileManager.default.fileExists(atPath: dir + "/cache/datasets--test-org--scripted/refs/refs/convert/parquet"))
        }
    }

    @Test func infersSplitsFromFileNamesLikeDatasets() throws {
        try Self.withHub { hub, client, dir in
            hub.add(.dataset, "test-org/plain", files: [
                "README.md": Array("# no front matter\n".utf8),
                "data/train.jsonl": Array("{\"a\": \"x\", \"n\": 1}\n{\"a\": \"ø\", \"n\": 2}\n".utf8),
                "data/validation.csv": Array("a,n\n\"hei, du\",3\n".utf8),
            ])
            let fetcher = DatasetFetcher(client: client)
            fetcher.quiet = true
            _ = try fetcher.fetch(repo: "test-org/plain", split: "train", to: dir + "/t.jsonl")
            #expect(try String(contentsOfFile: dir + "/t.jsonl", encoding: .utf8) == "{\"a\":\"x\",\"n\":1}\n{\"a\":\"ø\",\"n\":2}\n")
            _ = try fetcher.fetch(repo: "test-org/plain", split: "validation", to: dir + "/v.jsonl")
            #expect(try String(contentsOfFile: dir + "/v.jsonl", encoding: .utf8) == "{\"a\":\"hei, du\",\"n\":\"3\"}\n")
            #expect {
                _ = try fetcher.fetch(repo: "test-org/plain", split: "test", to: dir + "/x.jsonl")
            } throws: { ($0 as? EmbedError)?.message.contains("no data files for split 'test'") == true }
        }
    }
}
