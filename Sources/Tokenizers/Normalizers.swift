import IO

/// The normalizers of `tokenizer.json`, applied to Unicode scalars. Each reproduces the Rust
/// implementation's character-level behaviour; offsets are not tracked (only ids are produced).
enum NormalizerStep: Sendable {
    /// BertNormalizer: clean_text drops controls and maps whitespace to ' ', CJK ideographs get
    /// spaces around them, strip_accents = NFD then drop non-spacing marks, lowercase.
    case bert(cleanText: Bool, chineseChars: Bool, stripAccents: Bool, lowercase: Bool)
    case lowercase
    /// Drops combining marks (it does not decompose: pair it with NFD/NFKD, as configs do).
    case stripAccents
    case unicode(NormalForm)
    case precompiled(PrecompiledCharsmap)
    case replace(TokenizerRegex, content: [UInt32])
    case strip(left: Bool, right: Bool)
    case prepend([UInt32])
    /// The ByteLevel normalizer: each UTF-8 byte becomes its GPT-2 stand-in character.
    case byteLevel
    /// SentencePiece's "nmt" rules: drop some controls, map odd spaces to ' '.
    case nmt

    /// Appends the normalization of `src` to `out`. Returns true when the first input scalar was
    /// deleted (Metaspace's `prepend_scheme: first` then no longer sees the text's start).
    func apply(_ src: UnsafeBufferPointer<UInt32>, into out: inout ScratchBuffer<UInt32>,
               scratch: inout ScratchBuffer<UInt32>, matches: inout ScratchBuffer<RegexMatch>) throws -> Bool
    {
        let u = UnicodeData.shared
        switch self {
        case .bert(let clean, let chinese, let strip, let lower):
            return applyBert(src, clean: clean, chinese: chinese, strip: strip, lower: lower, into: &out,
                             scratch: &scratch)
        case .lowercase:
            out.reserve(src.count)
            for c in src { u.appendLowercase(c, to: &out) }
            return false
        case .stripAccents:
            out.reserve(src.count)
            for c in src where c < 0x300 || !u.has(c, UnicodeData.Flag.combiningMark) { out.append(c) }
            return !src.isEmpty && src[0] >= 0x300 && u.has(src[0], UnicodeData.Flag.combiningMark)
        case .unicode(let form):
            u.normalize(src, form: form, into: &out)
            return false
        case .precompiled(let map):
            map.apply(src, into: &out)
            return false
        case .replace(let regex, let content):
            try regex.matches(in: src, into: &matches)
            var last = 0
            for k in 0..<matches.count {
                let m = matches[k]
                if m.start > last { out.append(contentsOf: src.baseAddress! + last, count: m.start - last) }
                for c in content { out.append(c) }
                last = m.end
            }
            if last < src.count { out.append(contentsOf: src.baseAddress! + last, count: src.count - last) }
            return matches.count > 0 && matches[0].start == 0 && matches[0].end > 0 && content.isEmpty
        case .strip(let left, let right):
            var s = 0, e = src.count
            if left { while s < e, u.has(src[s], UnicodeData.Flag.whitespace) { s += 1 } }
            if right { while e > s, u.has(src[e - 1], UnicodeData.Flag.whitespace) { e -= 1 } }
            if e > s { out.append(contentsOf: src.baseAddress! + s, count: e - s) }
            return s > 0
        case .prepend(let text):
            if !src.isEmpty {
                for c in text { out.append(c) }
                out.append(contentsOf: src.baseAddress!, count: src.count)
            }
            return false
        case .byteLevel:
            for c in src { appendByteLevel(c, to: &out) }
            return false
        case .nmt:
            out.reserve(src.count)
            for c in src {
                switch c {
                case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x8F, 0x9F: continue
                case 0x09, 0x0A, 0x0C, 0x0D, 0x1680, 0x200B...0x200F, 0x2028, 0x2029, 0x2581, 0xFEFF, 0xFFFD:
                    out.append(0x20)
                default: out.append(c)
                }
            }
            if let first = src.first {
                switch first {
                case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x8F, 0x9F: return true
                default: return false
                }
            }
            return false
        }
    }

    private func applyBert(_ src: UnsafeBufferPointer<UInt32>, clean: Bool, chinese: Bool, strip: Bool, lower: Bool,
                           into out: inout ScratchBuffer<UInt32>, scratch: inout ScratchBuffer<UInt32>) -> Bool
    {
        guard strip else {
            // Every step is per scalar: one pass.
            return bertScalarPass(src, clean: clean, chinese: chinese, lower: lower, into: &out)
        }
        // NFD reorders combining marks across the whole text, so it runs on the cleaned text;
        // then non-spacing marks are dropped and the rest lowercased.
        let u = UnicodeData.shared
        scratch.removeAll()
        let firstRemoved = bertScalarPass(src, clean: clean, chinese: chinese, lower: false, into: &scratch)
        // Decompose into `out` (as a temporary), move the result back to `scratch`, then filter
        // it into `out`: a buffer is never read while it may be reallocated by appending.
        let outStart = out.count
        u.decompose(scratch.buffer, compatibility: false, into: &out)
        scratch.removeAll()
        scratch.append(contentsOf: out.base + outStart, count: out.count - outStart)
        out.count = outStart
        out.reserve(scratch.count)
        for k in 0..<scratch.count {
            let c = scratch[k]
            if c >= 0x300, u.has(c, UnicodeData.Flag.nonspacingMark) { continue }
            if lower { u.appendLowercase(c, to: &out) } else { out.append(c) }
        }
        return firstRemoved
    }

    /// clean_text, CJK spacing and (optionally) lowercase in one pass.
    private func bertScalarPass(_ src: UnsafeBufferPointer<UInt32>, clean: Bool, chinese: Bool, lower: Bool,
                                into out: inout ScratchBuffer<UInt32>) -> Bool
    {
        let u = UnicodeData.shared
        typealias F = UnicodeData.Flag
        var firstRemoved = false
        out.reserve(src.count)
        for k in 0..<src.count {
            var c = src[k]
            if c < 0x80 {
                if clean, c < 0x20 || c == 0x7F {
                    if c == 0x09 || c == 0x0A || c == 0x0D {
                        c = 0x20
                    } else {
                        if k == 0 { firstRemoved = true }
                        continue
                    }
                }
                out.append(lower && c &- 0x41 < 26 ? c | 0x20 : c)
                continue
            }
            if clean {
                let f = u.flags(c)
                if f & F.cleanRemoved != 0 {
                    if k == 0 { firstRemoved = true }
                    continue
                }
                if f & F.whitespace != 0 {
                    out.append(0x20)
                    continue
                }
            }
            if chinese, isChineseChar(c) {
                out.append(0x20)
                out.append(c)
                out.append(0x20)
                continue
            }
            if lower { u.appendLowercase(c, to: &out) } else { out.append(c) }
        }
        return firstRemoved
    }
}

/// BERT's "Chinese character" blocks (CJK ideographs, not Hangul or kana).
@inline(__always)
func isChineseChar(_ c: UInt32) -> Bool {
    if c < 0x3400 { return false }
    return (0x4E00...0x9FFF).contains(c) || (0x3400...0x4DBF).contains(c) || (0x20000...0x2A6DF).contains(c)
        || (0x2A700...0x2B73F).contains(c) || (0x2B740...0x2B81F).contains(c) || (0x2B920...0x2CEAF).contains(c)
        || (0xF900...0xFAFF).contains(c) || (0x2F800...0x2FA1F).contains(c)
}

/// GPT-2's reversible byte → character map: printable Latin-1 bytes stand for themselves, the
/// rest are shifted to U+0100 onwards.
let byteLevelChars: [UInt32] = {
    var map = [UInt32](repeating: 0, count: 256)
    var n: UInt32 = 0
    for b in 0..<256 {
        if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
            map[b] = UInt32(b)
        } else {
            map[b] = 256 + n
            n += 1
        }
    }
    return map
}()

/// Appends the byte-level characters of `c`'s UTF-8 bytes.
@inline(__always)
func appendByteLevel(_ c: UInt32, to out: inout ScratchBuffer<UInt32>) {
    if c < 0x80 {
        out.append(byteLevelChars[Int(c)])
    } else if c < 0x800 {
        out.append(byteLevelChars[Int(0xC0 | c >> 6)])
        out.append(byteLevelChars[Int(0x80 | c & 0x3F)])
    } else if c < 0x10000 {
        out.append(byteLevelChars[Int(0xE0 | c >> 12)])
        out.append(byteLevelChars[Int(0x80 | c >> 6 & 0x3F)])
        out.append(byteLevelChars[Int(0x80 | c & 0x3F)])
    } else {
        out.append(byteLevelChars[Int(0xF0 | c >> 18)])
        out.append(byteLevelChars[Int(0x80 | c >> 12 & 0x3F)])
        out.append(byteLevelChars[Int(0x80 | c >> 6 & 0x3F)])
        out.append(byteLevelChars[Int(0x80 | c & 0x3F)])
    }
}
