import Foundation
import IO
import Inference
import TestSupport
import Testing

/// Tests/Fixtures/mine-ir (made by tools/make_mine_ir_fixtures.py from real Norwegian pairs and
/// all-MiniLM-L6-v2): the data, the vector of every text, and what sentence-transformers computed
/// from those very vectors.
enum MineIRFixture {
    static let dir = TestPaths.fixtures + "/mine-ir"
    static let dimension = 384

    /// Every distinct text and its (normalized) vector.
    /// Built once and only read afterwards.
    nonisolated(unsafe) static let vectors: (texts: UniqueTexts, values: [Float]) = {
        let texts = UniqueTexts()
        let reader = try! JSONLReader(path: dir + "/texts.jsonl")
        while let row = try! reader.next() { texts.insert(row["text"]!.string!) }
        let values = try! SafetensorsFile(path: dir + "/embeddings.safetensors").floats("embeddings")
        precondition(values.count == texts.count * dimension)
        return (texts, values)
    }()

    /// The vectors of `texts`, [texts.count, 384].
    static func embed(_ texts: [String]) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(texts.count * dimension)
        for t in texts {
            let i = vectors.texts.index(of: t)!
            out += vectors.values[(i * dimension)..<((i + 1) * dimension)]
        }
        return out
    }

    static func pairs(extraCorpus: Bool) throws -> PairsData {
        let extra = extraCorpus ? try TextSource(path: dir + "/extra-corpus.txt", field: nil) : nil
        return try PairsData.read(path: dir + "/pairs.jsonl", columns: ("anchor", "positive"), extraCorpus: extra)
    }

    static func jsonLines(_ path: String) throws -> [JSON] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { try JSON.parse(String($0)) }
    }

    static func json(_ name: String) throws -> JSON { try JSON.parse(String(contentsOfFile: dir + "/" + name, encoding: .utf8)) }
}

/// JSON values equal, numbers within `tolerance`.
func jsonEqual(_ a: JSON, _ b: JSON, tolerance: Double) -> Bool {
    switch (a, b) {
    case (.number(let x), .number(let y)): return abs(x - y) <= tolerance
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { jsonEqual($0, $1, tolerance: tolerance) }
    case (.object(let x), .object(let y)):
        return x.keys == y.keys && zip(x, y).allSatisfy { jsonEqual($0.value, $1.value, tolerance: tolerance) }
    default: return a == b
    }
}
