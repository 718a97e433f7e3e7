/// Reads CSV (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes, CRLF or LF) from
/// a plain, gzip or zstd file, or stdin, streaming. The first record is the header. Every value is
/// a string: the converter does not guess types, so "007" stays "007". Tab-separated files work
/// with `delimiter: 0x09`.
package final class CSVReader {
    package let path: String
    package private(set) var header: [String]
    /// The 1-based line on which the record last returned started.
    package private(set) var lineNumber = 0
    private let source: ByteReader
    private let delimiter: UInt8
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var eof = false
    private var line = 1

    /// `delimiter` nil picks a tab for `.tsv` files (also compressed) and a comma otherwise.
    package init(path: String, delimiter: UInt8? = nil) throws {
        self.path = path
        let name = path.hasSuffix(".gz") ? String(path.dropLast(3)) : path.hasSuffix(".zst") ? String(path.dropLast(4)) : path
        self.delimiter = delimiter ?? (name.hasSuffix(".tsv") ? 0x09 : 0x2C)
        source = try ByteReader(path: path)
        buffer = .allocate(byteCount: 1 << 17, alignment: 16)
        header = []
        guard var first = try readRecord() else { throw EmbedError("\(path): empty CSV file (no header line)") }
        if let f = first.first, f.hasPrefix("\u{FEFF}") { first[0] = String(f.dropFirst()) }
        header = first
        if Set(first).count != first.count { throw EmbedError("\(path):1: the header repeats a column name") }
    }

    deinit { buffer.deallocate() }

    private func byte() throws -> UInt8? {
        if start == end {
            if eof { return nil }
            let n = try source.read(into: buffer)
            if n == 0 { eof = true; return nil }
            start = 0
            end = n
        }
        defer { start += 1 }
        return buffer[start]
    }

    private func peek() throws -> UInt8? {
        guard let b = try byte() else { return nil }
        start -= 1
        return b
    }

    /// The next record's fields, or nil at the end. A record whose field count differs from the
    /// header's is an error naming its line.
    package func next() throws -> [String]? {
        guard let record = try readRecord() else { return nil }
        guard record.count == header.count else {
            throw EmbedError("\(path):\(lineNumber): \(record.count) fields, but the header has \(header.count)")
        }
        return record
    }

    private func readRecord() throws -> [String]? {
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var sawAny = false
        lineNumber = line
        while true {
            guard let c = try byte() else {
                if inQuotes { throw EmbedError("\(path):\(lineNumber): a quoted field is not closed before the end of the file") }
                if !sawAny { return nil }
                fields.append(try text(field))
                return fields
            }
            sawAny = true
            if inQuotes {
                if c == 0x22 {
                    if try peek() == 0x22 { _ = try byte(); field.append(0x22) } else { inQuotes = false }
                } else {
                    if c == 0x0A { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case 0x22 where field.isEmpty:
                inQuotes = true
            case delimiter:
                fields.append(try text(field))
                field.removeAll(keepingCapacity: true)
            case 0x0D where try peek() == 0x0A:
                break
            case 0x0A:
                line += 1
                fields.append(try text(field))
                // A blank line is no record.
                if fields.count == 1 && fields[0].isEmpty { fields.removeAll(); sawAny = false; lineNumber = line; continue }
                return fields
            default:
                field.append(c)
            }
        }
    }

    private func text(_ bytes: [UInt8]) throws -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw EmbedError("\(path):\(lineNumber): invalid UTF-8")
        }
        return s
    }
}
