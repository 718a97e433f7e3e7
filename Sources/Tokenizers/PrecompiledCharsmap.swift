import IO

/// SentencePiece's `precompiled_charsmap` normalizer (XLM-R, mT5, multilingual-e5…): a darts-clone
/// double-array trie over UTF-8 byte strings whose values index NUL-terminated replacements.
///
/// `tokenizers` applies it grapheme by grapheme, and with two quirks that decide the ids and are
/// reproduced here: a grapheme shorter than 6 UTF-8 bytes is looked up whole, and the *shortest*
/// trie key that is a prefix of it replaces the entire grapheme (so "Ａ" + U+0301 becomes "A", the
/// accent dropped); otherwise each scalar of the grapheme is looked up on its own.
final class PrecompiledCharsmap: @unchecked Sendable {
    private let units: [UInt32]
    private let normalized: [UInt8]
    /// `transform` of each ASCII scalar alone (nil = unchanged), the common case.
    private var asciiCache: [[UInt32]?] = []

    init(base64: String) throws {
        guard let blob = decodeBase64(base64) else {
            throw EmbedError("Precompiled normalizer: precompiled_charsmap is not valid base64")
        }
        guard blob.count >= 4 else { throw EmbedError("Precompiled normalizer: precompiled_charsmap is truncated") }
        let trieSize = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
        let unitCount = trieSize / 4
        guard 4 + unitCount * 4 <= blob.count, unitCount > 0 else {
            throw EmbedError("Precompiled normalizer: trie of \(trieSize) bytes does not fit in the charsmap")
        }
        var units = [UInt32](repeating: 0, count: unitCount)
        for k in 0..<unitCount {
            let o = 4 + k * 4
            units[k] = UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24
        }
        self.units = units
        normalized = Array(blob[(4 + unitCount * 4)...])
        guard String(validating: normalized, as: UTF8.self) != nil else {
            throw EmbedError("Precompiled normalizer: the replacement strings are not valid UTF-8")
        }
        asciiCache = (0..<128).map { c in transform(utf8: [UInt8(c)]) }
    }

    /// The replacement for the shortest trie key that prefixes `bytes`, as scalars; nil if none.
    func transform(utf8 bytes: [UInt8]) -> [UInt32]? {
        bytes.withUnsafeBufferPointer { transform(utf8: $0) }
    }

    func transform(utf8 bytes: UnsafeBufferPointer<UInt8>) -> [UInt32]? {
        guard let index = firstPrefixValue(bytes) else { return nil }
        var end = index
        while end < normalized.count, normalized[end] != 0 { end += 1 }
        guard index <= end else { return nil }
        return String(decoding: normalized[index..<end], as: UTF8.self).unicodeScalars.map(\.value)
    }

    /// darts-clone's common-prefix search, stopping at the first (shortest) hit. Out-of-range unit
    /// indices (a corrupt charsmap) end the search instead of trapping.
    private func firstPrefixValue(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        var pos = 0
        guard !units.isEmpty else { return nil }
        var unit = units[0]
        pos ^= offset(unit)
        for c in key {
            if c == 0 { break }
            pos ^= Int(c)
            guard pos < units.count else { return nil }
            unit = units[pos]
            if Int(unit & (1 << 31 | 0xFF)) != Int(c) { return nil }
            pos ^= offset(unit)
            guard pos < units.count else { return nil }
            if (unit >> 8) & 1 == 1 {
                return Int(units[pos] & ((1 << 31) - 1))
            }
        }
        return nil
    }

    @inline(__always)
    private func offset(_ unit: UInt32) -> Int {
        Int((unit >> 10) << ((unit & (1 << 9)) >> 6))
    }

    /// Appends the normalization of `src` to `out`.
    ///
    /// (Unlike the filtering normalizers, a deleted first character does not move the text's
    /// start here: `tokenizers` folds the deletion into the next character's alignment, so
    /// Metaspace's `prepend_scheme: first` still sees the start.)
    func apply(_ src: UnsafeBufferPointer<UInt32>, into out: inout ScratchBuffer<UInt32>) {
        var i = 0
        let n = src.count
        var utf8: [UInt8] = []
        while i < n {
            // Graphemes: two scalars below U+0300 (other than CR LF) always have a boundary
            // between them; anything else goes through Swift's grapheme breaking over the run of
            // scalars that has no such certain boundary inside.
            let a = src[i]
            if i + 1 == n || (a < 0x300 && src[i + 1] < 0x300 && !(a == 0x0D && src[i + 1] == 0x0A)) {
                appendSingle(a, into: &out, utf8: &utf8)
                i += 1
                continue
            }
            var j = i + 1
            while j < n, !(src[j - 1] < 0x300 && src[j] < 0x300 && !(src[j - 1] == 0x0D && src[j] == 0x0A)) {
                j += 1
            }
            var run = String.UnicodeScalarView()
            for k in i..<j { run.append(Unicode.Scalar(src[k]) ?? "\u{FFFD}") }
            var k = i
            for grapheme in String(run) {
                let count = grapheme.unicodeScalars.count
                appendGrapheme(UnsafeBufferPointer(rebasing: src[k..<(k + count)]), into: &out, utf8: &utf8)
                k += count
            }
            i = j
        }
    }

    private func appendSingle(_ c: UInt32, into out: inout ScratchBuffer<UInt32>, utf8: inout [UInt8]) {
        if c < 0x80 {
            if let r = asciiCache[Int(c)] { for x in r { out.append(x) } } else { out.append(c) }
            return
        }
        utf8.removeAll(keepingCapacity: true)
        appendUTF8(&utf8, c)
        if let r = transform(utf8: utf8) { for x in r { out.append(x) } } else { out.append(c) }
    }

    private func appendGrapheme(_ g: UnsafeBufferPointer<UInt32>, into out: inout ScratchBuffer<UInt32>,
                                utf8: inout [UInt8])
    {
        if g.count == 1 {
            appendSingle(g[0], into: &out, utf8: &utf8)
            return
        }
        utf8.removeAll(keepingCapacity: true)
        for c in g { appendUTF8(&utf8, c) }
        if utf8.count < 6, let r = transform(utf8: utf8) {
            for x in r { out.append(x) }
            return
        }
        for c in g { appendSingle(c, into: &out, utf8: &utf8) }
    }
}

/// Standard base64 (with padding), as the `base64` crate's STANDARD engine reads it.
func decodeBase64(_ text: String) -> [UInt8]? {
    var table = [UInt8](repeating: 0xFF, count: 256)
    for (k, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
        table[Int(c)] = UInt8(k)
    }
    let bytes = Array(text.utf8)
    guard bytes.count % 4 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count / 4 * 3)
    var k = 0
    while k < bytes.count {
        var v: UInt32 = 0
        var pad = 0
        for j in 0..<4 {
            let b = bytes[k + j]
            if b == UInt8(ascii: "=") {
                guard k + 4 == bytes.count, j >= 2 else { return nil }
                pad += 1
                v <<= 6
                continue
            }
            guard pad == 0, table[Int(b)] != 0xFF else { return nil }
            v = v << 6 | UInt32(table[Int(b)])
        }
        out.append(UInt8(v >> 16 & 0xFF))
        if pad < 2 { out.append(UInt8(v >> 8 & 0xFF)) }
        if pad < 1 { out.append(UInt8(v & 0xFF)) }
        k += 4
    }
    return out
}
