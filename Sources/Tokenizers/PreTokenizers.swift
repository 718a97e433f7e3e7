import IO

/// A piece of text on its way to the model: a range of the scratch arena, or an added token
/// already resolved to an id.
struct Piece {
    var start: Int32
    var end: Int32
    /// The added token's id, or -1 for text the model must tokenize.
    var id: Int32
    /// The piece begins at the start of the (stripped) input text: Metaspace's
    /// `prepend_scheme: first` prepends only there.
    var atTextStart: Bool

    var count: Int { Int(end - start) }
}

/// What a split does with the delimiters it finds (tokenizers' SplitDelimiterBehavior).
enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

enum PrependScheme: String, Sendable {
    case first, never, always
}

/// The pre-tokenizers of `tokenizer.json`.
enum PreTokenizerStep: Sendable {
    /// Split on whitespace (removed) and punctuation (isolated).
    case bert
    /// `\w+|[^\w\s]+` with the regex crate's classes.
    case whitespace
    case whitespaceSplit
    case punctuation(SplitBehavior)
    case digits(individual: Bool)
    case charDelimiter(UInt32)
    case split(TokenizerRegex, SplitBehavior, invert: Bool)
    case metaspace(replacement: UInt32, scheme: PrependScheme, split: Bool)
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
}

/// Working memory for one encode: the arena of scalars pieces point into, the piece lists, and
/// the model's buffers. Owned by one thread at a time.
final class EncodeScratch {
    var input = ScratchBuffer<UInt32>(capacity: 1024)
    var arena = ScratchBuffer<UInt32>(capacity: 4096)
    var normA = ScratchBuffer<UInt32>(capacity: 1024)
    var normB = ScratchBuffer<UInt32>(capacity: 1024)
    var normTmp = ScratchBuffer<UInt32>(capacity: 1024)
    var pieces = ScratchBuffer<Piece>(capacity: 256)
    var piecesOut = ScratchBuffer<Piece>(capacity: 256)
    var segments = ScratchBuffer<SplitSegment>(capacity: 256)
    var matches = ScratchBuffer<RegexMatch>(capacity: 64)
    var ids = ScratchBuffer<Int32>(capacity: 512)
    var modelIds = ScratchBuffer<Int32>(capacity: 256)
    var scores = ScratchBuffer<Double>(capacity: 256)
    var starts = ScratchBuffer<Int32>(capacity: 256)
    var path = ScratchBuffer<Piece>(capacity: 64)

    init() {}

    deinit {
        input.free(); arena.free(); normA.free(); normB.free(); normTmp.free()
        pieces.free(); piecesOut.free(); segments.free(); matches.free(); ids.free(); modelIds.free()
        scores.free(); starts.free(); path.free()
    }
}

/// One part of a piece produced by a pattern: a match or the text between matches.
struct SplitSegment {
    var start: Int32
    var end: Int32
    var isMatch: Bool
}

extension PreTokenizerStep {
    /// Splits (and, for Metaspace / ByteLevel, rewrites) every text piece of `s.pieces` into
    /// `s.piecesOut`, then swaps the lists. Added-token pieces pass through untouched.
    func apply(_ s: EncodeScratch) throws {
        s.piecesOut.removeAll()
        for k in 0..<s.pieces.count {
            let piece = s.pieces[k]
            if piece.id >= 0 {
                s.piecesOut.append(piece)
                continue
            }
            try applyOne(piece, s)
        }
        swap(&s.pieces, &s.piecesOut)
    }

    private func applyOne(_ piece: Piece, _ s: EncodeScratch) throws {
        let u = UnicodeData.shared
        typealias F = UnicodeData.Flag
        switch self {
        case .bert:
            // Whitespace removed, punctuation isolated: one scan.
            var wordStart = Int(piece.start)
            let end = Int(piece.end)
            var i = wordStart
            while i < end {
                let c = s.arena[i]
                let f: UInt32
                if c < 0x80 {
                    f = asciiBertFlags[Int(c)]
                } else {
                    f = u.flags(c) & (F.whitespace | F.punctuation)
                }
                if f != 0 {
                    emit(s, piece, wordStart, i)
                    if f & F.whitespace == 0 { emit(s, piece, i, i + 1) }
                    wordStart = i + 1
                }
                i += 1
            }
            emit(s, piece, wordStart, end)
        case .whitespaceSplit:
            splitByPredicate(piece, s, behavior: .removed) { u.has($0, F.whitespace) }
        case .whitespace:
            // Runs of \w, runs of [^\w\s], whitespace dropped.
            var runStart = -1
            var runKind: UInt32 = 0
            for i in Int(piece.start)..<Int(piece.end) {
                let f = u.flags(s.arena[i])
                let kind: UInt32 = f & F.regexWord != 0 ? 1 : (f & F.regexSpace != 0 ? 0 : 2)
                if kind != runKind || kind == 0 {
                    if runStart >= 0 { emit(s, piece, runStart, i) }
                    runStart = kind == 0 ? -1 : i
                    runKind = kind
                }
            }
            if runStart >= 0 { emit(s, piece, runStart, Int(piece.end)) }
        case .punctuation(let behavior):
            splitByPredicate(piece, s, behavior: behavior) { u.has($0, F.punctuation) }
        case .digits(let individual):
            splitByPredicate(piece, s, behavior: individual ? .isolated : .contiguous) { u.has($0, F.numeric) }
        case .charDelimiter(let delimiter):
            splitByPredicate(piece, s, behavior: .removed) { $0 == delimiter }
        case .split(let regex, let behavior, let invert):
            let text = s.arena.slice(Int(piece.start), Int(piece.end))
            try regex.matches(in: text, into: &s.matches)
            s.segments.removeAll()
            var prev = 0
            for k in 0..<s.matches.count {
                let m = s.matches[k]
                if prev != m.start { s.segments.append(SplitSegment(start: Int32(prev), end: Int32(m.start), isMatch: invert)) }
                s.segments.append(SplitSegment(start: Int32(m.start), end: Int32(m.end), isMatch: !invert))
                prev = m.end
            }
            if prev != text.count { s.segments.append(SplitSegment(start: Int32(prev), end: Int32(text.count), isMatch: invert)) }
            emitSegments(piece, s, behavior: behavior)
        case .metaspace(let replacement, let scheme, let split):
            // Spaces become the replacement character, then the piece may get one in front.
            let first = s.arena[Int(piece.start)]
            let prepend: Bool
            switch scheme {
            case .always: prepend = first != replacement && first != 0x20
            case .first: prepend = first != replacement && first != 0x20 && piece.atTextStart
            case .never: prepend = false
            }
            let newStart = s.arena.count
            s.arena.reserve(piece.count + 1)
            if prepend { s.arena.append(replacement) }
            for i in Int(piece.start)..<Int(piece.end) {
                let c = s.arena[i]
                s.arena.append(c == 0x20 ? replacement : c)
            }
            let rewritten = Piece(start: Int32(newStart), end: Int32(s.arena.count), id: -1, atTextStart: piece.atTextStart)
            if split {
                splitByPredicate(rewritten, s, behavior: .mergedWithNext) { $0 == replacement }
            } else {
                s.piecesOut.append(rewritten)
            }
        case .byteLevel(let addPrefixSpace, let useRegex):
            applyByteLevel(piece, s, addPrefixSpace: addPrefixSpace, useRegex: useRegex)
        }
    }

    /// Appends a sub-piece if it is not empty (tokenizers drops empty splits).
    @inline(__always)
    private func emit(_ s: EncodeScratch, _ parent: Piece, _ start: Int, _ end: Int) {
        guard end > start else { return }
        s.piecesOut.append(Piece(start: Int32(start), end: Int32(end), id: -1,
                                 atTextStart: parent.atTextStart && Int32(start) == parent.start))
    }

    /// A per-scalar pattern: each matching scalar is its own delimiter segment.
    @inline(__always)
    private func splitByPredicate(_ piece: Piece, _ s: EncodeScratch, behavior: SplitBehavior,
                                  _ isDelimiter: (UInt32) -> Bool)
    {
        let start = Int(piece.start)
        if behavior == .removed {
            var wordStart = start
            for i in start..<Int(piece.end) where isDelimiter(s.arena[i]) {
                emit(s, piece, wordStart, i)
                wordStart = i + 1
            }
            emit(s, piece, wordStart, Int(piece.end))
            return
        }
        s.segments.removeAll()
        var last = 0
        for i in start..<Int(piece.end) where isDelimiter(s.arena[i]) {
            let rel = i - start
            if last < rel { s.segments.append(SplitSegment(start: Int32(last), end: Int32(rel), isMatch: false)) }
            s.segments.append(SplitSegment(start: Int32(rel), end: Int32(rel + 1), isMatch: true))
            last = rel + 1
        }
        if last < piece.count { s.segments.append(SplitSegment(start: Int32(last), end: Int32(piece.count), isMatch: false)) }
        emitSegments(piece, s, behavior: behavior)
    }

    /// NormalizedString::split: merges `s.segments` (offsets relative to the piece) per behavior.
    private func emitSegments(_ piece: Piece, _ s: EncodeScratch, behavior: SplitBehavior) {
        let base = Int(piece.start)
        let n = s.segments.count
        switch behavior {
        case .removed:
            for k in 0..<n where !s.segments[k].isMatch {
                emit(s, piece, base + Int(s.segments[k].start), base + Int(s.segments[k].end))
            }
        case .isolated:
            for k in 0..<n { emit(s, piece, base + Int(s.segments[k].start), base + Int(s.segments[k].end)) }
        case .contiguous, .mergedWithPrevious:
            var curStart = -1, curEnd = -1
            var previousMatch = false
            for k in 0..<n {
                let seg = s.segments[k]
                let merge = behavior == .contiguous ? (seg.isMatch == previousMatch) : (seg.isMatch && !previousMatch)
                if merge, curStart >= 0 {
                    curEnd = Int(seg.end)
                } else {
                    if curStart >= 0 { emit(s, piece, base + curStart, base + curEnd) }
                    curStart = Int(seg.start)
                    curEnd = Int(seg.end)
                }
                previousMatch = seg.isMatch
            }
            if curStart >= 0 { emit(s, piece, base + curStart, base + curEnd) }
        case .mergedWithNext:
            // Walk backwards: a delimiter joins the piece after it.
            let firstOut = s.piecesOut.count
            var curStart = -1, curEnd = -1
            var previousMatch = false
            for k in stride(from: n - 1, through: 0, by: -1) {
                let seg = s.segments[k]
                if seg.isMatch && !previousMatch, curStart >= 0 {
                    curStart = Int(seg.start)
                } else {
                    if curStart >= 0 { emit(s, piece, base + curStart, base + curEnd) }
                    curStart = Int(seg.start)
                    curEnd = Int(seg.end)
                }
                previousMatch = seg.isMatch
            }
            if curStart >= 0 { emit(s, piece, base + curStart, base + curEnd) }
            // Emitted last-to-first: reverse them into order.
            var a = firstOut, b = s.piecesOut.count - 1
            while a < b {
                let t = s.piecesOut[a]
                s.piecesOut[a] = s.piecesOut[b]
                s.piecesOut[b] = t
                a += 1
                b -= 1
            }
        }
    }
}

/// Whitespace / punctuation flags of the ASCII range, for the BERT pre-tokenizer's inner loop.
private let asciiBertFlags: [UInt32] = (0..<128).map { c in
    UnicodeData.shared.flags(UInt32(c)) & (UnicodeData.Flag.whitespace | UnicodeData.Flag.punctuation)
}
