import Foundation
import IO

/// What a BEIR fetch wrote.
package struct BEIRFetchResult: Sendable {
    package var documents = 0
    package var queries = 0
    package var judgements = 0
    /// The files read, as given (hub paths or local paths), corpus first.
    package var sources: [String] = []
    /// The commit of the main repository (nil for local data).
    package var commit: String?
}

/// Fetches a retrieval dataset in any of the layouts the hub publishes BEIR-style sets in, and
/// writes the canonical BEIR folder `evaluate --task retrieval` reads:
///
///     corpus.jsonl.zst    {"_id", "title", "text"}
///     queries.jsonl.zst   {"_id", "text"}
///     qrels/<split>.tsv   query-id<TAB>corpus-id<TAB>score, after that header line
///
/// Layouts found: the BEIR zip and mteb's first layout (`corpus.jsonl`, `queries.jsonl`,
/// `qrels/<split>.tsv`, also .gz/.zst and Parquet), mteb's Parquet layout (`corpus/*.parquet`,
/// `queries/*.parquet`, `qrels/<split>-*.parquet`, ids in an `id` column), `data/corpus-*.parquet`,
/// and BeIR's, whose qrels live in a second repository `<repo>-qrels` (`<split>.tsv` at its top),
/// which is tried when the repository has no qrels (or named with `qrelsRepo`).
package final class BEIRFetcher {
    package let client: HubClient?
    package var quiet = false

    package init(client: HubClient?) {
        self.client = client
        quiet = client?.quiet ?? false
    }

    /// A repository's (or local folder's) files, and how to open one.
    struct Source {
        let label: String
        let paths: [String]
        let commit: String?
        let open: (String) throws -> TableSource
    }

    package func fetch(repo: String, split: String, qrelsRepo: String? = nil, revision: String = "main", to dir: String) throws -> BEIRFetchResult {
        let main = try source(repo, revision: revision)
        var result = BEIRFetchResult(commit: main.commit)
        let corpusFiles = BEIRFetcher.partFiles("corpus", split: split, in: main.paths)
        let queryFiles = BEIRFetcher.partFiles("queries", split: split, in: main.paths)
        guard !corpusFiles.isEmpty else { throw EmbedError("\(main.label): no corpus file (corpus.jsonl, corpus/*.parquet, data/corpus-*.parquet, …)") }
        guard !queryFiles.isEmpty else { throw EmbedError("\(main.label): no queries file (queries.jsonl, queries/*.parquet, data/queries-*.parquet, …)") }
        var qrelsSource = main
        if let qrelsRepo {
            qrelsSource = try source(qrelsRepo, revision: "main")
        }
        var qrelsFiles = BEIRFetcher.qrelsFiles(split: split, in: qrelsSource.paths)
        if qrelsFiles.isEmpty, qrelsRepo == nil, !DatasetFetcher.isLocal(repo), !repo.hasSuffix("-qrels") {
            // BeIR/<name> keeps its judgements in BeIR/<name>-qrels.
            if !quiet { log("\(repo): no qrels for split '\(split)'; trying \(repo)-qrels") }
            if let other = try? source(repo + "-qrels", revision: "main") {
                qrelsSource = other
                qrelsFiles = BEIRFetcher.qrelsFiles(split: split, in: other.paths)
            }
        }
        guard !qrelsFiles.isEmpty else {
            let have = qrelsSource.paths.filter { $0.contains("qrels") || $0.hasSuffix(".tsv") }.prefix(6)
            throw EmbedError("\(qrelsSource.label): no qrels for split '\(split)' (looked for qrels/\(split).tsv, qrels/\(split)-*.parquet, \(split).tsv\(have.isEmpty ? "" : "; it has \(have.joined(separator: ", "))"))")
        }
        try FileSystem.createDirectory(dir + "/qrels")
        result.documents = try convert(corpusFiles, from: main, to: dir + "/corpus.jsonl.zst", label: "corpus", texts: ["title", "text"])
        result.queries = try convert(queryFiles, from: main, to: dir + "/queries.jsonl.zst", label: "queries", texts: ["text"])
        result.judgements = try convertQrels(qrelsFiles, from: qrelsSource, to: "\(dir)/qrels/\(split).tsv")
        result.sources = corpusFiles + queryFiles + qrelsFiles
        return result
    }

    func source(_ repo: String, revision: String) throws -> Source {
        if DatasetFetcher.isLocal(repo) {
            guard FileSystem.isDirectory(repo) else { throw EmbedError("\(repo): no such folder (and not a hub dataset id)") }
            let paths = FileSystem.listFilesRecursively(repo).filter { !$0.hasPrefix(".") && !$0.contains("/.") }
            return Source(label: repo, paths: paths, commit: nil) { try openTableSource(repo + "/" + $0, displayName: $0) }
        }
        guard let client else { throw EmbedError("\(repo): not a local folder, and no hub client to fetch it") }
        let hubRepo = HubRepo(repo, kind: .dataset)
        let snapshot = try client.snapshot(hubRepo, revision: revision)
        if !quiet { log("\(hubRepo)@\(snapshot.revision) (\(snapshot.commit.prefix(12)))\(snapshot.fromCache ? " in the cache" : "")") }
        return Source(label: "\(hubRepo)", paths: snapshot.paths, commit: snapshot.commit) { path in
            let local = try client.download(hubRepo, path: path, revision: snapshot.commit, expected: snapshot.file(path))
            return try openTableSource(local, displayName: path)
        }
    }

    /// The files of the corpus or the queries: `<part>.jsonl` (or .gz, .zst, .parquet) at the top,
    /// else the data files in `<part>/` (those of the split when their names say so), else
    /// `data/<part>-*`.
    package static func partFiles(_ part: String, split: String, in paths: [String]) -> [String] {
        let data = paths.filter(DatasetFiles.isDataFile).sorted()
        for ext in ["jsonl", "jsonl.gz", "jsonl.zst", "parquet"] where data.contains("\(part).\(ext)") { return ["\(part).\(ext)"] }
        let inFolder = data.filter { $0.hasPrefix(part + "/") }
        if !inFolder.isEmpty {
            let ofSplit = inFolder.filter { FileSystem.basename($0).hasPrefix(split + "-") || FileSystem.basename($0).hasPrefix(split + ".") }
            return ofSplit.isEmpty ? inFolder : ofSplit
        }
        return data.filter { $0.hasPrefix("data/\(part)-") || $0.hasPrefix("data/\(part).") }
    }

    /// The judgements of `split`: `qrels/<split>.tsv` (or .jsonl, .parquet, compressed), shards
    /// `qrels/<split>-*`, `<split>.tsv` at the top (BeIR's qrels repositories), or `data/<split>-*`.
    package static func qrelsFiles(split: String, in paths: [String]) -> [String] {
        let data = paths.filter(DatasetFiles.isDataFile).sorted()
        for ext in ["tsv", "tsv.gz", "tsv.zst", "jsonl", "jsonl.gz", "jsonl.zst", "parquet"] where data.contains("qrels/\(split).\(ext)") {
            return ["qrels/\(split).\(ext)"]
        }
        let shards = data.filter { $0.hasPrefix("qrels/\(split)-") || $0.hasPrefix("qrels/\(split)/") }
        if !shards.isEmpty { return shards }
        for ext in ["tsv", "tsv.gz", "jsonl", "parquet"] where data.contains("\(split).\(ext)") { return ["\(split).\(ext)"] }
        return data.filter { $0.hasPrefix("data/\(split)-") }
    }

    /// An id cell as the string BEIR uses (numbers without a fraction).
    static func idString(_ v: TableValue, at file: String) throws -> String {
        switch v {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return JSON.format(d)
        default: throw EmbedError("\(file): an id is \(v), not a string or number")
        }
    }

    /// Rewrites corpus or queries files as `{"_id", <texts>…}` JSON lines; a missing title is "".
    func convert(_ files: [String], from source: Source, to output: String, label: String, texts: [String]) throws -> Int {
        let writer = try JSONLWriter(path: output, threads: 1)
        let progress: ProgressBar? = quiet ? nil : ProgressBar("\(source.label) \(label)", unit: "rows")
        var count = 0
        for file in files {
            let table = try source.open(file)
            let names = table.columnNames
            guard let idColumn = ["_id", "id"].first(where: names.contains) else {
                throw EmbedError("\(file): no '_id' or 'id' column (it has \(names.joined(separator: ", ")))")
            }
            let present = texts.filter(names.contains)
            guard present.contains("text") else { throw EmbedError("\(file): no 'text' column (it has \(names.joined(separator: ", ")))") }
            try table.select([idColumn] + present)
            while let row = try table.next() {
                var o = JSONObject()
                o["_id"] = .string(try BEIRFetcher.idString(row[0], at: file))
                for name in texts {
                    let v = present.firstIndex(of: name).map { row[$0 + 1] } ?? .string("")
                    switch v {
                    case .string(let s): o[name] = .string(s)
                    case .null: o[name] = .string("")
                    default: throw EmbedError("\(file): row \(count + 1): '\(name)' is \(v), not a string")
                    }
                }
                try writer.write(o)
                count += 1
                progress?.advance()
            }
        }
        try writer.commit()
        progress?.finish()
        return count
    }

    /// Rewrites judgements as BEIR's TSV; rows without a score (NanoBEIR) get 1.
    func convertQrels(_ files: [String], from source: Source, to output: String) throws -> Int {
        let writer = try ByteWriter(path: output)
        try writer.write("query-id\tcorpus-id\tscore\n")
        var count = 0
        for file in files {
            let table = try source.open(file)
            let names = table.columnNames
            for needed in ["query-id", "corpus-id"] where !names.contains(needed) {
                throw EmbedError("\(file): no '\(needed)' column (it has \(names.joined(separator: ", ")))")
            }
            let hasScore = names.contains("score")
            try table.select(["query-id", "corpus-id"] + (hasScore ? ["score"] : []))
            while let row = try table.next() {
                let q = try BEIRFetcher.idString(row[0], at: file), c = try BEIRFetcher.idString(row[1], at: file)
                guard !(q + c).contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\r" }) else {
                    throw EmbedError("\(file): the ids '\(q)', '\(c)' contain a tab or line break, which BEIR's TSV cannot hold")
                }
                var score = "1"
                if hasScore {
                    switch row[2] {
                    case .int(let i): score = String(i)
                    case .double(let d): score = JSON.format(d)
                    case .string(let s):
                        guard Double(s.trimmingCharacters(in: .whitespaces)) != nil else { throw EmbedError("\(file): the score '\(s)' is not a number") }
                        score = s.trimmingCharacters(in: .whitespaces)
                    default: throw EmbedError("\(file): a score is \(row[2]), not a number")
                    }
                }
                try writer.write("\(q)\t\(c)\t\(score)\n")
                count += 1
            }
        }
        try writer.commit()
        return count
    }
}
