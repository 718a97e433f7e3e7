import IO

/// NFD / NFKD / NFC / NFKC over scalar buffers, with the tables of the `unicode-normalization`
/// crate that `tokenizers` links (an older Unicode than Swift's or Foundation's, so Foundation's
/// `precomposedStringWithCanonicalMapping` would disagree on characters added since).
extension UnicodeData {
    /// Appends the canonical (or compatibility) decomposition of `src` to `out`, in canonical order.
    func decompose(_ src: UnsafeBufferPointer<UInt32>, compatibility: Bool, into out: inout ScratchBuffer<UInt32>) {
        let threshold = compatibility ? firstCompatDecomposable : firstDecomposable
        out.reserve(src.count)
        for c in src {
            if c < threshold {
                out.append(c)
                continue
            }
            if c &- 0xAC00 < 11172 {
                // Hangul syllable: L V (T).
                let s = c - 0xAC00
                out.append(0x1100 + s / 588)
                out.append(0x1161 + (s % 588) / 28)
                if s % 28 != 0 { out.append(0x11A7 + s % 28) }
                continue
            }
            if let d = decomposition(c, compatibility: compatibility) {
                for x in d { appendOrdered(x, to: &out) }
            } else {
                appendOrdered(c, to: &out)
            }
        }
    }

    /// Appends `c`, moving it before any preceding non-starters of a higher combining class
    /// (the canonical ordering algorithm, a stable insertion sort of each run of non-starters).
    @inline(__always)
    private func appendOrdered(_ c: UInt32, to out: inout ScratchBuffer<UInt32>) {
        out.append(c)
        let cc = combiningClass(c)
        guard cc != 0 else { return }
        var j = out.count - 1
        while j > 0 {
            let prev = out[j - 1]
            guard combiningClass(prev) > cc else { break }
            out[j] = prev
            out[j - 1] = c
            j -= 1
        }
    }

    /// Canonically composes `buf[start...]` in place (the input must be decomposed).
    func composeInPlace(_ buf: inout ScratchBuffer<UInt32>, from start: Int) {
        var write = start
        var starter = -1          // index (in the written part) of the last starter
        var lastClass: UInt8 = 0  // class of the last character written after that starter
        var read = start
        let end = buf.count
        while read < end {
            let c = buf[read]
            read += 1
            let cc = combiningClass(c)
            if starter >= 0, lastClass < cc || (lastClass == 0 && write - 1 == starter) {
                if let composed = compose(buf[starter], c) {
                    buf[starter] = composed
                    continue
                }
            }
            if cc == 0 {
                starter = write
                lastClass = 0
            } else {
                lastClass = cc
            }
            buf[write] = c
            write += 1
        }
        buf.count = write
    }

    /// Appends the normal form of `src` to `out`.
    func normalize(_ src: UnsafeBufferPointer<UInt32>, form: NormalForm, into out: inout ScratchBuffer<UInt32>) {
        let start = out.count
        guard !src.isEmpty else { return }
        // Fast path: text made only of characters below the first one the form changes, and
        // (for the composed forms) below the first combining character, is already normal.
        let limit = min(form.isCompatibility ? firstCompatDecomposable : firstDecomposable, firstNonStarter)
        if src.allSatisfy({ $0 < limit }) {
            out.append(contentsOf: src.baseAddress!, count: src.count)
            return
        }
        decompose(src, compatibility: form.isCompatibility, into: &out)
        if form.isComposed { composeInPlace(&out, from: start) }
    }
}

enum NormalForm: Sendable {
    case nfd, nfkd, nfc, nfkc

    var isCompatibility: Bool { self == .nfkd || self == .nfkc }
    var isComposed: Bool { self == .nfc || self == .nfkc }
}
