// TEMPORARY until the tokenizer branch lands: the default truncation length of a model folder.
public enum Tokenizer {
    public static func defaultMaxSeqLength(directory: String) -> Int {
        if let j = try? readJSON(directory + "/sentence_bert_config.json"), let m = j["max_seq_length"]?.int { return m }
        if let j = try? readJSON(directory + "/tokenizer_config.json"), let m = j["model_max_length"]?.int, m < 1_000_000 { return m }
        return 512
    }
}
