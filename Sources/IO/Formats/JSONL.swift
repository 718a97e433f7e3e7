#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a byte stream into lines (on `\n`, dropping a trailing `\r`), in constant memory: a line
/// is handed out as a view into an internal buffer that grows only to the longest line.
package final class LineReader {
    package let source: ByteReader
    package var path: String { source.path }
    /// The 1-based number of the line last returned.
    package private(set) var lineNumber = 0

    private var buf: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var eof = false

    package init(path: String) throws {
        source = try ByteReader(path: path)
        buf = .allocate(byteCount: 1 << 18, alignment: 16)
    }

    deinit { buf.deallocate() }

    /// The next line without its terminator, valid until the next call; nil at the end.
    package func next() throws -> UnsafeBufferPointer<UInt8>? {
        var scanFrom = start
        while true {
            let base = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
            if let nl = memchrIndex(base, from: scanFrom, to: end) {
                var lineEnd = nl
                if lineEnd > start, base[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                let line = UnsafeBufferPointer(start: base + start, count: lineEnd - start)
                start = nl + 1
                lineNumber += 1
                return line
            }
            if eof {
                guard start < end else { return nil }
                var lineEnd = end
                if base[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                let line = UnsafeBufferPointer(start: base + start, count: lineEnd - start)
                start = end
                lineNumber += 1
                return line
            }
            // Make room: slide the partial line to the front, grow if the line fills the buffer.
            scanFrom = end - start
            if start > 0 {
                if end > start { buf.baseAddress!.copyMemory(from: buf.baseAddress! + start, byteCount: end - start) }
                end -= start
                start = 0
            }
            if end == buf.count {
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: buf.count * 2, alignment: 16)
                bigger.baseAddress!.copyMemory(from: buf.baseAddress!, byteCount: end)
                buf.deallocate()
                buf = bigger
            }
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buf[end...]))
            if n == 0 { eof = true }
            end += n
        }
    }

    private func memchrIndex(_ base: UnsafeMutablePointer<UInt8>, from: Int, to: Int) -> Int? {
        guard from < to, let p = memchr(base + from, 0x0A, to - from) else { return nil }
        return base.distance(to: p.assumingMemoryBound(to: UInt8.self))
    }
}

/// Reads JSON Lines, one object per line, from plain, zstd or gzip files or stdin. Blank lines are
/// skipped. Errors name `file:line:column`.
package final class JSONLReader {
    package let lines: LineReader
    package var path: String { lines.path }
    package var lineNumber: Int { lines.lineNumber }

    package init(path: String) throws { lines = try LineReader(path: path) }

    /// The next object, or nil at the end of the input.
    package func next() throws -> JSONObject? {
        while let line = try lines.next() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let value: JSON
            do {
                value = try JSON.parse(UnsafeRawBufferPointer(line))
            } catch {
                throw EmbedError("\(path):\(lines.lineNumber):\(error.column): \(error.message)")
            }
            guard case .object(let obj) = value else {
                throw EmbedError("\(path):\(lines.lineNumber): expected a JSON object on each line")
            }
            return obj
        }
        return nil
    }

    /// The string columns `names` of the next row, in that order; an error names a missing or
    /// non-string column and the line.
    package func nextRow(columns names: [String]) throws -> [String]? {
        guard let obj = try next() else { return nil }
        return try names.map { name in
            guard let v = obj[name] else {
                throw EmbedError("\(path):\(lineNumber): no column '\(name)' (the row has: \(obj.keys.joined(separator: ", ")))")
            }
            guard let s = v.string else {
                throw EmbedError("\(path):\(lineNumber): column '\(name)' is not a string")
            }
            return s
        }
    }
}

/// Writes JSON Lines, zstd-compressed when the path ends in `.zst` (or when asked), atomically.
package final class JSONLWriter {
    package let output: ByteWriter
    package private(set) var rowCount = 0

    /// `compress` nil decides by the extension. `level` and `threads` tune zstd.
    package init(path: String, compress: Bool? = nil, level: Int32 = 3, threads: Int32 = 0) throws {
        let zstd = compress ?? ByteWriter.isZstdPath(path)
        output = try ByteWriter(path: path, zstdLevel: zstd ? level : nil, threads: threads)
    }

    package func write(_ object: JSONObject) throws {
        try output.write(JSON.object(object).serialized() + "\n")
        rowCount += 1
    }

    /// Writes a row of string columns.
    package func write(columns: [String], values: [String]) throws {
        var line = "{"
        for (k, (c, v)) in zip(columns, values).enumerated() {
            if k > 0 { line += "," }
            JSON.writeString(c, to: &line)
            line += ":"
            JSON.writeString(v, to: &line)
        }
        line += "}\n"
        try output.write(line)
        rowCount += 1
    }

    package func commit() throws { try output.commit() }
}
