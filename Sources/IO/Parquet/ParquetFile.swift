#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A top-level column of a Parquet file that holds one scalar per row (possibly null).
package struct ParquetColumn: Sendable {
    package let name: String
    package let physicalType: ParquetPhysicalType
    package let nullable: Bool
    /// Why the values cannot be converted (INT96 timestamps, decimals, fixed-length binary), or nil.
    package let unsupportedReason: String?
    /// Whether BYTE_ARRAY values are annotated as text (else they are binary, read as UTF-8 if valid).
    package let isText: Bool
    let leafIndex: Int
    let maxDefinitionLevel: Int
    let unsigned: Bool
}

/// A Parquet file opened for reading rows: the footer is parsed up front, column chunks are read
/// one row group at a time, and only for the columns asked for, so memory stays bounded by one
/// row group of those columns whatever the file's size. The file is memory-mapped.
///
/// Reads PLAIN, PLAIN_DICTIONARY / RLE_DICTIONARY, RLE (booleans), DELTA_BINARY_PACKED,
/// DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT values; data pages v1 and v2;
/// UNCOMPRESSED, SNAPPY, GZIP and ZSTD pages; flat columns, required or optional. Nested columns
/// (lists, structs, maps) are listed in `nestedColumns` and cannot be read.
package final class ParquetFile {
    package let path: String
    package let numRows: Int
    package let columns: [ParquetColumn]
    /// Top-level fields that are groups or repeated: not readable as one scalar per row.
    package let nestedColumns: [String]
    package let createdBy: String?
    let metadata: ParquetFileMetadata
    private let file: MappedFile
    /// Where the footer starts: column chunks must end before it.
    private let dataEnd: Int

    package var rowGroupCount: Int { metadata.rowGroups.count }
    /// All top-level names in schema order (readable and nested).
    package let allColumnNames: [String]
    package var columnNames: [String] { columns.map(\.name) }

    package init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let size = file.count
        guard size >= 12 else { throw EmbedError("\(path): not a Parquet file (only \(size) bytes)") }
        let bytes = file.bytes
        func magic(_ at: Int) -> String { String(decoding: bytes[at..<at + 4], as: UTF8.self) }
        if magic(size - 4) == "PARE" { throw EmbedError("\(path): encrypted Parquet files are not supported") }
        guard magic(0) == "PAR1", magic(size - 4) == "PAR1" else {
            throw EmbedError("\(path): not a Parquet file (no PAR1 magic at its start and end)")
        }
        let footerLength = Int(bytes.loadUnaligned(fromByteOffset: size - 8, as: UInt32.self).littleEndian)
        guard footerLength > 0, footerLength <= size - 12 else {
            throw EmbedError("\(path): corrupt Parquet footer length \(footerLength)")
        }
        dataEnd = size - 8 - footerLength
        var reader = ThriftCompactReader(UnsafeRawBufferPointer(rebasing: bytes[dataEnd..<size - 8]), context: "\(path): footer")
        metadata = try ParquetFileMetadata.read(&reader)
        (columns, nestedColumns, allColumnNames) = try ParquetFile.flatColumns(metadata.schema, path: path)
        guard metadata.numRows >= 0 else { throw EmbedError("\(path): negative row count in the footer") }
        numRows = Int(metadata.numRows)
        createdBy = metadata.createdBy
    }

    /// Walks the schema tree (a depth-first list with child counts) to find the leaves, and keeps
    /// the top-level fields that are single leaves with no repetition.
    static func flatColumns(_ schema: [ParquetSchemaElement], path: String) throws -> ([ParquetColumn], [String], [String]) {
        guard let root = schema.first else { throw EmbedError("\(path): the schema is empty") }
        var columns: [ParquetColumn] = []
        var nested: [String] = []
        var all: [String] = []
        var index = 1
        var leaf = 0
        /// Consumes one element and its subtree; returns the number of leaves in it.
        func subtree() throws -> Int {
            guard index < schema.count else { throw EmbedError("\(path): the schema tree is truncated") }
            let e = schema[index]
            index += 1
            if e.numChildren <= 0 { return 1 }
            var n = 0
            for _ in 0..<e.numChildren { n += try subtree() }
            return n
        }
        for _ in 0..<max(0, Int(root.numChildren)) {
            guard index < schema.count else { throw EmbedError("\(path): the schema tree is truncated") }
            let e = schema[index]
            all.append(e.name)
            if e.numChildren > 0 || e.repetition == 2 {
                nested.append(e.name)
                leaf += try subtree()
                continue
            }
            index += 1
            guard let raw = e.type, let physical = ParquetPhysicalType(rawValue: raw) else {
                throw EmbedError("\(path): column '\(e.name)' has no known physical type")
            }
            var reason: String?
            let converted = e.convertedType ?? -1
            if physical == .int96 { reason = "INT96 (legacy timestamp)" }
            if physical == .fixedLenByteArray { reason = "FIXED_LEN_BYTE_ARRAY" }
            if converted == 5 || e.logicalType == 5 { reason = "DECIMAL" }
            if e.logicalType == 15 { reason = "FLOAT16" }
            let text = converted == 0 || converted == 4 || converted == 19 || [1, 4, 12].contains(e.logicalType ?? -1)
            let unsigned = [11, 12, 13, 14].contains(converted) || (e.logicalType == 10 && !e.logicalIntegerSigned)
            columns.append(ParquetColumn(
                name: e.name, physicalType: physical, nullable: e.repetition == 1, unsupportedReason: reason,
                isText: text, leafIndex: leaf, maxDefinitionLevel: e.repetition == 1 ? 1 : 0, unsigned: unsigned))
            leaf += 1
        }
        return (columns, nested, all)
    }

    package func column(_ name: String) -> ParquetColumn? { columns.first { $0.name == name } }

    package func rowCount(rowGroup: Int) -> Int { Int(metadata.rowGroups[rowGroup].numRows) }

    /// The encodings the footer lists for a column, over all row groups (e.g. "RLE_DICTIONARY").
    package func encodings(column name: String) -> Set<String> {
        guard let c = column(name) else { return [] }
        var out = Set<String>()
        for g in metadata.rowGroups where c.leafIndex < g.columns.count {
            for e in g.columns[c.leafIndex].meta?.encodings ?? [] { out.insert(ParquetEncoding.name(e)) }
        }
        return out
    }

    /// The codec of a column's chunks (of the first row group).
    package func codec(column name: String) -> ParquetCodec? {
        guard let c = column(name), let g = metadata.rowGroups.first, c.leafIndex < g.columns.count,
            let raw = g.columns[c.leafIndex].meta?.codec
        else { return nil }
        return ParquetCodec(rawValue: raw)
    }

    /// Checks that the named columns exist and are readable; the error lists what the file has.
    package func checkColumns(_ names: [String]) throws {
        for n in names {
            if let c = column(n) {
                if let r = c.unsupportedReason {
                    throw EmbedError("\(path): column '\(n)' has type \(r), which cannot be converted")
                }
            } else if nestedColumns.contains(n) {
                throw EmbedError("\(path): column '\(n)' is nested (a list, struct or map); only flat columns can be read")
            } else {
                throw EmbedError("\(path): no column '\(n)' (the file has: \(allColumnNames.joined(separator: ", ")))")
            }
        }
    }

    /// Reads the named columns of one row group: one array of values per column, each as long as
    /// the row group.
    package func readColumns(rowGroup: Int, columns names: [String]) throws -> [[TableValue]] {
        try checkColumns(names)
        guard rowGroup >= 0, rowGroup < metadata.rowGroups.count else {
            throw EmbedError("\(path): no row group \(rowGroup) (the file has \(metadata.rowGroups.count))")
        }
        return try names.map { try readColumnChunk(rowGroup: rowGroup, column: column($0)!) }
    }

    /// A reader of rows (the named columns, all readable ones by default), one row group at a time.
    package func rows(columns names: [String]? = nil) throws -> ParquetRowReader {
        let chosen = names ?? columns.filter { $0.unsupportedReason == nil }.map(\.name)
        try checkColumns(chosen)
        return ParquetRowReader(file: self, columns: chosen)
    }

    /// The kinds of pages a column's chunks hold ("DICTIONARY_PAGE", "DATA_PAGE", "DATA_PAGE_V2").
    package func pageTypes(column name: String) throws -> Set<String> {
        try checkColumns([name])
        var kinds = Set<String>()
        for g in 0..<rowGroupCount {
            try forEachPage(rowGroup: g, column: column(name)!) { h, _ in
                kinds.insert(["DATA_PAGE", "INDEX_PAGE", "DICTIONARY_PAGE", "DATA_PAGE_V2"][Int(h.type)])
                return true
            }
        }
        return kinds
    }

    // MARK: Column chunks

    private var bytes: UnsafeRawBufferPointer { file.bytes }

    /// Calls `body` with each page header and its (still compressed) payload, in order, until it
    /// returns false or the chunk ends.
    private func forEachPage(
        rowGroup g: Int, column c: ParquetColumn,
        _ body: (ParquetPageHeader, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        let group = metadata.rowGroups[g]
        let place = "\(path): row group \(g), column '\(c.name)'"
        guard c.leafIndex < group.columns.count, let meta = group.columns[c.leafIndex].meta else {
            throw EmbedError("\(place): the footer has no metadata for this column chunk")
        }
        if let external = group.columns[c.leafIndex].filePath {
            throw EmbedError("\(place): the chunk lives in another file ('\(external)'), which is not supported")
        }
        var start = Int(meta.dataPageOffset)
        if let d = meta.dictionaryPageOffset, d > 0, Int(d) < start { start = Int(d) }
        // Compared before adding: hostile offsets and sizes near Int.max must not overflow.
        guard start >= 4, start <= dataEnd, meta.totalCompressedSize >= 0,
              meta.totalCompressedSize <= Int64(dataEnd - start)
        else {
            throw EmbedError("\(place): the column chunk (\(meta.totalCompressedSize) bytes at \(start)) lies outside the file's data")
        }
        let end = start + Int(meta.totalCompressedSize)
        var pos = start
        while pos < end {
            var reader = ThriftCompactReader(
                UnsafeRawBufferPointer(rebasing: bytes[0..<end]), at: pos, context: "\(place): page header")
            let header = try ParquetPageHeader.read(&reader)
            let n = Int(header.compressedSize)
            guard n >= 0, reader.position + n <= end, header.uncompressedSize >= 0, header.type >= 0, header.type <= 3 else {
                throw EmbedError("\(place): corrupt page header at byte \(pos)")
            }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[reader.position..<reader.position + n])
            pos = reader.position + n
            if try !body(header, payload) { return }
        }
    }

    func readColumnChunk(rowGroup g: Int, column c: ParquetColumn) throws -> [TableValue] {
        let group = metadata.rowGroups[g]
        let place = "\(path): row group \(g), column '\(c.name)'"
        let expected = Int(group.numRows)
        guard c.leafIndex < group.columns.count, let meta = group.columns[c.leafIndex].meta else {
            throw EmbedError("\(place): the footer has no metadata for this column chunk")
        }
        guard let codec = ParquetCodec(rawValue: meta.codec) else {
            throw EmbedError("\(place): unknown compression codec")
        }
        var values: [TableValue] = []
        // The footer's row count is a claim: reserve for it only as far as the chunk could hold.
        values.reserveCapacity(max(0, min(expected, 1 << 20)))
        var dictionary: [TableValue]?
        do {
            try forEachPage(rowGroup: g, column: c) { h, payload in
                switch ParquetPageType(rawValue: h.type) {
                case .dictionaryPage:
                    let data = try ParquetCodecs.decompress(payload, codec: codec, uncompressedSize: Int(h.uncompressedSize))
                    guard h.encoding == 0 || h.encoding == 2 else {
                        throw EmbedError("dictionary page in \(ParquetEncoding.name(h.encoding)), expected PLAIN")
                    }
                    try data.withUnsafeBufferPointer { buf in
                        var b = ParquetBytes(buf)
                        var dict: [TableValue] = []
                        try decodeValues(&b, encoding: .plain, count: Int(h.numValues), column: c, dictionary: nil, into: &dict)
                        dictionary = dict
                    }
                case .dataPage:
                    let data = try ParquetCodecs.decompress(payload, codec: codec, uncompressedSize: Int(h.uncompressedSize))
                    try data.withUnsafeBufferPointer { buf in
                        var b = ParquetBytes(buf)
                        var levels: [Int32] = []
                        if c.maxDefinitionLevel > 0 {
                            guard h.definitionLevelEncoding == ParquetEncoding.rle.rawValue else {
                                throw EmbedError("definition levels in \(ParquetEncoding.name(h.definitionLevelEncoding)) are not supported")
                            }
                            let length = Int(try b.uint32LE())
                            try b.need(length, "the definition levels")
                            var lb = ParquetBytes(buf, from: b.pos, to: b.pos + length)
                            try ParquetDecode.rleHybrid(&lb, bitWidth: 1, count: Int(h.numValues), into: &levels)
                            b.pos += length
                        }
                        try decodePage(&b, header: h, levels: levels, column: c, dictionary: dictionary, into: &values)
                    }
                case .dataPageV2:
                    let levelBytes = Int(h.definitionLevelsByteLength) + Int(h.repetitionLevelsByteLength)
                    guard h.definitionLevelsByteLength >= 0, h.repetitionLevelsByteLength >= 0, levelBytes <= payload.count else {
                        throw EmbedError("data page v2 level lengths exceed the page")
                    }
                    var levels: [Int32] = []
                    if c.maxDefinitionLevel > 0 {
                        let lv = payload.bindMemory(to: UInt8.self)
                        var lb = ParquetBytes(lv, from: Int(h.repetitionLevelsByteLength), to: levelBytes)
                        try ParquetDecode.rleHybrid(&lb, bitWidth: 1, count: Int(h.numValues), into: &levels)
                    }
                    let rest = UnsafeRawBufferPointer(rebasing: payload[levelBytes...])
                    let data = h.isCompressed
                        ? try ParquetCodecs.decompress(rest, codec: codec, uncompressedSize: Int(h.uncompressedSize) - levelBytes)
                        : Array(rest)
                    try data.withUnsafeBufferPointer { buf in
                        var b = ParquetBytes(buf)
                        try decodePage(&b, header: h, levels: levels, column: c, dictionary: dictionary, into: &values)
                    }
                case .indexPage, .none:
                    break
                }
                return values.count < expected
            }
        } catch let e as EmbedError {
            throw e.message.hasPrefix(path) ? e : e.at(place)
        }
        guard values.count == expected else {
            throw EmbedError("\(place): \(values.count) values for \(expected) rows")
        }
        return values
    }

    /// Decodes one data page's values and interleaves the nulls its definition levels mark.
    private func decodePage(
        _ b: inout ParquetBytes, header h: ParquetPageHeader, levels: [Int32], column c: ParquetColumn,
        dictionary: [TableValue]?, into values: inout [TableValue]
    ) throws {
        guard let encoding = ParquetEncoding(rawValue: h.encoding) else {
            throw EmbedError("unknown encoding \(h.encoding)")
        }
        let count = Int(h.numValues)
        guard count >= 0 else { throw EmbedError("negative value count") }
        if c.maxDefinitionLevel == 0 {
            try decodeValues(&b, encoding: encoding, count: count, column: c, dictionary: dictionary, into: &values)
            return
        }
        var present = 0
        for l in levels where l == 1 { present += 1 }
        var dense: [TableValue] = []
        try decodeValues(&b, encoding: encoding, count: present, column: c, dictionary: dictionary, into: &dense)
        var k = 0
        for l in levels {
            if l == 1 { values.append(dense[k]); k += 1 } else { values.append(.null) }
        }
    }

    /// Decodes `count` non-null values in `encoding`.
    private func decodeValues(
        _ b: inout ParquetBytes, encoding: ParquetEncoding, count: Int, column c: ParquetColumn,
        dictionary: [TableValue]?, into out: inout [TableValue]
    ) throws {
        if count == 0 { return }
        out.reserveCapacity(out.count + min(count, 1 << 20))  // a page header's claim
        switch encoding {
        case .plainDictionary, .rleDictionary:
            guard let dictionary else { throw EmbedError("a dictionary-encoded page comes without a dictionary page") }
            let width = Int(try b.byte())
            var indices: [Int32] = []
            try ParquetDecode.rleHybrid(&b, bitWidth: width, count: count, into: &indices)
            for i in indices {
                guard i >= 0, Int(i) < dictionary.count else {
                    throw EmbedError("dictionary index \(i) outside the dictionary of \(dictionary.count)")
                }
                out.append(dictionary[Int(i)])
            }
        case .plain:
            try decodePlain(&b, count: count, column: c, into: &out)
        case .rle:
            guard c.physicalType == .boolean else { throw EmbedError("RLE values are only defined for booleans") }
            let length = Int(try b.uint32LE())
            try b.need(length, "RLE booleans")
            var rb = ParquetBytes(UnsafeBufferPointer(start: b.base, count: b.end), from: b.pos, to: b.pos + length)
            var bits: [Int32] = []
            try ParquetDecode.rleHybrid(&rb, bitWidth: 1, count: count, into: &bits)
            for v in bits { out.append(.bool(v != 0)) }
            b.pos += length
        case .deltaBinaryPacked:
            let ints = try ParquetDecode.deltaBinaryPacked(&b)
            guard ints.count >= count else { throw EmbedError("DELTA_BINARY_PACKED has \(ints.count) values for \(count)") }
            for v in ints[0..<count] {
                switch c.physicalType {
                case .int32: out.append(int32Value(Int32(truncatingIfNeeded: v), c))
                case .int64: out.append(int64Value(v, c))
                default: throw EmbedError("DELTA_BINARY_PACKED is only defined for integers")
                }
            }
        case .deltaLengthByteArray, .deltaByteArray:
            guard c.physicalType == .byteArray else { throw EmbedError("\(encoding) is only defined for byte arrays") }
            try ParquetDecode.byteArrays(&b, encoding: encoding, count: count) { out.append(try stringValue($0, c)) }
        case .byteStreamSplit:
            let width: Int
            switch c.physicalType {
            case .float, .int32: width = 4
            case .double, .int64: width = 8
            default: throw EmbedError("BYTE_STREAM_SPLIT is not supported for \(c.physicalType)")
            }
            try b.need(width * count, "BYTE_STREAM_SPLIT values")
            for i in 0..<count {
                var bits: UInt64 = 0
                for j in 0..<width { bits |= UInt64(b.base[b.pos + j * count + i]) << (8 * UInt64(j)) }
                switch c.physicalType {
                case .float: out.append(.double(Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))))
                case .double: out.append(.double(Double(bitPattern: bits)))
                case .int32: out.append(int32Value(Int32(bitPattern: UInt32(truncatingIfNeeded: bits)), c))
                default: out.append(int64Value(Int64(bitPattern: bits), c))
                }
            }
            b.pos += width * count
        case .bitPacked:
            throw EmbedError("BIT_PACKED values are not supported")
        }
    }

    private func decodePlain(_ b: inout ParquetBytes, count: Int, column c: ParquetColumn, into out: inout [TableValue]) throws {
        switch c.physicalType {
        case .boolean:
            try b.need((count + 7) / 8, "PLAIN booleans")
            for i in 0..<count { out.append(.bool(b.base[b.pos + i >> 3] >> UInt8(i & 7) & 1 != 0)) }
            b.pos += (count + 7) / 8
        case .int32, .float:
            try b.need(4 * count, "PLAIN values")
            for i in 0..<count {
                let p = b.base + b.pos + 4 * i
                let bits = UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24
                out.append(c.physicalType == .float
                    ? .double(Double(Float(bitPattern: bits))) : int32Value(Int32(bitPattern: bits), c))
            }
            b.pos += 4 * count
        case .int64, .double:
            try b.need(8 * count, "PLAIN values")
            for i in 0..<count {
                let p = b.base + b.pos + 8 * i
                var bits: UInt64 = 0
                for j in 0..<8 { bits |= UInt64(p[j]) << (8 * UInt64(j)) }
                out.append(c.physicalType == .double ? .double(Double(bitPattern: bits)) : int64Value(Int64(bitPattern: bits), c))
            }
            b.pos += 8 * count
        case .byteArray:
            try ParquetDecode.byteArrays(&b, encoding: .plain, count: count) { out.append(try stringValue($0, c)) }
        case .int96, .fixedLenByteArray:
            throw EmbedError("values of type \(c.physicalType) cannot be converted")
        }
    }

    private func int32Value(_ v: Int32, _ c: ParquetColumn) -> TableValue {
        c.unsigned ? .int(Int64(UInt32(bitPattern: v))) : .int(Int64(v))
    }

    private func int64Value(_ v: Int64, _ c: ParquetColumn) -> TableValue {
        if c.unsigned, v < 0 { return .double(Double(UInt64(bitPattern: v))) }
        return .int(v)
    }

    private func stringValue(_ bytes: UnsafeBufferPointer<UInt8>, _ c: ParquetColumn) throws -> TableValue {
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw EmbedError(c.isText ? "a string value is not valid UTF-8" : "binary values that are not UTF-8 text cannot be converted")
        }
        return .string(s)
    }
}

/// Rows of a Parquet file, read one row group at a time.
package final class ParquetRowReader {
    package let file: ParquetFile
    package let columns: [String]
    private var nextGroup = 0
    private var data: [[TableValue]] = []
    private var row = 0
    private var rowsInGroup = 0

    init(file: ParquetFile, columns: [String]) {
        self.file = file
        self.columns = columns
    }

    /// The next row's values, in `columns` order; nil after the last row.
    package func next() throws -> [TableValue]? {
        while row >= rowsInGroup {
            guard nextGroup < file.rowGroupCount else {
                data = []
                return nil
            }
            data = try file.readColumns(rowGroup: nextGroup, columns: columns)
            rowsInGroup = file.rowCount(rowGroup: nextGroup)
            row = 0
            nextGroup += 1
        }
        defer { row += 1 }
        return data.map { $0[row] }
    }
}
