import IO
import TestSupport
import Testing
import Tokenizers

/// Ids of the four shared tokenizers (and two vocab.txt variants) against the Python library, on
/// every UD sentence, every unique triplet text, the hand-written hard cases and a seeded random
/// corpus of awkward Unicode, with and without truncation.
@Suite("Tokenizer vs Python tokenizers")
struct TokenizerReferenceTests {
    struct Reference {
        var sets: [String: [[Int32]]] = [:]
        var tripletLengths: [Int] = []
        var tripletHashes: [UInt32] = []
    }

    static func reference(_ name: String) throws -> Reference {
        var ref = Reference()
        // MiniLM rebuilt from vocab.txt must give the ids of its tokenizer.json (the reference
        // script checks that Python agrees, and stores them once).
        let fixture = name == "minilm-vocab" ? "minilm" : name
        for row in try TokenizerFixtures.jsonl(TokenizerFixtures.dir + "/ids-\(fixture).jsonl.zst") {
            let set = row["set"]!.string!
            if set == "triplets" {
                ref.tripletLengths.append(row["n"]!.int!)
                ref.tripletHashes.append(UInt32(row["hash"]!.int!))
            } else {
                ref.sets[set, default: []].append(TokenizerFixtures.ints(row["ids"]))
            }
        }
        return ref
    }

    /// Compares a set of texts; reports the first few differences with their texts.
    static func compare(_ tokenizer: Tokenizer, _ texts: [String], _ expected: [[Int32]], maxLength: Int? = nil,
                        label: String) throws
    {
        #expect(texts.count == expected.count, "\(label): \(texts.count) texts but \(expected.count) references")
        var failures = 0
        for (k, (text, want)) in zip(texts, expected).enumerated() {
            let got = try tokenizer.encode(text, maxLength: maxLength)
            if got != want {
                failures += 1
                if failures <= 5 {
                    Issue.record("\(label) #\(k) \(TokenizerFixtures.show(text)):\n  got  \(got)\n  want \(want)")
                }
            }
        }
        #expect(failures == 0, "\(label): \(failures) of \(texts.count) texts differ")
    }

    static let hasUD = TestPaths.hasShared("tokenizers") && TestPaths.hasShared(TokenizerFixtures.udPath)
    static let hasTriplets = TestPaths.hasShared("tokenizers")
        && TokenizerFixtures.tripletFiles.allSatisfy { TestPaths.hasShared("data/\($0).jsonl.zst") }

    @Test("UD sentences, hard cases, random Unicode", .enabled(if: hasUD, "needs ../shared/tokenizers and ../shared/data"),
          arguments: TokenizerFixtures.names)
    func fullIds(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        let ref = try Self.reference(name)
        try Self.compare(tokenizer, try TokenizerFixtures.udTexts(), ref.sets["ud"] ?? [], label: "\(name) ud")
        try Self.compare(tokenizer, try TokenizerFixtures.hardCases(), ref.sets["hard"] ?? [], label: "\(name) hard")
        try Self.compare(tokenizer, try TokenizerFixtures.fuzzTexts(), ref.sets["fuzz"] ?? [], label: "\(name) fuzz")
    }

    @Test("truncation counts the special tokens", .enabled(if: hasUD, "needs ../shared/tokenizers and ../shared/data"),
          arguments: TokenizerFixtures.names)
    func truncation(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        let ref = try Self.reference(name)
        let texts = try TokenizerFixtures.hardCases() + Array(TokenizerFixtures.udTexts().prefix(200))
        for n in [2, 3, 5, 8, 16, 128] {
            try Self.compare(tokenizer, texts, ref.sets["trunc\(n)"] ?? [], maxLength: n, label: "\(name) max \(n)")
        }
        // A limit below the special-token count keeps the special tokens alone. (tokenizers
        // computes `max_length - added` in unsigned arithmetic and, wrapping, truncates nothing:
        // the fixture's trunc1 set shows it. Returning over-long sequences is worse than this.)
        let specials = try tokenizer.encode("", maxLength: nil)
        #expect(specials.count == tokenizer.specialTokenCount)
        #expect(try tokenizer.encode("hei på deg", maxLength: 1) == specials)
    }

    @Test("every unique triplet text (ids hashed)", .enabled(if: hasTriplets, "needs ../shared/tokenizers and ../shared/data"),
          arguments: TokenizerFixtures.names)
    func triplets(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        let ref = try Self.reference(name)
        let texts = try TokenizerFixtures.tripletTexts()
        #expect(texts.count == ref.tripletHashes.count)
        var failures = 0
        for (k, text) in texts.enumerated() where k < ref.tripletHashes.count {
            let ids = try tokenizer.encode(text, maxLength: nil)
            if ids.count != ref.tripletLengths[k] || TokenizerFixtures.idsHash(ids) != ref.tripletHashes[k] {
                failures += 1
                if failures <= 5 {
                    let message = "\(name) triplet text #\(k) \(TokenizerFixtures.show(text)): \(ids.count) ids \(ids), "
                        + "reference has \(ref.tripletLengths[k])"
                    Issue.record(Comment(rawValue: message))
                }
            }
        }
        #expect(failures == 0, "\(name): \(failures) of \(texts.count) triplet texts differ")
    }
}
