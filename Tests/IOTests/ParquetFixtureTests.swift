import Foundation
import IO
import TestSupport
import Testing

/// The pyarrow-written fixtures (tools/make_parquet_fixtures.py): each must read back to exactly
/// the rows pyarrow itself read back, written beside it as JSONL.
@Suite struct ParquetFixtureTests {
    static let dir = TestPaths.fixtures + "/parquet/"

    static let manifest: JSON = {
        let bytes = (try? ByteReader(path: dir + "manifest.json").readAll()) ?? []
        return (try? JSON.parse(bytes)) ?? .null
    }()

    static let names: [String] = manifest["files"]?.object?.keys.sorted() ?? []

    @Test func manifestListsEveryCodecAndEncoding() {
        let files = Self.manifest["files"]?.object
        #expect(Self.names.count == 9)
        let codecs = Set(Self.names.compactMap { files?[$0]?["codec"]?.string })
        #expect(codecs == ["SNAPPY", "ZSTD", "GZIP", "UNCOMPRESSED"])
        var stringEncodings = Set<String>()
        for n in Self.names {
            for e in files?[n]?["encodings"]?["anchor"]?.array ?? [] { stringEncodings.insert(e.string ?? "") }
        }
        #expect(stringEncodings.isSuperset(of: [
            "PLAIN", "PLAIN_DICTIONARY", "RLE_DICTIONARY", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        ]))
    }

    @Test(arguments: names) func readsBackThePyarrowRows(name: String) throws {
        let file = try ParquetFile(path: Self.dir + name + ".parquet")
        let entry = try #require(Self.manifest["files"]?[name])
        #expect(file.numRows == entry["rows"]?.int)
        #expect(file.rowGroupCount == entry["row_groups"]?.int)
        #expect(file.rowGroupCount > 1)
        let reader = try file.rows()
        #expect(reader.columns == ["anchor", "positive", "negative", "label", "score", "flag", "small", "ratio"])
        let expected = try JSONLReader(path: Self.dir + name + ".jsonl")
        var count = 0
        var nulls = 0
        var nonASCII = 0
        while let row = try reader.next() {
            let want = try #require(try expected.next(), "\(name): more rows than pyarrow wrote")
            #expect(want.keys == reader.columns)
            for (column, value) in zip(reader.columns, row) {
                #expect(value.json == want[column], "\(name) row \(count) column \(column): \(value)")
                if value == .null { nulls += 1 }
                if case .string(let s) = value, s.utf8.contains(where: { $0 >= 0x80 }) { nonASCII += 1 }
            }
            count += 1
        }
        #expect(try expected.next() == nil, "\(name): fewer rows than pyarrow wrote")
        #expect(count == file.numRows)
        #expect(nulls > 0)
        #expect(nonASCII > 0)
    }

    @Test(arguments: names) func usesTheEncodingsAndCodecPyarrowReports(name: String) throws {
        let file = try ParquetFile(path: Self.dir + name + ".parquet")
        let entry = try #require(Self.manifest["files"]?[name])
        for column in file.columnNames {
            let want = Set((entry["encodings"]?[column]?.array ?? []).compactMap(\.string))
            #expect(file.encodings(column: column) == want, "\(name) \(column)")
        }
        #expect(file.codec(column: "anchor")?.description == entry["codec"]?.string)
    }

    @Test(arguments: names) func pageFormatIsTheOneAskedFor(name: String) throws {
        let file = try ParquetFile(path: Self.dir + name + ".parquet")
        let entry = try #require(Self.manifest["files"]?[name])
        let kinds = try file.pageTypes(column: "anchor")
        if entry["data_page_version"]?.string == "2.0" {
            #expect(kinds.contains("DATA_PAGE_V2") && !kinds.contains("DATA_PAGE"))
        } else {
            #expect(kinds.contains("DATA_PAGE") && !kinds.contains("DATA_PAGE_V2"))
        }
        #expect(kinds.contains("DICTIONARY_PAGE") == name.contains("dictionary"))
    }

    @Test(arguments: names) func fileHashMatchesPythonsSHA256(name: String) throws {
        let bytes = try ByteReader(path: Self.dir + name + ".parquet", detectCompression: false).readAll()
        #expect(SHA256.hash(bytes) == Self.manifest["files"]?[name]?["sha256"]?.string)
    }

    @Test func selectedColumnsComeInTheOrderAsked() throws {
        let file = try ParquetFile(path: Self.dir + "zstd_dictionary_v2.parquet")
        let reader = try file.rows(columns: ["negative", "anchor"])
        let expected = try JSONLReader(path: Self.dir + "zstd_dictionary_v2.jsonl")
        let row = try #require(try reader.next())
        let want = try #require(try expected.next())
        #expect(row.map(\.json) == [want["negative"]!, want["anchor"]!])
    }

    @Test func unknownColumnErrorListsTheColumns() throws {
        let file = try ParquetFile(path: Self.dir + "snappy_plain_v1.parquet")
        #expect {
            _ = try file.rows(columns: ["anchor", "nope"])
        } throws: { error in
            let m = (error as? EmbedError)?.message ?? ""
            return m.contains("no column 'nope'") && m.contains("anchor, positive, negative, label")
                && m.contains("snappy_plain_v1.parquet")
        }
    }
}
