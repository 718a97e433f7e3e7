import Foundation
import IO

/// A sentence-transformers model folder: a transformer encoder, pooling, optional normalization,
/// and the files that describe them (`modules.json`, `1_Pooling/config.json`,
/// `sentence_bert_config.json`, `config.json`). A plain Hugging Face model folder without
/// `modules.json` loads as sentence-transformers would: the encoder with mean pooling.
package final class SentenceModel {
    package let directory: String
    /// Where the transformer's files are (the folder itself, or e.g. `0_Transformer/` in old layouts).
    package let transformerDirectory: String
    package let encoder: any TransformerEncoder
    package let pooling: PoolingMode
    package let normalize: Bool
    /// `config.json` as read, written back unchanged when the model is saved.
    package let configJSON: JSON
    /// Tensors of the checkpoint the encoder does not train (e.g. BERT's pooler), kept to be saved back.
    package let passthrough: [WeightTensor]
    /// Truncation length: sentence_bert_config.json's `max_seq_length`, else the tokenizer's default.
    package var maxSeqLength: Int

    package init(directory: String, transformerDirectory: String, encoder: any TransformerEncoder,
                pooling: PoolingMode, normalize: Bool, configJSON: JSON, passthrough: [WeightTensor], maxSeqLength: Int) {
        self.directory = directory
        self.transformerDirectory = transformerDirectory
        self.encoder = encoder
        self.pooling = pooling
        self.normalize = normalize
        self.configJSON = configJSON
        self.passthrough = passthrough
        self.maxSeqLength = maxSeqLength
    }

    package var dimension: Int { encoder.hiddenSize }

    /// Loads a model folder: reads modules.json (if any) for the module layout, then the encoder.
    package static func load(directory: String) throws -> SentenceModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw EmbedError("\(directory): no such model folder")
        }
        var transformerPath = ""
        var poolingPath: String?
        var normalize = false
        let modulesPath = directory + "/modules.json"
        if FileManager.default.fileExists(atPath: modulesPath) {
            let modules = try FileSystem.readJSON(modulesPath)
            guard let list = modules.array else { throw EmbedError("\(modulesPath): expected a JSON array") }
            for (i, m) in list.enumerated() {
                let type = m["type"]?.string ?? ""
                let path = m["path"]?.string ?? ""
                switch type.split(separator: ".").last.map(String.init) ?? "" {
                case "Transformer": transformerPath = path
                case "Pooling": poolingPath = path
                case "Normalize": normalize = true
                default:
                    throw EmbedError("\(modulesPath): module \(i) of type '\(type)' is not supported (Transformer, Pooling and Normalize are)")
                }
            }
        }
        let transformerDir = transformerPath.isEmpty ? directory : directory + "/" + transformerPath
        let pooling = try poolingPath.map { try readPooling(directory + "/" + $0 + "/config.json") } ?? .mean

        let configPath = transformerDir + "/config.json"
        let config = try FileSystem.readJSON(configPath)
        let (encoder, passthrough) = try loadEncoder(config: config, configPath: configPath, directory: transformerDir)

        var maxLen = ModelFolder.defaultMaxSeqLength(directory: transformerDir)
        if let sb = try? FileSystem.readJSON(directory + "/sentence_bert_config.json"), let m = sb["max_seq_length"]?.int {
            maxLen = m
        }
        maxLen = min(maxLen, encoder.maxPositions)
        return SentenceModel(directory: directory, transformerDirectory: transformerDir, encoder: encoder,
                             pooling: pooling, normalize: normalize, configJSON: config,
                             passthrough: passthrough, maxSeqLength: maxLen)
    }

    static func readPooling(_ path: String) throws -> PoolingMode {
        let j = try FileSystem.readJSON(path)
        var modes: [PoolingMode] = []
        if j["pooling_mode_mean_tokens"]?.bool == true { modes.append(.mean) }
        if j["pooling_mode_cls_token"]?.bool == true { modes.append(.cls) }
        if j["pooling_mode_max_tokens"]?.bool == true { modes.append(.max) }
        for unsupported in ["pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"]
        where j[unsupported]?.bool == true {
            throw EmbedError("\(path): \(unsupported) is not supported (mean, cls and max pooling are)")
        }
        if j["include_prompt"]?.bool == false {
            throw EmbedError("\(path): include_prompt false is not supported")
        }
        guard modes.count == 1 else {
            throw EmbedError("\(path): exactly one of pooling_mode_mean_tokens, pooling_mode_cls_token, pooling_mode_max_tokens must be true")
        }
        return modes[0]
    }

    /// Chooses the architecture from config.json and loads its weights.
    static func loadEncoder(config: JSON, configPath: String, directory: String) throws -> (any TransformerEncoder, [WeightTensor]) {
        if NorbertConfig.matches(config) {
            let c = try NorbertConfig(json: config, path: configPath)
            // The checkpoint's own position_indices buffer, when it has one, is the bucket table the
            // Python model uses; ours is computed the same way and only fills in when it is absent.
            let encoder = NorbertEncoder(config: c)
            // NorbertModel's only untrained tensors are its persistent position_indices buffers.
            let (store, passthrough) = try loadWeights(into: encoder.parameters, directory: directory,
                                                       anchor: "embedding.word_embedding.weight",
                                                       keep: { $0.hasSuffix(".attention.position_indices") })
            if let stored = passthrough.first(where: { $0.name.hasSuffix("attention.position_indices") }),
               stored.shape.count == 2, stored.shape[0] == stored.shape[1] {
                let values = stored.bytes.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)).map { Int($0) } }
                let rows = 2 * c.bucketSize - 1
                guard values.allSatisfy({ $0 >= 0 && $0 < rows }) else {
                    throw EmbedError("\(store.path): \(stored.name) holds indices outside 0..<\(rows)")
                }
                encoder.buckets = RelativeBuckets(bucketSize: c.bucketSize, stored: values, side: stored.shape[0])
            }
            return (encoder, passthrough)
        }
        let modelType = config["model_type"]?.string ?? ""
        switch modelType {
        case "bert", "roberta", "xlm-roberta", "camembert":
            let c = try BertConfig(json: config, path: configPath)
            let encoder = BertEncoder(config: c)
            // BertModel's untrained tensors: the pooler (sentence-transformers ignores it, but a
            // BertModel checkpoint has it). position_ids is a buffer transformers rebuilds itself.
            let (_, passthrough) = try loadWeights(into: encoder.parameters, directory: directory,
                                                   anchor: "embeddings.word_embeddings.weight",
                                                   keep: { $0.hasPrefix("pooler.") })
            return (encoder, passthrough)
        default:
            throw EmbedError("\(configPath): model_type '\(modelType)' is not supported (bert, roberta, xlm-roberta, norbert)")
        }
    }

    // MARK: Embedding

    /// The most tokens one inference pass takes: a larger batch is split into passes of whole
    /// sequences up to this many tokens, which bounds memory (one layer's buffers: about 11 KB per
    /// token for MiniLM, 36 KB for a base model) whatever the batch size.
    package static let maxTokensPerPass = 8192

    /// Sentence embeddings [B, C] of a packed batch, in evaluation mode (no dropout), through the
    /// encoder's inference pass (no activations kept).
    package func embed(_ batch: PackedBatch, maxTokensPerPass: Int = SentenceModel.maxTokensPerPass) -> [Float] {
        let C = dimension
        var out = [Float](repeating: 0, count: batch.count * C)
        out.withUnsafeMutableBufferPointer { o in
            var first = 0
            while first < batch.count {
                // Whole sequences from `first` while they fit the budget (at least one).
                var last = first + 1
                while last < batch.count, batch.offsets[last + 1] - batch.offsets[first] <= maxTokensPerPass { last += 1 }
                let part = first == 0 && last == batch.count ? batch : batch.slice(first..<last)
                let hidden = encoder.infer(part)
                poolingForward(o.baseAddress! + first * C, hidden, offsets: part.offsets, C: C, mode: pooling)
                first = last
            }
            if normalize {
                let norms = UnsafeMutablePointer<Float>.allocate(capacity: max(batch.count, 1))
                defer { norms.deallocate() }
                normalizeRowsForward(o.baseAddress!, norms: norms, o.baseAddress!, rows: batch.count, C: C)
            }
        }
        return out
    }
}
