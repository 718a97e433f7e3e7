import IO

/// What a model fetch produced.
package struct ModelFetchResult: Sendable {
    package let directory: String
    /// The files written, relative to `directory` (fetch-info.json not included).
    package let files: [String]
    package let repo: String
    package let revision: String?
    /// The commit the files came from (nil for a local folder).
    package let commit: String?
    /// True when the output already held this commit's files and nothing was copied.
    package let upToDate: Bool
}

/// Fetches the files a model needs — config, weights, tokenizer, sentence-transformers modules,
/// custom modeling code — from a hub repository (through the Hugging Face cache) or a local
/// folder, into one output folder, with `fetch-info.json` recording where they came from.
package final class ModelFetcher {
    package let client: HubClient?
    /// Ignore the cache and an up-to-date output: download and copy everything again.
    package var force: Bool
    package var quiet = false

    package static let infoFile = "fetch-info.json"

    package init(client: HubClient?, force: Bool = false) {
        self.client = client
        self.force = force
        self.quiet = client?.quiet ?? false
    }

    static let tokenizerFiles: Set<String> = [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model",
    ]

    static let sentenceTransformersFiles: Set<String> = [
        "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
    ]

    /// The files of a repository a model needs, chosen from its file list: `config.json`, the
    /// weights (model.safetensors preferred, else pytorch_model.bin; sharded index files bring
    /// their shards later, see `shardFiles`), tokenizer files, sentence-transformers files and
    /// module folders (`1_Pooling/config.json`, `2_Dense/…`), and top-level custom code (`*.py`).
    package static func selectFiles(_ paths: [String]) throws -> [String] {
        let set = Set(paths)
        guard set.contains("config.json") else {
            throw EmbedError("no config.json: this does not look like a transformers model (files: \(paths.prefix(12).joined(separator: ", "))\(paths.count > 12 ? ", …" : ""))")
        }
        var out = ["config.json"]
        if let weights = weightFile(in: set, prefix: "") {
            out.append(weights)
        } else {
            throw EmbedError("no weights: neither model.safetensors nor pytorch_model.bin (or their sharded index) is in the repository")
        }
        for p in paths where !p.contains("/") {
            if tokenizerFiles.contains(p) || sentenceTransformersFiles.contains(p) || p.hasSuffix(".py") { out.append(p) }
        }
        // sentence-transformers module folders: N_Name/ with their config and weights.
        let moduleDirs = Set(paths.compactMap { p -> String? in
            let parts = p.split(separator: "/")
            guard parts.count == 2, let first = parts.first, let us = first.firstIndex(of: "_"),
                !first[..<us].isEmpty, first[..<us].allSatisfy(\.isNumber)
            else { return nil }
            return String(first)
        })
        for dir in moduleDirs.sorted() {
            for p in paths where p.hasPrefix(dir + "/") && p.hasSuffix(".json") { out.append(p) }
            if let w = weightFile(in: set, prefix: dir + "/") { out.append(w) }
            for p in paths where p.hasPrefix(dir + "/") && tokenizerFiles.contains(String(p.dropFirst(dir.count + 1))) && !out.contains(p) {
                out.append(p)
            }
        }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }

    static func weightFile(in set: Set<String>, prefix: String) -> String? {
        for name in ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"]
        where set.contains(prefix + name) {
            return prefix + name
        }
        return nil
    }

    /// The shard files a sharded checkpoint's index (`*.index.json`) names in its `weight_map`.
    package static func shardFiles(indexPath: String, indexName: String) throws -> [String] {
        let json = try JSON.parse(ByteReader(path: indexPath).readAll())
        guard let map = json["weight_map"]?.object else { throw EmbedError("\(indexName): no weight_map") }
        let dir = indexName.contains("/") ? FileSystem.dirname(indexName) + "/" : ""
        return Array(Set(map.compactMap { $0.value.string.map { dir + $0 } })).sorted()
    }

    package func fetch(repo: String, revision: String = "main", to outDir: String) throws -> ModelFetchResult {
        if DatasetFetcher.isLocal(repo) {
            return try fetchLocal(repo, to: outDir)
        }
        guard let client else { throw EmbedError("\(repo): not a local folder, and no hub client to fetch it") }
        let hubRepo = HubRepo(repo, kind: .model)
        let snapshot = try client.snapshot(hubRepo, revision: revision)
        var files: [String]
        do {
            files = try ModelFetcher.selectFiles(snapshot.paths)
        } catch let e as EmbedError {
            let whence = snapshot.fromCache ? " in the cache \(client.cache.root) (offline, only cached files are known)" : ""
            throw EmbedError("\(repo)@\(revision)\(whence): \(e.message)")
        }
        if !force, let done = upToDate(outDir, repo: repo, commit: snapshot.commit) {
            log("\(outDir): already holds \(repo)@\(snapshot.commit.prefix(12)); nothing to do (--force fetches again)")
            return ModelFetchResult(directory: outDir, files: done, repo: repo, revision: revision, commit: snapshot.commit, upToDate: true)
        }
        let total = files.compactMap { snapshot.file($0)?.contentSize }.reduce(0, +)
        log("\(repo)@\(revision) → commit \(snapshot.commit)\(snapshot.fromCache ? " (from the cache)" : ""): \(files.count) files, \(ProgressBar.bytes(Double(total)))")
        var local: [String: String] = [:]
        var i = 0
        while i < files.count {
            let f = files[i]
            local[f] = try client.download(hubRepo, path: f, revision: snapshot.commit, expected: snapshot.file(f), force: force)
            if f.hasSuffix(".index.json") {
                for shard in try ModelFetcher.shardFiles(indexPath: local[f]!, indexName: f) where !files.contains(shard) {
                    files.append(shard)
                }
            }
            i += 1
        }
        try install(files, from: local, to: outDir)
        try writeInfo(outDir, repo: repo, revision: revision, commit: snapshot.commit, files: files, endpoint: client.endpoint)
        return ModelFetchResult(directory: outDir, files: files, repo: repo, revision: revision, commit: snapshot.commit, upToDate: false)
    }

    func fetchLocal(_ dir: String, to outDir: String) throws -> ModelFetchResult {
        guard FileSystem.isDirectory(dir) else {
            throw EmbedError("\(dir): no such folder (and not a hub model id)")
        }
        let all = FileSystem.listFilesRecursively(dir)
        var files = try ModelFetcher.selectFiles(all).map { $0 }
        for f in files where f.hasSuffix(".index.json") {
            files += try ModelFetcher.shardFiles(indexPath: dir + "/" + f, indexName: f).filter { !files.contains($0) }
        }
        let same = FileSystem.absolute(dir) == FileSystem.absolute(outDir)
        if !same {
            var local: [String: String] = [:]
            for f in files { local[f] = dir + "/" + f }
            try install(files, from: local, to: outDir)
        }
        try writeInfo(outDir, repo: FileSystem.absolute(dir), revision: nil, commit: nil, files: files, endpoint: nil)
        return ModelFetchResult(directory: outDir, files: files, repo: dir, revision: nil, commit: nil, upToDate: false)
    }

    /// Copies each file into the output folder atomically.
    func install(_ files: [String], from local: [String: String], to outDir: String) throws {
        try FileSystem.createDirectory(outDir)
        let total = files.compactMap { local[$0].flatMap(FileSystem.fileSize) }.reduce(0, +)
        let progress: ProgressBar? = quiet || total < 1 << 24 ? nil : ProgressBar("copying into \(outDir)", total: total, unit: "B")
        progress?.countsBytes = true
        for f in files {
            guard let src = local[f] else { continue }
            let dest = outDir + "/" + f
            try FileSystem.createDirectory(FileSystem.dirname(dest))
            try FileSystem.copy(src, to: dest, progress: progress)
        }
        progress?.finish()
    }

    /// The files of an earlier fetch of the same commit, when they are all still there.
    func upToDate(_ outDir: String, repo: String, commit: String) -> [String]? {
        let info = outDir + "/" + ModelFetcher.infoFile
        guard FileSystem.isFile(info), let json = try? JSON.parse(ByteReader(path: info).readAll()),
            json["repo"]?.string == repo, json["commit"]?.string == commit, let files = json["files"]?.array
        else { return nil }
        var names: [String] = []
        for f in files {
            guard let name = f["path"]?.string, let size = f["size"]?.int,
                FileSystem.fileSize(outDir + "/" + name) == size
            else { return nil }
            names.append(name)
        }
        return names
    }

    func writeInfo(_ outDir: String, repo: String, revision: String?, commit: String?, files: [String], endpoint: String?) throws {
        var obj = JSONObject()
        obj["repo"] = .string(repo)
        obj["revision"] = revision.map { .string($0) } ?? .null
        obj["commit"] = commit.map { .string($0) } ?? .null
        if let endpoint { obj["endpoint"] = .string(endpoint) }
        obj["files"] = .array(files.map { f in
            .object(JSONObject([("path", .string(f)), ("size", .number(Double(FileSystem.fileSize(outDir + "/" + f) ?? 0)))]))
        })
        obj["fetched_by"] = .string("fetch-data \(EmbedKitVersion.string)")
        try FileSystem.writeText(JSON.object(obj).serialized(indent: 2) + "\n", to: outDir + "/" + ModelFetcher.infoFile)
    }
}
