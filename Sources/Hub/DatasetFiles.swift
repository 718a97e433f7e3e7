import IO

/// Which files of a dataset repository (or local folder) hold a split, decided as the `datasets`
/// library decides it (its `data_files.py`): the README's `configs` if it has them; else shards
/// named `data/{split}-00000-of-00003.*`; else files in a folder named after the split (or one of
/// its usual synonyms: train/training, validation/valid/dev/val, test/testing/eval/evaluation); else
/// files whose name carries the split as a word; else, for `train`, every data file.
package enum DatasetFiles {
    /// The data formats the converter reads (compressed JSONL and CSV too).
    package static func isDataFile(_ path: String) -> Bool {
        var name = path.lowercased()
        for suffix in [".gz", ".zst", ".zstd"] where name.hasSuffix(suffix) { name = String(name.dropLast(suffix.count)) }
        return [".parquet", ".jsonl", ".json", ".ndjson", ".csv", ".tsv"].contains { name.hasSuffix($0) }
            && !FileSystem.basename(path).hasPrefix(".")
    }

    static let keywords: [[String]] = [
        ["train", "training"],
        ["validation", "valid", "dev", "val"],
        ["test", "testing", "eval", "evaluation"],
    ]

    static func synonyms(_ split: String) -> [String] {
        keywords.first { $0.contains(split) } ?? [split]
    }

    /// Separators `datasets` accepts around a split keyword: `-._ ` and digits.
    static func isSeparator(_ c: Character) -> Bool { "-._ 0123456789".contains(c) }

    /// `keyword` as a whole word of `name`, bounded by separators (or the name's ends, when
    /// `openEnd`).
    static func containsWord(_ name: String, _ keyword: String, openEnd: Bool) -> Bool {
        var from = name.startIndex
        while let r = name[from...].firstRange(of: keyword) {
            let beforeOK = r.lowerBound == name.startIndex || isSeparator(name[name.index(before: r.lowerBound)])
            let afterOK = r.upperBound == name.endIndex ? openEnd : isSeparator(name[r.upperBound])
            if beforeOK && afterOK { return true }
            from = name.index(after: r.lowerBound)
        }
        return false
    }

    /// The split names the shard pattern `data/{split}-NNNNN-of-NNNNN*` reveals, per file.
    static func shardSplit(_ path: String) -> String? {
        guard path.hasPrefix("data/") else { return nil }
        let name = String(path.dropFirst(5))
        guard !name.contains("/"), let r = name.firstRange(of: "-of-") else { return nil }
        let before = name[..<r.lowerBound]
        let after = name[r.upperBound...]
        guard before.count > 6, after.count >= 5, after.prefix(5).allSatisfy(\.isNumber) else { return nil }
        let digits = before.suffix(5)
        guard digits.allSatisfy(\.isNumber), before.dropLast(5).last == "-" else { return nil }
        return String(before.dropLast(6))
    }

    /// The files of `split` among `paths` (relative, `/`-separated), in name order. With a card
    /// that has configs, `config` picks one (else its default, else the only one).
    package static func files(
        for split: String, in paths: [String], card: DatasetCard? = nil, config: String? = nil, source: String
    ) throws -> [String] {
        let data = paths.filter(isDataFile).sorted()
        if let card, !card.configs.isEmpty {
            let chosen = try pickConfig(card, config, source: source)
            let patterns = chosen.dataFiles[split] ?? chosen.dataFiles["*"] ?? []
            if patterns.isEmpty {
                throw EmbedError("\(source): config '\(chosen.name)' has no split '\(split)' (it has: \(chosen.dataFiles.keys.sorted().joined(separator: ", ")))")
            }
            return paths.filter { p in patterns.contains { dataFilesGlobMatch($0, p) } }.sorted()
        }
        if let config, config != "default" {
            throw EmbedError("\(source): no config '\(config)' (the dataset card defines none; leave --config out)")
        }
        let sharded = data.filter { shardSplit($0) != nil }
        if !sharded.isEmpty { return sharded.filter { shardSplit($0) == split } }
        let words = synonyms(split)
        let allKeywords = keywords.flatMap { $0 } + (words.count == 1 ? words : [])
        func inDirectory(_ p: String, _ ws: [String]) -> Bool {
            p.split(separator: "/").dropLast().contains { dir in ws.contains { containsWord(String(dir), $0, openEnd: true) } }
        }
        if data.contains(where: { inDirectory($0, allKeywords) }) {
            return data.filter { inDirectory($0, words) }
        }
        func inName(_ p: String, _ ws: [String]) -> Bool {
            ws.contains { containsWord(FileSystem.basename(p), $0, openEnd: false) }
        }
        if data.contains(where: { inName($0, allKeywords) }) {
            return data.filter { inName($0, words) }
        }
        return split == "train" ? data : []
    }

    static func pickConfig(_ card: DatasetCard, _ name: String?, source: String) throws -> DatasetCard.Config {
        let names = card.configs.map(\.name).joined(separator: ", ")
        if let name {
            guard let c = card.configs.first(where: { $0.name == name }) else {
                throw EmbedError("\(source): no config '\(name)' (the dataset has: \(names))")
            }
            return c
        }
        if let c = card.configs.first(where: \.isDefault) ?? card.configs.first(where: { $0.name == "default" }) { return c }
        if card.configs.count == 1 { return card.configs[0] }
        throw EmbedError("\(source): the dataset has several configs (\(names)); choose one with --config")
    }

    /// The files of a split on the hub's auto-converted Parquet branch (`refs/convert/parquet`):
    /// `{config}/{split}/0000.parquet`, `{config}/partial-{split}/0000.parquet` (a large split
    /// converted in part), or the older `{config}/{name}-{split}.parquet` and
    /// `{config}/{name}-{split}-00000-of-00002.parquet`.
    package static func parquetBranchFiles(for split: String, in paths: [String], config: String?, source: String) throws -> [String] {
        let parquet = paths.filter { $0.hasSuffix(".parquet") }
        let configs = Array(Set(parquet.compactMap { p -> String? in
            let parts = p.split(separator: "/")
            return parts.count >= 2 ? String(parts[0]) : nil
        })).sorted()
        let chosen: String
        if let config {
            guard configs.contains(config) else {
                throw EmbedError("\(source): the Parquet conversion has no config '\(config)' (it has: \(configs.joined(separator: ", ")))")
            }
            chosen = config
        } else if configs.contains("default") {
            chosen = "default"
        } else if configs.count == 1 {
            chosen = configs[0]
        } else if configs.isEmpty {
            return []
        } else {
            throw EmbedError("\(source): the dataset has several configs (\(configs.joined(separator: ", "))); choose one with --config")
        }
        let inConfig = parquet.filter { $0.hasPrefix(chosen + "/") }
        for dir in [split, "partial-" + split] {
            let files = inConfig.filter { $0.hasPrefix("\(chosen)/\(dir)/") }
            if !files.isEmpty {
                if dir != split { log("note: only part of split '\(split)' was converted to Parquet on the hub (\(chosen)/\(dir))") }
                return files.sorted()
            }
        }
        return inConfig.filter { p in
            let name = FileSystem.basename(p).dropLast(".parquet".count)
            if name.hasSuffix("-" + split) { return true }
            guard let r = name.firstRange(of: "-\(split)-") else { return false }
            return name[r.upperBound...].contains("-of-")
        }.sorted()
    }
}
