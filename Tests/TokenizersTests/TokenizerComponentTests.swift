import IO
import TestSupport
import Testing
import Tokenizers

/// Each normalizer and pre-tokenizer alone against `normalize_str` / `pre_tokenize_str` of the
/// Python library, on the random Unicode corpus and the hard cases.
@Suite("Tokenizer components vs Python tokenizers")
struct TokenizerComponentTests {
    static func texts() throws -> [String] {
        try TokenizerFixtures.fuzzTexts() + TokenizerFixtures.hardCases()
    }

    /// A tokenizer.json with only this component and a one-token WordLevel model.
    static func tokenizer(normalizer: JSON = .null, preTokenizer: JSON = .null) throws -> Tokenizer {
        let config: JSON = [
            "version": "1.0", "added_tokens": [], "normalizer": normalizer, "pre_tokenizer": preTokenizer,
            "model": ["type": "WordLevel", "vocab": ["<unk>": 0], "unk_token": "<unk>"], "post_processor": nil,
        ]
        return try Tokenizer.fromTokenizerJSON(Array(config.serialized().utf8), source: "test")
    }

    static func components() throws -> [JSONObject] {
        try TokenizerFixtures.jsonl(TokenizerFixtures.dir + "/components.jsonl.zst")
    }

    @Test("normalizers")
    func normalizers() throws {
        let texts = try Self.texts()
        var checked = 0
        for row in try Self.components() where row["kind"]?.string == "normalizer" {
            let config = row["config"]!
            let tokenizer = try Self.tokenizer(normalizer: config)
            let outputs = row["outputs"]!.array!
            #expect(outputs.count == texts.count)
            var failures = 0
            for (text, want) in zip(texts, outputs) {
                let got = try tokenizer.normalize(text)
                if !got.unicodeScalars.elementsEqual(want.string!.unicodeScalars) {
                    failures += 1
                    if failures <= 3 {
                        Issue.record("\(config.serialized()) on \(TokenizerFixtures.show(text)):\n  got  \(TokenizerFixtures.show(got))\n  want \(TokenizerFixtures.show(want.string!))")
                    }
                }
            }
            #expect(failures == 0, "\(config.serialized()): \(failures) of \(texts.count) differ")
            checked += 1
        }
        #expect(checked >= 20)
    }

    @Test("pre-tokenizers")
    func preTokenizers() throws {
        let texts = try Self.texts()
        var checked = 0
        for row in try Self.components() where row["kind"]?.string == "pre_tokenizer" {
            let config = row["config"]!
            let tokenizer = try Self.tokenizer(preTokenizer: config)
            let outputs = row["outputs"]!.array!
            #expect(outputs.count == texts.count)
            var failures = 0
            for (text, want) in zip(texts, outputs) {
                let got = try tokenizer.preTokenize(text)
                let wantPieces = want.array!.map { $0.string! }
                let same = got.count == wantPieces.count
                    && zip(got, wantPieces).allSatisfy { $0.unicodeScalars.elementsEqual($1.unicodeScalars) }
                if !same {
                    failures += 1
                    if failures <= 3 {
                        Issue.record("\(config.serialized()) on \(TokenizerFixtures.show(text)):\n  got  \(got.map(TokenizerFixtures.show))\n  want \(wantPieces.map(TokenizerFixtures.show))")
                    }
                }
            }
            #expect(failures == 0, "\(config.serialized()): \(failures) of \(texts.count) differ")
            checked += 1
        }
        #expect(checked >= 30)
    }

    @Test("small trained models: BPE, WordLevel, Unigram with byte fallback, added-token options")
    func smallModels() throws {
        let texts = try Self.texts()
        var checked = 0
        for row in try TokenizerFixtures.jsonl(TokenizerFixtures.dir + "/small-models.jsonl.zst") {
            let name = row["name"]!.string!
            let tokenizer = try Tokenizer.fromTokenizerJSON(Array(row["tokenizer"]!.serialized().utf8), source: name)
            let expected = row["ids"]!.array!.map { TokenizerFixtures.ints($0) }
            try TokenizerReferenceTests.compare(tokenizer, texts, expected, label: name)
            checked += 1
        }
        #expect(checked >= 6)
    }
}
