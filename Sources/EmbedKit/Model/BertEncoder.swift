/// BERT (and RoBERTa-style position numbering): embeddings, LayerNorm, then post-LN layers of
/// multi-head self-attention and a feed-forward block. Forward and backward are written out op by
/// op over packed tokens; activations live in one arena sized to the largest batch seen.
public final class BertEncoder: TransformerEncoder {
    public let config: BertConfig
    public let parameters: ParameterSet
    public var hiddenSize: Int { config.hiddenSize }
    public var maxPositions: Int { config.maxSequenceLength }
    public var vocabularySize: Int { config.vocabSize }

    /// Pointers to one layer's parameters (values) or gradients, resolved once.
    struct LayerTensors {
        var wqkv, bqkv, wo, bo, ln1w, ln1b, w1, b1, w2, b2, ln2w, ln2b: UnsafeMutablePointer<Float>
    }

    struct EmbeddingTensors {
        var word, position, type, lnw, lnb: UnsafeMutablePointer<Float>
    }

    private let layerValues: [LayerTensors]
    private let layerGrads: [LayerTensors]
    private let embValues: EmbeddingTensors
    private let embGrads: EmbeddingTensors

    // State of the last forward pass, for backward.
    private var acts: Activations?
    private var lastBatch = PackedBatch()
    private var lastLayout = AttentionLayout(offsets: [0], heads: 1)
    private var lastDropout: DropoutContext?

    /// The parameter layout in PyTorch names (BertModel without the `bert.` prefix). Query, key and
    /// value are adjacent so that they form one [3C, C] matrix and one [3C] bias.
    public static func parameterLayout(_ c: BertConfig) -> [(name: String, shape: [Int], decay: Bool)] {
        let C = c.hiddenSize, I = c.intermediateSize
        var l: [(name: String, shape: [Int], decay: Bool)] = [
            ("embeddings.word_embeddings.weight", [c.vocabSize, C], true),
            ("embeddings.position_embeddings.weight", [c.maxPositions, C], true),
            ("embeddings.token_type_embeddings.weight", [c.typeVocabSize, C], true),
            ("embeddings.LayerNorm.weight", [C], false),
            ("embeddings.LayerNorm.bias", [C], false),
        ]
        for i in 0..<c.layers {
            let p = "encoder.layer.\(i)."
            l += [
                (p + "attention.self.query.weight", [C, C], true),
                (p + "attention.self.key.weight", [C, C], true),
                (p + "attention.self.value.weight", [C, C], true),
                (p + "attention.self.query.bias", [C], false),
                (p + "attention.self.key.bias", [C], false),
                (p + "attention.self.value.bias", [C], false),
                (p + "attention.output.dense.weight", [C, C], true),
                (p + "attention.output.dense.bias", [C], false),
                (p + "attention.output.LayerNorm.weight", [C], false),
                (p + "attention.output.LayerNorm.bias", [C], false),
                (p + "intermediate.dense.weight", [I, C], true),
                (p + "intermediate.dense.bias", [I], false),
                (p + "output.dense.weight", [C, I], true),
                (p + "output.dense.bias", [C], false),
                (p + "output.LayerNorm.weight", [C], false),
                (p + "output.LayerNorm.bias", [C], false),
            ]
        }
        return l
    }

    public init(config: BertConfig) {
        self.config = config
        parameters = ParameterSet(BertEncoder.parameterLayout(config))
        let ps = parameters
        func tensors(_ base: (String) -> UnsafeMutablePointer<Float>) -> ([LayerTensors], EmbeddingTensors) {
            let layers = (0..<config.layers).map { i -> LayerTensors in
                let p = "encoder.layer.\(i)."
                return LayerTensors(
                    wqkv: base(p + "attention.self.query.weight"), bqkv: base(p + "attention.self.query.bias"),
                    wo: base(p + "attention.output.dense.weight"), bo: base(p + "attention.output.dense.bias"),
                    ln1w: base(p + "attention.output.LayerNorm.weight"), ln1b: base(p + "attention.output.LayerNorm.bias"),
                    w1: base(p + "intermediate.dense.weight"), b1: base(p + "intermediate.dense.bias"),
                    w2: base(p + "output.dense.weight"), b2: base(p + "output.dense.bias"),
                    ln2w: base(p + "output.LayerNorm.weight"), ln2b: base(p + "output.LayerNorm.bias"))
            }
            let emb = EmbeddingTensors(
                word: base("embeddings.word_embeddings.weight"), position: base("embeddings.position_embeddings.weight"),
                type: base("embeddings.token_type_embeddings.weight"),
                lnw: base("embeddings.LayerNorm.weight"), lnb: base("embeddings.LayerNorm.bias"))
            return (layers, emb)
        }
        (layerValues, embValues) = tensors(ps.value)
        (layerGrads, embGrads) = tensors(ps.grad)
    }

    // MARK: Activations

    /// Every buffer the forward pass keeps for backward, plus backward scratch, carved from one
    /// allocation. Shapes: T packed tokens, C hidden, I intermediate, P attention floats per layer.
    final class Activations: EncoderActivations {
        let embSum, embMean, embRstd: UnsafeMutablePointer<Float>   // [T,C], [T], [T]
        let residual: [UnsafeMutablePointer<Float>]                  // L+1 × [T,C]
        struct Layer {
            let qkv, probs, ctx, ln1In, ln1Mean, ln1Rstd, h1, inter, act, ln2In, ln2Mean, ln2Rstd: UnsafeMutablePointer<Float>
        }
        let layers: [Layer]
        // Backward scratch.
        let dRes, dA, dB, dInter, dQKV: UnsafeMutablePointer<Float>

        init(T: Int, P: Int, C: Int, I: Int, L: Int, withDropped: Bool) {
            let perLayer = 3 * T * C + P + T * C + T * C + 2 * T + T * C + 2 * T * I + T * C + 2 * T
            let total = T * C + 2 * T + (L + 1) * T * C + L * perLayer + 3 * T * C + T * I + 3 * T * C
            let arena = FloatArena(capacity: total)
            let take = arena.take
            embSum = take(T * C); embMean = take(T); embRstd = take(T)
            residual = (0...L).map { _ in take(T * C) }
            layers = (0..<L).map { _ in
                Layer(qkv: take(3 * T * C), probs: take(P), ctx: take(T * C), ln1In: take(T * C),
                      ln1Mean: take(T), ln1Rstd: take(T), h1: take(T * C), inter: take(T * I), act: take(T * I),
                      ln2In: take(T * C), ln2Mean: take(T), ln2Rstd: take(T))
            }
            dRes = take(T * C); dA = take(T * C); dB = take(T * C); dInter = take(T * I); dQKV = take(3 * T * C)
            super.init(T: T, P: P, arena: arena, layers: L, withDropped: withDropped)
        }
    }

    private func activations(T: Int, P: Int, withDropped: Bool) -> Activations {
        let a = EncoderActivations.reuse(acts, T: T, P: P, withDropped: withDropped) { t, p, d in
            Activations(T: t, P: p, C: config.hiddenSize, I: config.intermediateSize, L: config.layers, withDropped: d)
        }
        acts = a
        return a
    }

    // MARK: Forward

    public func forward(_ batch: PackedBatch, dropout: DropoutContext?) -> UnsafeMutablePointer<Float> {
        let C = config.hiddenSize, I = config.intermediateSize, T = batch.tokenCount
        let layout = AttentionLayout(offsets: batch.offsets, heads: config.heads)
        let a = activations(T: T, P: layout.probCount, withDropped: dropout != nil && config.attentionDropout > 0)
        lastBatch = batch
        lastLayout = layout
        lastDropout = dropout
        let pHidden = dropout == nil ? 0 : config.hiddenDropout
        let pAttn = dropout == nil ? 0 : config.attentionDropout
        let noRng = CounterRandom(seed: 0)

        // Embeddings: word + position + token type 0, LayerNorm, dropout.
        let e = embValues
        let t0 = OpProfiler.shared.begin()
        batch.tokens.withUnsafeBufferPointer { ids in
            for b in 0..<batch.count {
                let start = batch.offsets[b]
                for t in start..<batch.offsets[b + 1] {
                    let pos = config.positionOffset + t - start
                    let out = a.embSum + t * C
                    let w = e.word + Int(ids[t]) * C, p = e.position + pos * C
                    for c in 0..<C { out[c] = w[c] + p[c] + e.type[c] }
                }
            }
        }
        OpProfiler.shared.end(.embedding, t0)
        layerNormForward(a.residual[0], mean: a.embMean, rstd: a.embRstd, a.embSum, e.lnw, e.lnb,
                         T: T, C: C, eps: config.layerNormEps)
        applyDropout(a.residual[0], count: T * C, p: pHidden, dropout?.rng(layer: 0, site: 0))

        for l in 0..<config.layers {
            let w = layerValues[l], s = a.layers[l]
            let x = a.residual[l]
            // Self-attention: qkv[T, 3C] = x · Wqkvᵀ + b, then per sequence and head.
            linearForward(s.qkv, x, w.wqkv, w.bqkv, T: T, IC: C, OC: 3 * C)
            attentionForward(ctx: s.ctx, probs: s.probs, qkv: s.qkv, layout: layout, C: C,
                             dropoutP: pAttn, rng: dropout?.rng(layer: l + 1, site: 0) ?? noRng,
                             dropped: pAttn > 0 ? a.dropped[l] : nil)
            // ln1In = dropout(ctx · Woᵀ + bo) + x;  h1 = LN(ln1In)
            linearForward(s.ln1In, s.ctx, w.wo, w.bo, T: T, IC: C, OC: C)
            applyDropout(s.ln1In, count: T * C, p: pHidden, dropout?.rng(layer: l + 1, site: 1))
            add(s.ln1In, x, T * C)
            layerNormForward(s.h1, mean: s.ln1Mean, rstd: s.ln1Rstd, s.ln1In, w.ln1w, w.ln1b,
                             T: T, C: C, eps: config.layerNormEps)
            // Feed-forward: act = f(h1 · W1ᵀ + b1); ln2In = dropout(act · W2ᵀ + b2) + h1; out = LN(ln2In)
            linearForward(s.inter, s.h1, w.w1, w.b1, T: T, IC: C, OC: I)
            activationForward(s.act, s.inter, count: T * I, config.activation)
            linearForward(s.ln2In, s.act, w.w2, w.b2, T: T, IC: I, OC: C)
            applyDropout(s.ln2In, count: T * C, p: pHidden, dropout?.rng(layer: l + 1, site: 2))
            add(s.ln2In, s.h1, T * C)
            layerNormForward(a.residual[l + 1], mean: s.ln2Mean, rstd: s.ln2Rstd, s.ln2In, w.ln2w, w.ln2b,
                             T: T, C: C, eps: config.layerNormEps)
        }
        return a.residual[config.layers]
    }

    // MARK: Backward

    public func backward(_ dHidden: UnsafeMutablePointer<Float>) {
        guard let a = acts else { preconditionFailure("backward before forward") }
        let C = config.hiddenSize, I = config.intermediateSize, T = lastBatch.tokenCount
        let layout = lastLayout, dropout = lastDropout
        let pHidden = dropout == nil ? 0 : config.hiddenDropout
        let pAttn = dropout == nil ? 0 : config.attentionDropout
        let noRng = CounterRandom(seed: 0)

        a.dRes.update(from: dHidden, count: T * C)
        for l in stride(from: config.layers - 1, through: 0, by: -1) {
            let w = layerValues[l], g = layerGrads[l], s = a.layers[l]
            let x = a.residual[l]
            // LN2 → dA = d ln2In; it flows to h1 (residual) and, through dropout, to the FFN output.
            layerNormBackward(dx: a.dA, dw: g.ln2w, db: g.ln2b, dout: a.dRes, x: s.ln2In,
                              mean: s.ln2Mean, rstd: s.ln2Rstd, w: w.ln2w, T: T, C: C)
            applyDropout(a.dB, from: a.dA, count: T * C, p: pHidden, dropout?.rng(layer: l + 1, site: 2))
            linearBackward(dx: a.dInter, dW: g.w2, db: g.b2, dy: a.dB, x: s.act, w: w.w2, T: T, IC: I, OC: C)
            activationBackward(a.dInter, a.dInter, s.inter, count: T * I, config.activation)
            linearBackward(dx: a.dA, dW: g.w1, db: g.b1, dy: a.dInter, x: s.h1, w: w.w1, T: T, IC: C, OC: I,
                           accumulateDX: true)
            // LN1 → dRes = d ln1In; it flows to x (residual) and, through dropout, to the attention output.
            layerNormBackward(dx: a.dRes, dw: g.ln1w, db: g.ln1b, dout: a.dA, x: s.ln1In,
                              mean: s.ln1Mean, rstd: s.ln1Rstd, w: w.ln1w, T: T, C: C)
            applyDropout(a.dB, from: a.dRes, count: T * C, p: pHidden, dropout?.rng(layer: l + 1, site: 1))
            linearBackward(dx: a.dA, dW: g.wo, db: g.bo, dy: a.dB, x: s.ctx, w: w.wo, T: T, IC: C, OC: C)
            attentionBackward(dqkv: a.dQKV, dctx: a.dA, probs: s.probs, qkv: s.qkv, layout: layout, C: C,
                              dropoutP: pAttn, rng: dropout?.rng(layer: l + 1, site: 0) ?? noRng,
                              dropped: pAttn > 0 ? UnsafePointer(a.dropped[l]) : nil)
            linearBackward(dx: a.dRes, dW: g.wqkv, db: g.bqkv, dy: a.dQKV, x: x, w: w.wqkv, T: T, IC: C, OC: 3 * C,
                           accumulateDX: true)
        }
        // Embeddings: dropout, LayerNorm, then scatter into the rows that were looked up.
        applyDropout(a.dRes, count: T * C, p: pHidden, dropout?.rng(layer: 0, site: 0))
        layerNormBackward(dx: a.dA, dw: embGrads.lnw, db: embGrads.lnb, dout: a.dRes, x: a.embSum,
                          mean: a.embMean, rstd: a.embRstd, w: embValues.lnw, T: T, C: C)
        let e = embGrads
        let t0 = OpProfiler.shared.begin()
        defer { OpProfiler.shared.end(.embedding, t0) }
        lastBatch.tokens.withUnsafeBufferPointer { ids in
            for b in 0..<lastBatch.count {
                let start = lastBatch.offsets[b]
                for t in start..<lastBatch.offsets[b + 1] {
                    let pos = config.positionOffset + t - start
                    let d = a.dA + t * C
                    let w = e.word + Int(ids[t]) * C, p = e.position + pos * C
                    for c in 0..<C {
                        w[c] += d[c]
                        p[c] += d[c]
                        e.type[c] += d[c]
                    }
                }
            }
        }
    }

    private func applyDropout(_ x: UnsafeMutablePointer<Float>, count: Int, p: Float, _ rng: CounterRandom?) {
        guard p > 0, let rng else { return }
        dropout(x, x, count: count, p: p, rng: rng)
    }

    private func applyDropout(_ out: UnsafeMutablePointer<Float>, from x: UnsafePointer<Float>, count: Int, p: Float,
                              _ rng: CounterRandom?) {
        if p > 0, let rng { dropout(out, x, count: count, p: p, rng: rng) } else { out.update(from: x, count: count) }
    }
}

/// y[n] += x[n]
func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    let t0 = OpProfiler.shared.begin()
    defer { OpProfiler.shared.end(.residualAdd, t0) }
    Parallel.chunks(n, minChunk: 1 << 14) { r in
        for i in r { y[i] += x[i] }
    }
}
