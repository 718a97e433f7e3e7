import Foundation
import IO
import TestSupport
import Testing
import Tokenizers

/// The `tokenize` stage: output equals `Tokenizer.encode` row by row, does not depend on the
/// thread count or chunk size, and bad input is a clear error naming the file and line.
@Suite("tokenize stage and tokens file")
struct TokenizeJobTests {
    static let minilm = TestPaths.sharedFile("tokenizers/all-MiniLM-L6-v2")

    static func write(_ text: String, _ name: String, in dir: String) -> String {
        let path = dir + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    @Test("tokens file equals encode, for any thread count and chunk size",
          .enabled(if: TestPaths.hasShared("data/nb-nn-test.jsonl.zst") && TestPaths.hasShared("tokenizers"),
                   "needs ../shared/data and ../shared/tokenizers"))
    func matchesEncode() throws {
        let dir = TestPaths.scratch()
        let input = TestPaths.sharedFile("data/nb-nn-test.jsonl.zst")
        var options = TokenizeOptions(modelDirectory: Self.minilm)
        options.input = input
        options.output = dir + "/a.safetensors"
        options.threads = 2
        options.chunkLines = 1000
        options.maxSeqLength = 40
        options.quiet = true
        let summary = try TokenizeJob.run(options)
        #expect(summary.rows == 10000)

        let file = try TokenizedFile(path: options.output)
        #expect(file.rows == 10000)
        #expect(file.columns == ["anchor", "positive", "negative"])
        #expect(file.maxSeqLength == 40)
        #expect(file.metadata["source"] == input)
        let tokenizer = try Tokenizer.load(directory: Self.minilm)
        #expect(file.vocabSize == tokenizer.vocabSize)
        #expect(file.padTokenId == tokenizer.padTokenId)
        let reader = try JSONLReader(path: input)
        var row = 0
        var mismatches = 0
        while let texts = try reader.nextRow(columns: file.columns) {
            for (c, text) in texts.enumerated() {
                let want = try tokenizer.encode(text, maxLength: 40)
                let got = Array(file.ids(column: file.columns[c], row: row))
                if got != want { mismatches += 1 }
            }
            row += 1
        }
        #expect(row == file.rows)
        #expect(mismatches == 0)

        options.output = dir + "/b.safetensors"
        options.threads = 1
        options.chunkLines = 777
        _ = try TokenizeJob.run(options)
        options.output = dir + "/c.safetensors"
        options.threads = 3
        options.chunkLines = 4096
        _ = try TokenizeJob.run(options)
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir + "/b.safetensors"))
        let c = try Data(contentsOf: URL(fileURLWithPath: dir + "/c.safetensors"))
        #expect(a == b)
        #expect(a == c)
    }

    @Test("plain text lines, the model's default maximum length", .enabled(if: TestPaths.hasShared("tokenizers"), "needs ../shared/tokenizers"))
    func textLines() throws {
        let dir = TestPaths.scratch()
        let input = Self.write("Hei på deg\n\n  Ålesund er fin  \nsiste linje uten linjeskift", "in.txt", in: dir)
        var options = TokenizeOptions(modelDirectory: Self.minilm)
        options.textLines = true
        options.input = input
        options.output = dir + "/out.safetensors"
        options.quiet = true
        let summary = try TokenizeJob.run(options)
        #expect(summary.rows == 4)
        #expect(summary.maxSeqLength == 512)
        let file = try TokenizedFile(path: options.output)
        #expect(file.columns == ["text"])
        let tokenizer = try Tokenizer.load(directory: Self.minilm)
        #expect(Array(file.ids(column: "text", row: 1)) == [101, 102])
        #expect(Array(file.ids(column: "text", row: 2)) == (try tokenizer.encode("Ålesund er fin", maxLength: nil)))
        #expect(Array(file.ids(column: "text", row: 3)) == (try tokenizer.encode("siste linje uten linjeskift", maxLength: nil)))
    }

    @Test("invalid UTF-8 names the file and line", .enabled(if: TestPaths.hasShared("tokenizers"), "needs ../shared/tokenizers"))
    func invalidUTF8() throws {
        let dir = TestPaths.scratch()
        var bytes = Array("{\"anchor\":\"a\",\"positive\":\"b\",\"negative\":\"c\"}\n".utf8)
        bytes += bytes
        bytes += Array("{\"anchor\":\"bad ".utf8) + [0xC3, 0x28] + Array("\",\"positive\":\"b\",\"negative\":\"c\"}\n".utf8)
        let path = dir + "/bad.jsonl"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        var options = TokenizeOptions(modelDirectory: Self.minilm)
        options.input = path
        options.output = dir + "/out.safetensors"
        options.quiet = true
        let error = #expect(throws: EmbedError.self) { try TokenizeJob.run(options) }
        #expect(error?.message.hasPrefix("\(path):3:") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("UTF-8") == true)
        #expect(!FileManager.default.fileExists(atPath: options.output))

        let textPath = dir + "/bad.txt"
        _ = FileManager.default.createFile(atPath: textPath, contents: Data(Array("ok\nalso ok\nbad \u{1}".utf8) + [0xFF, 0x41]))
        options.input = textPath
        options.textLines = true
        let textError = #expect(throws: EmbedError.self) { try TokenizeJob.run(options) }
        #expect(textError?.message.hasPrefix("\(textPath):3:") == true, "\(textError?.message ?? "")")
        #expect(textError?.message.contains("UTF-8") == true)
    }

    @Test("a missing column names the line", .enabled(if: TestPaths.hasShared("tokenizers"), "needs ../shared/tokenizers"))
    func missingColumn() throws {
        let dir = TestPaths.scratch()
        let path = Self.write("{\"anchor\":\"a\",\"positive\":\"b\",\"negative\":\"c\"}\n{\"anchor\":\"a\"}\n", "in.jsonl", in: dir)
        var options = TokenizeOptions(modelDirectory: Self.minilm)
        options.input = path
        options.output = dir + "/out.safetensors"
        options.quiet = true
        let error = #expect(throws: EmbedError.self) { try TokenizeJob.run(options) }
        #expect(error?.message.hasPrefix("\(path):2: no column 'positive'") == true, "\(error?.message ?? "")")
    }

    static func writeTokens(_ dir: String, offsets: [Int64], ids: [Int32], rows: Int? = nil,
                            extra: ((SafetensorsWriter) -> Void)? = nil) throws -> String
    {
        let path = dir + "/t-\(UUID().uuidString.prefix(6)).safetensors"
        let w = SafetensorsWriter()
        w.add("text.offsets", shape: [offsets.count], int64s: offsets)
        w.add("text.input_ids", shape: [ids.count], int32s: ids)
        w.metadata["columns"] = "[\"text\"]"
        w.metadata["max_seq_length"] = "8"
        w.metadata["vocab_size"] = "10"
        w.metadata["rows"] = String(rows ?? offsets.count - 1)
        extra?(w)
        try w.write(to: path)
        return path
    }

    @Test("the tokens file reader rejects inconsistent files")
    func readerValidation() throws {
        let dir = TestPaths.scratch()
        let good = try Self.writeTokens(dir, offsets: [0, 2, 2, 5], ids: [1, 2, 3, 4, 5])
        let file = try TokenizedFile(path: good)
        #expect(file.rows == 3)
        #expect(Array(file.ids(column: "text", row: 0)) == [1, 2])
        #expect(file.ids(column: "text", row: 1).isEmpty)
        #expect(Array(file.ids(columnIndex: 0, row: 2)) == [3, 4, 5])
        #expect(file.lengths(columnIndex: 0) == [2, 0, 3])

        func rejects(_ path: String, _ fragment: String) {
            let error = #expect(throws: EmbedError.self) { _ = try TokenizedFile(path: path) }
            #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "") lacks '\(fragment)'")
        }
        rejects(try Self.writeTokens(dir, offsets: [0, 3, 2, 5], ids: [1, 2, 3, 4, 5]), "decreases at row 1")
        rejects(try Self.writeTokens(dir, offsets: [1, 2, 5], ids: [1, 2, 3, 4, 5]), "must start at 0")
        rejects(try Self.writeTokens(dir, offsets: [0, 2, 6], ids: [1, 2, 3, 4, 5]), "ends at 6")
        rejects(try Self.writeTokens(dir, offsets: [0, 2, 5], ids: [1, 2, 3, 4, 12]), "outside the vocabulary")
        rejects(try Self.writeTokens(dir, offsets: [0, 2, 5], ids: [1, 2, 3, 4, 5], rows: 3), "metadata says 3 rows")
        rejects(try Self.writeTokens(dir, offsets: [0, 5], ids: [1, 2, 3, 4, 5]) { w in
            w.metadata["columns"] = "[\"text\",\"other\"]"
        }, "no tensor named 'other.input_ids'")
    }
}
