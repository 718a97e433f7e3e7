import IO

/// The buffers of one forward pass and its backward, carved out of one allocation. An encoder
/// describes them once, as a function of the `take` that hands out each buffer in turn; that
/// function runs twice — first to measure (its pointers are never used), then to carve — so the
/// size always agrees with the carving.
final class ActivationArena<Buffers> {
    /// Packed tokens and attention-matrix floats per layer the buffers were made for.
    let T: Int
    let P: Int
    /// Whether the layers' dropped-out attention probabilities are kept (training with dropout).
    let keepsDropped: Bool
    let buffers: Buffers
    /// Per layer, P floats for the dropped-out probabilities (empty unless `keepsDropped`).
    let dropped: [UnsafeMutablePointer<Float>]
    private let storage: UnsafeMutablePointer<Float>

    init(T: Int, P: Int, layers: Int, keepsDropped: Bool,
         layout: (_ take: (Int) -> UnsafeMutablePointer<Float>) -> Buffers) {
        self.T = T
        self.P = P
        self.keepsDropped = keepsDropped
        // Measuring pass: count what the layout takes. The placeholder pointer is never read.
        var size = keepsDropped ? layers * P : 0
        let placeholder = UnsafeMutablePointer<Float>(bitPattern: MemoryLayout<Float>.alignment)!
        _ = layout { n in size += n; return placeholder }
        let storage = UnsafeMutablePointer<Float>.allocate(capacity: max(size, 1))
        self.storage = storage
        var used = 0
        func take(_ n: Int) -> UnsafeMutablePointer<Float> {
            defer { used += n }
            return storage + used
        }
        buffers = layout(take)
        dropped = keepsDropped ? (0..<layers).map { _ in take(P) } : []
        precondition(used == size, "the layout took \(used) floats on carving, \(size) when measured")
    }

    deinit { storage.deallocate() }

    /// `current` if it is big enough, else new buffers with headroom (so that slightly larger
    /// batches do not reallocate every step).
    static func reuse(_ current: ActivationArena?, T: Int, P: Int, layers: Int, keepsDropped: Bool,
                      layout: (Int, Int) -> ((Int) -> UnsafeMutablePointer<Float>) -> Buffers) -> ActivationArena {
        if let a = current, a.T >= T, a.P >= P, !keepsDropped || a.keepsDropped { return a }
        let t = max(T, (current?.T ?? 0) * 5 / 4), p = max(P, (current?.P ?? 0) * 5 / 4)
        return ActivationArena(T: t, P: p, layers: layers, keepsDropped: keepsDropped || (current?.keepsDropped ?? false),
                               layout: layout(t, p))
    }
}

/// The dropout of one forward pass and of its backward: the probabilities (0 in evaluation) and
/// the counter-based streams, keyed by (layer, site) and then by each sequence's place in the batch
/// (`PackedBatch.sequenceIDs`), that make backward's masks equal forward's. Layer 0 is the
/// embeddings; transformer layer l is l + 1.
struct DropoutSites {
    let hidden: Float
    let attention: Float
    let context: DropoutContext?
    let offsets: [Int]
    let sequenceIDs: [Int]?

    init(_ context: DropoutContext?, batch: PackedBatch, hidden: Float, attention: Float) {
        self.context = context
        self.hidden = context == nil ? 0 : hidden
        self.attention = context == nil ? 0 : attention
        offsets = batch.offsets
        sequenceIDs = batch.sequenceIDs
    }

    /// The stream of a transformer layer's attention probabilities (site 0); unused when off.
    func attentionRNG(layer: Int) -> CounterRandom {
        context?.rng(layer: layer + 1, site: 0) ?? CounterRandom(seed: 0)
    }

    /// out = dropout_p(x) over the batch's token rows ([T, width]) at (layer, site), each sequence
    /// with its own mask; in place when out is x; with p = 0 or in evaluation a copy (nothing when in
    /// place). The backward pass is the same call on the gradients.
    func apply(_ p: Float, _ out: UnsafeMutablePointer<Float>, from x: UnsafePointer<Float>, width: Int,
               layer: Int, site: Int) {
        if p > 0, let context {
            dropoutSequences(out, x, offsets: offsets, sequenceIDs: sequenceIDs, width: width, p: p,
                             rng: context.rng(layer: layer, site: site))
        } else if UnsafePointer(out) != x {
            out.update(from: x, count: (offsets.last ?? 0) * width)
        }
    }

    /// The same for a buffer the whole batch shares (NorBERT3's relative embeddings): one mask per
    /// pass, the same on every data-parallel rank.
    func applyShared(_ p: Float, _ out: UnsafeMutablePointer<Float>, from x: UnsafePointer<Float>, count: Int,
                     layer: Int, site: Int) {
        if p > 0, let context {
            dropout(out, x, count: count, p: p, rng: context.rng(layer: layer, site: site))
        } else if UnsafePointer(out) != x {
            out.update(from: x, count: count)
        }
    }
}

/// An encoder whose config gives its sizes (BERT, NorBERT3).
package protocol ConfiguredEncoder: TransformerEncoder {
    associatedtype Config: EncoderConfig
    var config: Config { get }
}

extension ConfiguredEncoder {
    package var hiddenSize: Int { config.hiddenSize }
    package var vocabularySize: Int { config.vocabSize }
}

/// What both encoders keep between a forward pass and its backward, and the checks at the top of
/// every forward pass: the batch, its attention layout, the dropout sites and the activation arena.
final class EncoderCore<Buffers> {
    /// One forward pass, as backward needs it again.
    struct Pass {
        let batch: PackedBatch
        let layout: AttentionLayout
        let dropout: DropoutSites
        let buffers: Buffers
        /// Per layer, the saved dropped-out attention probabilities (nil unless attention dropout is on).
        let dropped: [UnsafeMutablePointer<Float>?]
        var T: Int { batch.tokenCount }
    }

    let heads: Int
    let layers: Int
    let vocabularySize: Int
    private var arena: ActivationArena<Buffers>?
    private var last: Pass?

    init(heads: Int, layers: Int, vocabularySize: Int) {
        self.heads = heads
        self.layers = layers
        self.vocabularySize = vocabularySize
    }

    /// Checks the batch (llm.c style: ids inside the vocabulary, lengths inside the position
    /// table — a bad tokens file must stop here, not read out of bounds; `fatalError` because, unlike
    /// a precondition, it keeps its message in release builds), sizes the arena, and records the
    /// pass for `backward`.
    func beginForward(_ batch: PackedBatch, dropout: DropoutSites, maxLength: Int,
                      layout make: (Int, Int) -> ((Int) -> UnsafeMutablePointer<Float>) -> Buffers) -> Pass {
        let vocab = vocabularySize
        batch.tokens.withUnsafeBufferPointer { ids in
            for (t, id) in ids.enumerated() where id < 0 || Int(id) >= vocab {
                fatalError("token \(t) of the batch has id \(id), outside the vocabulary of \(vocab)")
            }
        }
        for b in 0..<batch.count where batch.offsets[b + 1] - batch.offsets[b] > maxLength {
            fatalError("sequence \(b) of the batch has \(batch.offsets[b + 1] - batch.offsets[b]) tokens; the model takes at most \(maxLength)")
        }
        let layout = AttentionLayout(offsets: batch.offsets, heads: heads, sequenceIDs: batch.sequenceIDs)
        let keep = dropout.attention > 0
        let a = ActivationArena.reuse(arena, T: batch.tokenCount, P: layout.probCount, layers: layers, keepsDropped: keep,
                                      layout: make)
        arena = a
        let pass = Pass(batch: batch, layout: layout, dropout: dropout, buffers: a.buffers,
                        dropped: (0..<layers).map { keep ? a.dropped[$0] : nil })
        last = pass
        return pass
    }

    /// The last forward pass, for its backward.
    func lastPass() -> Pass {
        guard let last else { preconditionFailure("backward before forward") }
        return last
    }
}
