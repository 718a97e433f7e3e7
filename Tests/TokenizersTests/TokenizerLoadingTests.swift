import Foundation
import IO
import TestSupport
import Testing
import Tokenizers

/// Loading rules that the Python comparisons do not reach: vocab.txt parsing, byte-exact
/// vocabularies, maximum-length defaults, and clear errors for broken files.
@Suite("Tokenizer loading")
struct TokenizerLoadingTests {
    static func folder(_ files: [String: String]) -> String {
        let dir = TestPaths.scratch()
        for (name, text) in files {
            _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(text.utf8))
        }
        return dir
    }

    @Test("vocab.txt: newline bytes only, trailing whitespace trimmed, last duplicate wins, bytes not String equality")
    func vocabText() throws {
        // Line 7 "é" (precomposed) and line 8 "e" + U+0301 are different tokens; line 9 has a
        // trailing tab and so is "x", which line 10 repeats (10 wins); U+2028 does not split a line.
        let lines = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a\u{2028}b", "hei", "\u{e9}", "e\u{301}",
                     "x\t", "x", "##ei"]
        let dir = Self.folder(["vocab.txt": lines.joined(separator: "\r\n") + "\n",
                               "tokenizer_config.json": "{\"do_lower_case\": false}"])
        let t = try Tokenizer.load(directory: dir)
        #expect(t.vocabSize == 12)
        #expect(t.tokenId("\u{e9}") == 7)
        #expect(t.tokenId("e\u{301}") == 8)
        #expect(t.tokenId("x") == 10)
        #expect(t.tokenId("a\u{2028}b") == 5)
        #expect(t.padTokenId == 0)
        #expect(try t.encode("hei \u{e9} x", maxLength: nil) == [2, 6, 7, 10, 3])
        #expect(try t.encode("[MASK] hei", maxLength: nil) == [2, 4, 6, 3])
        #expect(try t.encode("h", maxLength: nil) == [2, 1, 3])
    }

    @Test("vocab.txt without a config lowercases and strips accents (transformers' default)")
    func vocabDefaults() throws {
        let dir = Self.folder(["vocab.txt": "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nalesund\nÅlesund\n"])
        let t = try Tokenizer.load(directory: dir)
        #expect(try t.encode("Ålesund", maxLength: nil) == [2, 5, 3])
    }

    @Test("maximum sequence length defaults")
    func maxSeqLength() {
        #expect(ModelFolder.defaultMaxSeqLength(directory: Self.folder([:])) == 512)
        #expect(ModelFolder.defaultMaxSeqLength(directory: Self.folder([
            "sentence_bert_config.json": "{\"max_seq_length\": 256, \"do_lower_case\": false}",
            "tokenizer_config.json": "{\"model_max_length\": 128}",
        ])) == 256)
        #expect(ModelFolder.defaultMaxSeqLength(directory: Self.folder([
            "tokenizer_config.json": "{\"model_max_length\": 128}",
        ])) == 128)
        #expect(ModelFolder.defaultMaxSeqLength(directory: Self.folder([
            "tokenizer_config.json": "{\"model_max_length\": 1000000000000000019884624838656}",
        ])) == 512)
        #expect(ModelFolder.defaultMaxSeqLength(directory: Self.folder([
            "tokenizer_config.json": "{\"model_max_length\": 1000000000000000019884624838656}",
            "config.json": "{\"max_position_embeddings\": 514}",
        ])) == 514)
        #expect(ModelFolder.defaultMaxSeqLength(directory: Self.folder([
            "tokenizer_config.json": "{\"model_max_length\": 512}",
            "config.json": "{\"max_position_embeddings\": 128}",
        ])) == 128)
    }

    static func tokenizerJSON(_ body: String) -> String {
        "{\"version\": \"1.0\", \"added_tokens\": [], \"post_processor\": null, \(body)}"
    }

    @Test("broken or unsupported tokenizer.json files are clear errors")
    func errors() throws {
        func fails(_ json: String, _ fragment: String) {
            let dir = Self.folder(["tokenizer.json": json])
            let error = #expect(throws: EmbedError.self) { _ = try Tokenizer.load(directory: dir) }
            #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "") lacks '\(fragment)'")
        }
        let wordLevel = "\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"<unk>\": 0}, \"unk_token\": \"<unk>\"}"
        fails("{\"version\": \"1.0\",\n \"model\": ", "tokenizer.json:2:")
        fails(Self.tokenizerJSON("\"normalizer\": {\"type\": \"Fancy\"}, \"pre_tokenizer\": null, " + wordLevel),
              "unsupported normalizer type 'Fancy'")
        fails(Self.tokenizerJSON("\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"UnicodeScripts\"}, " + wordLevel),
              "unsupported pre_tokenizer type 'UnicodeScripts'")
        fails(Self.tokenizerJSON("\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, \"behavior\": \"Isolated\", \"invert\": false}, " + wordLevel),
              "missing ')'")
        fails(Self.tokenizerJSON("\"normalizer\": null, \"pre_tokenizer\": null, \"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}, \"unk_token\": \"[UNK]\"}"),
              "'[UNK]' is not in the vocabulary")
        fails(Self.tokenizerJSON("\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"_\", \"add_prefix_space\": false}, " + wordLevel),
              "add_prefix_space does not match")
        let direct = Self.folder(["tokenizer.json": Self.tokenizerJSON("\"normalizer\": null, \"pre_tokenizer\": null, " + wordLevel)])
        #expect(try Tokenizer.load(directory: direct + "/tokenizer.json").vocabSize == 1)
        let missing = #expect(throws: EmbedError.self) { _ = try Tokenizer.load(directory: Self.folder([:])) }
        #expect(missing?.message.contains("no tokenizer.json or vocab.txt") == true)
    }

    /// Expected ids from the Python library (tokenizers 0.23): a normalizer that deletes the first
    /// character moves the text's start for Metaspace's "first" scheme — except Precompiled.
    @Test("Metaspace prepend_scheme first after leading deletions")
    func metaspaceFirst() throws {
        func tokenizer(_ normalizer: String) throws -> Tokenizer {
            let json = Self.tokenizerJSON("""
                "normalizer": \(normalizer),
                "pre_tokenizer": {"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "first", "split": true},
                "model": {"type": "WordLevel", "unk_token": "<unk>",
                          "vocab": {"<unk>": 0, "\u{2581}hello": 1, "hello": 2, "\u{2581}": 3, "\u{2581}yhello": 4}}
                """)
            return try Tokenizer.fromTokenizerJSON(Array(json.utf8), source: "test")
        }
        var cases: [(String, String, [Int32])] = [
            ("{\"type\": \"BertNormalizer\", \"clean_text\": true, \"handle_chinese_chars\": false, \"strip_accents\": false, \"lowercase\": false}", "\u{0}hello", [2]),
            ("{\"type\": \"BertNormalizer\", \"clean_text\": true, \"handle_chinese_chars\": false, \"strip_accents\": false, \"lowercase\": false}", "  hello", [3, 1]),
            ("{\"type\": \"Strip\", \"strip_left\": true, \"strip_right\": true}", "  hello", [2]),
            ("{\"type\": \"Nmt\"}", "\u{1}hello", [2]),
            ("{\"type\": \"StripAccents\"}", "\u{301}hello", [2]),
            ("{\"type\": \"Replace\", \"pattern\": {\"Regex\": \"^x+\"}, \"content\": \"\"}", "xxhello", [2]),
            ("{\"type\": \"Replace\", \"pattern\": {\"Regex\": \"x\"}, \"content\": \"y\"}", "xhello", [4]),
            ("null", "hello", [1]),
        ]
        // Precompiled (e5's charsmap, from the component fixtures) deletes U+0001 yet keeps the start.
        let components = try TokenizerFixtures.jsonl(TokenizerFixtures.dir + "/components.jsonl.zst")
        let precompiled = components.first { $0["config"]?["type"]?.string == "Precompiled" }!["config"]!
        cases.append((precompiled.serialized(), "\u{1}hello", [1]))
        cases.append((precompiled.serialized(), "\u{200b}hello", [1]))
        for (normalizer, text, want) in cases {
            let got = try tokenizer(normalizer).encode(text, maxLength: nil, stripText: false, addSpecialTokens: false)
            #expect(got == want, "\(normalizer) on \(TokenizerFixtures.show(text))")
        }
    }

    @Test("tokenizer.json vocabulary keys are compared as bytes")
    func byteExactJSONVocabulary() throws {
        let json = Self.tokenizerJSON("""
            "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"},
            "model": {"type": "WordLevel", "vocab": {"<unk>": 0, "\u{e9}": 1, "e\u{301}": 2}, "unk_token": "<unk>"}
            """)
        let t = try Tokenizer.fromTokenizerJSON(Array(json.utf8), source: "test")
        #expect(try t.encode("\u{e9} e\u{301} e", maxLength: nil) == [1, 2, 0])
    }

    @Test("vocabulary size and padding id of the shared tokenizers", .enabled(if: TestPaths.hasShared("tokenizers"), "needs ../shared/tokenizers"))
    func sizesAndPadding() throws {
        let expected: [(String, Int, Int32)] = [
            ("minilm", 30522, 0), ("e5", 250_002, 1), ("ltg", 8000, 3), ("norbert1-default", 32922, 0),
        ]
        for (name, size, pad) in expected {
            let t = try TokenizerFixtures.tokenizer(name)
            #expect(t.vocabSize == size, "\(name)")
            #expect(t.padTokenId == pad, "\(name)")
            #expect(t.specialTokenCount == 2, "\(name)")
        }
    }

    @Test("encode is safe to call from many threads at once", .enabled(if: TestPaths.hasShared("tokenizers"), "needs ../shared/tokenizers"))
    func concurrentEncode() async throws {
        let t = try Tokenizer.load(directory: TestPaths.sharedFile("tokenizers/multilingual-e5-small"))
        let texts = try Array(TokenizerFixtures.fuzzTexts().prefix(400))
        let expected = try texts.map { try t.encode($0, maxLength: nil) }
        let results = await withTaskGroup(of: Bool.self) { group in
            for k in 0..<8 {
                group.addTask {
                    texts.indices.allSatisfy { i in (try? t.encode(texts[(i + k * 50) % texts.count], maxLength: nil)) == expected[(i + k * 50) % texts.count] }
                }
            }
            var all: [Bool] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results.allSatisfy { $0 })
        #expect(try t.encodeBatch(texts, maxLength: 16, threads: 3) == texts.map { try t.encode($0, maxLength: 16) })
        #expect(try t.encodeBatch([], maxLength: nil, threads: 2).isEmpty)
    }
}
