import DataParallel
import NN

/// The all-reduce of a data-parallel step's gradients, in buckets cut from the flat gradient buffer,
/// started as backward finishes each transformer layer (as PyTorch DDP does): while the ranks compute
/// the layers below, the communication thread sums the layers above. The embeddings' gradients are
/// final only at the very end, so they go last. Every rank starts the same buckets in the same order.
final class GradientBuckets {
    private let parameters: ParameterSet
    private let layers: [Range<Int>]
    private let communicator: any Communicator
    private var started = Set<Int>()
    private var requests: [CommRequest] = []

    init(parameters: ParameterSet, layers: [Range<Int>], communicator: any Communicator) {
        self.parameters = parameters
        self.layers = layers
        self.communicator = communicator
    }

    /// Transformer layer `l`'s gradients are final: start summing them.
    func layerDone(_ l: Int) {
        guard started.insert(l).inserted else { return }
        start(layers[l])
    }

    /// Starts what is left (layers not announced, last first; then the rest of the buffer: the
    /// embeddings) and waits for every bucket: the gradients are then the sums over the ranks.
    func finish() {
        for l in layers.indices.reversed() { layerDone(l) }
        var at = 0
        for r in layers.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if at < r.lowerBound { start(at..<r.lowerBound) }
            at = max(at, r.upperBound)
        }
        if at < parameters.count { start(at..<parameters.count) }
        for r in requests { r.wait() }
        requests.removeAll()
    }

    private func start(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        requests.append(communicator.startAllReduce(parameters.grads + range.lowerBound, count: range.count))
    }
}
