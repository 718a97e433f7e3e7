import IO

/// Rows of one data file — Parquet, JSON Lines (plain, .gz, .zst) or CSV/TSV — as `TableValue`s,
/// streamed, for the dataset converter.
package protocol TableSource: AnyObject {
    var path: String { get }
    /// The columns the file has, in its order.
    var columnNames: [String] { get }
    /// Chooses the columns `next()` returns; an error names the missing ones and lists the rest.
    func select(_ columns: [String]) throws
    /// The next row's values in the selected order, or nil at the end.
    func next() throws -> [TableValue]?
}

/// Opens a data file by its name's extension.
package func openTableSource(_ path: String, displayName: String? = nil) throws -> TableSource {
    var name = path.lowercased()
    for suffix in [".gz", ".zst", ".zstd"] where name.hasSuffix(suffix) { name = String(name.dropLast(suffix.count)) }
    if name.hasSuffix(".parquet") { return try ParquetTableSource(path: path) }
    if name.hasSuffix(".csv") || name.hasSuffix(".tsv") { return try CSVTableSource(path: path) }
    if name.hasSuffix(".jsonl") || name.hasSuffix(".json") || name.hasSuffix(".ndjson") { return try JSONLTableSource(path: path) }
    throw EmbedError("\(displayName ?? path): unsupported data format (expected .parquet, .jsonl, .json, .csv or .tsv, optionally .gz or .zst)")
}

func missingColumnsError(_ path: String, missing: [String], available: [String]) -> EmbedError {
    let list = missing.map { "'\($0)'" }.joined(separator: ", ")
    return EmbedError("\(path): no column\(missing.count > 1 ? "s" : "") \(list) (the data has: \(available.joined(separator: ", ")))")
}

final class ParquetTableSource: TableSource {
    let file: ParquetFile
    private var reader: ParquetRowReader?
    var path: String { file.path }
    var columnNames: [String] { file.allColumnNames }

    init(path: String) throws { file = try ParquetFile(path: path) }

    func select(_ columns: [String]) throws {
        let missing = columns.filter { !file.allColumnNames.contains($0) }
        if !missing.isEmpty { throw missingColumnsError(path, missing: missing, available: file.allColumnNames) }
        reader = try file.rows(columns: columns)
    }

    func next() throws -> [TableValue]? {
        if reader == nil { try select(file.columnNames) }
        return try reader!.next()
    }
}

final class CSVTableSource: TableSource {
    let reader: CSVReader
    private var indices: [Int] = []
    var path: String { reader.path }
    var columnNames: [String] { reader.header }

    init(path: String) throws {
        reader = try CSVReader(path: path)
        indices = Array(reader.header.indices)
    }

    func select(_ columns: [String]) throws {
        let missing = columns.filter { !reader.header.contains($0) }
        if !missing.isEmpty { throw missingColumnsError(path, missing: missing, available: reader.header) }
        indices = columns.map { c in reader.header.firstIndex(of: c)! }
    }

    func next() throws -> [TableValue]? {
        guard let record = try reader.next() else { return nil }
        return indices.map { .string(record[$0]) }
    }
}

/// JSON Lines: the columns are the first row's keys; every later row must have the selected ones.
final class JSONLTableSource: TableSource {
    let reader: JSONLReader
    private var first: JSONObject?
    private var selected: [String]
    let columnNames: [String]
    var path: String { reader.path }

    init(path: String) throws {
        reader = try JSONLReader(path: path)
        first = try reader.next()
        columnNames = first?.keys ?? []
        selected = columnNames
    }

    func select(_ columns: [String]) throws {
        if first == nil { selected = columns; return }  // an empty file: nothing to check against
        let missing = columns.filter { !columnNames.contains($0) }
        if !missing.isEmpty { throw missingColumnsError(path, missing: missing, available: columnNames) }
        selected = columns
    }

    func next() throws -> [TableValue]? {
        let row: JSONObject
        if let f = first {
            row = f
            first = nil
        } else {
            guard let r = try reader.next() else { return nil }
            row = r
        }
        return try selected.map { name in
            guard let v = row[name] else {
                throw EmbedError("\(path):\(reader.lineNumber): no column '\(name)' (the row has: \(row.keys.joined(separator: ", ")))")
            }
            return TableValue(v)
        }
    }
}
