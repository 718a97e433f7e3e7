import IO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `tokenize` stage: texts in (zstd JSONL columns or plain text lines), a tokens file out
/// (see `TokenizedFile`).
///
/// Memory stays bounded whatever the input size: lines are read in chunks, each chunk is parsed
/// and tokenized on worker threads (each takes a contiguous share of the lines), and the ids are
/// appended in input order to temporary spool files that become the output's tensors at the end.
/// The output is therefore byte-identical for any thread count.
package struct TokenizeOptions: Sendable {
    package var modelDirectory: String
    /// JSONL columns to tokenize, in output order.
    package var columns: [String] = ["anchor", "positive", "negative"]
    /// A numeric JSONL column (a pair's gold similarity score, for CoSENT and the STS evaluation)
    /// carried over as float32 `<name>.scores`.
    package var scoreColumn: String?
    /// Plain text: one text per line, in a column named `text`.
    package var textLines = false
    /// nil: the model's default (`ModelFolder.defaultMaxSeqLength`).
    package var maxSeqLength: Int?
    package var threads = 2
    package var input = "-"
    package var output = "-"
    /// Lines per chunk.
    package var chunkLines = 8192
    package var quiet = false

    package init(modelDirectory: String) { self.modelDirectory = modelDirectory }
}

package struct TokenizeSummary: Sendable {
    package let rows: Int
    package let texts: Int
    package let tokens: Int
    package let seconds: Double
    package let maxSeqLength: Int
}

package enum TokenizeJob {
    package static func run(_ options: TokenizeOptions) throws -> TokenizeSummary {
        guard options.threads >= 1 else { throw EmbedError("--threads must be at least 1") }
        let tokenizer = try Tokenizer.load(directory: options.modelDirectory)
        let maxLength = options.maxSeqLength ?? ModelFolder.defaultMaxSeqLength(directory: options.modelDirectory)
        guard maxLength > tokenizer.specialTokenCount else {
            throw EmbedError("--max-seq-length \(maxLength) leaves no room for text beside the \(tokenizer.specialTokenCount) special tokens")
        }
        let columns = options.textLines ? ["text"] : options.columns
        guard !columns.isEmpty else { throw EmbedError("--columns is empty") }
        if Set(columns).count != columns.count { throw EmbedError("--columns lists a column twice") }
        if let sc = options.scoreColumn {
            if options.textLines { throw EmbedError("--score-column needs JSON Lines input, not --text") }
            if columns.contains(sc) { throw EmbedError("--score-column \(sc) is also a text column in --columns") }
        }

        let spoolDir = spoolDirectory(for: options.output)
        var idSpools: [TensorSpool] = []
        var offsetSpools: [TensorSpool] = []
        for _ in columns {
            idSpools.append(try TensorSpool(dtype: .i32, directory: spoolDir))
            offsetSpools.append(try TensorSpool(dtype: .i64, directory: spoolDir))
        }
        let scoreSpool = try options.scoreColumn.map { _ in try TensorSpool(dtype: .f32, directory: spoolDir) }
        var totals = [Int64](repeating: 0, count: columns.count)
        for s in offsetSpools { try s.append([Int64(0)]) }

        let reader = try LineReader(path: options.input)
        let progress = ProgressBar("tokenize", unit: "rows", quiet: options.quiet)
        let shares = (0..<options.threads).map { _ in ChunkShare(columns: columns.count) }
        var rows = 0
        var chunk = LineChunk()
        var eof = false
        while !eof {
            chunk.reset()
            while chunk.count < options.chunkLines {
                guard let line = try reader.next() else {
                    eof = true
                    break
                }
                chunk.append(line, lineNumber: reader.lineNumber)
            }
            if chunk.count == 0 { break }
            let work = ChunkWork(chunk: chunk, tokenizer: tokenizer, columns: columns, scoreColumn: options.scoreColumn,
                                 textLines: options.textLines, path: options.input, maxLength: maxLength)
            let n = chunk.count
            let threads = min(options.threads, max(1, n / 64))
            runOnThreads(threads) { k in
                work.process(lines: (n * k / threads)..<(n * (k + 1) / threads), into: shares[k])
            }
            // The first error in input order wins, whatever thread met it.
            for k in 0..<threads {
                if let error = shares[k].error { throw error }
            }
            for k in 0..<threads {
                let share = shares[k]
                for c in 0..<columns.count {
                    try idSpools[c].append(share.ids[c])
                    var offsets: [Int64] = []
                    offsets.reserveCapacity(share.lengths[c].count)
                    for len in share.lengths[c] {
                        totals[c] += Int64(len)
                        offsets.append(totals[c])
                    }
                    try offsetSpools[c].append(offsets)
                }
                try scoreSpool?.append(share.scores)
                rows += share.rows
            }
            progress.set(rows)
        }

        let writer = SafetensorsWriter()
        // Offsets (8-byte values) first keeps every tensor naturally aligned in the file.
        for (c, name) in columns.enumerated() {
            writer.add("\(name).offsets", shape: [rows + 1], spool: offsetSpools[c])
        }
        if let scoreSpool, let name = options.scoreColumn {
            writer.add("\(name).scores", shape: [rows], spool: scoreSpool)
            writer.metadata["score_columns"] = JSON.array([.string(name)]).serialized()
        }
        for (c, name) in columns.enumerated() {
            writer.add("\(name).input_ids", shape: [Int(totals[c])], spool: idSpools[c])
        }
        writer.metadata["tokenizer"] = options.modelDirectory
        writer.metadata["max_seq_length"] = String(maxLength)
        writer.metadata["columns"] = JSON.array(columns.map { .string($0) }).serialized()
        writer.metadata["rows"] = String(rows)
        writer.metadata["source"] = options.input
        writer.metadata["vocab_size"] = String(tokenizer.vocabSize)
        writer.metadata["pad_token_id"] = String(tokenizer.padTokenId)
        try writer.write(to: options.output)
        let tokens = Int(totals.reduce(0, +))
        progress.finish(note: "\(tokens) tokens")
        return TokenizeSummary(rows: rows, texts: rows * columns.count, tokens: tokens, seconds: progress.elapsed,
                               maxSeqLength: maxLength)
    }

    /// Spools live beside the output (same filesystem), or in $TMPDIR for stdout.
    static func spoolDirectory(for output: String) -> String {
        if output == "-" {
            if let t = getenv("TMPDIR") { return String(cString: t) }
            return "/tmp"
        }
        guard let slash = output.lastIndex(of: "/") else { return "." }
        let dir = String(output[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}

/// A chunk of input lines copied out of the reader's buffer.
struct LineChunk: @unchecked Sendable {
    var bytes: [UInt8] = []
    var starts: [Int] = []
    var lineNumbers: [Int] = []

    var count: Int { lineNumbers.count }

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        lineNumbers.removeAll(keepingCapacity: true)
    }

    mutating func append(_ line: UnsafeBufferPointer<UInt8>, lineNumber: Int) {
        starts.append(bytes.count)
        bytes.append(contentsOf: line)
        lineNumbers.append(lineNumber)
    }

    func line(_ k: Int) -> ArraySlice<UInt8> {
        let end = k + 1 < starts.count ? starts[k + 1] : bytes.count
        return bytes[starts[k]..<end]
    }
}

/// One thread's results for its share of a chunk: ids and lengths per column, in line order.
final class ChunkShare: @unchecked Sendable {
    var ids: [[Int32]]
    var lengths: [[Int32]]
    var scores: [Float] = []
    var rows = 0
    var error: EmbedError?
    let scratch = EncodeScratch()

    init(columns: Int) {
        ids = Array(repeating: [], count: columns)
        lengths = Array(repeating: [], count: columns)
    }

    func reset() {
        for c in 0..<ids.count {
            ids[c].removeAll(keepingCapacity: true)
            lengths[c].removeAll(keepingCapacity: true)
        }
        scores.removeAll(keepingCapacity: true)
        rows = 0
        error = nil
    }
}

/// Parsing and tokenizing lines of a chunk.
struct ChunkWork: @unchecked Sendable {
    let chunk: LineChunk
    let tokenizer: Tokenizer
    let columns: [String]
    let scoreColumn: String?
    let textLines: Bool
    let path: String
    let maxLength: Int

    func process(lines: Range<Int>, into share: ChunkShare) {
        share.reset()
        for k in lines {
            do {
                guard let (texts, score) = try fields(k) else { continue }
                if let score { share.scores.append(score) }
                for (c, text) in texts.enumerated() {
                    let ids: [Int32]
                    do {
                        ids = try tokenizer.encode(text, maxLength: maxLength, scratch: share.scratch)
                    } catch {
                        throw EmbedError("\(path):\(chunk.lineNumbers[k]): \(error)")
                    }
                    share.ids[c] += ids
                    share.lengths[c].append(Int32(ids.count))
                }
                share.rows += 1
            } catch let e as EmbedError {
                share.error = e
                return
            } catch {
                share.error = EmbedError("\(path):\(chunk.lineNumbers[k]): \(error)")
                return
            }
        }
    }

    /// The texts (and score) of line `k`, or nil for a blank JSONL line (skipped, as JSONLReader does).
    private func fields(_ k: Int) throws -> (texts: [String], score: Float?)? {
        let line = chunk.line(k)
        let lineNumber = chunk.lineNumbers[k]
        if textLines {
            guard let text = String(validating: line, as: UTF8.self) else {
                let offset = firstInvalidUTF8(line)
                throw EmbedError("\(path):\(lineNumber): invalid UTF-8 (byte \(offset + 1) of the line)")
            }
            return ([text], nil)
        }
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
        let value: JSON
        do {
            value = try line.withUnsafeBytes { try JSON.parse($0) }
        } catch let error as JSONParseError {
            throw EmbedError("\(path):\(lineNumber):\(error.column): \(error.message)")
        }
        guard case .object(let object) = value else {
            throw EmbedError("\(path):\(lineNumber): expected a JSON object on each line")
        }
        func field(_ name: String) throws -> JSON {
            guard let v = object[name] else {
                throw EmbedError("\(path):\(lineNumber): no column '\(name)' (the row has: \(object.keys.joined(separator: ", ")))")
            }
            return v
        }
        let texts = try columns.map { name in
            guard let s = try field(name).string else { throw EmbedError("\(path):\(lineNumber): column '\(name)' is not a string") }
            return s
        }
        guard let scoreColumn else { return (texts, nil) }
        guard let score = try field(scoreColumn).double, score.isFinite else {
            throw EmbedError("\(path):\(lineNumber): column '\(scoreColumn)' is not a number (a score column must hold numbers)")
        }
        return (texts, Float(score))
    }
}

/// The offset of the first byte that breaks UTF-8 validity.
func firstInvalidUTF8(_ bytes: ArraySlice<UInt8>) -> Int {
    var k = bytes.startIndex
    while k < bytes.endIndex {
        let b = bytes[k]
        let n: Int
        switch b {
        case 0x00...0x7F: n = 1
        case 0xC2...0xDF: n = 2
        case 0xE0...0xEF: n = 3
        case 0xF0...0xF4: n = 4
        default: return k - bytes.startIndex
        }
        if k + n > bytes.endIndex { return k - bytes.startIndex }
        if String(validating: bytes[k..<(k + n)], as: UTF8.self) == nil { return k - bytes.startIndex }
        k += n
    }
    return bytes.count
}
