import IO

/// The ByteLevel pre-tokenizer (GPT-2, RoBERTa, and LTG's NorBERT3 recipe): an optional leading
/// space, GPT-2's split pattern, then every UTF-8 byte mapped to its stand-in character.
///
/// The pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` is
/// matched by hand (it is fixed), with Oniguruma's `\s`, `\p{L}` and `\p{N}` as `tokenizers` uses.
extension PreTokenizerStep {
    func applyByteLevel(_ piece: Piece, _ s: EncodeScratch, addPrefixSpace: Bool, useRegex: Bool) {
        // The piece's text, with the prefix space when asked for and missing, in `normTmp`.
        s.normTmp.removeAll()
        if addPrefixSpace, s.arena[Int(piece.start)] != 0x20 { s.normTmp.append(0x20) }
        s.normTmp.append(contentsOf: s.arena.base + Int(piece.start), count: piece.count)
        let text = s.normTmp.buffer
        guard useRegex else {
            emitMapped(text, 0, text.count, s, atTextStart: piece.atTextStart)
            return
        }
        var i = 0
        let n = text.count
        while i < n {
            let end = gpt2MatchEnd(text, i)
            emitMapped(text, i, end, s, atTextStart: piece.atTextStart && i == 0)
            i = end
        }
    }

    /// Appends the byte-level characters of `text[start..<end]` to the arena as a new piece.
    private func emitMapped(_ text: UnsafeBufferPointer<UInt32>, _ start: Int, _ end: Int, _ s: EncodeScratch,
                            atTextStart: Bool)
    {
        guard end > start else { return }
        let newStart = s.arena.count
        s.arena.reserve((end - start) * 4)
        for k in start..<end { appendByteLevel(text[k], to: &s.arena) }
        s.piecesOut.append(Piece(start: Int32(newStart), end: Int32(s.arena.count), id: -1, atTextStart: atTextStart))
    }
}

/// Character classes of the GPT-2 pattern.
private enum GPT2Class { case letter, number, space, other }

@inline(__always)
private func gpt2Class(_ c: UInt32) -> GPT2Class {
    if c < 0x80 {
        if c &- 0x61 < 26 || c &- 0x41 < 26 { return .letter }
        if c &- 0x30 < 10 { return .number }
        if c == 0x20 || (c >= 0x09 && c <= 0x0D) { return .space }
        return .other
    }
    let f = UnicodeData.shared.flags(c)
    let cat = f >> 16 & 0x1F
    if UnicodeData.Category.letters.contains(cat) { return .letter }
    if UnicodeData.Category.numbers.contains(cat) { return .number }
    if f & UnicodeData.Flag.onigSpace != 0 { return .space }
    return .other
}

/// The end of the GPT-2 pattern's match starting at `i` (alternatives in the pattern's order).
private func gpt2MatchEnd(_ t: UnsafeBufferPointer<UInt32>, _ i: Int) -> Int {
    let n = t.count
    let c = t[i]
    // 's 't 're 've 'm 'll 'd
    if c == 0x27, i + 1 < n {
        let a = t[i + 1]
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return i + 2 }  // s t m d
        if i + 2 < n {
            let b = t[i + 2]
            if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return i + 3 }
        }
    }
    // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
    var j = i
    var cls = gpt2Class(c)
    if c == 0x20, i + 1 < n {
        let next = gpt2Class(t[i + 1])
        if next != .space {
            j = i + 1
            cls = next
        }
    }
    if cls != .space {
        var e = j + 1
        while e < n, gpt2Class(t[e]) == cls { e += 1 }
        return e
    }
    // \s+(?!\S) then \s+: the whitespace run, less its last character when a non-space follows.
    var e = i + 1
    while e < n, gpt2Class(t[e]) == .space { e += 1 }
    if e == n || e - i == 1 { return e }
    return e - 1
}
