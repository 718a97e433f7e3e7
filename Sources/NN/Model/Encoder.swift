import IO

/// A batch of token sequences packed end to end: no padding anywhere. Every per-token op runs over
/// all `tokens` at once; only attention looks at the sequence boundaries.
package struct PackedBatch: Sendable {
    /// All sequences' token ids, concatenated.
    package var tokens: [Int32]
    /// B + 1 offsets: sequence b is tokens[offsets[b]..<offsets[b+1]].
    package var offsets: [Int]
    /// Each sequence's place in the training step's whole batch (nil: its place here, 0..<count).
    /// Dropout masks are keyed by it, so a sequence gets the same masks whichever part of the batch
    /// it is computed in: on one process or on one of N data-parallel ranks, in one pass or in a
    /// mini-batch of a cached loss.
    package var sequenceIDs: [Int]?

    package init(tokens: [Int32] = [], offsets: [Int] = [0], sequenceIDs: [Int]? = nil) {
        self.tokens = tokens
        self.offsets = offsets
        self.sequenceIDs = sequenceIDs
    }

    package init(sequences: [[Int32]]) {
        self.init()
        for s in sequences { append(s) }
    }

    package mutating func append<S: Sequence>(_ ids: S) where S.Element == Int32 {
        tokens.append(contentsOf: ids)
        offsets.append(tokens.count)
    }

    package var count: Int { offsets.count - 1 }
    package var tokenCount: Int { tokens.count }
    /// The dropout identity of sequence b (see `sequenceIDs`).
    package func sequenceID(_ b: Int) -> Int { sequenceIDs?[b] ?? b }
    package var maxLength: Int { (0..<count).map { offsets[$0 + 1] - offsets[$0] }.max() ?? 0 }

    /// Sequences `range` as a batch of their own (keeping their dropout identities).
    package func slice(_ range: Range<Int>) -> PackedBatch {
        let t0 = offsets[range.lowerBound], t1 = offsets[range.upperBound]
        return PackedBatch(tokens: Array(tokens[t0..<t1]), offsets: offsets[range.lowerBound...range.upperBound].map { $0 - t0 },
                           sequenceIDs: range.map { sequenceID($0) })
    }
}

/// Dropout randomness for one forward/backward pass: the pass's identity (step and micro-batch) and
/// the run's seed select a counter-based stream per dropout site, so backward regenerates the
/// forward's masks; within a site, each sequence draws from its own stream (`CounterRandom.sequence`).
package struct DropoutContext: Sendable {
    package let seed: UInt64
    package let step: UInt64
    package let microBatch: UInt64

    package init(seed: UInt64, step: Int, microBatch: Int = 0) {
        self.seed = seed
        self.step = UInt64(step)
        self.microBatch = UInt64(microBatch)
    }

    /// The stream for one dropout site (`layer`, `site` number within the layer).
    package func rng(layer: Int, site: Int) -> CounterRandom {
        CounterRandom(seed: seed, step, UInt64(layer) << 8 | UInt64(site), microBatch)
    }
}

/// A transformer encoder with hand-written forward and backward passes: BERT, NorBERT3.
/// Its trainable tensors live in `parameters`; `backward` accumulates into `parameters.grads`.
package protocol TransformerEncoder: AnyObject {
    var hiddenSize: Int { get }
    var parameters: ParameterSet { get }
    /// The longest sequence the model accepts (position table size).
    var maxPositions: Int { get }
    /// Token ids must be below this.
    var vocabularySize: Int { get }
    /// The precision of the matrix products (set it to `MatmulPrecision.resolve(...)`'s answer).
    var matmulPrecision: MatmulPrecision { get set }
    /// Runs the encoder; returns the last hidden states [T, hiddenSize], valid until the next forward.
    /// `dropout` nil means evaluation mode. Activations are kept for `backward`.
    func forward(_ batch: PackedBatch, dropout: DropoutContext?) -> UnsafeMutablePointer<Float>
    /// The same forward in evaluation mode, keeping nothing for a backward pass: one layer's working
    /// buffers, reused by every layer (embedding and evaluation). Returns the last hidden states,
    /// valid until the next forward or inference; bit for bit those `forward(batch, dropout: nil)`
    /// gives. No `backward` may follow it.
    func infer(_ batch: PackedBatch) -> UnsafeMutablePointer<Float>
    /// Declares the weights final, for tools that only run inference (embed, evaluate, mine,
    /// serve): with bf16 products the linear layers' weights are then converted to bf16 once
    /// (`FrozenWeightPanels`) instead of on every `infer`, with the same results. Call it after
    /// setting `matmulPrecision`; a frozen encoder cannot be trained (`forward` refuses).
    func freezeWeights()
    /// Given d(loss)/d(last hidden) [T, hiddenSize] for the last forward, adds parameter gradients.
    /// `layerDone(l)` is called as soon as transformer layer l's gradients are final (the last layer
    /// first; the embeddings' are final when backward returns), so that data-parallel training can
    /// start reducing them while backward goes on.
    func backward(_ dHidden: UnsafeMutablePointer<Float>, layerDone: ((Int) -> Void)?)
    /// Where each transformer layer's tensors lie in `parameters` (contiguous, layer 0 first); the
    /// rest of the buffer is the embeddings'.
    var layerParameterRanges: [Range<Int>] { get }
}

extension TransformerEncoder {
    package func backward(_ dHidden: UnsafeMutablePointer<Float>) { backward(dHidden, layerDone: nil) }
}
