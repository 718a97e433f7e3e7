import Foundation
import IO
import TestSupport
import Testing
import Tokenizers

/// The regex engine's guarantees against hostile `tokenizer.json` patterns: bounded time, bounded
/// stack, and unsupported syntax refused at load. (Oniguruma's semantics are checked against the
/// Python `tokenizers` library by TokenizerComponentTests.)
@Suite struct RegexEngineTests {
    /// Sanitizer builds run several times slower; the bound there only catches real hangs.
    static let timeLimit: Duration = ProcessInfo.processInfo.environment["NOREMBED_SANITIZER"] == nil ? .seconds(1) : .seconds(20)

    static let catastrophic: [(pattern: String, text: String)] = {
        let a = String(repeating: "a", count: 10_000)
        return [
            ("(a+)+$", a + "b"),
            ("(a|aa)*c", a),
            ("(a*)*b", a),
            ("(a|a)*b", a),
            ("((a+)+)+b", a),
            ("(x+x+)+y", String(repeating: "x", count: 10_000)),
            ("(\\w+\\s?)*$", String(repeating: "word ", count: 2_000) + "!"),
            ("^(([a-z])+.)+[A-Z]([a-z])+$", a + "!"),
            ("(?:a?){25}a{25}", String(repeating: "a", count: 25)),
            ("(?:a|b?)+c", a),
            ("(.*a){12}", a),
            ("(?=(a|aa)*c)a", a),
            ("(?<!(a|aa){5})(a+)+b", a),
            ("\\s+(?!\\S)|\\s+", String(repeating: " ", count: 10_000) + "x"),
        ]
    }()

    @Test("classic catastrophic patterns over 10,000 characters complete or refuse within a second",
          arguments: 0..<catastrophic.count)
    func catastrophicPatterns(_ k: Int) throws {
        let (pattern, text) = Self.catastrophic[k]
        let regex = try TokenizerRegex(pattern: pattern)
        let clock = ContinuousClock()
        let start = clock.now
        var outcome = ""
        do {
            let matches = try regex.matches(in: text)
            outcome = "\(matches.count) matches"
        } catch {
            outcome = "\(error)"
            #expect(outcome.contains("gave up after"), "\(pattern): \(outcome)")
            #expect(outcome.contains(pattern), "the error names the pattern: \(outcome)")
        }
        let elapsed = clock.now - start
        #expect(elapsed < Self.timeLimit, "\(pattern): \(elapsed) (\(outcome))")
    }

    /// Memoization makes these linear, so they complete (not merely refuse).
    @Test func nestedQuantifiersWithoutLookAroundComplete() throws {
        let a = String(repeating: "a", count: 10_000)
        #expect(try TokenizerRegex(pattern: "(a+)+$").matches(in: a + "b") == [])
        #expect(try TokenizerRegex(pattern: "(a|aa)*c").matches(in: a) == [])
        #expect(try TokenizerRegex(pattern: "(a+)+$").matches(in: a) == [RegexMatch(start: 0, end: 10_000)])
        #expect(try TokenizerRegex(pattern: "(a|aa)*c").matches(in: a + "c") == [RegexMatch(start: 0, end: 10_001)])
    }

    /// A match a million scalars long through a loop of groups: no recursion grows with it.
    @Test func longMatchesDoNotRecurse() throws {
        let text = String(repeating: "ab", count: 500_000)
        #expect(try TokenizerRegex(pattern: "(?:ab|cd)+").matches(in: text) == [RegexMatch(start: 0, end: 1_000_000)])
        #expect(try TokenizerRegex(pattern: "(?:a(?=b)b)+?$").matches(in: text) == [RegexMatch(start: 0, end: 1_000_000)])
        #expect(try TokenizerRegex(pattern: "(?>(?:ab)*)").matches(in: text).first == RegexMatch(start: 0, end: 1_000_000))
    }

    /// Leftmost-first (Perl/Oniguruma) results, spot checks of the compiled forms.
    @Test func oniguruma() throws {
        func m(_ p: String, _ t: String) throws -> [[Int]] {
            try TokenizerRegex(pattern: p).matches(in: t).map { [$0.start, $0.end] }
        }
        #expect(try m("(a|ab)(c|bcd)(d*)", "abcd") == [[0, 4]])
        #expect(try m("a*?b|a+", "aaab aa") == [[0, 4], [5, 7]])
        #expect(try m("(a*)*", "b") == [[0, 0], [1, 1]])
        #expect(try m("x*", "xxaxx") == [[0, 2], [3, 5]])
        #expect(try m("(?:ab){2,3}", "abababababab") == [[0, 6], [6, 12]])
        #expect(try m("(?:ab){2,3}?", "ababab") == [[0, 4]])
        #expect(try m("a++a|a+b", "aaab") == [[0, 4]])
        #expect(try m("(?>a|ab)c", "abc ac") == [[4, 6]])
        #expect(try m("(?<=\\d{2})x|y(?!z)", "12x 3x yz y") == [[2, 3], [10, 11]])
        #expect(try m("\\p{N}{1,3}", "12345") == [[0, 3], [3, 5]])
        #expect(try m("(?i)[a-c]+", "xAbCd") == [[1, 4]])
        #expect(try m("\\Ga", "aab") == [[0, 1], [1, 2]])
        #expect(try m("(?:|a)+b", "aab") == [[0, 3]])
    }

    @Test(arguments: [
        ("(a)\\1", "\\1 is not supported"),
        ("(?<n>a)\\k<n>", "\\k is not supported"),
        ("[[:alpha:]]", "POSIX bracket"),
        ("(?x) a", "extended mode"),
        ("\\p{Greek}", "unsupported property"),
        ("(?~abc)", "unsupported group syntax"),
        (String(repeating: "(", count: 150) + "a" + String(repeating: ")", count: 150), "nested more than"),
        ("(?:ab){60000}", "too large"),
        ("a{2}{3}{4}{5}{6}", "quantifiers in a row"),
        ("(?<=a+)b", "unbounded length"),
    ])
    func unsupportedPatternsAreLoadErrors(_ pattern: String, _ message: String) {
        do {
            _ = try TokenizerRegex(pattern: pattern)
            Issue.record("\(pattern) was accepted")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
            #expect("\(error)".contains("regex \"\(pattern)\""), "\(error)")
        }
    }

    /// Lengths of nested counted repetitions overflow Int: the look-behind check must not trap.
    @Test func hugeCountsDoNotOverflow() {
        #expect(throws: EmbedError.self) { try TokenizerRegex(pattern: "(?<=((a{99999}){99999}){99999}){99999}x") }
    }
}
