import IO

/// A token added on top of the model's vocabulary (special tokens such as [CLS], or user tokens).
package struct AddedToken: Sendable, Equatable {
    package var content: String
    package var special: Bool
    package var singleWord = false
    package var lstrip = false
    package var rstrip = false
    /// Matched in the normalized text (true) or in the raw text (false).
    package var normalized: Bool

    package init(content: String, special: Bool, singleWord: Bool = false, lstrip: Bool = false,
                rstrip: Bool = false, normalized: Bool? = nil)
    {
        self.content = content
        self.special = special
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized ?? !special
    }

    static func parse(_ json: JSON, context: String) throws -> AddedToken {
        if let s = json.string { return AddedToken(content: s, special: true) }
        guard case .object(let o) = json, let content = o["content"]?.string else {
            throw EmbedError("\(context): an added token needs a string 'content'")
        }
        let special = o["special"]?.bool ?? false
        return AddedToken(content: content, special: special, singleWord: o["single_word"]?.bool ?? false,
                          lstrip: o["lstrip"]?.bool ?? false, rstrip: o["rstrip"]?.bool ?? false,
                          normalized: o["normalized"]?.bool ?? !special)
    }
}

/// Finds added tokens in text the way `tokenizers`' AddedVocabulary does: leftmost-longest,
/// non-overlapping matches (an Aho-Corasick automaton there, a trie walk from each position
/// here), with the single_word / lstrip / rstrip rules applied to each match.
final class AddedVocabulary: @unchecked Sendable {
    struct Entry {
        let token: AddedToken
        let id: Int32
    }

    private(set) var entries: [Entry] = []
    private var byContent: [[UInt32]: Int] = [:]
    private(set) var hasRaw = false
    private(set) var hasNormalized = false

    var isEmpty: Bool { entries.isEmpty }

    func id(of content: [UInt32]) -> Int32? { byContent[content].map { entries[$0].id } }

    /// Adds tokens as `AddedVocabulary::add_tokens` does: a token keeps the id it already has
    /// (as an added token or in the model), else gets the next free id; `normalizedForm` gives
    /// the normalizer's output for tokens matched in normalized text.
    func add(_ tokens: [AddedToken], model: TokenizerModel, normalizedForm: ([UInt32]) throws -> [UInt32]) rethrows {
        let vocabSize = model.rustVocabSize
        var nextId: Int32
        if let maxId = entries.map(\.id).max() {
            nextId = (Int(maxId) >= vocabSize || vocabSize == 0) ? maxId + 1 : Int32(vocabSize)
        } else {
            nextId = Int32(vocabSize)
        }
        for token in tokens {
            let content = Array(token.content.unicodeScalars.map(\.value))
            if content.isEmpty { continue }
            if let k = byContent[content], entries[k].token == token { continue }
            let id: Int32
            if let existing = self.id(of: content) ?? model.tokenToId(content) {
                id = existing
            } else {
                id = nextId
                nextId += 1
            }
            // A token re-added under another id replaces the old entry's id mapping.
            entries.removeAll { $0.id == id }
            entries.append(Entry(token: token, id: id))
            rebuildIndex()
        }
        // The tries index `entries`; rebuild them so removed entries vanish.
        try rebuildTries(normalizedForm: normalizedForm)
    }

    private func rebuildIndex() {
        byContent = [:]
        for (k, e) in entries.enumerated() { byContent[Array(e.token.content.unicodeScalars.map(\.value))] = k }
    }

    private var builtRaw: ScalarTrie?
    private var builtNormalized: ScalarTrie?

    private func rebuildTries(normalizedForm: ([UInt32]) throws -> [UInt32]) rethrows {
        let raw = ScalarTrie(), norm = ScalarTrie()
        hasRaw = false
        hasNormalized = false
        for (k, e) in entries.enumerated() {
            let content = Array(e.token.content.unicodeScalars.map(\.value))
            if e.token.normalized {
                norm.insert(try normalizedForm(content), id: Int32(k))
                hasNormalized = true
            } else {
                raw.insert(content, id: Int32(k))
                hasRaw = true
            }
        }
        builtRaw = raw
        builtNormalized = norm
    }

    /// Splits `text[start..<end]` around the tokens of one kind (raw or normalized). `emit` gets
    /// (start, end, id) with id -1 for the text between tokens.
    func split(_ text: UnsafeBufferPointer<UInt32>, start: Int, end: Int, normalized: Bool,
               _ emit: (Int, Int, Int32) throws -> Void) rethrows
    {
        guard let trie = normalized ? builtNormalized : builtRaw, normalized ? hasNormalized : hasRaw else {
            try emit(start, end, -1)
            return
        }
        let u = UnicodeData.shared
        var last = start
        var i = start
        while i < end {
            var node: UInt32 = 0
            var best = -1
            var bestEnd = i
            var j = i
            while j < end {
                let (next, v) = trie.step(node, text[j])
                if next == 0 { break }
                node = next
                j += 1
                if v >= 0 {
                    best = Int(v)
                    bestEnd = j
                }
            }
            guard best >= 0 else {
                i += 1
                continue
            }
            let entry = entries[best]
            var ms = i, me = bestEnd
            i = bestEnd
            if entry.token.singleWord {
                // Not part of a word: no word character just before or just after.
                let beforeOK = ms == start || !u.has(text[ms - 1], UnicodeData.Flag.regexWord)
                let afterOK = me == end || !u.has(text[me], UnicodeData.Flag.regexWord)
                if !beforeOK || !afterOK { continue }
            }
            if entry.token.lstrip {
                var s = ms
                while s > start, u.has(text[s - 1], UnicodeData.Flag.regexSpace) { s -= 1 }
                ms = max(s, last)
            }
            if entry.token.rstrip {
                while me < end, u.has(text[me], UnicodeData.Flag.regexSpace) { me += 1 }
            }
            if last < ms { try emit(last, ms, -1) }
            try emit(ms, me, entry.id)
            last = me
            // A right-stripped match consumed the spaces after it; the scan goes on from there.
            i = max(i, me)
        }
        if last < end { try emit(last, end, -1) }
    }
}
