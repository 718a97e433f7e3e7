import IO

/// Unicode properties exactly as the Rust `tokenizers` library sees them.
///
/// The library mixes several Unicode versions: Rust's standard library (whitespace, numeric,
/// lowercase), the `unicode_categories` crate (punctuation, control, non-spacing marks), the
/// `unicode-normalization-alignments` crate (decompositions, combining classes — an old Unicode),
/// Oniguruma (regex classes) and the `regex` crate. Swift's own `Unicode.Scalar.Properties` follow
/// yet another version, so using them would give different ids for characters added since. The
/// tables in `UnicodeTables.swift` were probed from the library itself; this type decodes them once
/// into two-stage lookup tables (a block index per 256 code points, identical blocks shared).
final class UnicodeData: @unchecked Sendable {
    static let shared = UnicodeData()

    /// Bits of `flags(_:)`.
    enum Flag {
        static let whitespace: UInt32 = 1 << 0        // Rust char::is_whitespace
        static let punctuation: UInt32 = 1 << 1       // ASCII punctuation or Unicode P*
        static let cleanRemoved: UInt32 = 1 << 2      // BertNormalizer clean_text drops it
        static let numeric: UInt32 = 1 << 3           // Rust char::is_numeric
        static let nonspacingMark: UInt32 = 1 << 4    // Mn (unicode_categories)
        static let combiningMark: UInt32 = 1 << 5     // M* (unicode-normalization-alignments)
        static let onigSpace: UInt32 = 1 << 6         // Oniguruma \s
        static let onigWord: UInt32 = 1 << 7          // Oniguruma \w
        static let onigDigit: UInt32 = 1 << 8         // Oniguruma \d
        static let regexWord: UInt32 = 1 << 9         // regex crate \w
        static let regexSpace: UInt32 = 1 << 10       // regex crate \s
        static let pythonSpace: UInt32 = 1 << 11      // Python str.isspace
    }

    /// Oniguruma general categories, indices into `UnicodeTables.categoryNames`.
    enum Category {
        static let letters: ClosedRange<UInt32> = 0...4      // Lu Ll Lt Lm Lo
        static let marks: ClosedRange<UInt32> = 5...7
        static let numbers: ClosedRange<UInt32> = 8...10
        static let punctuation: ClosedRange<UInt32> = 11...17
        static let symbols: ClosedRange<UInt32> = 18...21
        static let separators: ClosedRange<UInt32> = 22...24
        static let others: ClosedRange<UInt32> = 25...29
    }

    private let flagTable: TwoStageTable<UInt32>
    private let lowerTable: TwoStageTable<UInt32>
    private let canonicalTable: TwoStageTable<UInt32>
    private let compatTable: TwoStageTable<UInt32>
    private let cccTable: TwoStageTable<UInt8>
    /// Scalars of multi-scalar lowercase mappings and of decompositions.
    private let pool: UnsafeMutablePointer<UInt32>
    private let compositions: [UInt64: UInt32]
    /// Code points below these never change under the named operation (fast paths).
    let firstDecomposable: UInt32
    let firstCompatDecomposable: UInt32
    let firstNonStarter: UInt32

    private init() {
        var pool: [UInt32] = []
        // Flags.
        var flags = [UInt32](repeating: 0, count: 0x110000)
        var p = HexCursor(UnicodeTables.flagRanges)
        while let first = p.next(), let last = p.next(), let value = p.next() {
            for c in Int(first)...Int(last) { flags[c] = value }
        }
        flagTable = TwoStageTable(flags)

        // Lowercase: a single scalar directly, several as 0x8000_0000 | offset << 8 | count.
        var lower = [UInt32](repeating: 0, count: 0x110000)
        p = HexCursor(UnicodeTables.lowercase)
        while let (c, mapped) = p.nextMapping() {
            if mapped.count == 1 {
                lower[Int(c)] = mapped[0]
            } else {
                lower[Int(c)] = 0x8000_0000 | UInt32(pool.count) << 8 | UInt32(mapped.count)
                pool += mapped
            }
        }
        lowerTable = TwoStageTable(lower)

        // Decompositions: offset << 5 | count (0 = none).
        func decompositions(_ text: String, base: [UInt32]?) -> [UInt32] {
            var table = base ?? [UInt32](repeating: 0, count: 0x110000)
            var cursor = HexCursor(text)
            while let (c, mapped) = cursor.nextMapping() {
                table[Int(c)] = UInt32(pool.count) << 5 | UInt32(mapped.count)
                pool += mapped
            }
            return table
        }
        let canonical = decompositions(UnicodeTables.canonicalDecompositions, base: nil)
        canonicalTable = TwoStageTable(canonical)
        // Compatibility decompositions default to the canonical ones.
        let compat = decompositions(UnicodeTables.compatibilityDecompositions, base: canonical)
        compatTable = TwoStageTable(compat)

        var ccc = [UInt8](repeating: 0, count: 0x110000)
        p = HexCursor(UnicodeTables.combiningClasses)
        while let c = p.next(), let v = p.next() { ccc[Int(c)] = UInt8(v) }
        cccTable = TwoStageTable(ccc)

        var comp: [UInt64: UInt32] = [:]
        p = HexCursor(UnicodeTables.compositions)
        while let a = p.next(), let b = p.next(), let c = p.next() { comp[UInt64(a) << 21 | UInt64(b)] = c }
        compositions = comp

        self.pool = .allocate(capacity: max(pool.count, 1))
        self.pool.initialize(from: pool, count: pool.count)
        // Hangul syllables (U+AC00...) decompose algorithmically.
        firstDecomposable = min(UInt32(canonical.firstIndex { $0 != 0 } ?? 0xAC00), 0xAC00)
        firstCompatDecomposable = min(UInt32(compat.firstIndex { $0 != 0 } ?? 0xAC00), 0xAC00)
        firstNonStarter = UInt32(ccc.firstIndex { $0 != 0 } ?? 0x110000)
    }

    @inline(__always)
    func flags(_ c: UInt32) -> UInt32 { flagTable[c] }

    @inline(__always)
    func has(_ c: UInt32, _ flag: UInt32) -> Bool { flagTable[c] & flag != 0 }

    @inline(__always)
    func category(_ c: UInt32) -> UInt32 { flagTable[c] >> 16 & 0x1F }

    @inline(__always)
    func combiningClass(_ c: UInt32) -> UInt8 { c < firstNonStarter ? 0 : cccTable[c] }

    /// Appends Rust's `char::to_lowercase(c)`.
    @inline(__always)
    func appendLowercase(_ c: UInt32, to out: inout ScratchBuffer<UInt32>) {
        if c < 0x80 {
            out.append(c &- 0x41 < 26 ? c | 0x20 : c)
            return
        }
        let v = lowerTable[c]
        if v == 0 {
            out.append(c)
        } else if v & 0x8000_0000 == 0 {
            out.append(v)
        } else {
            out.append(contentsOf: pool + Int(v >> 8 & 0x7F_FFFF), count: Int(v & 0xFF))
        }
    }

    /// The full decomposition of `c` (without reordering), or nil when it has none.
    @inline(__always)
    func decomposition(_ c: UInt32, compatibility: Bool) -> UnsafeBufferPointer<UInt32>? {
        let v = compatibility ? compatTable[c] : canonicalTable[c]
        if v == 0 { return nil }
        return UnsafeBufferPointer(start: pool + Int(v >> 5), count: Int(v & 0x1F))
    }

    /// The primary composite of a canonical pair, Hangul included.
    @inline(__always)
    func compose(_ a: UInt32, _ b: UInt32) -> UInt32? {
        if a &- 0x1100 < 19, b &- 0x1161 < 21 {
            return 0xAC00 + ((a - 0x1100) * 21 + (b - 0x1161)) * 28
        }
        if a &- 0xAC00 < 11172, (a - 0xAC00) % 28 == 0, b &- 0x11A8 < 27 {
            return a + (b - 0x11A7)
        }
        return compositions[UInt64(a) << 21 | UInt64(b)]
    }
}

/// A code point → value table in two stages: `blocks[index[c >> 8] << 8 | c & 0xFF]`.
/// Unicode is mostly long runs of equal values, so the ~4,300 blocks collapse to a few hundred.
struct TwoStageTable<Value: BitwiseCopyable & Hashable>: @unchecked Sendable {
    private let index: UnsafeMutablePointer<UInt16>
    private let blocks: UnsafeMutablePointer<Value>

    init(_ full: [Value]) {
        precondition(full.count == 0x110000)
        var unique: [ArraySlice<Value>: UInt16] = [:]
        var blockList: [Value] = []
        index = .allocate(capacity: 0x1100)
        for b in 0..<0x1100 {
            let block = full[(b << 8)..<((b + 1) << 8)]
            if let k = unique[block] {
                index[b] = k
            } else {
                let k = UInt16(unique.count)
                unique[block] = k
                blockList += block
                index[b] = k
            }
        }
        blocks = .allocate(capacity: blockList.count)
        blocks.initialize(from: blockList, count: blockList.count)
    }

    @inline(__always)
    subscript(c: UInt32) -> Value {
        // Values past U+10FFFF cannot occur in a Swift String; clamp anyway rather than trap.
        let cp = c < 0x110000 ? Int(c) : 0x10FFFF
        return blocks[Int(index[cp >> 8]) << 8 | cp & 0xFF]
    }
}

/// Reads the hexadecimal numbers of a generated table, skipping the separators between them.
struct HexCursor {
    private let bytes: [UInt8]
    private var i = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    /// The next number, or nil at the end.
    mutating func next() -> UInt32? {
        while i < bytes.count, hexValue(bytes[i]) == nil { i += 1 }
        guard i < bytes.count else { return nil }
        var v: UInt32 = 0
        while i < bytes.count, let d = hexValue(bytes[i]) {
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// A `c:x y z;` entry.
    mutating func nextMapping() -> (UInt32, [UInt32])? {
        guard let c = next() else { return nil }
        var mapped: [UInt32] = []
        while i < bytes.count, bytes[i] != UInt8(ascii: ";") {
            if let v = next() { mapped.append(v) } else { break }
        }
        return (c, mapped)
    }

    private func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case 0x30...0x39: UInt32(b - 0x30)
        case 0x61...0x66: UInt32(b - 0x61 + 10)
        default: nil
        }
    }
}
