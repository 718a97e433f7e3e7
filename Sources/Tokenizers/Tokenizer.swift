import IO

/// A Hugging Face tokenizer that produces exactly the ids of the Python `tokenizers` library
/// (and therefore of transformers / sentence-transformers) for every input.
///
/// It loads `tokenizer.json` (normalizers, pre-tokenizers, WordPiece / Unigram / BPE / WordLevel,
/// added tokens, post-processor) or, for BERT models shipped as `vocab.txt`, builds the tokenizer
/// transformers would (see `load(directory:)`). Immutable after loading; `encode` may run on many
/// threads at once (each call has its own working memory).
///
/// Text is processed as Unicode scalars with tables probed from the Rust library, never with
/// Swift `String` comparison (which equates "é" and "e" + U+0301) or Swift's Unicode properties
/// (a different Unicode version).
///
/// Supported: normalizers BertNormalizer, Precompiled, NFC/NFD/NFKC/NFKD, Lowercase,
/// StripAccents, Replace, Strip, Prepend, ByteLevel, Nmt, Sequence; pre-tokenizers
/// BertPreTokenizer, ByteLevel, Whitespace, WhitespaceSplit, Metaspace, Punctuation, Digits,
/// CharDelimiterSplit, Split, Sequence; models WordPiece, Unigram, BPE, WordLevel; post-processors
/// TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence. Anything else
/// (UnicodeScripts, BPE dropout, regex back-references…) is a load error naming it.
///
/// Known, deliberate differences from `tokenizers`: a `maxLength` below the number of special
/// tokens yields the special tokens alone (tokenizers' unsigned subtraction wraps and truncates
/// nothing); offsets are not computed; under `(?i)` a class of non-ASCII uppercase letters does
/// not match their lowercase forms (no uppercase table).
package final class Tokenizer: @unchecked Sendable {
    let normalizers: [NormalizerStep]
    let preTokenizers: [PreTokenizerStep]
    let model: TokenizerModel
    let added: AddedVocabulary
    let postProcessor: PostProcessorStep?
    /// Where it was loaded from (for messages and the tokens file's metadata).
    package let source: String
    /// Working memory reused across `encode` calls (one per concurrent caller).
    private let scratchPool = ScratchPool()
    package let padTokenId: Int32
    /// One more than the largest token id (model vocabulary and added tokens): the embedding
    /// matrix needs at least this many rows.
    package let vocabSize: Int

    init(normalizers: [NormalizerStep], preTokenizers: [PreTokenizerStep], model: TokenizerModel,
         addedTokens: [AddedToken], postProcessor: PostProcessorStep?, source: String, padToken: String?) throws
    {
        self.normalizers = normalizers
        self.preTokenizers = preTokenizers
        self.model = model
        self.postProcessor = postProcessor
        self.source = source
        let added = AddedVocabulary()
        try added.add(addedTokens, model: model) { content in
            try Tokenizer.runNormalizers(normalizers, on: content)
        }
        self.added = added
        var limit = model.idLimit
        for e in added.entries { limit = max(limit, Int(e.id) + 1) }
        vocabSize = limit
        var pad: Int32 = 0
        for name in [padToken, "[PAD]", "<pad>"].compactMap({ $0 }) {
            let scalars = Array(name.unicodeScalars.map(\.value))
            if let id = added.id(of: scalars) ?? model.tokenToId(scalars) {
                pad = id
                break
            }
        }
        padTokenId = pad
    }

    /// The number of special tokens the post-processor adds to one text.
    package var specialTokenCount: Int { postProcessor?.addedCount ?? 0 }

    /// The id of a token (added tokens first, then the model's vocabulary), compared as scalars.
    package func tokenId(_ token: String) -> Int32? {
        let scalars = Array(token.unicodeScalars.map(\.value))
        return added.id(of: scalars) ?? model.tokenToId(scalars)
    }

    // MARK: - Encoding

    /// Ids with special tokens for `text`, stripped first as sentence-transformers does (Python's
    /// `str.strip()`), truncated to `maxLength` ids counting the special tokens (nil: no limit).
    package func encode(_ text: String, maxLength: Int?) throws -> [Int32] {
        try encode(text, maxLength: maxLength, stripText: true, addSpecialTokens: true)
    }

    /// `encode` with the stripping and the special tokens optional (the `tokenizers` library's
    /// own `encode` neither strips nor, with `add_special_tokens=False`, adds them).
    package func encode(_ text: String, maxLength: Int?, stripText: Bool, addSpecialTokens: Bool) throws -> [Int32] {
        let s = scratchPool.take()
        defer { scratchPool.give(s) }
        loadInput(text, into: s)
        return try encodeInput(s, maxLength: maxLength, stripText: stripText, addSpecialTokens: addSpecialTokens)
    }

    /// `encode` truncating from the start instead of the end: the last ids of the text are kept
    /// (`maxLength` counting the special tokens), as `tokenizers` does with truncation_side "left".
    package func encodeKeepingEnd(_ text: String, maxLength: Int) throws -> [Int32] {
        let content = try encode(text, maxLength: nil, stripText: true, addSpecialTokens: false)
        let kept = Array(content.suffix(max(0, maxLength - specialTokenCount)))
        return postProcessor?.apply(kept) ?? kept
    }

    /// `encode` for many texts on `threads` threads (each takes a contiguous share); the result
    /// is in input order and does not depend on the thread count.
    package func encodeBatch(_ texts: [String], maxLength: Int?, threads: Int = 1) throws -> [[Int32]] {
        let n = texts.count
        let workers = max(1, min(threads, n / 32))
        let results = UnsafeMutableBufferPointer<[Int32]>.allocate(capacity: n)
        results.initialize(repeating: [])
        defer { results.deinitialize().deallocate() }
        let box = UncheckedBox(results)
        // The first error of each thread's share (by text), reported for the earliest text.
        let errors = UncheckedBox(UnsafeMutableBufferPointer<(Int, Error)?>.allocate(capacity: workers))
        errors.value.initialize(repeating: nil)
        defer { errors.value.deallocate() }
        runOnThreads(workers) { k in
            let s = EncodeScratch()
            for i in (n * k / workers)..<(n * (k + 1) / workers) {
                do {
                    box.value[i] = try self.encode(texts[i], maxLength: maxLength, scratch: s)
                } catch {
                    errors.value[k] = (i, error)
                    return
                }
            }
        }
        if let (i, error) = errors.value.compactMap({ $0 }).first {
            throw EmbedError("text \(i + 1): \(error)")
        }
        return Array(results)
    }

    /// Encodes with caller-owned working memory (one per thread), for batch work.
    func encode(_ text: String, maxLength: Int?, scratch s: EncodeScratch) throws -> [Int32] {
        loadInput(text, into: s)
        return try encodeInput(s, maxLength: maxLength, stripText: true, addSpecialTokens: true)
    }

    /// Decodes the text's UTF-8 (always valid in a Swift String) into scalars.
    func loadInput(_ text: String, into s: EncodeScratch) {
        s.input.removeAll()
        var text = text
        text.withUTF8 { utf8 in
            s.input.reserve(utf8.count)
            var i = 0
            let n = utf8.count
            while i < n {
                let b = UInt32(utf8[i])
                if b < 0x80 {
                    s.input.append(b)
                    i += 1
                } else if b < 0xE0 {
                    s.input.append((b & 0x1F) << 6 | UInt32(utf8[i + 1]) & 0x3F)
                    i += 2
                } else if b < 0xF0 {
                    s.input.append((b & 0x0F) << 12 | (UInt32(utf8[i + 1]) & 0x3F) << 6 | UInt32(utf8[i + 2]) & 0x3F)
                    i += 3
                } else {
                    s.input.append((b & 0x07) << 18 | (UInt32(utf8[i + 1]) & 0x3F) << 12
                        | (UInt32(utf8[i + 2]) & 0x3F) << 6 | UInt32(utf8[i + 3]) & 0x3F)
                    i += 4
                }
            }
        }
    }

    func encodeInput(_ s: EncodeScratch, maxLength: Int?, stripText: Bool, addSpecialTokens: Bool) throws -> [Int32] {
        let u = UnicodeData.shared
        var start = 0
        var end = s.input.count
        if stripText {
            while start < end, u.has(s.input[start], UnicodeData.Flag.pythonSpace) { start += 1 }
            while end > start, u.has(s.input[end - 1], UnicodeData.Flag.pythonSpace) { end -= 1 }
        }
        s.arena.removeAll()
        s.pieces.removeAll()
        s.ids.removeAll()

        // Added tokens matched in the raw text, then normalization of the text between them,
        // then added tokens matched in the normalized text.
        let input = s.input.buffer
        try added.split(input, start: start, end: end, normalized: false) { segStart, segEnd, id in
            if id >= 0 {
                s.pieces.append(Piece(start: 0, end: 0, id: id, atTextStart: false))
                return
            }
            let regionStart = s.arena.count
            let leadingRemoved = try normalize(UnsafeBufferPointer(rebasing: input[segStart..<segEnd]), s)
            let regionEnd = s.arena.count
            let atStart = segStart == start && !leadingRemoved
            added.split(s.arena.buffer, start: regionStart, end: regionEnd, normalized: true) { a, b, tid in
                guard b > a else { return }
                s.pieces.append(Piece(start: Int32(a), end: Int32(b), id: tid, atTextStart: atStart && a == regionStart))
            }
        }
        for step in preTokenizers { try step.apply(s) }

        let reserved = addSpecialTokens ? (postProcessor?.addedCount ?? 0) : 0
        let limit = maxLength.map { max(0, $0 - reserved) } ?? Int.max
        for k in 0..<s.pieces.count {
            if s.ids.count >= limit { break }
            let p = s.pieces[k]
            if p.id >= 0 {
                s.ids.append(p.id)
            } else {
                model.tokenize(s.arena.slice(Int(p.start), Int(p.end)), s)
            }
        }
        let content = Array(UnsafeBufferPointer(start: s.ids.base, count: min(s.ids.count, limit)))
        guard addSpecialTokens, let postProcessor else { return content }
        return postProcessor.apply(content)
    }

    /// Runs the normalizers over `src`, appending the result to the arena. Returns whether the
    /// text's first scalar was deleted.
    private func normalize(_ src: UnsafeBufferPointer<UInt32>, _ s: EncodeScratch) throws -> Bool {
        switch normalizers.count {
        case 0:
            s.arena.append(contentsOf: src.baseAddress!, count: src.count)
            return false
        case 1:
            return try normalizers[0].apply(src, into: &s.arena, scratch: &s.normTmp, matches: &s.matches)
        default:
            var removed = false
            var current = src
            for (k, step) in normalizers.enumerated() {
                let last = k == normalizers.count - 1
                if last {
                    removed = try step.apply(current, into: &s.arena, scratch: &s.normTmp, matches: &s.matches) || removed
                } else if k % 2 == 0 {
                    s.normA.removeAll()
                    removed = try step.apply(current, into: &s.normA, scratch: &s.normTmp, matches: &s.matches) || removed
                    current = s.normA.buffer
                } else {
                    s.normB.removeAll()
                    removed = try step.apply(current, into: &s.normB, scratch: &s.normTmp, matches: &s.matches) || removed
                    current = s.normB.buffer
                }
            }
            return removed
        }
    }

    static func runNormalizers(_ steps: [NormalizerStep], on content: [UInt32]) throws -> [UInt32] {
        var current = content
        var out = ScratchBuffer<UInt32>(capacity: 64)
        var tmp = ScratchBuffer<UInt32>(capacity: 64)
        var matches = ScratchBuffer<RegexMatch>(capacity: 8)
        defer { out.free(); tmp.free(); matches.free() }
        for step in steps {
            out.removeAll()
            _ = try current.withUnsafeBufferPointer { try step.apply($0, into: &out, scratch: &tmp, matches: &matches) }
            current = Array(out.buffer)
        }
        return current
    }

    // MARK: - Inspection (used by the tests against `normalize_str` / `pre_tokenize_str`)

    /// The normalizers alone applied to `text`.
    package func normalize(_ text: String) throws -> String {
        scalarString(try Tokenizer.runNormalizers(normalizers, on: Array(text.unicodeScalars.map(\.value))))
    }

    /// The pre-tokenizers alone applied to `text` (as one piece starting the text).
    package func preTokenize(_ text: String) throws -> [String] {
        let s = EncodeScratch()
        loadInput(text, into: s)
        s.arena.removeAll()
        s.arena.append(contentsOf: s.input.base, count: s.input.count)
        s.pieces.removeAll()
        if s.input.count > 0 {
            s.pieces.append(Piece(start: 0, end: Int32(s.input.count), id: -1, atTextStart: true))
        }
        for step in preTokenizers { try step.apply(s) }
        return (0..<s.pieces.count).map { k in
            let p = s.pieces[k]
            return scalarString(Array(s.arena.slice(Int(p.start), Int(p.end))))
        }
    }
}

/// Idle `EncodeScratch`es: a call takes one (or makes one) and gives it back, so repeated
/// `encode` calls do not allocate their working memory each time.
final class ScratchPool: @unchecked Sendable {
    private let lock = Mutex()
    private var idle: [EncodeScratch] = []

    func take() -> EncodeScratch {
        lock.withLock { idle.popLast() } ?? EncodeScratch()
    }

    /// Keeps `s` for reuse, unless a huge text has grown it (then it is freed).
    func give(_ s: EncodeScratch) {
        guard s.arena.capacity <= 1 << 20, s.input.capacity <= 1 << 20 else { return }
        lock.withLock { if idle.count < 16 { idle.append(s) } }
    }
}

/// Hands a buffer whose disjoint parts several threads write to across the Sendable boundary.
final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

func scalarString(_ scalars: [UInt32]) -> String {
    var view = String.UnicodeScalarView()
    for c in scalars { view.append(Unicode.Scalar(c) ?? "\u{FFFD}") }
    return String(view)
}
