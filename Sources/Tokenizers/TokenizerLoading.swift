import IO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Loading: `tokenizer.json`, or BERT's `vocab.txt` + `tokenizer_config.json`.
extension Tokenizer {
    /// Loads the tokenizer of a model folder: `tokenizer.json` when present (the `tokenizers`
    /// library's own format, taken as authoritative; its `truncation` and `padding` settings are
    /// ignored, as sentence-transformers overrides them), else `vocab.txt` with
    /// `tokenizer_config.json` / `special_tokens_map.json` read as transformers' `BertTokenizer`
    /// does. Without a config that means `do_lower_case = true` — transformers' default, which
    /// also strips accents — so a cased `vocab.txt` needs `{"do_lower_case": false}` beside it.
    ///
    /// A path to a `tokenizer.json` file itself is accepted too.
    package static func load(directory: String) throws -> Tokenizer {
        if directory.hasSuffix(".json"), FileSystem.isFile(directory) { return try load(tokenizerJSON: directory) }
        let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        if FileSystem.exists(dir + "/tokenizer.json") {
            let config = try FileSystem.readJSONIfPresent(dir + "/tokenizer_config.json")
            return try load(tokenizerJSON: dir + "/tokenizer.json",
                            padToken: config.flatMap { tokenName($0["pad_token"]) })
        }
        if FileSystem.exists(dir + "/vocab.txt") {
            var options = try BertOptions(configPath: dir + "/tokenizer_config.json")
            try options.applySpecialTokensMap(dir + "/special_tokens_map.json")
            return try bert(vocabPath: dir + "/vocab.txt", options: options)
        }
        if !FileSystem.exists(dir) { throw EmbedError("\(dir): no such model folder") }
        throw EmbedError("\(dir): no tokenizer.json or vocab.txt in the model folder")
    }

    /// Loads a `tokenizer.json` file.
    package static func load(tokenizerJSON path: String, padToken: String? = nil) throws -> Tokenizer {
        let bytes = try ByteReader(path: path).readAll()
        return try fromTokenizerJSON(bytes, source: path, padToken: padToken)
    }

    /// Builds a tokenizer from the bytes of a `tokenizer.json`; errors are prefixed with `source`.
    package static func fromTokenizerJSON(_ bytes: [UInt8], source: String, padToken: String? = nil) throws -> Tokenizer {
        let json: JSON
        do {
            json = try JSON.parse(bytes)
        } catch {
            throw EmbedError("\(source):\(error.line):\(error.column): \(error.message)")
        }
        guard json.object != nil else { throw EmbedError("\(source): not a JSON object") }
        if let v = json["version"]?.string, v != "1.0" {
            throw EmbedError("\(source): unknown tokenizer.json version '\(v)'")
        }
        let normalizers = try parseNormalizer(json["normalizer"] ?? .null, context: source)
        let preTokenizers = try parsePreTokenizer(json["pre_tokenizer"] ?? .null, context: source)
        guard let modelJSON = json["model"], modelJSON.object != nil else { throw EmbedError("\(source): no 'model'") }
        let model = try parseModel(modelJSON, context: source)
        var addedTokens: [AddedToken] = []
        for t in json["added_tokens"]?.array ?? [] {
            addedTokens.append(try AddedToken.parse(t, context: "\(source): added_tokens"))
        }
        let post = try PostProcessorStep.parse(json["post_processor"] ?? .null, context: source)
        let pad = padToken ?? json["padding"]?["pad_token"]?.string
        return try Tokenizer(normalizers: normalizers, preTokenizers: preTokenizers, model: model, addedTokens: addedTokens,
                         postProcessor: post, source: source, padToken: pad)
    }

    /// transformers' `BertTokenizer` settings (tokenizer_config.json).
    package struct BertOptions: Sendable {
        package var doLowerCase = true
        package var stripAccents: Bool?
        package var tokenizeChineseChars = true
        package var unkToken = "[UNK]"
        package var sepToken = "[SEP]"
        package var padToken = "[PAD]"
        package var clsToken = "[CLS]"
        package var maskToken = "[MASK]"
        package var extraTokens: [AddedToken] = []

        package init() {}

        /// Reads `path` when it exists (defaults otherwise).
        package init(configPath path: String) throws {
            guard let config = try FileSystem.readJSONIfPresent(path) else { return }
            if let v = config["do_lower_case"], !v.isNull {
                guard let b = v.bool else { throw EmbedError("\(path): do_lower_case must be true or false") }
                doLowerCase = b
            }
            if let v = config["strip_accents"], !v.isNull {
                guard let b = v.bool else { throw EmbedError("\(path): strip_accents must be true, false or null") }
                stripAccents = b
            }
            if let v = config["tokenize_chinese_chars"], !v.isNull {
                guard let b = v.bool else { throw EmbedError("\(path): tokenize_chinese_chars must be true or false") }
                tokenizeChineseChars = b
            }
            try readSpecialTokens(config, path: path)
            // transformers (since 4.34) lists every added token in the config.
            if let decoder = config["added_tokens_decoder"]?.object {
                for (_, value) in decoder {
                    extraTokens.append(try AddedToken.parse(value, context: "\(path): added_tokens_decoder"))
                }
            }
            for v in config["additional_special_tokens"]?.array ?? [] {
                extraTokens.append(try AddedToken.parse(v, context: "\(path): additional_special_tokens"))
            }
        }

        mutating func applySpecialTokensMap(_ path: String) throws {
            guard let map = try FileSystem.readJSONIfPresent(path) else { return }
            try readSpecialTokens(map, path: path)
        }

        private mutating func readSpecialTokens(_ json: JSON, path: String) throws {
            func read(_ key: String, _ target: inout String) throws {
                guard let v = json[key], !v.isNull else { return }
                guard let name = tokenName(v) else { throw EmbedError("\(path): '\(key)' must be a string or an added token") }
                target = name
            }
            try read("unk_token", &unkToken)
            try read("sep_token", &sepToken)
            try read("pad_token", &padToken)
            try read("cls_token", &clsToken)
            try read("mask_token", &maskToken)
        }
    }

    /// The BERT tokenizer transformers builds from a `vocab.txt` (transformers 5's BertTokenizer):
    /// BertNormalizer, BertPreTokenizer, WordPiece with "##" and 100 characters per word at most,
    /// `[CLS] $A [SEP]`, and the special tokens added (matched in the raw text).
    ///
    /// The vocabulary is read as the `tokenizers` library reads a vocab file: split at each
    /// newline byte (a trailing CR dropped), trailing whitespace (Rust's definition) trimmed, the
    /// line number is the id, and a repeated token keeps its last line.
    package static func bert(vocabPath: String, options: BertOptions) throws -> Tokenizer {
        let bytes = try ByteReader(path: vocabPath, detectCompression: false).readAll()
        var entries = VocabularyEntries()
        var lineStart = 0
        var lineNumber = 0
        let u = UnicodeData.shared
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
            var contentEnd = lineEnd
            if contentEnd > lineStart, bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            guard let line = String(validating: bytes[lineStart..<contentEnd], as: UTF8.self) else {
                throw EmbedError("\(vocabPath):\(lineNumber + 1): invalid UTF-8")
            }
            var scalars = Array(line.unicodeScalars.map(\.value))
            while let last = scalars.last, u.has(last, UnicodeData.Flag.whitespace) { scalars.removeLast() }
            entries.append(scalars, Int32(lineNumber))
            lineNumber += 1
            lineStart = lineEnd + 1
        }
        guard lineNumber > 0 else { throw EmbedError("\(vocabPath): the vocabulary is empty") }
        let model = try WordPieceModel(entries: entries, unkToken: options.unkToken, continuingPrefix: "##",
                                       maxInputChars: 100)
        let normalizer = NormalizerStep.bert(cleanText: true, chineseChars: options.tokenizeChineseChars,
                                             stripAccents: options.stripAccents ?? options.doLowerCase,
                                             lowercase: options.doLowerCase)
        var specials = [options.unkToken, options.sepToken, options.padToken, options.clsToken, options.maskToken]
            .map { AddedToken(content: $0, special: true) }
        specials += options.extraTokens
        let wordPiece = TokenizerModel.wordPiece(model)
        // [CLS] / [SEP] ids as transformers resolves them (2 and 3 when missing altogether).
        let clsId = wordPiece.tokenToId(Array(options.clsToken.unicodeScalars.map(\.value))) ?? 2
        let sepId = wordPiece.tokenToId(Array(options.sepToken.unicodeScalars.map(\.value))) ?? 3
        let tokenizer = try Tokenizer(normalizers: [normalizer], preTokenizers: [.bert], model: wordPiece,
                                  addedTokens: specials,
                                  postProcessor: .template([.special([clsId]), .sequence, .special([sepId])]),
                                  source: vocabPath, padToken: options.padToken)
        return tokenizer
    }
}

// MARK: - tokenizer.json components

extension Tokenizer {
    static func parseNormalizer(_ json: JSON, context: String) throws -> [NormalizerStep] {
        if json.isNull { return [] }
        guard let type = json["type"]?.string else { throw EmbedError("\(context): normalizer has no type") }
        let where_ = "\(context): normalizer \(type)"
        switch type {
        case "Sequence":
            guard let list = json["normalizers"]?.array else { throw EmbedError("\(where_): no 'normalizers'") }
            return try list.flatMap { try parseNormalizer($0, context: context) }
        case "BertNormalizer":
            let lowercase = try bool(json, "lowercase", default: true, where_)
            let strip = json["strip_accents"].flatMap { $0.isNull ? nil : $0.bool }
            return [.bert(cleanText: try bool(json, "clean_text", default: true, where_),
                          chineseChars: try bool(json, "handle_chinese_chars", default: true, where_),
                          stripAccents: strip ?? lowercase, lowercase: lowercase)]
        case "Lowercase": return [.lowercase]
        case "StripAccents": return [.stripAccents]
        case "NFC": return [.unicode(.nfc)]
        case "NFD": return [.unicode(.nfd)]
        case "NFKC": return [.unicode(.nfkc)]
        case "NFKD": return [.unicode(.nfkd)]
        case "Nmt": return [.nmt]
        case "ByteLevel": return [.byteLevel]
        case "Precompiled":
            guard let map = json["precompiled_charsmap"], !map.isNull else { return [] }
            guard let text = map.string else { throw EmbedError("\(where_): precompiled_charsmap must be a string") }
            do {
                return [.precompiled(try PrecompiledCharsmap(base64: text))]
            } catch let e as EmbedError {
                throw e.at(context)
            }
        case "Replace":
            let regex = try pattern(json["pattern"], where_)
            guard let content = json["content"]?.string else { throw EmbedError("\(where_): no 'content'") }
            return [.replace(regex, content: Array(content.unicodeScalars.map(\.value)))]
        case "Strip":
            return [.strip(left: try bool(json, "strip_left", default: true, where_),
                           right: try bool(json, "strip_right", default: true, where_))]
        case "Prepend":
            guard let text = json["prepend"]?.string else { throw EmbedError("\(where_): no 'prepend'") }
            return [.prepend(Array(text.unicodeScalars.map(\.value)))]
        default:
            throw EmbedError("\(context): unsupported normalizer type '\(type)'")
        }
    }

    static func parsePreTokenizer(_ json: JSON, context: String) throws -> [PreTokenizerStep] {
        if json.isNull { return [] }
        guard let type = json["type"]?.string else { throw EmbedError("\(context): pre_tokenizer has no type") }
        let where_ = "\(context): pre_tokenizer \(type)"
        switch type {
        case "Sequence":
            guard let list = json["pretokenizers"]?.array else { throw EmbedError("\(where_): no 'pretokenizers'") }
            return try list.flatMap { try parsePreTokenizer($0, context: context) }
        case "BertPreTokenizer": return [.bert]
        case "Whitespace": return [.whitespace]
        case "WhitespaceSplit": return [.whitespaceSplit]
        case "Punctuation":
            return [.punctuation(try behavior(json, default: .isolated, where_))]
        case "Digits":
            return [.digits(individual: try bool(json, "individual_digits", default: false, where_))]
        case "CharDelimiterSplit":
            guard let d = json["delimiter"]?.string, d.unicodeScalars.count == 1 else {
                throw EmbedError("\(where_): 'delimiter' must be one character")
            }
            return [.charDelimiter(d.unicodeScalars.first!.value)]
        case "Split":
            let regex = try pattern(json["pattern"], where_)
            guard json["behavior"] != nil else { throw EmbedError("\(where_): no 'behavior'") }
            return [.split(regex, try behavior(json, default: .removed, where_),
                           invert: try bool(json, "invert", default: false, where_))]
        case "Metaspace":
            guard let r = json["replacement"]?.string, r.unicodeScalars.count == 1 else {
                throw EmbedError("\(where_): 'replacement' must be one character")
            }
            var scheme = PrependScheme.always
            if let s = json["prepend_scheme"]?.string {
                guard let v = PrependScheme(rawValue: s) else { throw EmbedError("\(where_): unknown prepend_scheme '\(s)'") }
                scheme = v
            }
            // Legacy field: tokenizers rejects add_prefix_space=false unless the scheme is "never"
            // (and a missing scheme means "always").
            if json["add_prefix_space"]?.bool == false, scheme != .never {
                throw EmbedError("\(where_): add_prefix_space does not match declared prepend_scheme")
            }
            return [.metaspace(replacement: r.unicodeScalars.first!.value, scheme: scheme,
                               split: try bool(json, "split", default: true, where_))]
        case "ByteLevel":
            return [.byteLevel(addPrefixSpace: try bool(json, "add_prefix_space", default: true, where_),
                               useRegex: try bool(json, "use_regex", default: true, where_))]
        default:
            throw EmbedError("\(context): unsupported pre_tokenizer type '\(type)'")
        }
    }

    static func parseModel(_ json: JSON, context: String) throws -> TokenizerModel {
        var type = json["type"]?.string
        if type == nil {
            // Old files have no type: tell them apart by their fields, as tokenizers does.
            if json["merges"] != nil {
                type = "BPE"
            } else if json["vocab"]?.array != nil {
                type = "Unigram"
            } else if json["continuing_subword_prefix"] != nil || json["max_input_chars_per_word"] != nil {
                type = "WordPiece"
            } else {
                type = "WordLevel"
            }
        }
        let where_ = "\(context): model \(type!)"
        switch type! {
        case "WordPiece":
            let entries = try mapVocabulary(json["vocab"], where_)
            let unk = json["unk_token"]?.string ?? "[UNK]"
            let prefix = json["continuing_subword_prefix"]?.string ?? "##"
            let maxChars = json["max_input_chars_per_word"]?.int ?? 100
            do {
                return .wordPiece(try WordPieceModel(entries: entries, unkToken: unk, continuingPrefix: prefix,
                                                     maxInputChars: maxChars))
            } catch let e as EmbedError {
                throw e.at(context)
            }
        case "WordLevel":
            let entries = try mapVocabulary(json["vocab"], where_)
            return .wordLevel(WordLevelModel(entries: entries, unkToken: json["unk_token"]?.string ?? "<unk>"))
        case "Unigram":
            guard let list = json["vocab"]?.array else { throw EmbedError("\(where_): 'vocab' must be a list of [token, score]") }
            var tokens: [[UInt32]] = []
            var scores: [Double] = []
            tokens.reserveCapacity(list.count)
            scores.reserveCapacity(list.count)
            for (k, item) in list.enumerated() {
                guard let pair = item.array, pair.count == 2, let t = pair[0].string, let score = pair[1].double else {
                    throw EmbedError("\(where_): vocab entry \(k) is not [token, score]")
                }
                tokens.append(Array(t.unicodeScalars.map(\.value)))
                scores.append(score)
            }
            var unkId: Int?
            if let u = json["unk_id"], !u.isNull {
                guard let v = u.int else { throw EmbedError("\(where_): unk_id must be an integer") }
                unkId = v
            }
            do {
                return .unigram(try UnigramModel(tokens: tokens, scores: scores, unkId: unkId,
                                                 byteFallback: json["byte_fallback"]?.bool ?? false))
            } catch let e as EmbedError {
                throw e.at(context)
            }
        case "BPE":
            let entries = try mapVocabulary(json["vocab"], where_)
            if let d = json["dropout"]?.double, d > 0 {
                throw EmbedError("\(where_): dropout \(d) makes tokenization random; it is not supported")
            }
            guard let list = json["merges"]?.array else { throw EmbedError("\(where_): no 'merges' list") }
            var merges: [([UInt32], [UInt32])] = []
            for (k, m) in list.enumerated() {
                if let s = m.string {
                    if k == 0, s.hasPrefix("#version") { continue }
                    let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                    guard parts.count == 2 else { throw EmbedError("\(where_): merge \(k + 1) is not two tokens") }
                    merges.append((Array(parts[0].unicodeScalars.map(\.value)), Array(parts[1].unicodeScalars.map(\.value))))
                } else if let pair = m.array, pair.count == 2, let a = pair[0].string, let b = pair[1].string {
                    merges.append((Array(a.unicodeScalars.map(\.value)), Array(b.unicodeScalars.map(\.value))))
                } else {
                    throw EmbedError("\(where_): merge \(k + 1) is neither \"a b\" nor [a, b]")
                }
            }
            func optionalString(_ key: String) -> String? { json[key].flatMap { $0.isNull ? nil : $0.string } }
            do {
                return .bpe(try BPEModel(entries: entries, merges: merges, unkToken: optionalString("unk_token"),
                                         continuingPrefix: optionalString("continuing_subword_prefix"),
                                         endOfWordSuffix: optionalString("end_of_word_suffix"),
                                         fuseUnk: json["fuse_unk"]?.bool ?? false,
                                         byteFallback: json["byte_fallback"]?.bool ?? false,
                                         ignoreMerges: json["ignore_merges"]?.bool ?? false))
            } catch let e as EmbedError {
                throw e.at(context)
            }
        default:
            throw EmbedError("\(context): unsupported model type '\(type!)'")
        }
    }

    /// A `{"token": id, ...}` vocabulary, keys compared as bytes.
    static func mapVocabulary(_ json: JSON?, _ where_: String) throws -> VocabularyEntries {
        guard let object = json?.object else { throw EmbedError("\(where_): 'vocab' must be an object of token ids") }
        var entries = VocabularyEntries()
        entries.tokens.reserveCapacity(object.count)
        for (token, value) in object {
            guard let id = value.int, id >= 0, id < Int(Int32.max) else {
                throw EmbedError("\(where_): the id of '\(token)' is not a non-negative integer")
            }
            entries.append(Array(token.unicodeScalars.map(\.value)), Int32(id))
        }
        return entries
    }

    static func bool(_ json: JSON, _ key: String, default value: Bool, _ where_: String) throws -> Bool {
        guard let v = json[key], !v.isNull else { return value }
        guard let b = v.bool else { throw EmbedError("\(where_): '\(key)' must be true or false") }
        return b
    }

    static func behavior(_ json: JSON, default value: SplitBehavior, _ where_: String) throws -> SplitBehavior {
        guard let v = json["behavior"], !v.isNull else { return value }
        guard let s = v.string, let b = SplitBehavior(rawValue: s) else {
            throw EmbedError("\(where_): unknown behavior \(v.string ?? "?")")
        }
        return b
    }

    /// A `{"String": ...}` or `{"Regex": ...}` pattern.
    static func pattern(_ json: JSON?, _ where_: String) throws -> TokenizerRegex {
        if let s = json?["String"]?.string { return TokenizerRegex(literal: s) }
        if let r = json?["Regex"]?.string {
            do {
                return try TokenizerRegex(pattern: r)
            } catch let e as EmbedError {
                throw e.at(where_)
            }
        }
        throw EmbedError("\(where_): 'pattern' must be {\"String\": ...} or {\"Regex\": ...}")
    }
}
/// A special token given as a string or as an added-token object.
func tokenName(_ json: JSON?) -> String? {
    guard let json else { return nil }
    if let s = json.string { return s }
    return json["content"]?.string
}
