import IO
import TestSupport
import Testing
import Tokenizers

/// `encodeKeepingEnd` (serve's `truncation_direction: "left"`) against `tokenizers` with
/// `direction="left"` (tools/make_left_truncation_reference.py), id for id.
@Suite("Left truncation vs Python tokenizers")
struct LeftTruncationTests {
    @Test(.enabled(if: TokenizerReferenceTests.hasUD, "needs ../shared/tokenizers and ../shared/data"),
          arguments: ["minilm", "e5", "ltg", "norbert1-default"])
    func keepsTheEnd(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        let texts = try TokenizerFixtures.hardCases() + TokenizerFixtures.udTexts().prefix(200)
        let rows = try TokenizerFixtures.jsonl(TokenizerFixtures.dir + "/ids-left-truncation.jsonl.zst")
            .filter { $0["tokenizer"]?.string == name }
        #expect(rows.count == 4 * texts.count, "\(rows.count) reference rows for \(texts.count) texts")
        var failures = 0
        for (k, row) in rows.enumerated() {
            let text = texts[k % texts.count], n = try #require(row["max_length"]?.int)
            let got = try tokenizer.encodeKeepingEnd(text, maxLength: n), want = TokenizerFixtures.ints(row["ids"])
            if got != want {
                failures += 1
                if failures <= 5 { Issue.record("\(name) max_length \(n) \(TokenizerFixtures.show(text)):\n  got  \(got)\n  want \(want)") }
            }
        }
        #expect(failures == 0, "\(name): \(failures) of \(rows.count) differ")
    }
}
