import IO

/// What a dataset conversion did.
package struct DatasetFetchResult: Sendable {
    package let rows: Int
    package let columns: [String]
    /// The data files read, as given (hub paths or local paths).
    package let sources: [String]
    /// The commit the files came from (nil for local data).
    package let commit: String?
    /// The revision read (`refs/convert/parquet` when the hub's Parquet conversion was used).
    package let revision: String?
}

/// Converts a dataset split — a hub dataset repository, a local folder or a local file — into the
/// pipeline's JSON Lines (zstd-compressed when the output ends in `.zst`, stdout for `-`),
/// streaming: one row group or line at a time, stopping early at `maxRows`.
package final class DatasetFetcher {
    package let client: HubClient?
    /// No progress line.
    package var quiet = false

    package init(client: HubClient?) {
        self.client = client
        self.quiet = client?.quiet ?? false
    }

    package func fetch(
        repo: String, split: String, columns: [String]? = nil, maxRows: Int? = nil,
        config: String? = nil, revision: String = "main", to output: String
    ) throws -> DatasetFetchResult {
        if let maxRows, maxRows < 0 { throw EmbedError("--max-rows must be at least 0 (got \(maxRows))") }
        if let columns, columns.isEmpty || columns.contains(where: \.isEmpty) {
            throw EmbedError("--columns needs one or more non-empty column names")
        }
        // Sources are opened lazily, one at a time: a later hub file is only downloaded once the
        // earlier ones are converted (and not at all when --max-rows is reached first).
        let plan = try planSources(repo: repo, split: split, config: config, revision: revision)
        guard !plan.files.isEmpty else {
            throw EmbedError("\(plan.label): no data files for split '\(split)'")
        }
        if output != "-" { try FileSystem.createDirectory(FileSystem.dirname(output)) }
        let writer = try JSONLWriter(path: output, threads: 1)
        let progress: ProgressBar? = quiet ? nil : ProgressBar("\(plan.label) [\(split)]", total: maxRows, unit: "rows")
        var written = 0
        var chosen: [String]?
        var used: [String] = []
        for file in plan.files {
            if let maxRows, written >= maxRows { break }
            let source = try plan.open(file)
            used.append(file)
            if chosen == nil { chosen = columns ?? source.columnNames }
            let names = chosen!
            try source.select(names)
            let keys = names.map { name -> String in
                var k = ""
                JSON.writeString(name, to: &k)
                return k + ":"
            }
            var line = ""
            while let row = try source.next() {
                line.removeAll(keepingCapacity: true)
                line += "{"
                for (i, v) in row.enumerated() {
                    if i > 0 { line += "," }
                    line += keys[i]
                    v.appendJSON(to: &line)
                }
                line += "}\n"
                try writer.output.write(line)
                written += 1
                progress?.advance()
                if let maxRows, written >= maxRows { break }
            }
        }
        try writer.commit()
        progress?.finish()
        return DatasetFetchResult(rows: written, columns: chosen ?? [], sources: used, commit: plan.commit, revision: plan.revision)
    }

    /// The files of a split and how to open each.
    struct Plan {
        let label: String
        let files: [String]
        let commit: String?
        let revision: String?
        let open: (String) throws -> TableSource
    }

    /// Whether `repo` names something on this machine rather than a hub repository.
    static func isLocal(_ repo: String) -> Bool {
        FileSystem.exists(repo) || repo.hasPrefix("/") || repo.hasPrefix("./") || repo.hasPrefix("../")
            || repo.hasPrefix("~") || !HubRepo.isValidID(repo) || DatasetFiles.isDataFile(repo)
    }

    func planSources(repo: String, split: String, config: String?, revision: String) throws -> Plan {
        if DatasetFetcher.isLocal(repo) {
            guard FileSystem.exists(repo) else {
                throw EmbedError("\(repo): no such file or folder (and not a hub dataset id)")
            }
            if !FileSystem.isDirectory(repo) {
                return Plan(label: repo, files: [repo], commit: nil, revision: nil) { try openTableSource($0) }
            }
            return Plan(label: repo, files: try localSplitFiles(repo, split: split, config: config),
                        commit: nil, revision: nil) { try openTableSource($0) }
        }
        guard let client else { throw EmbedError("\(repo): not a local path, and no hub client to fetch it") }
        let hubRepo = HubRepo(repo, kind: .dataset)
        let snapshot = try client.snapshot(hubRepo, revision: revision)
        let card = try readCard(client, hubRepo, snapshot)
        var files = try DatasetFiles.files(for: split, in: snapshot.paths, card: card, config: config, source: "\(hubRepo)")
        var used = snapshot
        var unreadable: [String] = []
        if files.isEmpty || !files.allSatisfy(DatasetFiles.isDataFile) {
            unreadable = files.filter { !DatasetFiles.isDataFile($0) }
            // The repo's own files do not give the split in a format read here (a loading script,
            // Arrow files…): the hub's Parquet conversion may.
            log("\(hubRepo): no readable data files for split '\(split)'\(unreadable.isEmpty ? "" : " (found \(unreadable.prefix(3).joined(separator: ", ")))"); trying the hub's Parquet conversion (refs/convert/parquet)")
            do {
                used = try client.snapshot(hubRepo, revision: "refs/convert/parquet")
                files = try DatasetFiles.parquetBranchFiles(for: split, in: used.paths, config: config, source: "\(hubRepo)@refs/convert/parquet")
            } catch let e as EmbedError {
                let data = snapshot.paths.filter(DatasetFiles.isDataFile)
                let found = data.isEmpty ? "it has no data files in a format read here" : "its data files: \(data.prefix(6).joined(separator: ", "))\(data.count > 6 ? ", …" : "")"
                throw EmbedError("\(hubRepo): no data files for split '\(split)' (\(found)); the hub's Parquet conversion cannot help either: \(e.message)")
            }
            if files.isEmpty {
                throw EmbedError("\(hubRepo): no data files for split '\(split)', in the repository or in its Parquet conversion (refs/convert/parquet holds: \(used.paths.prefix(6).joined(separator: ", ")))")
            }
        }
        let snap = used
        log("\(hubRepo)@\(snap.revision) (\(snap.commit.prefix(12))): split '\(split)' from \(files.count) file\(files.count == 1 ? "" : "s")\(snap.fromCache ? " in the cache" : "")")
        return Plan(label: "\(hubRepo)", files: files, commit: snap.commit, revision: snap.revision) { path in
            let local = try client.download(hubRepo, path: path, revision: snap.commit, expected: snap.file(path))
            return try openTableSource(local, displayName: path)
        }
    }

    func readCard(_ client: HubClient, _ repo: HubRepo, _ snapshot: HubSnapshot) throws -> DatasetCard? {
        guard snapshot.paths.contains("README.md") else { return nil }
        let path = try client.download(repo, path: "README.md", revision: snapshot.commit, expected: snapshot.file("README.md"))
        return try DatasetCard.parse(readme: FileSystem.readText(path), path: "\(repo)/README.md")
    }

    /// A local folder: `{split}.jsonl`, `{split}.jsonl.zst`, `{split}.parquet`, `{split}.csv`… at
    /// its top first, else the same rules as for a hub repository (its README's configs included).
    func localSplitFiles(_ dir: String, split: String, config: String?) throws -> [String] {
        let join = { (name: String) in dir.hasSuffix("/") ? dir + name : dir + "/" + name }
        for ext in ["jsonl.zst", "jsonl.gz", "jsonl", "parquet", "csv", "csv.gz", "csv.zst", "tsv", "json"] {
            let p = join("\(split).\(ext)")
            if FileSystem.isFile(p) { return [p] }
        }
        let all = FileSystem.listFilesRecursively(dir).filter { !$0.hasPrefix(".") && !$0.contains("/.") }
        var card: DatasetCard?
        if all.contains("README.md") { card = try DatasetCard.parse(readme: FileSystem.readText(join("README.md")), path: join("README.md")) }
        let files = try DatasetFiles.files(for: split, in: all, card: card, config: config, source: dir)
        if files.isEmpty {
            throw EmbedError("\(dir): no data files for split '\(split)' (looked for \(split).jsonl, \(split).jsonl.zst, \(split).parquet, \(split).csv and the Hugging Face naming patterns)")
        }
        return files.map(join)
    }
}
