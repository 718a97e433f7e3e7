import IO

/// A retrieval dataset in the BEIR layout, as the hub publishes them and `fetch-data beir` writes
/// them:
///
///     corpus.jsonl      {"_id": "...", "title": "...", "text": "..."}   (also .jsonl.gz, .jsonl.zst)
///     queries.jsonl     {"_id": "...", "text": "..."}
///     qrels/<split>.tsv query-id<TAB>corpus-id<TAB>score, after a header line
///
/// Read as BEIR's `GenericDataLoader` reads it: ids are strings (`id` is accepted for `_id`), a
/// document's text is `(title + " " + text).strip()`, only queries with relevance judgements are
/// kept, in the queries file's order. A qrels row is a relevant document when its score is above 0
/// (BEIR's convention: 0 means judged not relevant), or any row with `keepZeroScores`.
package struct BEIRFolder {
    package let path: String
    package let split: String
    package var keepZeroScores = false
    package var useTitles = true

    package init(path: String, split: String) {
        self.path = path
        self.split = split
    }

    /// Whether `path` looks like a BEIR folder (it has a corpus file).
    package static func isBEIR(_ path: String) -> Bool {
        FileSystem.isDirectory(path) && find(path, "corpus") != nil
    }

    static func find(_ dir: String, _ name: String) -> String? {
        for ext in ["jsonl", "jsonl.zst", "jsonl.gz"] {
            let p = "\(dir)/\(name).\(ext)"
            if FileSystem.isFile(p) { return p }
        }
        return nil
    }

    package func file(_ name: String) throws -> String {
        guard let p = BEIRFolder.find(path, name) else {
            throw EmbedError("\(path): no \(name).jsonl (nor .jsonl.zst, .jsonl.gz): not a BEIR folder")
        }
        return p
    }

    package var qrelsFile: String {
        get throws {
            for ext in ["tsv", "tsv.zst", "tsv.gz"] {
                let p = "\(path)/qrels/\(split).\(ext)"
                if FileSystem.isFile(p) { return p }
            }
            let have = FileSystem.listFilesRecursively(path + "/qrels").filter { $0.contains(".tsv") }.sorted()
            throw EmbedError("\(path): no qrels/\(split).tsv\(have.isEmpty ? "" : " (it has qrels/\(have.joined(separator: ", qrels/")); choose one with --split)")")
        }
    }

    /// The evaluation set: queries with their texts, what is relevant to each, and the corpus ids.
    package struct Loaded {
        package var queryIds: [String]
        package var queryTexts: [String]
        package var judgements: RetrievalJudgements
        package let corpusIds: UniqueTexts
        /// corpus entry i's place in id order (the evaluator's tie order).
        package var tieRanks: [Int32]
        /// qrels rows skipped for a score of 0 or less.
        package var skippedRows: Int
    }

    package func load() throws -> Loaded {
        // Qrels: query id -> the ids judged relevant, in file order.
        let qrelsPath = try qrelsFile
        let reader = try CSVReader(path: qrelsPath, delimiter: 0x09)
        var relevantIds: [String: [String]] = [:]
        var skipped = 0
        while let r = try reader.next() {
            guard r.count >= 2 else {
                throw EmbedError("\(qrelsPath):\(reader.lineNumber): expected query-id, corpus-id and score separated by tabs")
            }
            var score = 1.0
            if r.count >= 3 {
                guard let s = Double(r[2].trimmingCharacters(in: .whitespaces)) else {
                    throw EmbedError("\(qrelsPath):\(reader.lineNumber): the score '\(r[2])' is not a number")
                }
                score = s
            }
            if score <= 0 && !keepZeroScores {
                skipped += 1
                continue
            }
            if !(relevantIds[r[0]]?.contains(r[1]) ?? false) { relevantIds[r[0], default: []].append(r[1]) }
        }
        // Queries with judgements, in the queries file's order (a repeated id keeps its first place
        // and its last text, as a Python dict).
        var queryIds: [String] = [], queryTexts: [String] = []
        var position: [String: Int] = [:]
        try forEachRow(try file("queries")) { id, row, where_ in
            guard relevantIds[id] != nil else { return }
            guard let text = row["text"]?.string else { throw EmbedError("\(where_): no string field 'text'") }
            if let p = position[id] {
                queryTexts[p] = text
            } else {
                position[id] = queryIds.count
                queryIds.append(id)
                queryTexts.append(text)
            }
        }
        // Corpus ids, in file order.
        let ids = UniqueTexts()
        try forEachRow(try file("corpus")) { id, _, where_ in
            guard ids.insert(id).inserted else { throw EmbedError("\(where_): the document id '\(id)' occurs twice") }
        }
        var relevant: [[Int32]] = [], counts: [Int] = []
        for q in queryIds {
            let list = relevantIds[q]!
            relevant.append(list.compactMap { ids.index(of: $0).map(Int32.init) }.sorted())
            counts.append(list.count)
        }
        let order = (0..<ids.count).sorted { ids.precedes($0, $1) }
        var ranks = [Int32](repeating: 0, count: ids.count)
        for (r, i) in order.enumerated() { ranks[i] = Int32(r) }
        return Loaded(queryIds: queryIds, queryTexts: queryTexts, judgements: RetrievalJudgements(relevant: relevant, relevantCount: counts),
                      corpusIds: ids, tieRanks: ranks, skippedRows: skipped)
    }

    /// Reads the corpus texts in file order, `maxCount` at a time (nil at the end).
    package final class CorpusReader {
        let reader: JSONLReader
        let useTitles: Bool

        init(path: String, useTitles: Bool) throws {
            reader = try JSONLReader(path: path)
            self.useTitles = useTitles
        }

        package func next(maxCount: Int) throws -> [String]? {
            var out: [String] = []
            while out.count < maxCount, let row = try reader.next() {
                guard let text = row["text"]?.string else {
                    throw EmbedError("\(reader.path):\(reader.lineNumber): no string field 'text'")
                }
                let title = useTitles ? row["title"]?.string ?? "" : ""
                out.append(pythonStripped(title + " " + text))
            }
            return out.isEmpty ? nil : out
        }
    }

    package func corpusReader() throws -> CorpusReader { try CorpusReader(path: try file("corpus"), useTitles: useTitles) }

    /// Calls `body(id, row, "file:line")` for each JSON line; the id is `_id` (or `id`), as a string.
    private func forEachRow(_ path: String, _ body: (String, JSONObject, String) throws -> Void) throws {
        let reader = try JSONLReader(path: path)
        while let row = try reader.next() {
            let where_ = "\(path):\(reader.lineNumber)"
            guard let idValue = row["_id"] ?? row["id"] else { throw EmbedError("\(where_): no '_id' field") }
            let id: String
            switch idValue {
            case .string(let s): id = s
            case .number: id = JSON.format(idValue.double!)
            default: throw EmbedError("\(where_): '_id' must be a string")
            }
            try body(id, row, where_)
        }
    }
}

/// Python's `str.strip()`: removes leading and trailing characters for which `str.isspace()` holds.
package func pythonStripped(_ s: String) -> String {
    func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }
    let u = s.unicodeScalars
    guard let first = u.firstIndex(where: { !isSpace($0) }) else { return "" }
    let last = u.lastIndex(where: { !isSpace($0) })!
    return String(u[first...last])
}
