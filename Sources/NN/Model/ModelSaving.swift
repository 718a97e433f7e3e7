import Foundation
import IO

/// Writes a model folder that `SentenceTransformer(dir)` loads without warnings: the classic
/// sentence-transformers layout every version since 2.x reads, the transformer's `config.json`
/// unchanged, `model.safetensors` with PyTorch names, and the base model's tokenizer (and custom
/// modeling code) files copied alongside.
extension SentenceModel {
    /// Files copied from the base model's transformer folder when present: tokenizers of every kind,
    /// and remote-code modules (NorBERT3's modeling_norbert.py, configuration_norbert.py).
    static let tokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json",
                                 "added_tokens.json", "sentencepiece.bpe.model", "spiece.model", "tokenizer.model",
                                 "merges.txt", "vocab.json"]

    /// Saves into `directory` (created if needed). Each file is written atomically; `readme` (a model
    /// card) is written when given.
    package func save(to directory: String, readme: String? = nil) throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try fm.createDirectory(atPath: directory + "/1_Pooling", withIntermediateDirectories: true)
        } catch {
            throw EmbedError("\(directory): cannot create the model folder: \(error.localizedDescription)")
        }
        var modules: [JSON] = [
            ["idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"],
            ["idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"],
        ]
        if normalize {
            modules.append(["idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"])
            try? fm.createDirectory(atPath: directory + "/2_Normalize", withIntermediateDirectories: true)
        }
        try FileSystem.writeText(JSON.array(modules).serialized(indent: 2), to: directory + "/modules.json")
        try FileSystem.writeText(JSON.object(JSONObject([("max_seq_length", .number(Double(maxSeqLength))), ("do_lower_case", false)]))
            .serialized(indent: 2), to: directory + "/sentence_bert_config.json")
        let stConfig: JSON = [
            "__version__": ["sentence_transformers": "3.0.0", "transformers": "4.41.0", "pytorch": "2.3.0"],
            "prompts": .object(JSONObject()),
            "default_prompt_name": nil,
            "similarity_fn_name": "cosine",
        ]
        try FileSystem.writeText(stConfig.serialized(indent: 2), to: directory + "/config_sentence_transformers.json")
        let poolingConfig: JSON = .object(JSONObject([
            ("word_embedding_dimension", .number(Double(dimension))),
            ("pooling_mode_cls_token", .bool(pooling == .cls)),
            ("pooling_mode_mean_tokens", .bool(pooling == .mean)),
            ("pooling_mode_max_tokens", .bool(pooling == .max)),
            ("pooling_mode_mean_sqrt_len_tokens", false),
            ("pooling_mode_weightedmean_tokens", false),
            ("pooling_mode_lasttoken", false),
            ("include_prompt", true),
        ]))
        try FileSystem.writeText(poolingConfig.serialized(indent: 2), to: directory + "/1_Pooling/config.json")
        try FileSystem.writeText(configJSON.serialized(indent: 2), to: directory + "/config.json")

        // Tokenizer and remote-code files of the base model, unless saving into the base folder itself.
        let source = URL(fileURLWithPath: transformerDirectory).standardizedFileURL.path
        if source != URL(fileURLWithPath: directory).standardizedFileURL.path {
            let pyFiles = ((try? fm.contentsOfDirectory(atPath: transformerDirectory)) ?? []).filter { $0.hasSuffix(".py") }
            for name in Self.tokenizerFiles + pyFiles where fm.fileExists(atPath: transformerDirectory + "/" + name) {
                try FileSystem.copy(transformerDirectory + "/" + name, to: directory + "/" + name)
            }
        }
        if let readme { try FileSystem.writeText(readme, to: directory + "/README.md") }
        // The weights last: a folder with model.safetensors is complete (the Makefile's target for
        // `train` is that file), even when a run is killed while saving.
        try saveWeights(to: directory + "/model.safetensors")
    }

    /// The encoder's parameters (float32, PyTorch names) plus the untouched passthrough tensors.
    package func saveWeights(to path: String) throws {
        let w = SafetensorsWriter()
        let params = encoder.parameters
        for e in params.entries {
            w.add(e.name, shape: e.shape, floats: UnsafeBufferPointer(start: params.values + e.offset, count: e.count))
        }
        for t in passthrough { w.add(t.name, dtype: t.dtype, shape: t.shape, bytes: t.bytes) }
        try w.write(to: path)
    }
}
