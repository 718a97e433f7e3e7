/// Edit distances for "did you mean ...?" suggestions on misspelt keys.
package enum EditDistance {
    /// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
    /// neighbouring characters each cost 1 (`lerning_rate` → `learning_rate` is 1, `lr_shceduler` → 1).
    package static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.lowercased()), y = Array(b.lowercased())
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var prev2 = [Int](repeating: 0, count: y.count + 1)
        var prev = Array(0...y.count)
        var cur = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            cur[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                var d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] { d = min(d, prev2[j - 2] + 1) }
                cur[j] = d
            }
            (prev2, prev, cur) = (prev, cur, prev2)
        }
        return prev[y.count]
    }

    /// The candidate closest to `word` (ties: the first in `candidates`), with its distance.
    package static func closest(to word: String, among candidates: [String]) -> (candidate: String, distance: Int)? {
        var best: (candidate: String, distance: Int)?
        for c in candidates {
            let d = distance(word, c)
            if let b = best, b.distance <= d { continue }
            best = (c, d)
        }
        return best
    }

    /// Whether a suggestion at distance `d` is close enough to be worth making for `word`: a third
    /// of the word's length (at least 2 edits), or when one is a prefix of the other (`seed_value`).
    package static func isPlausible(_ word: String, _ candidate: String, distance d: Int) -> Bool {
        d <= max(2, word.count / 3) || candidate.hasPrefix(word) || word.hasPrefix(candidate)
    }
}
