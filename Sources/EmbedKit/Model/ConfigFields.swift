/// Typed reads of a Hugging Face `config.json`, with errors naming the file and the key.
struct ConfigFields {
    let json: JSON
    let path: String

    /// An integer ≥ `minimum`; `fallback` when the key is absent or null (else it is required).
    func int(_ key: String, _ fallback: Int? = nil, minimum: Int = 1) throws -> Int {
        if let v = json[key], !v.isNull {
            guard let i = v.int, i >= minimum else { throw EmbedError("\(path): '\(key)' must be an integer ≥ \(minimum)") }
            return i
        }
        if let fallback { return fallback }
        throw EmbedError("\(path): missing '\(key)'")
    }

    /// A number in `range`; `fallback` when absent or null.
    func float(_ key: String, _ fallback: Double, in range: Range<Double> = 0..<Double.infinity) throws -> Float {
        guard let v = json[key], !v.isNull else { return Float(fallback) }
        guard let d = v.double, range.contains(d) else {
            throw EmbedError("\(path): '\(key)' must be a number in [\(range.lowerBound), \(range.upperBound))")
        }
        return Float(d)
    }

    /// A dropout probability, in [0, 1).
    func probability(_ key: String, _ fallback: Double) throws -> Float { try float(key, fallback, in: 0..<1) }

    /// hidden_size must split evenly over the heads.
    func checkHeads(hidden: Int, heads: Int) throws {
        guard hidden % heads == 0 else {
            throw EmbedError("\(path): hidden_size \(hidden) is not a multiple of num_attention_heads \(heads)")
        }
    }
}
