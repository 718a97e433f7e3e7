import IO

/// A backtracking regular-expression matcher for the patterns `tokenizer.json` files carry in
/// `Split` pre-tokenizers and `Replace` normalizers. `tokenizers` compiles those with Oniguruma
/// (Ruby syntax), so this follows Oniguruma's semantics: leftmost match, alternatives tried in
/// order, greedy / lazy / possessive quantifiers, look-around, and Unicode classes (`\s`, `\w`,
/// `\d`, `\p{L}`…) from Oniguruma's own tables (see `UnicodeData`). It works on Unicode scalars.
/// Patterns compile to a program for `RegexVM` (RegexProgram.swift): an explicit backtrack stack,
/// memoized failures (linear time in the text without look-around), and a step budget beyond which
/// matching is an error rather than a hang (a hostile `tokenizer.json` cannot stall `tokenize`).
///
/// Not supported (an error at load time names the construct): back-references, named properties
/// other than general categories, POSIX brackets, conditionals, absent operators, `\K`, `\R`, `\X`.
package final class TokenizerRegex: @unchecked Sendable {
    let pattern: String
    /// The compiled pattern (nil for a literal, matched by comparison).
    private let program: RegexProgramStorage?
    /// When every match must start with one of these scalars (and cannot be empty), the search
    /// skips other positions without trying the whole pattern.
    private let firstSet: RegexCharSet?
    /// A pattern that is a plain string matches by comparison.
    private let literal: [UInt32]?

    package init(pattern: String) throws {
        self.pattern = pattern
        var parser = RegexParser(Array(pattern.unicodeScalars.map(\.value)), source: pattern)
        let root = try parser.parse()
        literal = root.literalScalars
        firstSet = root.nullable ? nil : root.firstChars
        program = literal == nil ? RegexProgramStorage(try RegexCompiler.compile(root, source: pattern)) : nil
    }

    /// A regex matching `text` literally (as `tokenizers` escapes string patterns).
    init(literal text: String) {
        pattern = text
        let scalars = Array(text.unicodeScalars.map(\.value))
        program = nil
        literal = scalars
        firstSet = nil
    }

    /// The matcher's step budget for a text of `n` scalars: far above what any tokenizer pattern
    /// needs (memoization keeps those linear), reached only by catastrophic backtracking, where it
    /// stops a search within a fraction of a second.
    static func stepBudget(textLength n: Int) -> Int { 10_000_000 + 1_000 * n }

    /// Non-overlapping matches in `text`, as (start, end) scalar offsets, following Oniguruma's
    /// iteration: after an empty match the search resumes one scalar later, and an empty match
    /// right where the previous match ended is skipped. Throws when the step budget runs out.
    func matches(in text: UnsafeBufferPointer<UInt32>, into out: inout ScratchBuffer<RegexMatch>) throws {
        out.removeAll()
        if let literal {
            guard !literal.isEmpty else {
                // An empty literal (tokenizers escapes it to an empty regex) matches everywhere.
                emptyMatches(text, into: &out)
                return
            }
            var i = 0
            while i + literal.count <= text.count {
                var k = 0
                while k < literal.count, text[i + k] == literal[k] { k += 1 }
                if k == literal.count {
                    out.append(RegexMatch(start: i, end: i + literal.count))
                    i += literal.count
                } else {
                    i += 1
                }
            }
            return
        }
        guard let program else { return }
        var vm = RegexVM(program: program, text: text, budget: Self.stepBudget(textLength: text.count))
        var searchFrom = 0
        var lastEnd = -1
        while searchFrom <= text.count {
            let found: (Int, Int)?
            do {
                found = try vm.search(from: searchFrom, firstSet: firstSet)
            } catch {
                throw EmbedError("regex \"\(pattern)\": gave up after \(vm.steps) steps on a text of \(text.count) characters (the pattern backtracks catastrophically)")
            }
            guard let (s, e) = found else { break }
            if s == e, s == lastEnd {
                // Oniguruma (via the onig crate) skips an empty match adjacent to the previous one.
                searchFrom = s + 1
                continue
            }
            out.append(RegexMatch(start: s, end: e))
            lastEnd = e
            searchFrom = e > s ? e : e + 1
        }
    }

    /// The matches in a string, as scalar offsets (for tests and the fuzz target).
    package func matches(in text: String) throws -> [RegexMatch] {
        let scalars = Array(text.unicodeScalars.map(\.value))
        var out = ScratchBuffer<RegexMatch>(capacity: 16)
        defer { out.free() }
        try scalars.withUnsafeBufferPointer { try self.matches(in: $0, into: &out) }
        return Array(out.buffer)
    }

    private func emptyMatches(_ text: UnsafeBufferPointer<UInt32>, into out: inout ScratchBuffer<RegexMatch>) {
        for i in 0...text.count { out.append(RegexMatch(start: i, end: i)) }
    }
}

package struct RegexMatch: Equatable, Sendable, BitwiseCopyable {
    package var start: Int
    package var end: Int
    package init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }
}

/// A set of scalars: ranges, class flags, categories, possibly negated.
struct RegexCharSet: Sendable {
    var ranges: [ClosedRange<UInt32>] = []
    /// `UnicodeData` flag bits any of which puts a scalar in the set.
    var flags: UInt32 = 0
    /// Flags whose absence puts a scalar in the set (\S, \W, \D).
    var notFlags: UInt32 = 0
    /// Oniguruma general categories (bit per category index).
    var categories: UInt32 = 0
    var notCategories: UInt32 = 0
    var subsets: [RegexCharSet] = []
    /// Intersected sets (`[a-z&&[^aeiou]]`).
    var intersections: [RegexCharSet] = []
    var negated = false
    var caseless = false

    /// Under `(?i)` a scalar also matches through its lowercase and, for ASCII, its uppercase
    /// (the tables hold no general uppercase mapping; case-insensitive classes of non-ASCII
    /// uppercase letters are the one approximation).
    func contains(_ c: UInt32) -> Bool {
        if rawContains(c) { return true }
        guard caseless else { return false }
        let f = regexFold(c)
        if f != c, rawContains(f) { return true }
        if c &- 0x61 < 26 { return rawContains(c - 0x20) }
        return false
    }

    private func rawContains(_ c: UInt32) -> Bool {
        var inside = baseContains(c)
        if inside { for s in intersections where !s.contains(c) { inside = false; break } }
        return inside != negated
    }

    private func baseContains(_ c: UInt32) -> Bool {
        for r in ranges where r.contains(c) { return true }
        let u = UnicodeData.shared
        if flags != 0 || notFlags != 0 || categories != 0 || notCategories != 0 {
            let f = u.flags(c)
            if f & flags != 0 { return true }
            if notFlags != 0, f & notFlags != notFlags { return true }
            let cat = UInt32(1) << (f >> 16 & 0x1F)
            if cat & categories != 0 { return true }
            if notCategories != 0, cat & notCategories == 0 { return true }
        }
        for s in subsets where s.contains(c) { return true }
        return false
    }
}

/// Simple case folding for `(?i)`: Rust's lowercase when it is one scalar.
@inline(__always)
func regexFold(_ c: UInt32) -> UInt32 {
    if c < 0x80 { return c &- 0x41 < 26 ? c | 0x20 : c }
    var tmp = ScratchBuffer<UInt32>(capacity: 4)
    defer { tmp.free() }
    UnicodeData.shared.appendLowercase(c, to: &tmp)
    return tmp.count == 1 ? tmp[0] : c
}

indirect enum RegexNode: Sendable {
    case empty
    case char(UInt32, caseless: Bool)
    case set(RegexCharSet)
    case any(dotAll: Bool)
    case sequence([RegexNode])
    case alternation([RegexNode])
    case repetition(RegexNode, min: Int, max: Int, greedy: Bool)
    case atomic(RegexNode)
    case lookahead(RegexNode, negative: Bool)
    case lookbehind(RegexNode, negative: Bool)
    case lineStart, lineEnd, textStart, textEnd, textEndBeforeNewline, wordBoundary(Bool), searchStart

    /// Whether the node can match the empty string.
    var nullable: Bool {
        switch self {
        case .empty, .lookahead, .lookbehind, .lineStart, .lineEnd, .textStart, .textEnd, .textEndBeforeNewline,
             .wordBoundary, .searchStart:
            return true
        case .char, .set, .any: return false
        case .sequence(let nodes): return nodes.allSatisfy(\.nullable)
        case .alternation(let nodes): return nodes.contains(where: \.nullable)
        case .repetition(let body, let min, _, _): return min == 0 || body.nullable
        case .atomic(let body): return body.nullable
        }
    }

    /// The scalars a non-empty match can start with, when they can be listed cheaply.
    var firstChars: RegexCharSet? {
        switch self {
        case .char(let c, let caseless):
            var s = RegexCharSet(ranges: [c...c])
            if caseless {
                let f = regexFold(c)
                s.ranges.append(f...f)
                s.caseless = true
            }
            return s
        case .set(let s): return s
        case .sequence(let nodes):
            var union = RegexCharSet()
            for n in nodes {
                if case .lookahead = n { return nil }
                if case .lookbehind = n { return nil }
                guard let f = n.firstChars else { return nil }
                union.subsets.append(f)
                if !n.nullable { return union }
            }
            return nil
        case .alternation(let nodes):
            var union = RegexCharSet()
            for n in nodes {
                guard let f = n.firstChars else { return nil }
                union.subsets.append(f)
            }
            return union
        case .repetition(let body, _, _, _): return body.firstChars
        case .atomic(let body): return body.firstChars
        default: return nil
        }
    }

    var literalScalars: [UInt32]? {
        switch self {
        case .char(let c, false): return [c]
        case .sequence(let nodes):
            var out: [UInt32] = []
            for n in nodes {
                guard case .char(let c, false) = n else { return nil }
                out.append(c)
            }
            return out.isEmpty ? nil : out
        default: return nil
        }
    }

    /// The shortest and longest match lengths (nil longest: unbounded).
    var lengthRange: (min: Int, max: Int?) {
        switch self {
        case .char, .set, .any: return (1, 1)
        case .sequence(let nodes):
            var lo = 0
            var hi: Int? = 0
            for n in nodes {
                let r = n.lengthRange
                lo = saturatingAdd(lo, r.min)
                hi = hi.flatMap { h in r.max.flatMap { checkedAdd(h, $0) } }
            }
            return (lo, hi)
        case .alternation(let nodes):
            var lo = Int.max
            var hi: Int? = 0
            for n in nodes {
                let r = n.lengthRange
                lo = Swift.min(lo, r.min)
                hi = hi.flatMap { h in r.max.map { Swift.max(h, $0) } }
            }
            return (nodes.isEmpty ? 0 : lo, hi)
        case .repetition(let body, let min, let max, _):
            let r = body.lengthRange
            let hi: Int? = max == Int.max ? (r.max == 0 ? 0 : nil) : r.max.flatMap { checkedMultiply($0, max) }
            return (saturatingMultiply(r.min, min), hi)
        case .atomic(let body): return body.lengthRange
        default: return (0, 0)
        }
    }
}

// Lengths of hostile patterns (`(a{99999}){99999}…`) overflow Int: saturate, or call them unbounded.
private func checkedAdd(_ a: Int, _ b: Int) -> Int? {
    let (r, o) = a.addingReportingOverflow(b)
    return o ? nil : r
}
private func checkedMultiply(_ a: Int, _ b: Int) -> Int? {
    let (r, o) = a.multipliedReportingOverflow(by: b)
    return o ? nil : r
}
private func saturatingAdd(_ a: Int, _ b: Int) -> Int { checkedAdd(a, b) ?? Int.max }
private func saturatingMultiply(_ a: Int, _ b: Int) -> Int { checkedMultiply(a, b) ?? Int.max }

/// Parses Oniguruma's Ruby syntax into `RegexNode`s. Nesting (groups, classes, stacked
/// quantifiers) is limited, since the parser and the compiler recurse on it.
struct RegexParser {
    let p: [UInt32]
    let source: String
    var i = 0
    var depth = 0
    static let maxDepth = 100
    var caseless = false
    var dotAll = false

    init(_ p: [UInt32], source: String) {
        self.p = p
        self.source = source
    }

    func fail(_ message: String) -> EmbedError {
        EmbedError("regex \"\(source)\": \(message) (at character \(i + 1))")
    }

    mutating func parse() throws -> RegexNode {
        let node = try alternation()
        if i < p.count { throw fail("unbalanced ')'") }
        return node
    }

    var atEnd: Bool { i >= p.count }

    func peek(_ offset: Int = 0) -> UInt32? { i + offset < p.count ? p[i + offset] : nil }

    mutating func eat(_ c: Character) -> Bool {
        if let v = peek(), v == c.unicodeScalars.first!.value {
            i += 1
            return true
        }
        return false
    }

    mutating func alternation() throws -> RegexNode {
        var alts = [try sequence()]
        while eat("|") { alts.append(try sequence()) }
        return alts.count == 1 ? alts[0] : .alternation(alts)
    }

    mutating func sequence() throws -> RegexNode {
        var nodes: [RegexNode] = []
        while let c = peek(), c != 0x7C /* | */, c != 0x29 /* ) */ {
            // An inline option group `(?i)` changes the flags for the rest of the sequence.
            if c == 0x28, peek(1) == 0x3F, let applied = try inlineOptions() {
                if applied { continue }
            }
            var atom = try self.atom()
            atom = try quantified(atom)
            nodes.append(atom)
        }
        if nodes.count == 1 { return nodes[0] }
        return nodes.isEmpty ? .empty : .sequence(nodes)
    }

    /// Parses `(?imx-imx)` when it stands alone; returns nil when the group is something else.
    mutating func inlineOptions() throws -> Bool? {
        var j = i + 2
        var on = true
        var ci = caseless, da = dotAll
        while j < p.count {
            switch p[j] {
            case 0x69: ci = on  // i
            case 0x6D: da = on  // m (Ruby: dot matches newline)
            case 0x78: throw fail("extended mode (?x) is not supported")
            case 0x2D: on = false
            case 0x29:
                caseless = ci
                dotAll = da
                i = j + 1
                return true
            default: return nil
            }
            j += 1
        }
        return nil
    }

    mutating func quantified(_ atom: RegexNode) throws -> RegexNode {
        var node = atom
        var stacked = 0
        while let c = peek() {
            var min = 0, max = Int.max
            switch c {
            case 0x2A: i += 1  // *
            case 0x2B: i += 1; min = 1  // +
            case 0x3F: i += 1; max = 1  // ?
            case 0x7B:  // {
                guard let (lo, hi, len) = interval(at: i) else { return node }
                i += len
                min = lo
                max = hi
            default:
                return node
            }
            var greedy = true
            var possessive = false
            if eat("?") {
                greedy = false
            } else if c != 0x7B, eat("+") {
                possessive = true
            }
            stacked += 1
            if stacked > 4 { throw fail("more than 4 quantifiers in a row") }
            node = .repetition(node, min: min, max: max, greedy: greedy)
            if possessive { node = .atomic(node) }
        }
        return node
    }

    /// `{n}`, `{n,}`, `{n,m}`, `{,m}` at `at`; nil when it is not an interval (then `{` is literal).
    func interval(at: Int) -> (Int, Int, Int)? {
        var j = at + 1
        func number() -> Int? {
            var v: Int?
            while j < p.count, p[j] >= 0x30, p[j] <= 0x39 {
                v = (v ?? 0) * 10 + Int(p[j] - 0x30)
                if v! > 100_000 { return nil }
                j += 1
            }
            return v
        }
        let lo = number()
        var hi = lo
        if j < p.count, p[j] == 0x2C {
            j += 1
            hi = number()
            if lo == nil, hi == nil { return nil }
            if hi == nil { hi = Int.max }
        }
        guard j < p.count, p[j] == 0x7D, lo != nil || hi != nil else { return nil }
        let l = lo ?? 0
        let h = hi ?? l
        guard h >= l else { return nil }
        return (l, h, j - at + 1)
    }

    mutating func atom() throws -> RegexNode {
        guard let c = peek() else { throw fail("unexpected end") }
        i += 1
        switch c {
        case 0x28: return try group()
        case 0x5B: return .set(try charClass())
        case 0x2E: return .any(dotAll: dotAll)
        case 0x5E: return .lineStart
        case 0x24: return .lineEnd
        case 0x5C: return try escape(inClass: false).node(caseless: caseless)
        case 0x2A, 0x2B, 0x3F: throw fail("nothing to repeat")
        default: return .char(c, caseless: caseless)
        }
    }

    mutating func enter() throws {
        depth += 1
        if depth > RegexParser.maxDepth { throw fail("nested more than \(RegexParser.maxDepth) levels deep") }
    }

    mutating func group() throws -> RegexNode {
        let savedCaseless = caseless, savedDotAll = dotAll
        try enter()
        defer { caseless = savedCaseless; dotAll = savedDotAll; depth -= 1 }
        if eat("?") {
            if eat(":") { return try closeGroup(try alternation()) }
            if eat("=") { return .lookahead(try closeGroup(try alternation()), negative: false) }
            if eat("!") { return .lookahead(try closeGroup(try alternation()), negative: true) }
            if eat(">") { return .atomic(try closeGroup(try alternation())) }
            if eat("<") {
                if let c = peek(), c == 0x3D || c == 0x21 {  // (?<= or (?<!
                    i += 1
                    let body = try closeGroup(try alternation())
                    // As in Oniguruma, a look-behind must have a bounded length.
                    guard body.lengthRange.max != nil else { throw fail("invalid pattern in look-behind (unbounded length)") }
                    return .lookbehind(body, negative: c == 0x21)
                }
                // Named group: (?<name>...)
                while let c = peek(), c != 0x3E { i += 1 }
                guard eat(">") else { throw fail("unterminated group name") }
                return try closeGroup(try alternation())
            }
            // Scoped options (?i:...) / (?-i:...).
            var on = true
            while let c = peek() {
                i += 1
                switch c {
                case 0x69: caseless = on
                case 0x6D: dotAll = on
                case 0x2D: on = false
                case 0x3A: return try closeGroup(try alternation())
                default: throw fail("unsupported group syntax '(?\(Character(Unicode.Scalar(c)!))'")
                }
            }
            throw fail("unterminated group")
        }
        return try closeGroup(try alternation())
    }

    mutating func closeGroup(_ node: RegexNode) throws -> RegexNode {
        guard eat(")") else { throw fail("missing ')'") }
        return node
    }

    enum Escaped {
        case scalar(UInt32)
        case set(RegexCharSet)
        case anchor(RegexNode)

        func node(caseless: Bool) -> RegexNode {
            switch self {
            case .scalar(let c):
                return RegexNode.char(c, caseless: caseless)
            case .set(var s):
                s.caseless = caseless
                return RegexNode.set(s)
            case .anchor(let n):
                return n
            }
        }
    }

    mutating func escape(inClass: Bool) throws -> Escaped {
        guard let c = peek() else { throw fail("trailing backslash") }
        i += 1
        typealias F = UnicodeData.Flag
        switch Character(Unicode.Scalar(c)!) {
        case "s": return .set(RegexCharSet(flags: F.onigSpace))
        case "S": return .set(RegexCharSet(notFlags: F.onigSpace))
        case "w": return .set(RegexCharSet(flags: F.onigWord))
        case "W": return .set(RegexCharSet(notFlags: F.onigWord))
        case "d": return .set(RegexCharSet(flags: F.onigDigit))
        case "D": return .set(RegexCharSet(notFlags: F.onigDigit))
        case "h": return .set(RegexCharSet(ranges: [0x30...0x39, 0x41...0x46, 0x61...0x66]))
        case "H": return .set(RegexCharSet(ranges: [0x30...0x39, 0x41...0x46, 0x61...0x66], negated: true))
        case "p", "P": return .set(try property(negated: c == 0x50))
        case "t": return .scalar(0x09)
        case "n": return .scalar(0x0A)
        case "r": return .scalar(0x0D)
        case "f": return .scalar(0x0C)
        case "v": return .scalar(0x0B)
        case "a": return .scalar(0x07)
        case "e": return .scalar(0x1B)
        case "x":
            if eat("{") {
                let v = try hex(maxDigits: 8)
                guard eat("}") else { throw fail("unterminated \\x{...}") }
                return .scalar(v)
            }
            return .scalar(try hex(maxDigits: 2))
        case "u": return .scalar(try hex(maxDigits: 4, exact: true))
        case "0":
            var v: UInt32 = 0
            var n = 0
            while n < 2, let d = peek(), d >= 0x30, d <= 0x37 { v = v * 8 + d - 0x30; i += 1; n += 1 }
            return .scalar(v)
        case "b" where inClass: return .scalar(0x08)
        case "b": return .anchor(.wordBoundary(true))
        case "B": return .anchor(.wordBoundary(false))
        case "A": return .anchor(.textStart)
        case "z": return .anchor(.textEnd)
        case "Z": return .anchor(.textEndBeforeNewline)
        case "G": return .anchor(.searchStart)
        case "1"..."9", "k", "K", "R", "X", "g", "N", "O", "y", "Y":
            throw fail("\\\(Character(Unicode.Scalar(c)!)) is not supported")
        default:
            return .scalar(c)
        }
    }

    mutating func hex(maxDigits: Int, exact: Bool = false) throws -> UInt32 {
        var v: UInt32 = 0
        var n = 0
        while n < maxDigits, let d = peek(), let x = RegexParser.hexDigit(d) {
            v = v << 4 | x
            i += 1
            n += 1
        }
        if n == 0 || (exact && n != maxDigits) { throw fail("invalid hexadecimal escape") }
        return v
    }

    static func hexDigit(_ d: UInt32) -> UInt32? {
        switch d {
        case 0x30...0x39: d - 0x30
        case 0x41...0x46: d - 0x41 + 10
        case 0x61...0x66: d - 0x61 + 10
        default: nil
        }
    }

    static let categoryAliases: [String: String] = [
        "letter": "L", "uppercase_letter": "Lu", "lowercase_letter": "Ll", "titlecase_letter": "Lt",
        "modifier_letter": "Lm", "other_letter": "Lo", "mark": "M", "combining_mark": "M",
        "nonspacing_mark": "Mn", "spacing_mark": "Mc", "enclosing_mark": "Me", "number": "N",
        "decimal_number": "Nd", "letter_number": "Nl", "other_number": "No", "punctuation": "P",
        "punct": "P", "connector_punctuation": "Pc", "dash_punctuation": "Pd", "open_punctuation": "Ps",
        "close_punctuation": "Pe", "initial_punctuation": "Pi", "final_punctuation": "Pf",
        "other_punctuation": "Po", "symbol": "S", "math_symbol": "Sm", "currency_symbol": "Sc",
        "modifier_symbol": "Sk", "other_symbol": "So", "separator": "Z", "space_separator": "Zs",
        "line_separator": "Zl", "paragraph_separator": "Zp", "other": "C", "control": "Cc", "cntrl": "Cc",
        "format": "Cf", "private_use": "Co", "unassigned": "Cn", "surrogate": "Cs", "digit": "Nd",
    ]

    mutating func property(negated: Bool) throws -> RegexCharSet {
        guard eat("{") else { throw fail("expected '{' after \\p") }
        var neg = negated
        if eat("^") { neg.toggle() }
        var name = ""
        while let c = peek(), c != 0x7D {
            name.unicodeScalars.append(Unicode.Scalar(c)!)
            i += 1
        }
        guard eat("}") else { throw fail("unterminated \\p{...}") }
        // Oniguruma ignores case, spaces, '-' and '_' in property names.
        let key = String(name.lowercased().filter { $0 != " " && $0 != "-" })
        var set = RegexCharSet(negated: neg)
        if key == "any" {
            set.ranges = [0...0x10FFFF]
            return set
        }
        let short = RegexParser.categoryAliases[key] ?? RegexParser.categoryAliases[key.replacingUnderscores()]
            ?? name
        let names = UnicodeTables.categoryNames
        var bits: UInt32 = 0
        for (k, n) in names.enumerated() where n == short || (short.count == 1 && n.hasPrefix(short)) {
            bits |= 1 << k
        }
        if short == "L&" || key == "lc" { bits = 0b111 }  // Lu Ll Lt
        guard bits != 0 else { throw fail("unsupported property \\p{\(name)}") }
        set.categories = bits
        return set
    }

    /// Parses a bracket class after its `[`.
    mutating func charClass() throws -> RegexCharSet {
        try enter()
        defer { depth -= 1 }
        var set = RegexCharSet()
        set.caseless = caseless
        if eat("^") { set.negated = true }
        var first = true
        while true {
            guard let c = peek() else { throw fail("unterminated character class") }
            if c == 0x5D, !first {  // ]
                i += 1
                return set
            }
            first = false
            if c == 0x5B {  // nested class or POSIX bracket
                if peek(1) == 0x3A { throw fail("POSIX bracket expressions are not supported") }
                i += 1
                set.subsets.append(try charClass())
                continue
            }
            if c == 0x26, peek(1) == 0x26 {  // && intersection with the rest
                i += 2
                var rest = RegexCharSet()
                rest.caseless = caseless
                // The rest of this class, up to its ']', is the right operand.
                var inner = RegexCharSet()
                inner.caseless = caseless
                while let d = peek(), d != 0x5D {
                    if d == 0x5B {
                        i += 1
                        inner.subsets.append(try charClass())
                    } else {
                        try classItem(into: &inner)
                    }
                }
                rest = inner
                var left = set
                left.negated = false
                var combined = RegexCharSet()
                combined.caseless = caseless
                combined.subsets = [left]
                combined.intersections = [rest]
                combined.negated = set.negated
                set = combined
                continue
            }
            try classItem(into: &set)
        }
    }

    /// One member of a class: a scalar, a range, or an escape.
    mutating func classItem(into set: inout RegexCharSet) throws {
        guard let c = peek() else { throw fail("unterminated character class") }
        i += 1
        let low: UInt32
        if c == 0x5C {
            switch try escape(inClass: true) {
            case .scalar(let v): low = v
            case .set(let s):
                set.subsets.append(s)
                return
            case .anchor: throw fail("anchor inside a character class")
            }
        } else {
            low = c
        }
        if peek() == 0x2D, let next = peek(1), next != 0x5D {  // a range
            i += 1
            let high: UInt32
            if next == 0x5C {
                i += 1
                guard case .scalar(let v) = try escape(inClass: true) else { throw fail("invalid range end") }
                high = v
            } else {
                high = next
                i += 1
            }
            guard high >= low else { throw fail("invalid range (end before start)") }
            set.ranges.append(low...high)
            return
        }
        set.ranges.append(low...low)
    }
}

private extension String {
    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
