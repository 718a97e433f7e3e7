/// Parquet's footer and page headers (parquet.thrift), reduced to the fields a row reader needs.
/// Field ids are those of the format specification.

/// Physical types.
package enum ParquetPhysicalType: Int32, Sendable {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7
}

/// Compression codecs.
package enum ParquetCodec: Int32, Sendable, CustomStringConvertible {
    case uncompressed = 0, snappy = 1, gzip = 2, lzo = 3, brotli = 4, lz4 = 5, zstd = 6, lz4Raw = 7

    package var description: String {
        ["UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"][Int(rawValue)]
    }
}

/// Value and level encodings.
package enum ParquetEncoding: Int32, Sendable, CustomStringConvertible {
    case plain = 0, plainDictionary = 2, rle = 3, bitPacked = 4, deltaBinaryPacked = 5
    case deltaLengthByteArray = 6, deltaByteArray = 7, rleDictionary = 8, byteStreamSplit = 9

    package var description: String {
        switch self {
        case .plain: return "PLAIN"
        case .plainDictionary: return "PLAIN_DICTIONARY"
        case .rle: return "RLE"
        case .bitPacked: return "BIT_PACKED"
        case .deltaBinaryPacked: return "DELTA_BINARY_PACKED"
        case .deltaLengthByteArray: return "DELTA_LENGTH_BYTE_ARRAY"
        case .deltaByteArray: return "DELTA_BYTE_ARRAY"
        case .rleDictionary: return "RLE_DICTIONARY"
        case .byteStreamSplit: return "BYTE_STREAM_SPLIT"
        }
    }

    static func name(_ raw: Int32) -> String { ParquetEncoding(rawValue: raw)?.description ?? "encoding \(raw)" }
}

struct ParquetSchemaElement {
    var type: Int32?
    var typeLength: Int32?
    /// 0 REQUIRED, 1 OPTIONAL, 2 REPEATED.
    var repetition: Int32?
    var name = ""
    var numChildren: Int32 = 0
    var convertedType: Int32?
    /// The id of the LogicalType union member set (1 STRING, 4 ENUM, 5 DECIMAL, 10 INTEGER, 12 JSON…).
    var logicalType: Int16?
    var logicalIntegerSigned = true

    static func read(_ r: inout ThriftCompactReader) throws -> ParquetSchemaElement {
        var e = ParquetSchemaElement()
        try r.readStruct { r, id, t in
            switch (id, t) {
            case (1, .i32): e.type = try r.int32(t)
            case (2, .i32): e.typeLength = try r.int32(t)
            case (3, .i32): e.repetition = try r.int32(t)
            case (4, .binary): e.name = try r.string()
            case (5, .i32): e.numChildren = try r.int32(t)
            case (6, .i32): e.convertedType = try r.int32(t)
            case (10, .structure):
                try r.readStruct { r, member, mt in
                    e.logicalType = member
                    if member == 10, mt == .structure {
                        try r.readStruct { r, f, ft in
                            if f == 2, ft == .boolTrue || ft == .boolFalse { e.logicalIntegerSigned = r.bool(ft) } else { try r.skip(ft) }
                        }
                    } else {
                        try r.skip(mt)
                    }
                }
            default: try r.skip(t)
            }
        }
        return e
    }
}

struct ParquetColumnMetadata {
    var type: Int32 = 0
    var encodings: [Int32] = []
    var path: [String] = []
    var codec: Int32 = 0
    var numValues: Int64 = 0
    var totalUncompressedSize: Int64 = 0
    var totalCompressedSize: Int64 = 0
    var dataPageOffset: Int64 = 0
    var dictionaryPageOffset: Int64?

    static func read(_ r: inout ThriftCompactReader) throws -> ParquetColumnMetadata {
        var m = ParquetColumnMetadata()
        try r.readStruct { r, id, t in
            switch (id, t) {
            case (1, .i32): m.type = try r.int32(t)
            case (2, .list): m.encodings = try r.readList { r, et in try r.int32(et) }
            case (3, .list): m.path = try r.readList { r, _ in try r.string() }
            case (4, .i32): m.codec = try r.int32(t)
            case (5, .i64): m.numValues = try r.int(t)
            case (6, .i64): m.totalUncompressedSize = try r.int(t)
            case (7, .i64): m.totalCompressedSize = try r.int(t)
            case (9, .i64): m.dataPageOffset = try r.int(t)
            case (11, .i64): m.dictionaryPageOffset = try r.int(t)
            default: try r.skip(t)
            }
        }
        return m
    }
}

struct ParquetRowGroupMetadata {
    var columns: [(filePath: String?, meta: ParquetColumnMetadata?)] = []
    var numRows: Int64 = 0

    static func read(_ r: inout ThriftCompactReader) throws -> ParquetRowGroupMetadata {
        var g = ParquetRowGroupMetadata()
        try r.readStruct { r, id, t in
            switch (id, t) {
            case (1, .list):
                g.columns = try r.readList { r, _ in
                    var filePath: String?
                    var meta: ParquetColumnMetadata?
                    try r.readStruct { r, cid, ct in
                        switch (cid, ct) {
                        case (1, .binary): filePath = try r.string()
                        case (3, .structure): meta = try ParquetColumnMetadata.read(&r)
                        default: try r.skip(ct)
                        }
                    }
                    return (filePath, meta)
                }
            case (3, .i64): g.numRows = try r.int(t)
            default: try r.skip(t)
            }
        }
        return g
    }
}

struct ParquetFileMetadata {
    var version: Int32 = 0
    var schema: [ParquetSchemaElement] = []
    var numRows: Int64 = 0
    var rowGroups: [ParquetRowGroupMetadata] = []
    var createdBy: String?

    static func read(_ r: inout ThriftCompactReader) throws -> ParquetFileMetadata {
        var m = ParquetFileMetadata()
        try r.readStruct { r, id, t in
            switch (id, t) {
            case (1, .i32): m.version = try r.int32(t)
            case (2, .list): m.schema = try r.readList { r, _ in try ParquetSchemaElement.read(&r) }
            case (3, .i64): m.numRows = try r.int(t)
            case (4, .list): m.rowGroups = try r.readList { r, _ in try ParquetRowGroupMetadata.read(&r) }
            case (6, .binary): m.createdBy = try r.string()
            default: try r.skip(t)
            }
        }
        return m
    }
}

/// Page types.
enum ParquetPageType: Int32 {
    case dataPage = 0, indexPage = 1, dictionaryPage = 2, dataPageV2 = 3
}

struct ParquetPageHeader {
    var type: Int32 = -1
    var uncompressedSize: Int32 = 0
    var compressedSize: Int32 = 0
    // DataPageHeader (v1) or DictionaryPageHeader or DataPageHeaderV2, flattened.
    var numValues: Int32 = 0
    var encoding: Int32 = 0
    var definitionLevelEncoding: Int32 = 3
    var repetitionLevelEncoding: Int32 = 3
    var numNulls: Int32 = 0
    var numRows: Int32 = 0
    var definitionLevelsByteLength: Int32 = 0
    var repetitionLevelsByteLength: Int32 = 0
    var isCompressed = true

    static func read(_ r: inout ThriftCompactReader) throws -> ParquetPageHeader {
        var h = ParquetPageHeader()
        try r.readStruct { r, id, t in
            switch (id, t) {
            case (1, .i32): h.type = try r.int32(t)
            case (2, .i32): h.uncompressedSize = try r.int32(t)
            case (3, .i32): h.compressedSize = try r.int32(t)
            case (5, .structure):  // DataPageHeader
                try r.readStruct { r, f, ft in
                    switch (f, ft) {
                    case (1, .i32): h.numValues = try r.int32(ft)
                    case (2, .i32): h.encoding = try r.int32(ft)
                    case (3, .i32): h.definitionLevelEncoding = try r.int32(ft)
                    case (4, .i32): h.repetitionLevelEncoding = try r.int32(ft)
                    default: try r.skip(ft)
                    }
                }
            case (7, .structure):  // DictionaryPageHeader
                try r.readStruct { r, f, ft in
                    switch (f, ft) {
                    case (1, .i32): h.numValues = try r.int32(ft)
                    case (2, .i32): h.encoding = try r.int32(ft)
                    default: try r.skip(ft)
                    }
                }
            case (8, .structure):  // DataPageHeaderV2
                try r.readStruct { r, f, ft in
                    switch (f, ft) {
                    case (1, .i32): h.numValues = try r.int32(ft)
                    case (2, .i32): h.numNulls = try r.int32(ft)
                    case (3, .i32): h.numRows = try r.int32(ft)
                    case (4, .i32): h.encoding = try r.int32(ft)
                    case (5, .i32): h.definitionLevelsByteLength = try r.int32(ft)
                    case (6, .i32): h.repetitionLevelsByteLength = try r.int32(ft)
                    case (7, .boolTrue), (7, .boolFalse): h.isCompressed = r.bool(ft)
                    default: try r.skip(ft)
                    }
                }
            default: try r.skip(t)
            }
        }
        return h
    }
}
