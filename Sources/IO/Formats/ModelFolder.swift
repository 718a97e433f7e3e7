/// What the small JSON files of a Hugging Face / sentence-transformers model folder say, for the
/// stages that need it before (or without) loading the model: tokenize and the model loader both
/// truncate at the same length.
package enum ModelFolder {
    /// The maximum sequence length sentence-transformers would use for a model folder:
    /// `sentence_bert_config.json`'s `max_seq_length`; else the smaller of `tokenizer_config.json`'s
    /// `model_max_length` (ignoring the huge values transformers writes for "unset") and
    /// `config.json`'s `max_position_embeddings`, whichever exist; else 512.
    package static func defaultMaxSeqLength(directory: String) -> Int {
        let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        if let sbert = try? FileSystem.readJSONIfPresent(dir + "/sentence_bert_config.json"),
           let n = sbert["max_seq_length"]?.int, n > 0
        {
            return n
        }
        var candidates: [Int] = []
        if let config = try? FileSystem.readJSONIfPresent(dir + "/tokenizer_config.json"),
           let d = config["model_max_length"]?.double, d > 0, d < 1e9
        {
            candidates.append(Int(d))
        }
        if let config = try? FileSystem.readJSONIfPresent(dir + "/config.json"),
           let n = config["max_position_embeddings"]?.int, n > 0
        {
            candidates.append(n)
        }
        return candidates.min() ?? 512
    }
}
