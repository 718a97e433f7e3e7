import IO
import NN

/// The loss a dataset trains with (config `loss`), as sentence-transformers computes it, optionally
/// inside MatryoshkaLoss. It maps the sentence embeddings of one batch — all of column 0, then all
/// of column 1, … (anchors, positives, negatives; or sentence1, sentence2) — and, for CoSENT, the
/// gold scores, to a loss and its gradient with respect to the embeddings. How the embeddings are
/// computed (in one pass, or in cached mini-batches) is the objective's business.
package struct TrainingLoss: Sendable, Equatable {
    package enum Kind: String, Sendable, Equatable, CaseIterable {
        /// MultipleNegativesRankingLoss.
        case mnrl
        /// CachedMultipleNegativesRankingLoss (GradCache): MNRL's value and gradients, computed in
        /// mini-batches so that activation memory is a mini-batch's.
        case cachedMNRL = "cached_mnrl"
        /// CoSENTLoss on (sentence1, sentence2) pairs with a gold score.
        case cosent

        /// The sentence-transformers class name (model card, logs).
        package var className: String {
            switch self {
            case .mnrl: "MultipleNegativesRankingLoss"
            case .cachedMNRL: "CachedMultipleNegativesRankingLoss"
            case .cosent: "CoSENTLoss"
            }
        }

        /// Whether the loss ranks each anchor against in-batch candidates (and so wants batches
        /// without duplicate texts).
        package var usesInBatchNegatives: Bool { self != .cosent }
    }

    package var kind: Kind
    /// sentence-transformers' default for all three: 20 (a temperature of 0.05).
    package var scale: Float
    /// cached_mnrl: sequences per forward pass (sentence-transformers' `mini_batch_size`).
    package var miniBatchSize: Int
    /// MatryoshkaLoss dimensions, largest first; empty for none.
    package var matryoshkaDims: [Int]
    /// One weight per dimension (sentence-transformers' default: all 1).
    package var matryoshkaWeights: [Float]

    package init(kind: Kind = .mnrl, scale: Float = 20, miniBatchSize: Int = 32, matryoshkaDims: [Int] = [],
                 matryoshkaWeights: [Float]? = nil) {
        self.kind = kind
        self.scale = scale
        self.miniBatchSize = miniBatchSize
        // As MatryoshkaLoss.__init__: dims and weights sorted together, largest dimension first.
        let weights = matryoshkaWeights ?? Array(repeating: 1, count: matryoshkaDims.count)
        precondition(weights.count == matryoshkaDims.count, "one Matryoshka weight per dimension")
        let sorted = zip(matryoshkaDims, weights).sorted { $0.0 > $1.0 }
        self.matryoshkaDims = sorted.map(\.0)
        self.matryoshkaWeights = sorted.map(\.1)
    }

    package static let mnrl = TrainingLoss()

    /// Text columns the loss needs: at least anchor and positive for the ranking losses, exactly two
    /// (and a score) for CoSENT.
    package func check(columns: Int, hasScores: Bool) -> String? {
        switch kind {
        case .mnrl, .cachedMNRL:
            return columns >= 2 ? nil : "\(kind.rawValue) needs at least two text columns (anchor, positive[, negatives…]), got \(columns)"
        case .cosent:
            if columns != 2 { return "cosent needs exactly two text columns (sentence1, sentence2), got \(columns)" }
            return hasScores ? nil : "cosent needs a score column (score_column)"
        }
    }

    /// The loss of embeddings e [columns·size, C]; with `dEmbeddings`, the gradient of
    /// `lossScale × loss` is written there (overwritten).
    package func compute(_ e: UnsafePointer<Float>, size: Int, columns: Int, C: Int, labels: [Float]?,
                         lossScale: Float = 1, dEmbeddings: UnsafeMutablePointer<Float>? = nil) -> Float {
        func base(_ x: UnsafePointer<Float>, _ d: Int, _ dX: UnsafeMutablePointer<Float>?, _ s: Float) -> Float {
            switch kind {
            case .mnrl, .cachedMNRL:
                return multipleNegativesRankingLoss(anchors: x, candidates: x + size * d, B: size, N: (columns - 1) * size, C: d,
                                                    scale: scale, lossScale: s, dAnchors: dX, dCandidates: dX.map { $0 + size * d }).loss
            case .cosent:
                guard let labels, labels.count == size else { preconditionFailure("CoSENT needs one score per pair") }
                return labels.withUnsafeBufferPointer {
                    cosentLoss(u: x, v: x + size * d, labels: $0.baseAddress!, B: size, C: d, scale: scale, lossScale: s,
                               dU: dX, dV: dX.map { $0 + size * d })
                }
            }
        }
        if matryoshkaDims.isEmpty { return base(e, C, dEmbeddings, lossScale) }
        return matryoshkaLoss(embeddings: e, rows: columns * size, C: C, dims: matryoshkaDims, weights: matryoshkaWeights,
                              lossScale: lossScale, dEmbeddings: dEmbeddings, inner: base).loss
    }

    /// How the model card and logs name it: `MatryoshkaLoss(CoSENTLoss)`, `MultipleNegativesRankingLoss`.
    package var description: String {
        matryoshkaDims.isEmpty ? kind.className : "MatryoshkaLoss(\(kind.className))"
    }
}
