import IO

/// The tokenization models of `tokenizer.json`: each turns one pre-tokenized piece into ids.
enum TokenizerModel: Sendable {
    case wordPiece(WordPieceModel)
    case unigram(UnigramModel)
    case bpe(BPEModel)
    case wordLevel(WordLevelModel)

    func tokenize(_ piece: UnsafeBufferPointer<UInt32>, _ s: EncodeScratch) {
        switch self {
        case .wordPiece(let m): m.tokenize(piece, into: &s.ids)
        case .unigram(let m): m.tokenize(piece, s)
        case .bpe(let m): m.tokenize(piece, s)
        case .wordLevel(let m): m.tokenize(piece, into: &s.ids)
        }
    }

    /// The id of a token string in the model's vocabulary.
    func tokenToId(_ token: [UInt32]) -> Int32? {
        switch self {
        case .wordPiece(let m): m.vocab.lookup(token)
        case .unigram(let m): m.vocab.lookup(token)
        case .bpe(let m): m.vocab.lookup(token)
        case .wordLevel(let m): m.vocab.lookup(token)
        }
    }

    /// `Model::get_vocab_size` (the number of distinct tokens for map vocabularies), which decides
    /// the ids of added tokens missing from the vocabulary.
    var rustVocabSize: Int {
        switch self {
        case .wordPiece(let m): m.distinctTokens
        case .unigram(let m): m.scores.count
        case .bpe(let m): m.distinctTokens
        case .wordLevel(let m): m.distinctTokens
        }
    }

    /// One more than the largest id in the vocabulary.
    var idLimit: Int {
        switch self {
        case .wordPiece(let m): m.idLimit
        case .unigram(let m): m.scores.count
        case .bpe(let m): m.idLimit
        case .wordLevel(let m): m.idLimit
        }
    }
}

/// A vocabulary of (token, id) pairs in file order, with the statistics the models need.
struct VocabularyEntries {
    var tokens: [[UInt32]] = []
    var ids: [Int32] = []

    mutating func append(_ token: [UInt32], _ id: Int32) {
        tokens.append(token)
        ids.append(id)
    }

    func trie() -> (ScalarTrie, distinct: Int, idLimit: Int) {
        let trie = ScalarTrie(expectedEdges: tokens.count)
        for (t, id) in zip(tokens, ids) { trie.insert(t, id: id) }
        return (trie, trie.tokenCount, Int(ids.max() ?? -1) + 1)
    }
}

/// WordPiece: greedy longest-match-first, continuation pieces spelled with a prefix ("##", or
/// nothing in LTG's tokenizers); a word with an unmatched part, or longer than
/// `max_input_chars_per_word` scalars, becomes the single unknown token.
final class WordPieceModel: @unchecked Sendable {
    let vocab: ScalarTrie
    let distinctTokens: Int
    let idLimit: Int
    let unkId: Int32
    let maxInputChars: Int
    /// The trie node after the continuing-subword prefix (nil: no token carries the prefix).
    private let continuationNode: UInt32?

    init(entries: VocabularyEntries, unkToken: String, continuingPrefix: String, maxInputChars: Int) throws {
        (vocab, distinctTokens, idLimit) = entries.trie()
        guard let unk = vocab.lookup(unkToken.unicodeScalars.map(\.value)) else {
            throw EmbedError("WordPiece: the unknown token '\(unkToken)' is not in the vocabulary")
        }
        unkId = unk
        self.maxInputChars = maxInputChars
        continuationNode = vocab.walk(continuingPrefix.unicodeScalars.map(\.value))
    }

    func tokenize(_ word: UnsafeBufferPointer<UInt32>, into ids: inout ScratchBuffer<Int32>) {
        let n = word.count
        if n > maxInputChars {
            ids.append(unkId)
            return
        }
        let mark = ids.count
        var start = 0
        while start < n {
            var node: UInt32
            if start == 0 {
                node = 0
            } else {
                guard let c = continuationNode else { break }
                node = c
            }
            var best: Int32 = -1
            var bestEnd = start
            var j = start
            while j < n {
                let (next, v) = vocab.step(node, word[j])
                if next == 0 { break }
                node = next
                j += 1
                if v >= 0 {
                    best = v
                    bestEnd = j
                }
            }
            if best < 0 { break }
            ids.append(best)
            start = bestEnd
        }
        if start < n {
            ids.count = mark
            ids.append(unkId)
        }
    }
}

/// WordLevel: the whole piece is a token or the unknown token.
final class WordLevelModel: @unchecked Sendable {
    let vocab: ScalarTrie
    let distinctTokens: Int
    let idLimit: Int
    let unkId: Int32?

    init(entries: VocabularyEntries, unkToken: String) {
        (vocab, distinctTokens, idLimit) = entries.trie()
        unkId = vocab.lookup(unkToken.unicodeScalars.map(\.value))
    }

    func tokenize(_ piece: UnsafeBufferPointer<UInt32>, into ids: inout ScratchBuffer<Int32>) {
        if let id = vocab.lookup(piece) {
            ids.append(id)
        } else if let unkId {
            ids.append(unkId)
        }
    }
}

/// Unigram (SentencePiece): the segmentation with the best total log-probability (Viterbi over
/// every vocabulary token that matches at each position). Ties keep the first candidate found,
/// scanning start positions left to right and, at each, tokens from shortest to longest — the
/// order `tokenizers` uses, which decides ties. Characters no token covers become the unknown
/// token, scored 10 below the lowest score; adjacent unknowns are fused into one.
final class UnigramModel: @unchecked Sendable {
    let vocab: ScalarTrie
    let scores: [Double]
    private let scorePtr: UnsafeMutablePointer<Double>
    let unkId: Int32?
    let unkScore: Double
    let byteFallback: Bool
    /// Ids of `<0x00>`…`<0xFF>` when byte fallback is on.
    private let byteIds: [Int32?]

    init(tokens: [[UInt32]], scores: [Double], unkId: Int?, byteFallback: Bool) throws {
        guard !tokens.isEmpty || unkId == nil else { throw EmbedError("Unigram: the vocabulary is empty") }
        if let unkId, unkId < 0 || unkId >= tokens.count {
            throw EmbedError("Unigram: unk_id \(unkId) is outside the vocabulary of \(tokens.count)")
        }
        let trie = ScalarTrie(expectedEdges: tokens.count * 2)
        for (k, t) in tokens.enumerated() { trie.insert(t, id: Int32(k)) }
        vocab = trie
        self.scores = scores
        scorePtr = .allocate(capacity: max(scores.count, 1))
        scorePtr.initialize(from: scores, count: scores.count)
        self.unkId = unkId.map { Int32($0) }
        unkScore = (scores.min() ?? 0) - 10
        self.byteFallback = byteFallback
        byteIds = (0..<256).map { b in
            let name = "<0x" + String(b, radix: 16, uppercase: true).leftPadded(to: 2) + ">"
            return trie.lookup(name.unicodeScalars.map(\.value))
        }
    }

    deinit { scorePtr.deallocate() }

    func tokenize(_ text: UnsafeBufferPointer<UInt32>, _ s: EncodeScratch) {
        let n = text.count
        guard n > 0 else { return }
        // best[i]: score of the best path covering text[0..<i], its last token's start and id.
        s.scores.removeAll()
        s.starts.removeAll()
        s.modelIds.removeAll()
        s.scores.reserve(n + 1)
        s.starts.reserve(n + 1)
        s.modelIds.reserve(n + 1)
        for _ in 0...n {
            s.scores.append(0)
            s.starts.append(-1)
            s.modelIds.append(-1)
        }
        let score = s.scores.base, starts = s.starts.base, ids = s.modelIds.base
        for start in 0..<n {
            let base = score[start]
            var node: UInt32 = 0
            var hasSingle = false
            var j = start
            while j < n {
                let (next, id) = vocab.step(node, text[j])
                if next == 0 { break }
                node = next
                j += 1
                guard id >= 0 else { continue }
                let candidate = scorePtr[Int(id)] + base
                if starts[j] < 0 || candidate > score[j] {
                    score[j] = candidate
                    starts[j] = Int32(start)
                    ids[j] = id
                }
                if j == start + 1 { hasSingle = true }
            }
            if !hasSingle {
                let candidate = unkScore + base
                let e = start + 1
                if starts[e] < 0 || candidate > score[e] {
                    score[e] = candidate
                    starts[e] = Int32(start)
                    ids[e] = unkId ?? -1
                }
            }
        }
        // Walk back, collecting the best path's tokens from the end; then emit them in order,
        // fusing adjacent unknowns.
        s.path.removeAll()
        var end = n
        while end > 0 {
            let st = Int(starts[end])
            s.path.append(Piece(start: Int32(st), end: Int32(end), id: ids[end], atTextStart: false))
            end = st
        }
        var k = s.path.count - 1
        while k >= 0 {
            let p = s.path[k]
            let st = Int(p.start), id = p.id
            if let unkId, id == unkId {
                var fusedEnd = Int(p.end)
                while k - 1 >= 0, s.path[k - 1].id == unkId {
                    k -= 1
                    fusedEnd = Int(s.path[k].end)
                }
                emitPiece(UnsafeBufferPointer(rebasing: text[st..<fusedEnd]), s)
            } else if id < 0 {
                // No unknown token: tokenizers fails ("Encountered an unknown token but `unk_id`
                // is missing"); nothing sensible to emit.
            } else {
                s.ids.append(id)
            }
            k -= 1
        }
    }

    /// A fused run of unknowns: its text may still be a token; else bytes or the unknown id.
    private func emitPiece(_ text: UnsafeBufferPointer<UInt32>, _ s: EncodeScratch) {
        if let id = vocab.lookup(text) {
            s.ids.append(id)
            return
        }
        if byteFallback {
            var bytes: [UInt8] = []
            for c in text { appendUTF8(&bytes, c) }
            if bytes.allSatisfy({ byteIds[Int($0)] != nil }) {
                for b in bytes { s.ids.append(byteIds[Int(b)]!) }
                return
            }
        }
        if let unkId { s.ids.append(unkId) }
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
