import Foundation
import IO
import TestSupport
import Tokenizers

/// Inputs and reference outputs for the tokenizer tests. The references come from the Python
/// `tokenizers` / `transformers` libraries via `tools/make_tokenizer_reference.py fixtures`.
enum TokenizerFixtures {
    static let dir = TestPaths.fixtures + "/tokenizer"

    static let sharedTokenizers = "tokenizers"
    static let udPath = "data/ud-norwegian-dev-sentences.txt.zst"
    static let tripletFiles = ["nb-nn-train", "nb-nn-test", "nb-nn-dev", "nb-nn-train-hard", "nb-nn-test-hard"]

    /// Every reference tokenizer: fixture name → how to load it.
    static let names = ["minilm", "e5", "ltg", "norbert1-default", "norbert1-cased", "minilm-vocab"]

    static func jsonl(_ path: String) throws -> [JSONObject] {
        let reader = try JSONLReader(path: path)
        var rows: [JSONObject] = []
        while let row = try reader.next() { rows.append(row) }
        return rows
    }

    static func hardCases() throws -> [String] {
        let bytes = try ByteReader(path: dir + "/hard-cases.json").readAll()
        return try JSON.parse(bytes).array!.map { $0.string! }
    }

    static func fuzzTexts() throws -> [String] {
        let reader = try LineReader(path: dir + "/fuzz-texts.jsonl.zst")
        var out: [String] = []
        while let line = try reader.next() { out.append(try JSON.parse(UnsafeRawBufferPointer(line)).string!) }
        return out
    }

    /// The UD sentences, split at "\n" only (as the reference script splits them).
    static func udTexts() throws -> [String] {
        let reader = try LineReader(path: TestPaths.sharedFile(udPath))
        var out: [String] = []
        while let line = try reader.next() { out.append(String(decoding: line, as: UTF8.self)) }
        return out
    }

    /// Unique texts of the triplet files in order of first appearance, deduplicated by bytes.
    static func tripletTexts() throws -> [String] {
        var seen = Set<[UInt8]>()
        var out: [String] = []
        for name in tripletFiles {
            let reader = try JSONLReader(path: TestPaths.sharedFile("data/\(name).jsonl.zst"))
            while let row = try reader.nextRow(columns: ["anchor", "positive", "negative"]) {
                for text in row where seen.insert(Array(text.utf8)).inserted { out.append(text) }
            }
        }
        return out
    }

    /// Loads reference tokenizer `name` from ../shared (with a scratch folder for the variants).
    static func tokenizer(_ name: String) throws -> Tokenizer {
        let base = TestPaths.sharedFile(sharedTokenizers)
        switch name {
        case "minilm": return try Tokenizer.load(directory: base + "/all-MiniLM-L6-v2")
        case "e5": return try Tokenizer.load(directory: base + "/multilingual-e5-small")
        case "ltg": return try Tokenizer.load(directory: base + "/ltg-style-norwegian")
        case "norbert1-default": return try Tokenizer.load(directory: base + "/norbert1-cased")
        case "norbert1-cased":
            let d = TestPaths.scratch("norbert1cased")
            try copy(base + "/norbert1-cased/vocab.txt", to: d)
            try copy(dir + "/norbert1-cased-config/tokenizer_config.json", to: d)
            return try Tokenizer.load(directory: d)
        case "minilm-vocab":
            let d = TestPaths.scratch("minilmvocab")
            for f in ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"] {
                try copy(base + "/all-MiniLM-L6-v2/" + f, to: d)
            }
            return try Tokenizer.load(directory: d)
        default:
            fatalError("unknown tokenizer \(name)")
        }
    }

    static func copy(_ file: String, to directory: String) throws {
        let target = directory + "/" + (file as NSString).lastPathComponent
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: file, toPath: target)
    }

    static func ints(_ json: JSON?) -> [Int32] {
        (json?.array ?? []).map { Int32($0.int!) }
    }

    /// The reference script's hash of an id sequence (FNV-1a 64 folded to 32 bits).
    static func idsHash(_ ids: [Int32]) -> UInt32 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for id in ids {
            h ^= UInt64(UInt32(bitPattern: id))
            h = h &* 0x100_0000_01B3
        }
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }

    /// A short description of a text for failure messages.
    static func show(_ text: String) -> String {
        let scalars = text.unicodeScalars.prefix(80).map { s -> String in
            s.value < 0x20 || (s.value >= 0x7F && s.value < 0xA0) || s.properties.generalCategory == .format
                ? "\\u{\(String(s.value, radix: 16))}" : String(s)
        }
        return "\"" + scalars.joined() + (text.unicodeScalars.count > 80 ? "…" : "") + "\""
    }
}
