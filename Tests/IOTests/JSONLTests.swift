import Foundation
import Glibc
import IO
import TestSupport
import Testing

/// `LineReader`, `JSONLReader` and `JSONLWriter`: round trips, malformed lines with their
/// positions, and a large file streamed in bounded memory.
@Suite struct JSONLTests {
    static let columns = ["anchor", "positive", "negative"]

    static func readAll(_ path: String) throws -> [JSONObject] {
        let r = try JSONLReader(path: path)
        var rows: [JSONObject] = []
        while let o = try r.next() { rows.append(o) }
        return rows
    }

    static let objects: [JSONObject] = [
        JSONObject([("anchor", "Hunden løper."), ("positive", "Hunden spring."), ("negative", "Katten søv.")]),
        JSONObject([("text", "quote \" backslash \\ tab \t newline \n nul \u{0} emoji 😀"), ("n", 2.5), ("ok", true), ("none", nil)]),
        JSONObject([("nested", ["a": [1, 2, ["b": "c"]]]), ("empty", "")]),
    ]

    @Test(arguments: ["rows.jsonl", "rows.jsonl.zst"])
    func roundTripsObjects(name: String) throws {
        let path = TestPaths.scratch() + "/" + name
        let w = try JSONLWriter(path: path, threads: 2)
        for o in Self.objects { try w.write(o) }
        try w.write(columns: Self.columns, values: ["a\u{1F}", "b\"", "c\\"])
        #expect(w.rowCount == 4)
        try w.commit()
        let file = try FormatFixtures.bytes(path)
        #expect((Array(file.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD]) == name.hasSuffix(".zst"))
        let rows = try Self.readAll(path)
        #expect(Array(rows.prefix(3)) == Self.objects)
        #expect(rows.last == JSONObject([("anchor", "a\u{1F}"), ("positive", "b\""), ("negative", "c\\")]))
        let r = try JSONLReader(path: path)
        _ = try r.next()
        #expect(r.lineNumber == 1)
    }

    @Test(arguments: ["rows.jsonl", "rows.jsonl.gz", "rows.jsonl.zst"])
    func readsReferenceFiles(name: String) throws {
        let r = try JSONLReader(path: FormatFixtures.dir + "/" + name)
        let first = try #require(try r.nextRow(columns: Self.columns))
        #expect(first == ["Hunden løper i parken.", "Hunden spring i parken.", "Katten søv."])
        let second = try #require(try r.nextRow(columns: Self.columns))
        #expect(second == ["Tab\there, \"quotes\", backslash \\ and a newline\nin one", "ÆØÅ æøå", "😀 emoji"])
        let third = try #require(try r.next())
        #expect(third["extra"] == [1, 2.5, nil, true])
        #expect(try r.next() == nil)
        #expect(r.lineNumber == 3)
    }

    static func file(_ text: String, _ name: String = "bad.jsonl") throws -> String {
        let path = TestPaths.scratch(name) + "/" + name
        try FormatFixtures.write(Array(text.utf8), to: path)
        return path
    }

    @Test func badJSONLineNamesFileLineAndColumn() throws {
        // Line 3 is blank and skipped, but still counted.
        let path = try Self.file("{\"a\": 1}\r\n{\"a\": 2}\n\n{\"a\": 3, \"b\" 4}\n{\"a\": 5}\n")
        let r = try JSONLReader(path: path)
        #expect(try r.next()?["a"] == 1)
        #expect(try r.next()?["a"] == 2)
        let message = FormatFixtures.errorMessage { _ = try r.next() }
        #expect(message == "\(path):4:14: expected ':' after an object key")
    }

    @Test func badLineInsideZstdIsReportedToo() throws {
        let path = TestPaths.scratch() + "/bad.jsonl.zst"
        let w = try JSONLWriter(path: path)
        for i in 0..<1000 { try w.write(columns: ["i"], values: [String(i)]) }
        try w.output.write("{\"i\": tru}\n")
        try w.commit()
        let message = FormatFixtures.errorMessage { _ = try Self.readAll(path) }
        #expect(message == "\(path):1001:7: invalid literal, expected 'true'")
    }

    @Test func nonObjectLineIsAnError() throws {
        let path = try Self.file("{\"a\": 1}\n[1, 2]\n")
        #expect(FormatFixtures.errorMessage { _ = try Self.readAll(path) } == "\(path):2: expected a JSON object on each line")
        let scalar = try Self.file("\"just a string\"\n", "scalar.jsonl")
        #expect(FormatFixtures.errorMessage { _ = try Self.readAll(scalar) } == "\(scalar):1: expected a JSON object on each line")
    }

    @Test func invalidUTF8IsAnError() throws {
        let path = TestPaths.scratch() + "/utf8.jsonl"
        try FormatFixtures.write(Array("{\"a\": \"ok\"}\n{\"a\": \"".utf8) + [0xC3, 0x28] + Array("\"}\n".utf8), to: path)
        #expect(FormatFixtures.errorMessage { _ = try Self.readAll(path) }.hasPrefix("\(path):2:8: invalid UTF-8"))
    }

    @Test func missingOrNonStringColumnsAreNamed() throws {
        let path = try Self.file("{\"anchor\": \"a\", \"positive\": \"p\"}\n{\"anchor\": \"a\", \"positive\": 1, \"negative\": \"n\"}\n")
        let r = try JSONLReader(path: path)
        #expect(FormatFixtures.errorMessage { _ = try r.nextRow(columns: Self.columns) }
            == "\(path):1: no column 'negative' (the row has: anchor, positive)")
        #expect(FormatFixtures.errorMessage { _ = try r.nextRow(columns: Self.columns) }
            == "\(path):2: column 'positive' is not a string")
    }

    @Test func truncatedZstdJSONLIsAnError() throws {
        let path = TestPaths.scratch() + "/cut.jsonl.zst"
        let w = try JSONLWriter(path: path)
        for i in 0..<20_000 { try w.write(columns: Self.columns, values: ["a\(i)", "p\(i)", "n\(i)"]) }
        try w.commit()
        let bytes = try FormatFixtures.bytes(path)
        try FormatFixtures.write(Array(bytes.prefix(bytes.count * 2 / 3)), to: path)
        #expect(FormatFixtures.errorMessage { _ = try Self.readAll(path) } == "\(path): truncated zstd frame (the file ends mid-frame)")
    }

    @Test func lineReaderHandlesLongLinesAndEndings() throws {
        let long = String(repeating: "x", count: 1_500_000)
        let path = try Self.file("a\r\n\(long)\n\nlast without newline")
        let r = try LineReader(path: path)
        var lines: [String] = []
        while let l = try r.next() { lines.append(String(decoding: l, as: UTF8.self)) }
        #expect(lines == ["a", long, "", "last without newline"])
        #expect(r.lineNumber == 4)
        let empty = try Self.file("", "empty.jsonl")
        #expect(try LineReader(path: empty).next() == nil)
        #expect(try Self.readAll(empty).isEmpty)
    }

    // MARK: Bounded memory (in a child process, where nothing else runs)

    static let bigRows = 1_500_000
    static let memoryBoundKB = 64 * 1024

    /// Writes ~1.5M rows (over 300 MB of JSON) of zstd JSONL with the multi-threaded writer in one
    /// child process, reads them back in another; neither process's peak RSS may grow by 64 MB,
    /// a fifth of the data. (Separate processes, so that the read is not hidden under the write's peak.)
    @Test func largeFileStreamsInBoundedMemory() throws {
        let dir = TestPaths.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for child in ["boundedMemoryWriteChild", "boundedMemoryReadChild"] {
            let (status, output) = try ChildTest.run(child, directory: dir)
            try #require(status == 0, "\(child) failed:\n\(output)")
        }
        func fields(_ name: String) throws -> [Int] {
            try String(contentsOfFile: dir + "/" + name, encoding: .utf8).split(separator: " ").compactMap { Int($0) }
        }
        let write = try fields("write"), read = try fields("read")
        try #require(write.count == 4 && read.count == 4)
        let (writeGrowthKB, writtenRows, jsonBytes, fileBytes) = (write[1] - write[0], write[2], write[3], read[3])
        let (readGrowthKB, readRows) = (read[1] - read[0], read[2])
        #expect(writtenRows == Self.bigRows && readRows == Self.bigRows)
        #expect(jsonBytes > 4 * Self.memoryBoundKB * 1024, "the data must dwarf the bound, or the test proves nothing")
        #expect(fileBytes < jsonBytes / 3)
        #expect(writeGrowthKB < Self.memoryBoundKB, "writing grew the peak RSS by \(writeGrowthKB / 1024) MB")
        #expect(readGrowthKB < Self.memoryBoundKB, "reading grew the peak RSS by \(readGrowthKB / 1024) MB")
    }

    static func peakRSSKB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }

    /// Leaves `big.jsonl.zst` and `write`: "peak-before peak-after rows json-bytes".
    @Test(.enabled(if: ChildTest.isChild("boundedMemoryWriteChild"), "runs only as a child process of largeFileStreamsInBoundedMemory"))
    func boundedMemoryWriteChild() throws {
        let dir = try #require(ChildTest.directory("boundedMemoryWriteChild"))
        let base = Self.peakRSSKB()
        var jsonBytes = 0
        let w = try JSONLWriter(path: dir + "/big.jsonl.zst", level: 3, threads: 2)
        var state: UInt64 = 7
        for i in 0..<Self.bigRows {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let values = ["anchor \(i): setning nummer \(state >> 20) om hunden som løper i parken \(state % 9973)",
                          "positive \(i): ei setning på nynorsk om hunden som spring i parken \(state % 7919)",
                          "negative \(i): noko heilt anna \(state >> 40)"]
            try w.write(columns: Self.columns, values: values)
            // The serialized line: {"anchor":"…","positive":"…","negative":"…"}\n
            jsonBytes += values.reduce(0) { $0 + $1.utf8.count } + 42
        }
        try w.commit()
        let rows = w.rowCount
        try "\(base) \(Self.peakRSSKB()) \(rows) \(jsonBytes)".write(toFile: dir + "/write", atomically: true, encoding: .utf8)
    }

    /// Reads `big.jsonl.zst` back, checking rows; leaves `read`: "peak-before peak-after rows file-bytes".
    @Test(.enabled(if: ChildTest.isChild("boundedMemoryReadChild"), "runs only as a child process of largeFileStreamsInBoundedMemory"))
    func boundedMemoryReadChild() throws {
        let dir = try #require(ChildTest.directory("boundedMemoryReadChild"))
        let path = dir + "/big.jsonl.zst"
        let base = Self.peakRSSKB()
        let r = try JSONLReader(path: path)
        var rows = 0
        while let row = try r.nextRow(columns: Self.columns) {
            if rows % 100_000 == 0 {
                #expect(row[0].hasPrefix("anchor \(rows): "))
                #expect(row[2].hasPrefix("negative \(rows): "))
            }
            rows += 1
        }
        let fileBytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
        try "\(base) \(Self.peakRSSKB()) \(rows) \(fileBytes)".write(toFile: dir + "/read", atomically: true, encoding: .utf8)
    }
}
