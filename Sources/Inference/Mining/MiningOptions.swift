import IO

/// The options of sentence-transformers' `util.mine_hard_negatives` (6.3.0), with its defaults and
/// its validation messages. Scores and thresholds are compared in float32, as the Python code does
/// on float32 tensors.
package struct MiningOptions: Sendable, Equatable {
    package enum Strategy: String, Sendable, CaseIterable {
        /// The best `numNegatives` candidates of the window.
        case top
        /// `numNegatives` drawn from the window with Python's `random.sample`.
        case random
    }

    package enum Format: String, Sendable, CaseIterable {
        /// One (anchor, positive, negative) row per negative.
        case triplet
        /// One (anchor, positive, negative_1, …, negative_N) row per pair with N negatives.
        case nTuple = "n-tuple"
    }

    /// Skip this many of the best candidates that survive the filters.
    package var rangeMin = 0
    /// The window's end, counted among surviving candidates; nil derives it (see `resolved`).
    package var rangeMax: Int?
    /// Drop candidates scoring above this.
    package var maxScore: Double?
    /// Drop candidates scoring below this.
    package var minScore: Double?
    /// Drop candidates with score + margin > the query's lowest positive score.
    package var absoluteMargin: Double?
    /// Drop candidates with score > minPos − |minPos| · margin.
    package var relativeMargin: Double?
    package var numNegatives = 3
    package var samplingStrategy = Strategy.top
    package var outputFormat = Format.triplet
    /// Keep the query's positives as candidates (the output is then always n-tuple).
    package var includePositives = false
    /// Add a `scores` column: [positive score, negative score(s)].
    package var outputScores = false
    /// Python's `random.seed(seed)` before the call, for `random` sampling.
    package var seed: UInt64 = 42

    package init() {}

    /// The window and candidate pool for queries with at most `maxPositives` rows each.
    package struct Resolved: Sendable, Equatable {
        package var rangeMax: Int
        /// Whether `rangeMax` was derived (sentence-transformers then prints it).
        package var rangeMaxDerived: Bool
        /// Candidates per query taken from the nearest-neighbour search: room for the excluded
        /// positives and the query's own text on top of the window.
        package var candidateCount: Int
        package var format: Format
    }

    /// Derives `range_max` and checks the options as `mine_hard_negatives` does (in the tool's words).
    package func resolved(maxPositives: Int) throws -> Resolved {
        guard numNegatives >= 1 else { throw EmbedError("--num-negatives must be at least 1, got \(numNegatives)") }
        var derived = false
        let end: Int
        if let rangeMax {
            end = rangeMax
        } else {
            let wide = absoluteMargin != nil || relativeMargin != nil || maxScore != nil
            end = rangeMin + (wide ? numNegatives * 10 : numNegatives) + maxPositives
            derived = true
        }
        guard rangeMin >= 0 else { throw EmbedError("--range-min must not be negative, got \(rangeMin)") }
        guard rangeMin < end else {
            throw EmbedError("--range-min (\(rangeMin)) must be smaller than --range-max (\(end)\(derived ? ", derived from the other options" : ""))")
        }
        guard numNegatives <= end - rangeMin else {
            throw EmbedError("cannot mine \(numNegatives) negatives per query: only \(end - rangeMin) candidates remain after skipping the first --range-min \(rangeMin) of --range-max \(end); decrease --num-negatives or --range-min, or increase --range-max")
        }
        return Resolved(rangeMax: end, rangeMaxDerived: derived, candidateCount: end + maxPositives + 1,
                        format: includePositives ? .nTuple : outputFormat)
    }

    /// The options that make `include_positives` unreliable (sentence-transformers warns).
    package var filtersSet: Bool {
        rangeMin != 0 || rangeMax != nil || maxScore != nil || minScore != nil || absoluteMargin != nil
            || relativeMargin != nil || samplingStrategy != .top
    }
}
