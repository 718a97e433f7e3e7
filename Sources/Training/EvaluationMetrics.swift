import IO
import Inference

/// One evaluation's metrics, of the config's `training.eval_task`.
package enum EvaluationMetrics: Sendable, Equatable {
    case triplet(TripletMetrics)
    case retrieval(RetrievalMetrics)

    /// (name, value) without transformers' `eval_` prefix, in the evaluator's order.
    package var named: [(String, Double)] {
        switch self {
        case .triplet(let m): return m.named
        case .retrieval(let m): return m.values.map { ($0.name, $0.value) }
        }
    }

    package func value(_ name: String) -> Double? { named.first { $0.0 == name }?.1 }

    /// What the log line and TensorBoard show.
    package var headline: [(String, Double)] {
        switch self {
        case .triplet(let m): return [("cosine_accuracy", m.cosine)]
        case .retrieval(let m):
            return ["cosine_ndcg@10", "cosine_mrr@10", "cosine_accuracy@1"].compactMap { k in m.value(k).map { (k, $0) } }
        }
    }

    /// e.g. "cosine_accuracy 85.33% · loss 0.5994 (150 triplets)".
    package func summary(loss: Double) -> String {
        switch self {
        case .triplet(let m):
            return "cosine_accuracy \(ProgressBar.decimal(m.cosine * 100, 2))% · loss \(ProgressBar.decimal(loss, 4)) (\(m.count) triplets)"
        case .retrieval(let m):
            let parts = headline.map { "\($0.0) \(ProgressBar.decimal($0.1, 4))" }
            return (parts + ["loss \(ProgressBar.decimal(loss, 4))"]).joined(separator: " · ") + " (\(m.queries) queries, \(m.corpus) documents)"
        }
    }
}
