/// Reader for the tokens files `tokenize` writes: a safetensors file holding, per column `C`,
/// `C.input_ids` (int32, every row's ids concatenated, special tokens included, truncated, no
/// padding) and `C.offsets` (int64, rows + 1: row r is `input_ids[offsets[r]..<offsets[r+1]]`),
/// with metadata `tokenizer`, `max_seq_length`, `columns` (a JSON array), `rows`, `source`
/// (and `vocab_size`, `pad_token_id` when written by this package).
///
/// Opening validates everything a consumer indexes with: offsets start at 0, never decrease, end
/// at the id count, every column has the same rows, and ids lie in [0, vocab_size) when the
/// vocabulary size is recorded — so a damaged file is an error here, not a crash later.
package final class TokenizedFile: @unchecked Sendable {
    package let path: String
    package let rows: Int
    package let columns: [String]
    package let maxSeqLength: Int
    package let metadata: [String: String]
    /// `vocab_size` from the metadata, when present.
    package let vocabSize: Int?
    /// `pad_token_id` from the metadata, when present.
    package let padTokenId: Int32?
    /// Numeric columns (`score_columns` in the metadata, tensors `<name>.scores`, float32 [rows]).
    package let scoreColumns: [String: [Float]]

    private let file: SafetensorsFile
    private let columnIds: [UnsafePointer<Int32>]
    private let columnOffsets: [[Int64]]
    private let columnIndex: [String: Int]
    /// Copies of id tensors that were not 4-byte aligned in the mapping.
    private let ownedCopies: [UnsafeMutablePointer<Int32>]

    package init(path: String) throws {
        self.path = path
        file = try SafetensorsFile(path: path)
        metadata = file.metadata
        guard let columnsJSON = metadata["columns"] else {
            throw EmbedError("\(path): not a tokens file (no 'columns' in the metadata)")
        }
        let list = (try? JSON.parse(columnsJSON))?.array ?? []
        let names = list.compactMap(\.string)
        guard names.count == list.count, !names.isEmpty else {
            throw EmbedError("\(path): metadata 'columns' is not a JSON array of column names")
        }
        columns = names
        guard let msl = metadata["max_seq_length"].flatMap({ Int($0) }), msl > 0 else {
            throw EmbedError("\(path): metadata 'max_seq_length' is missing or not a positive integer")
        }
        maxSeqLength = msl
        vocabSize = metadata["vocab_size"].flatMap { Int($0) }
        padTokenId = metadata["pad_token_id"].flatMap { Int32($0) }

        var rowCount: Int?
        var ids: [UnsafePointer<Int32>] = []
        var offsets: [[Int64]] = []
        var copies: [UnsafeMutablePointer<Int32>] = []
        var index: [String: Int] = [:]
        // Copies made before a validation error are freed with it.
        var succeeded = false
        defer { if !succeeded { for p in copies { p.deallocate() } } }
        for (k, name) in names.enumerated() {
            guard index[name] == nil else { throw EmbedError("\(path): column '\(name)' is listed twice") }
            index[name] = k
            let idsInfo = try file.info("\(name).input_ids")
            let offInfo = try file.info("\(name).offsets")
            guard idsInfo.dtype == .i32, idsInfo.shape.count == 1 else {
                throw EmbedError("\(path): '\(name).input_ids' must be a 1-D int32 tensor (it is \(idsInfo.dtype.rawValue) \(idsInfo.shape))")
            }
            guard offInfo.dtype == .i64, offInfo.shape.count == 1, offInfo.shape[0] >= 1 else {
                throw EmbedError("\(path): '\(name).offsets' must be a 1-D int64 tensor of rows + 1 values")
            }
            let r = offInfo.shape[0] - 1
            if let rowCount, rowCount != r {
                throw EmbedError("\(path): column '\(name)' has \(r) rows but '\(names[0])' has \(rowCount)")
            }
            rowCount = r
            let total = idsInfo.shape[0]
            let rawOffsets = try file.bytes("\(name).offsets")
            var off = [Int64](repeating: 0, count: r + 1)
            for j in 0...r {
                off[j] = rawOffsets.loadUnaligned(fromByteOffset: j * 8, as: Int64.self)
                let previous = j == 0 ? 0 : off[j - 1]
                if j == 0, off[0] != 0 { throw EmbedError("\(path): '\(name).offsets' must start at 0 (it starts at \(off[0]))") }
                if off[j] < previous {
                    throw EmbedError("\(path): '\(name).offsets' decreases at row \(j - 1) (\(previous) then \(off[j]))")
                }
            }
            guard off[r] == Int64(total) else {
                throw EmbedError("\(path): '\(name).offsets' ends at \(off[r]) but '\(name).input_ids' has \(total) ids")
            }
            let raw = try file.bytes("\(name).input_ids")
            let pointer: UnsafePointer<Int32>
            if total == 0 {
                let empty = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
                copies.append(empty)
                pointer = UnsafePointer(empty)
            } else if Int(bitPattern: raw.baseAddress!) % 4 == 0 {
                pointer = raw.baseAddress!.assumingMemoryBound(to: Int32.self)
            } else {
                let copy = UnsafeMutablePointer<Int32>.allocate(capacity: total)
                UnsafeMutableRawPointer(copy).copyMemory(from: raw.baseAddress!, byteCount: total * 4)
                copies.append(copy)
                pointer = UnsafePointer(copy)
            }
            if let vocabSize {
                for j in 0..<total where pointer[j] < 0 || Int(pointer[j]) >= vocabSize {
                    throw EmbedError("\(path): '\(name).input_ids' holds id \(pointer[j]) outside the vocabulary of \(vocabSize)")
                }
            }
            ids.append(pointer)
            offsets.append(off)
        }
        rows = rowCount ?? 0
        if let declared = metadata["rows"].flatMap({ Int($0) }), declared != rows {
            throw EmbedError("\(path): metadata says \(declared) rows but the offsets hold \(rows)")
        }
        var scores: [String: [Float]] = [:]
        if let listed = metadata["score_columns"] {
            let names = (try? JSON.parse(listed))?.array?.compactMap(\.string) ?? []
            for name in names {
                let info = try file.info("\(name).scores")
                guard info.dtype == .f32, info.shape == [rows] else {
                    throw EmbedError("\(path): '\(name).scores' must be a float32 tensor of \(rows) values (it is \(info.dtype.rawValue) \(info.shape))")
                }
                scores[name] = try file.floats("\(name).scores")
            }
        }
        scoreColumns = scores
        columnIds = ids
        columnOffsets = offsets
        columnIndex = index
        ownedCopies = copies
        succeeded = true
    }

    deinit { for p in ownedCopies { p.deallocate() } }

    package func scores(column: String) -> [Float]? { scoreColumns[column] }

    /// The position of `column` in `columns`, or nil.
    package func index(of column: String) -> Int? { columnIndex[column] }

    /// Zero-copy view of row `row` of `column` (valid while this object lives).
    package func ids(column: String, row: Int) -> UnsafeBufferPointer<Int32> {
        guard let c = columnIndex[column] else { preconditionFailure("\(path): no column '\(column)'") }
        return ids(columnIndex: c, row: row)
    }

    /// As `ids(column:row:)`, by column position (no name lookup, for inner loops).
    package func ids(columnIndex c: Int, row: Int) -> UnsafeBufferPointer<Int32> {
        precondition(row >= 0 && row < rows, "row \(row) outside 0..<\(rows)")
        let off = columnOffsets[c]
        let start = Int(off[row])
        return UnsafeBufferPointer(start: columnIds[c] + start, count: Int(off[row + 1]) - start)
    }

    /// The number of ids in every row of `column`.
    package func lengths(columnIndex c: Int) -> [Int] {
        let off = columnOffsets[c]
        return (0..<rows).map { Int(off[$0 + 1] - off[$0]) }
    }
}
