import Foundation
import Hub
import IO
import TestSupport
import Testing

/// Uploads against `FakeHub` (real HTTP servers on 127.0.0.1) speaking the protocol of
/// huggingface_hub without Xet: a model folder uploaded and fetched back is byte-identical, a second
/// upload sends only what changed, dropped connections are retried (but never the commit), private
/// repos need the token, refused credentials are clear errors that leave nothing half-made.
@Suite(.serialized) struct HubUploadTests {
    static let bytes = HubFetchTests.bytes

    /// A sentence-transformers model folder (the download tests' model, with a model card) with
    /// every kind of file an upload meets: small JSON and text (regular), weights above the
    /// multipart threshold, small `.bin` and `.onnx` files (basic LFS transfers), a binary file
    /// `.gitattributes` does not name (LFS by its NUL bytes), an empty file, and the folders
    /// huggingface_hub never uploads.
    static func modelFolder(in dir: String) throws -> [String: [UInt8]] {
        var files = HubFetchTests.modelFiles
        files[".gitattributes"] = nil  // the repo's own, which the hub makes
        files["README.md"] = Array("---\nlibrary_name: sentence-transformers\nlicense: apache-2.0\nlanguage:\n- \"no\"\n---\n# Tiny\n".utf8)
        files["extra/blob.dat"] = Array("binary\u{0}data".utf8) + bytes(100, 13)
        files["empty.txt"] = []
        try write(files, to: dir)
        try write([".git/HEAD": Array("ref: refs/heads/main\n".utf8), ".cache/huggingface/x.lock": []], to: dir)
        return files
    }

    static func write(_ files: [String: [UInt8]], to dir: String) throws {
        for (path, content) in files {
            let full = dir + "/" + path
            try FileManager.default.createDirectory(atPath: FileSystem.dirname(full), withIntermediateDirectories: true)
            try Data(content).write(to: URL(fileURLWithPath: full))
        }
    }

    static func client(_ hub: FakeHub, token: String?, dir: String) throws -> HubClient {
        let c = try HubClient(endpoint: hub.endpoint, token: token ?? "", offline: false, cacheDir: dir + "/cache-\(UUID().uuidString.prefix(6))")
        c.quiet = true
        c.retry = RetryPolicy(maxAttempts: 4, baseDelay: 0.001, maxDelay: 0.002)
        return c
    }

    /// A hub whose thresholds make the 300 kB weights a multipart upload of 5 parts.
    static func withHub(_ body: (FakeHub, String) throws -> Void) throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        hub.multipartThreshold = 100_000
        hub.chunkSize = 64 * 1024
        try body(hub, TestPaths.scratch())
    }

    static func upload(_ hub: FakeHub, _ repo: String, _ folder: String, token: String? = "hf_write", dir: String,
                       _ configure: (inout UploadRequest) -> Void = { _ in }) throws -> UploadResult {
        var request = UploadRequest(repo: HubRepo(repo), source: folder)
        configure(&request)
        return try HubUploader(client: client(hub, token: token, dir: dir)).upload(request)
    }

    static func lines(_ body: [UInt8]) throws -> [JSON] {
        try body.split(separator: 0x0A).map { try JSON.parse(Array($0)) }
    }

    static func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return (error as? EmbedError)?.message ?? "\(error)" }
    }

    @Test func aModelFolderUploadedAndFetchedBackIsByteIdentical() throws {
        try Self.withHub { hub, dir in
            let files = try Self.modelFolder(in: dir + "/model")
            let result = try Self.upload(hub, "alice/tiny", dir + "/model", dir: dir) { $0.commitMessage = "First version" }
            #expect(result.committed && result.repo.id == "alice/tiny")
            #expect(result.commitURL == "\(hub.endpoint)/alice/tiny/commit/\(result.commitOID)")
            #expect(hub.head(.model, "alice/tiny") == result.commitOID)

            // The repo holds the folder (minus .git/ and .cache/huggingface/), plus .gitattributes,
            // which gained a line for the binary file its patterns did not cover.
            let remote = try #require(hub.files(.model, "alice/tiny"))
            #expect(Set(remote.keys) == Set(files.keys).union([".gitattributes"]))
            for (path, content) in files { #expect(remote[path] == content, "\(path)") }
            #expect(String(decoding: remote[".gitattributes"]!, as: UTF8.self).contains("extra/blob.dat filter=lfs"))
            for path in ["model.safetensors", "pytorch_model.bin", "onnx/model.onnx", "extra/blob.dat"] {
                #expect(hub.isLFSEntry(.model, "alice/tiny", path: path) == true, "\(path)")
            }
            for path in ["config.json", "README.md", "empty.txt", "1_Pooling/config.json"] {
                #expect(hub.isLFSEntry(.model, "alice/tiny", path: path) == false, "\(path)")
            }

            // Fetched back through the download client: every file, byte for byte.
            let reader = try Self.client(hub, token: "hf_write", dir: dir)
            let snapshot = try reader.snapshot(HubRepo("alice/tiny"), revision: "main")
            #expect(snapshot.commit == result.commitOID)
            for (path, content) in files {
                let local = try reader.download(HubRepo("alice/tiny"), path: path, revision: snapshot.commit, expected: snapshot.file(path))
                #expect(try HubFetchTests.read(local) == content, "\(path)")
            }
            // And as `fetch-data model` gets it: the model's files, identical.
            let fetched = try ModelFetcher(client: reader).fetch(repo: "alice/tiny", to: dir + "/fetched")
            #expect(try fetched.files.sorted() == ModelFetcher.selectFiles(Array(files.keys)).sorted())
            for f in fetched.files { #expect(try HubFetchTests.read(dir + "/fetched/" + f) == files[f], "\(f)") }

            // What went over the wire: huggingface_hub's requests and bodies.
            let create = try JSON.parse(try #require(hub.hub.requests(matching: "/api/repos/create").first).body)
            #expect(create == .object(JSONObject([("name", "tiny"), ("organization", "alice"), ("type", "model")])))
            #expect(hub.hub.requests(matching: "/api/validate-yaml").count == 1)
            let pre = try JSON.parse(try #require(hub.hub.requests(matching: "/preupload/main").first).body)
            let preFiles = try #require(pre["files"]?.array)
            #expect(preFiles.count == files.count)
            #expect(preFiles.allSatisfy { $0.object?.keys.sorted() == ["path", "sample", "size"] })
            let batchRequest = try #require(hub.hub.requests(matching: "/info/lfs/objects/batch").first)
            #expect(batchRequest.headers["content-type"] == "application/vnd.git-lfs+json")
            let batch = try JSON.parse(batchRequest.body)
            #expect(batch["operation"] == "upload" && batch["transfers"] == ["basic", "multipart"] && batch["hash_algo"] == "sha256")
            #expect(batch["ref"] == .object(JSONObject([("name", "main")])))
            #expect(Set(batch["objects"]?.array?.compactMap { $0["oid"]?.string } ?? [])
                == Set(["model.safetensors", "pytorch_model.bin", "onnx/model.onnx", "extra/blob.dat"].map { SHA256.hash(files[$0]!) }))
            // Storage got the bytes without the token: five parts, three basic PUTs.
            let puts = hub.cdn.requests.filter { $0.method == "PUT" }
            #expect(puts.filter { $0.path.hasPrefix("/s3-part/") }.count == 5)
            #expect(puts.filter { $0.path.hasPrefix("/s3/") }.count == 3)
            #expect(hub.cdn.requests.allSatisfy { $0.headers["authorization"] == nil })
            let completion = try #require(hub.hub.requests(matching: "/api/complete_multipart").first)
            #expect(completion.headers["authorization"] == nil)
            #expect(hub.hub.requests.filter { !$0.path.hasPrefix("/api/complete_multipart") }
                .allSatisfy { $0.headers["authorization"] == "Bearer hf_write" })
            #expect(hub.hub.requests(matching: "/objects/verify").count == 4)
            // Bodies have a length, and libcurl's `Expect: 100-continue` is not sent.
            for r in hub.hub.requests + hub.cdn.requests where r.method == "PUT" || r.method == "POST" {
                #expect(r.headers["content-length"] == String(r.body.count) && r.headers["expect"] == nil && r.headers["transfer-encoding"] == nil)
            }
            // One commit: the header, then regular files in base64 and LFS files by oid.
            let commitRequest = try #require(hub.hub.requests(matching: "/commit/main").first)
            #expect(commitRequest.headers["content-type"] == "application/x-ndjson")
            let ops = try Self.lines(commitRequest.body)
            #expect(ops.first == .object(JSONObject([("key", "header"), ("value", .object(JSONObject([("summary", "First version"), ("description", "")])))])))
            #expect(ops.count == files.count + 1)
            let config = try #require(ops.first { $0["value"]?["path"] == "config.json" })
            #expect(config["key"] == "file" && config["value"]?["encoding"] == "base64")
            #expect(config["value"]?["content"]?.string.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } == files["config.json"])
            let weights = try #require(ops.first { $0["value"]?["path"] == "model.safetensors" })
            #expect(weights == .object(JSONObject([("key", "lfsFile"), ("value", .object(JSONObject([
                ("path", "model.safetensors"), ("algo", "sha256"), ("oid", .string(SHA256.hash(files["model.safetensors"]!))), ("size", 300_000),
            ])))])))
        }
    }

    @Test func aSecondUploadSendsOnlyChangedFiles() throws {
        try Self.withHub { hub, dir in
            var files = try Self.modelFolder(in: dir + "/model")
            let first = try Self.upload(hub, "alice/tiny", dir + "/model", dir: dir)
            let putsAfterFirst = hub.cdn.requests.filter { $0.method == "PUT" }.count

            // Nothing changed: no storage traffic, no commit, the head's URL.
            let same = try Self.upload(hub, "alice/tiny", dir + "/model", dir: dir)
            #expect(!same.committed && same.commitOID == first.commitOID && same.commitURL == first.commitURL)
            #expect(same.unchangedFiles.count == files.count)
            #expect(hub.hub.requests(matching: "/commit/").count == 1)
            #expect(hub.hub.requests(matching: "/info/lfs/objects/batch").count == 1)
            #expect(hub.cdn.requests.filter { $0.method == "PUT" }.count == putsAfterFirst)

            // One regular and one LFS file changed, and a copy of the weights under a new name: the
            // changed ones travel, the copy is committed by oid without sending its bytes again.
            files["config.json"] = Array(#"{"model_type": "bert", "hidden_size": 16}"#.utf8)
            files["pytorch_model.bin"] = Self.bytes(1200, 14)
            files["copy/model.safetensors"] = files["model.safetensors"]
            try Self.write(files, to: dir + "/model")
            let second = try Self.upload(hub, "alice/tiny", dir + "/model", dir: dir)
            #expect(second.committed)
            #expect(Set(second.changedFiles) == ["config.json", "pytorch_model.bin", "copy/model.safetensors"])
            #expect(second.lfsBytesSent == 1200)
            let newPuts = hub.cdn.requests.filter { $0.method == "PUT" }.dropFirst(putsAfterFirst)
            #expect(newPuts.count == 1 && newPuts.first?.body == files["pytorch_model.bin"])
            let ops = try Self.lines(try #require(hub.hub.requests(matching: "/commit/main").last).body)
            #expect(ops.dropFirst().compactMap { $0["value"]?["path"]?.string }.sorted() == ["config.json", "copy/model.safetensors", "pytorch_model.bin"])
            let remote = try #require(hub.files(.model, "alice/tiny"))
            for (path, content) in files { #expect(remote[path] == content, "\(path)") }
        }
    }

    @Test func aCutConnectionMidUploadIsRetried() throws {
        try Self.withHub { hub, dir in
            hub.partKeyWidth = 0  // part URLs keyed "1", "2", … (the client takes both forms)
            let files = try Self.modelFolder(in: dir + "/model")
            // The first part PUT and the first basic PUT are cut off halfway through their bodies;
            // preupload and the batch call fail once with a server error.
            hub.cutOnce = ["/s3-part/", "/s3/"]
            hub.failures = ["/preupload/": [500], "/info/lfs/objects/batch": [503]]
            let result = try Self.upload(hub, "alice/tiny", dir + "/model", dir: dir)
            #expect(result.committed)
            let remote = try #require(hub.files(.model, "alice/tiny"))
            for (path, content) in files { #expect(remote[path] == content, "\(path)") }
            let parts = hub.cdn.requests.filter { $0.path.hasPrefix("/s3-part/") }
            #expect(parts.count == 6)  // five parts, the first one twice
            #expect(parts[0].path == parts[1].path && parts[0].body.count == 64 * 1024 / 2 && parts[1].body.count == 64 * 1024)
            #expect(hub.cdn.requests.filter { $0.path.hasPrefix("/s3/") }.count == 4)  // three basic PUTs, one twice
            #expect(hub.hub.requests(matching: "/preupload/").count == 2)
            #expect(hub.hub.requests(matching: "/info/lfs/objects/batch").count == 2)
        }
    }

    @Test func theCommitIsNeverRetried() throws {
        try Self.withHub { hub, dir in
            _ = try Self.modelFolder(in: dir + "/model")
            hub.failures = ["/commit/": [500]]
            let failed = Self.message { _ = try Self.upload(hub, "alice/tiny", dir + "/model", dir: dir) }
            #expect(failed.contains("HTTP 500") && failed.contains("alice/tiny"), "\(failed)")
            #expect(hub.hub.requests(matching: "/commit/").count == 1)
            #expect(hub.files(.model, "alice/tiny")?.keys.sorted() == [".gitattributes"])

            // A connection cut during the commit: one attempt, and a message saying it may have happened.
            hub.cutOnce = ["/commit/"]
            let cut = Self.message { _ = try Self.upload(hub, "alice/tiny", dir + "/model", dir: dir) }
            #expect(cut.contains("may or may not have been applied"), "\(cut)")
            #expect(hub.hub.requests(matching: "/commit/").count == 2)
            // Run again: the LFS objects are on the hub already, only the commit is left to make.
            let putsBefore = hub.cdn.requests.count
            #expect(try Self.upload(hub, "alice/tiny", dir + "/model", dir: dir).committed)
            #expect(hub.cdn.requests.count == putsBefore)
        }
    }

    @Test func aPrivateRepoNeedsTheToken() throws {
        try Self.withHub { hub, dir in
            let files = try Self.modelFolder(in: dir + "/model")
            hub.tokens["hf_bob"] = ("bob", "write")
            _ = try Self.upload(hub, "alice/secret", dir + "/model", dir: dir) { $0.isPrivate = true }
            #expect(hub.isPrivate(.model, "alice/secret") == true)
            let create = try JSON.parse(try #require(hub.hub.requests(matching: "/api/repos/create").first).body)
            #expect(create["visibility"] == "private")

            let anonymous = Self.message { _ = try ModelFetcher(client: Self.client(hub, token: nil, dir: dir)).fetch(repo: "alice/secret", to: dir + "/a") }
            #expect(anonymous.contains("repository not found or not accessible") && anonymous.contains("HTTP 401") && anonymous.contains("set HF_TOKEN"))
            let otherUser = Self.message { _ = try ModelFetcher(client: Self.client(hub, token: "hf_bob", dir: dir)).fetch(repo: "alice/secret", to: dir + "/b") }
            #expect(otherUser.contains("repository not found or not accessible") && otherUser.contains("HTTP 404"))
            let owner = try ModelFetcher(client: Self.client(hub, token: "hf_read", dir: dir)).fetch(repo: "alice/secret", to: dir + "/c")
            for f in owner.files { #expect(try HubFetchTests.read(dir + "/c/" + f) == files[f], "\(f)") }
        }
    }

    @Test func refusedCredentialsAreClearErrorsThatLeaveNothingHalfMade() throws {
        try Self.withHub { hub, dir in
            _ = try Self.modelFolder(in: dir + "/model")
            // No token: refused before a single request.
            let none = Self.message { _ = try Self.upload(hub, "alice/tiny", dir + "/model", token: nil, dir: dir) }
            #expect(none.contains("needs a Hugging Face token with write access") && none.contains("HF_TOKEN"))
            #expect(hub.hub.requests.isEmpty)

            // A read-only token cannot create the repo.
            let readNew = Self.message { _ = try Self.upload(hub, "alice/tiny", dir + "/model", token: "hf_read", dir: dir) }
            #expect(readNew.contains("cannot create the repository") && readNew.contains("read-only") && readNew.contains("HTTP 403"), "\(readNew)")
            #expect(hub.head(.model, "alice/tiny") == nil)
            #expect(hub.hub.requests(matching: "/preupload/").isEmpty)

            // On a repo that exists, it stops at the first write call, before sending any content.
            let made = try Self.upload(hub, "alice/tiny", dir + "/model", token: "hf_write", dir: dir)
            try Self.write(["config.json": Array("{}".utf8)], to: dir + "/model")
            let storageBefore = hub.cdn.requests.count
            let readExisting = Self.message { _ = try Self.upload(hub, "alice/tiny", dir + "/model", token: "hf_read", dir: dir) }
            #expect(readExisting.contains("cannot prepare the upload") && readExisting.contains("HTTP 403"), "\(readExisting)")
            #expect(hub.head(.model, "alice/tiny") == made.commitOID)
            #expect(hub.cdn.requests.count == storageBefore)
            #expect(hub.hub.requests(matching: "/commit/").count == 1)

            // An unknown token, and another user's namespace.
            let bogus = Self.message { _ = try Self.upload(hub, "alice/tiny", dir + "/model", token: "hf_bogus", dir: dir) }
            #expect(bogus.contains("refused the token") && bogus.contains("HTTP 401"), "\(bogus)")
            let elsewhere = Self.message { _ = try Self.upload(hub, "bob/tiny", dir + "/model", token: "hf_write", dir: dir) }
            #expect(elsewhere.contains("bob/tiny") && elsewhere.contains("HTTP 403"), "\(elsewhere)")
            #expect(hub.head(.model, "bob/tiny") == nil)
        }
    }

    @Test func invalidModelCardMetadataStopsBeforeAnyUpload() throws {
        try Self.withHub { hub, dir in
            _ = try Self.modelFolder(in: dir + "/model")
            try Self.write(["README.md": Array("---\nlicense: not-a-license\n---\n# Tiny\n".utf8)], to: dir + "/model")
            let m = Self.message { _ = try Self.upload(hub, "alice/tiny", dir + "/model", dir: dir) }
            #expect(m.contains("README.md") && m.contains("metadata") && m.contains("\"license\" must be one of"), "\(m)")
            #expect(hub.hub.requests(matching: "/preupload/").isEmpty && hub.cdn.requests.isEmpty)
        }
    }

    @Test func deletesBranchesPullRequestsAndPathsInTheRepo() throws {
        try Self.withHub { hub, dir in
            var files = try Self.modelFolder(in: dir + "/model")
            _ = try Self.upload(hub, "alice/tiny", dir + "/model", dir: dir)
            // Into a subfolder on a new branch: the branch is created from main.
            let dev = try Self.upload(hub, "alice/tiny", dir + "/model", dir: dir) {
                $0.revision = "dev"
                $0.pathInRepo = "copy"
                $0.include = ["*.json"]
            }
            let onDev = try #require(hub.files(.model, "alice/tiny", revision: "dev"))
            #expect(dev.committed && onDev["copy/1_Pooling/config.json"] == files["1_Pooling/config.json"] && onDev["copy/vocab.txt"] == nil)
            #expect(hub.files(.model, "alice/tiny")?["copy/config.json"] == nil)

            // --delete in a pull request: a file gone from the folder is deleted (never .gitattributes),
            // a new LFS file is sent with no branch named in the batch call (a PR's uploads need none).
            FileSystem.remove(dir + "/model/vocab.txt")
            files["vocab.txt"] = nil
            files["new.bin"] = Self.bytes(3000, 15)
            try Self.write(["new.bin": files["new.bin"]!], to: dir + "/model")
            let pr = try Self.upload(hub, "alice/tiny", dir + "/model", dir: dir) {
                $0.delete = ["*"]
                $0.createPR = true
            }
            #expect(pr.deletedFiles == ["vocab.txt"] && pr.changedFiles == ["new.bin"])
            #expect(pr.pullRequestURL == "\(hub.endpoint)/alice/tiny/discussions/1")
            let inPR = try #require(hub.files(.model, "alice/tiny", revision: "refs/pr/1"))
            #expect(Set(inPR.keys) == Set(files.keys).union([".gitattributes"]))
            for (path, content) in files { #expect(inPR[path] == content, "\(path)") }
            #expect(hub.files(.model, "alice/tiny")?["vocab.txt"] != nil && hub.files(.model, "alice/tiny")?["new.bin"] == nil)
            let commitRequest = try #require(hub.hub.requests(matching: "/commit/main").last)
            #expect(commitRequest.query == "create_pr=1")
            #expect(try Self.lines(commitRequest.body).dropFirst().map { $0["key"]?.string } == ["deletedFile", "lfsFile"])
            #expect(hub.hub.requests(matching: "/preupload/main").last?.query == "create_pr=1")
            let batch = try JSON.parse(try #require(hub.hub.requests(matching: "/info/lfs/objects/batch").last).body)
            #expect(batch["ref"] == nil && batch["objects"]?.array?.count == 1)

            // One file, to a path of its own.
            let one = try Self.upload(hub, "alice/tiny", dir + "/model/config.json", dir: dir) { $0.pathInRepo = "configs/base.json" }
            #expect(one.changedFiles == ["configs/base.json"])
            #expect(hub.files(.model, "alice/tiny")?["configs/base.json"] == files["config.json"])
            #expect(try Self.lines(try #require(hub.hub.requests(matching: "/commit/main").last).body).first?["value"]?["summary"]
                == "Upload configs/base.json with norembed")
        }
    }

    @Test func datasetReposUseTheirOwnURLs() throws {
        try Self.withHub { hub, dir in
            try Self.write(["train.jsonl": Array(#"{"anchor": "a", "positive": "b", "negative": "c"}\n"#.utf8),
                            "data/test.parquet": Self.bytes(5000, 21)], to: dir + "/data")
            var request = UploadRequest(repo: HubRepo("alice/nli", kind: .dataset), source: dir + "/data")
            request.commitMessage = "data"
            let result = try HubUploader(client: Self.client(hub, token: "hf_write", dir: dir)).upload(request)
            #expect(result.commitURL.hasPrefix("\(hub.endpoint)/datasets/alice/nli/commit/"))
            #expect(hub.files(.dataset, "alice/nli")?["data/test.parquet"] == Self.bytes(5000, 21))
            #expect(!hub.hub.requests(matching: "/datasets/alice/nli.git/info/lfs/objects/batch").isEmpty)
            #expect(!hub.hub.requests(matching: "/api/datasets/alice/nli/preupload/main").isEmpty)
        }
    }
}

/// The parts of an upload that need no server: which files go, and where.
@Suite struct UploadSelectionTests {
    @Test func fnmatchAsPython() {
        // Expected values from Python's fnmatch.fnmatchcase.
        let cases: [(String, String, Bool)] = [
            ("*.json", "config.json", true), ("*.json", "1_Pooling/config.json", true), ("data/*.json", "data/x/y.json", true),
            ("checkpoint-*", "checkpoint-500/model.safetensors", true), ("checkpoint-*", "x/checkpoint-5", false),
            ("*.tmp-*", ".checkpoint-5.tmp-123/model.safetensors", true), ("?.txt", "a.txt", true), ("?.txt", "ab.txt", false),
            ("[abc].txt", "b.txt", true), ("[!abc].txt", "b.txt", false), ("[!abc].txt", "d.txt", true), ("[a-c]x", "cx", true),
            ("[]]", "]", true), ("[!]]", "a", true), ("[abc", "[abc", true), ("*.JSON", "config.json", false), ("", "", true),
            ("*", "", true), ("**/.git/**", "a/.git/b", true), (".git", ".git", true), ("*/.git", "x/.git", true),
            ("*ø*", "blåbærsyltetøy", true), ("bl?bær", "blåbær", true),
        ]
        for (pattern, name, expected) in cases { #expect(fnmatchCase(pattern, name) == expected, "\(pattern) vs \(name)") }
    }

    @Test func filtersAsHuggingFaceHub() throws {
        let paths = ["README.md", "config.json", "logs/run.log", "logs/a/b.log", ".git/HEAD", "sub/.git/x", ".cache/huggingface/y",
                     "checkpoint-5/model.safetensors", "model.safetensors"]
        let ignore = ["logs/", "checkpoint-*"] + UploadFiles.defaultIgnorePatterns
        #expect(UploadFiles.filter(paths, allow: [], ignore: ignore) == ["README.md", "config.json", "model.safetensors"])
        #expect(UploadFiles.filter(paths, allow: ["*.json", "*.md"], ignore: ignore) == ["README.md", "config.json"])
        #expect(UploadFiles.filter(["a\\b.json"], allow: ["a\\*"], ignore: []) == ["a\\b.json"])

        #expect(try UploadFiles.cleanRepoPath("./copy/") == "copy/")
        #expect(try UploadFiles.cleanRepoPath(".") == "")
        #expect(try UploadFiles.cleanRepoPath("/x/y") == "x/y")
        #expect(throws: EmbedError.self) { try UploadFiles.cleanRepoPath("a/../b") }
        #expect(throws: EmbedError.self) { try UploadFiles.cleanRepoPath(".cache/other/x") }

        let dir = TestPaths.scratch()
        try HubUploadTests.write(["b.txt": [1], "a/c.txt": [2], "a-b.txt": [3], ".cache/other/x": [4]], to: dir)
        // `.cache/other/x` is not ignored by default, and the hub refuses the path: the whole upload fails.
        #expect(throws: EmbedError.self) { try UploadFiles.collect(source: dir, pathInRepo: nil, include: [], exclude: []) }
        let files = try UploadFiles.collect(source: dir, pathInRepo: "./up", include: [], exclude: [".cache/*"])
        // Component order (Python's pathlib): "a/c.txt" before "a-b.txt".
        #expect(files.map(\.repoPath) == ["up/a/c.txt", "up/a-b.txt", "up/b.txt"])
        #expect(files.map(\.relativePath) == ["a/c.txt", "a-b.txt", "b.txt"])
        let one = try UploadFiles.collect(source: dir + "/b.txt", pathInRepo: nil, include: [], exclude: [])
        #expect(one == [LocalUploadFile(localPath: dir + "/b.txt", relativePath: "b.txt", repoPath: "b.txt", size: 1)])
    }
}

/// Request bodies over HTTPClient: bytes and file ranges, with a length, and the test server's
/// answer to `Expect: 100-continue`.
@Suite struct HTTPBodyTests {
    @Test func sendsBytesAndFileRangesWithTheirLength() throws {
        let server = try TestHTTPServer { req in TestHTTPServer.Response(200, body: req.body) }
        defer { server.stop() }
        let http = try HTTPClient()
        let json = Array(#"{"a": "blåbær"}"#.utf8)
        let r = try http.request("POST", server.baseURL + "/post", headers: [("Content-Type", "application/json")], body: .bytes(json))
        #expect(r.status == 200 && r.body == json)
        let dir = TestPaths.scratch()
        let content = HubFetchTests.bytes(200_000, seed: 5)
        try Data(content).write(to: URL(fileURLWithPath: dir + "/f"))
        var sent = 0
        let put = try http.request("PUT", server.baseURL + "/put", body: .file(path: dir + "/f", offset: 70_000, length: 100_000),
                                   onSent: { sent += $0 })
        #expect(put.body == Array(content[70_000..<170_000]) && sent == 100_000)
        let empty = try http.request("POST", server.baseURL + "/empty", body: .bytes([]))
        #expect(empty.status == 200 && empty.body.isEmpty)
        let logged = server.requests
        #expect(logged.map(\.method) == ["POST", "PUT", "POST"])
        #expect(logged.map { $0.headers["content-length"] } == ["\(json.count)", "100000", "0"])
        #expect(logged.allSatisfy { $0.headers["expect"] == nil && $0.headers["transfer-encoding"] == nil })
        #expect(logged[0].headers["content-type"] == "application/json" && logged[1].headers["content-type"] == nil)

        // A client that asks for `100 Continue` gets it, and its body goes through.
        let asked = try http.request("PUT", server.baseURL + "/expect", headers: [("Expect", "100-continue")], body: .bytes([1, 2, 3]))
        #expect(asked.status == 200 && asked.body == [1, 2, 3] && server.requests.last?.headers["expect"] == "100-continue")
        // A file that cannot be read is an error naming it, before anything is sent.
        #expect(throws: EmbedError.self) { try http.request("PUT", server.baseURL + "/x", body: .file(path: dir + "/missing", offset: 0, length: 1)) }
    }

    @Test func base64AsFoundation() {
        for n in 0..<20 {
            let bytes = HubFetchTests.bytes(n, seed: UInt64(n + 1))
            var out: [UInt8] = []
            Base64.encode(bytes, into: &out)
            #expect(String(decoding: out, as: UTF8.self) == Data(bytes).base64EncodedString(), "\(n) bytes")
        }
    }
}
