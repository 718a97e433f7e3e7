/// The triplets a model gets most wrong and most right, kept while streaming through any number of
/// them in bounded memory: the `k` lowest and `k` highest margins, where the margin is
/// cos(anchor, positive) − cos(anchor, negative) (negative: the model ranks the negative first), and
/// a histogram of every margin.
package struct TripletExtremes: Sendable {
    package struct Scored: Sendable, Equatable {
        /// 0-based row of the evaluated data (blank lines not counted, as every reader skips them).
        package var row: Int
        package var positive: Double
        package var negative: Double
        /// Anchor, positive and negative texts, when known.
        package var texts: [String]?

        package var margin: Double { positive - negative }
    }

    package let k: Int
    /// Ascending margin: the worst first. Ties keep data order.
    package private(set) var lowest: [Scored] = []
    /// Descending margin: the clearest first.
    package private(set) var highest: [Scored] = []
    package private(set) var count = 0
    package private(set) var errors = 0
    /// Margins binned over [-histogramLimit, histogramLimit] (outliers in the end bins).
    package private(set) var histogram: [Int]
    package static let histogramLimit = 1.0

    package init(k: Int, bins: Int = 40) {
        self.k = max(0, k)
        histogram = [Int](repeating: 0, count: max(1, bins))
    }

    package mutating func add(row: Int, positive: Double, negative: Double) {
        let item = Scored(row: row, positive: positive, negative: negative, texts: nil)
        let m = item.margin
        count += 1
        if !(m > 0) { errors += 1 }
        let bins = histogram.count
        let pos = (m + Self.histogramLimit) / (2 * Self.histogramLimit) * Double(bins)
        histogram[min(bins - 1, max(0, pos.isFinite ? Int(pos.rounded(.down)) : 0))] += 1
        guard k > 0 else { return }
        if lowest.count < k || m < lowest[lowest.count - 1].margin {
            let at = lowest.firstIndex { $0.margin > m } ?? lowest.count
            lowest.insert(item, at: at)
            if lowest.count > k { lowest.removeLast() }
        }
        if highest.count < k || m > highest[highest.count - 1].margin {
            let at = highest.firstIndex { $0.margin < m } ?? highest.count
            highest.insert(item, at: at)
            if highest.count > k { highest.removeLast() }
        }
    }

    /// The rows whose texts are still wanted.
    package var rowsWithoutText: Set<Int> {
        Set((lowest + highest).filter { $0.texts == nil }.map(\.row))
    }

    /// Attaches a row's texts to the kept triplets of that row.
    package mutating func attach(row: Int, texts: [String]) {
        for i in lowest.indices where lowest[i].row == row { lowest[i].texts = texts }
        for i in highest.indices where highest[i].row == row { highest[i].texts = texts }
    }
}
