import IO

/// BERT (and RoBERTa-style position numbering): embeddings, LayerNorm, then post-LN layers of
/// multi-head self-attention and a feed-forward block. Forward and backward are written out op by
/// op over packed tokens; activations live in one arena sized to the largest batch seen.
package final class BertEncoder: ConfiguredEncoder {
    package let config: BertConfig
    package let parameters: ParameterSet
    package var maxPositions: Int { config.maxSequenceLength }

    /// Pointers to one layer's parameters (values) or gradients.
    struct LayerTensors: TensorViews {
        var wqkv, bqkv, wo, bo, ln1w, ln1b, w1, b1, w2, b2, ln2w, ln2b: UnsafeMutablePointer<Float>!
    }

    struct EmbeddingTensors: TensorViews {
        var word, position, type, lnw, lnb: UnsafeMutablePointer<Float>!
    }

    package let layerParameterRanges: [Range<Int>]
    private let values, grads: EncoderTensors<LayerTensors, EmbeddingTensors>
    private let core: EncoderCore<Activations>
    package var matmulPrecision: MatmulPrecision = .fp32
    /// The linear weights' bf16 panels once `freezeWeights` has run with bf16 products.
    private var frozen: FrozenWeightPanels?

    /// The parameters in PyTorch names (BertModel without the `bert.` prefix). Query, key and value
    /// are adjacent so that they form one [3C, C] matrix and one [3C] bias.
    static func layout(_ c: BertConfig) -> EncoderLayout<LayerTensors, EmbeddingTensors> {
        let C = c.hiddenSize, I = c.intermediateSize
        return EncoderLayout(
            embeddings: [
                .table(\.word, "embeddings.word_embeddings.weight", rows: c.vocabSize, C),
                .table(\.position, "embeddings.position_embeddings.weight", rows: c.maxPositions, C),
                .table(\.type, "embeddings.token_type_embeddings.weight", rows: c.typeVocabSize, C),
                .layerNorm(\.lnw, \.lnb, "embeddings.LayerNorm", C),
            ],
            layer: [
                .fusedLinear(\.wqkv, \.bqkv, ["attention.self.query", "attention.self.key", "attention.self.value"], out: C, in: C),
                .linear(\.wo, \.bo, "attention.output.dense", out: C, in: C),
                .layerNorm(\.ln1w, \.ln1b, "attention.output.LayerNorm", C),
                .linear(\.w1, \.b1, "intermediate.dense", out: I, in: C),
                .linear(\.w2, \.b2, "output.dense", out: C, in: I),
                .layerNorm(\.ln2w, \.ln2b, "output.LayerNorm", C),
            ],
            layers: c.layers, layerPrefix: { "encoder.layer.\($0)." })
    }

    package init(config: BertConfig) {
        self.config = config
        let layout = BertEncoder.layout(config)
        parameters = ParameterSet(layout.parameters)
        (values, grads) = layout.views(of: parameters)
        layerParameterRanges = layout.layerRanges
        core = EncoderCore(heads: config.heads, layers: config.layers, vocabularySize: config.vocabSize)
    }

    // MARK: Activations

    /// Every buffer the forward pass keeps for backward, plus backward scratch. Shapes: T packed
    /// tokens, C hidden, I intermediate, P attention floats per layer.
    ///
    /// For inference (`inference`) the same forward code runs over one layer's buffers: all layers
    /// share them, the residual stream alternates between two buffers, buffers whose lifetimes do
    /// not overlap coincide (qkv, then the intermediate activations; the attention context, then
    /// h1; ln1In, then ln2In), attention scores live in per-head scratch (`probs` nil), and there
    /// is no backward scratch. About 7·T·C floats for a BERT layer with I = 4C, whatever the depth.
    struct Activations {
        let embSum, embMean, embRstd: UnsafeMutablePointer<Float>   // [T,C], [T], [T]
        let residual: [UnsafeMutablePointer<Float>]                  // L+1 × [T,C]
        struct Layer {
            let qkv, ctx, ln1In, ln1Mean, ln1Rstd, h1, inter, act, ln2In, ln2Mean, ln2Rstd: UnsafeMutablePointer<Float>
            let probs: UnsafeMutablePointer<Float>?
        }
        let layers: [Layer]
        // Backward scratch (empty for inference: a pass without backward).
        let dRes, dA, dB, dInter, dQKV: UnsafeMutablePointer<Float>

        init(T: Int, P: Int, C: Int, I: Int, L: Int, inference: Bool, take: (Int) -> UnsafeMutablePointer<Float>) {
            if inference {
                let big = take(T * max(3 * C, I)), ctx = take(T * C), tmp = take(T * C), mean = take(T), rstd = take(T)
                let r = [take(T * C), take(T * C)]
                embSum = tmp; embMean = mean; embRstd = rstd
                residual = (0...L).map { r[$0 % 2] }
                let layer = Layer(qkv: big, ctx: ctx, ln1In: tmp, ln1Mean: mean, ln1Rstd: rstd, h1: ctx, inter: big, act: big,
                                  ln2In: tmp, ln2Mean: mean, ln2Rstd: rstd, probs: nil)
                layers = Array(repeating: layer, count: L)
                dRes = take(0); dA = dRes; dB = dRes; dInter = dRes; dQKV = dRes
                return
            }
            embSum = take(T * C); embMean = take(T); embRstd = take(T)
            residual = (0...L).map { _ in take(T * C) }
            layers = (0..<L).map { _ in
                Layer(qkv: take(3 * T * C), ctx: take(T * C), ln1In: take(T * C),
                      ln1Mean: take(T), ln1Rstd: take(T), h1: take(T * C), inter: take(T * I), act: take(T * I),
                      ln2In: take(T * C), ln2Mean: take(T), ln2Rstd: take(T), probs: take(P))
            }
            dRes = take(T * C); dA = take(T * C); dB = take(T * C); dInter = take(T * I); dQKV = take(3 * T * C)
        }
    }

    // MARK: Forward

    package func forward(_ batch: PackedBatch, dropout: DropoutContext?) -> UnsafeMutablePointer<Float> {
        run(batch, dropout: dropout, inference: false)
    }

    package func infer(_ batch: PackedBatch) -> UnsafeMutablePointer<Float> {
        run(batch, dropout: nil, inference: true)
    }

    package func freezeWeights() {
        guard matmulPrecision == .bf16, frozen == nil else { return }
        let C = config.hiddenSize, I = config.intermediateSize
        frozen = FrozenWeightPanels(values.layers.flatMap { w -> [(UnsafeMutablePointer<Float>, OC: Int, IC: Int)] in
            [(w.wqkv, 3 * C, C), (w.wo, C, C), (w.w1, I, C), (w.w2, C, I)]
        })
    }

    private func run(_ batch: PackedBatch, dropout: DropoutContext?, inference: Bool) -> UnsafeMutablePointer<Float> {
        precondition(inference || frozen == nil, "a model frozen for inference (freezeWeights) cannot be trained")
        let C = config.hiddenSize, I = config.intermediateSize, L = config.layers, precision = matmulPrecision
        let frozen = inference ? self.frozen : nil
        let sites = DropoutSites(dropout, batch: batch, hidden: config.hiddenDropout, attention: config.attentionDropout)
        let pass = core.beginForward(batch, dropout: sites, maxLength: maxPositions, precision: precision, inference: inference) { t, p in
            { take in Activations(T: t, P: p, C: C, I: I, L: L, inference: inference, take: take) }
        }
        let a = pass.buffers, T = pass.T

        // Embeddings: word + position + token type 0, LayerNorm, dropout.
        let e = values.embeddings
        let t0 = OpProfiler.shared.begin()
        forEachToken(batch) { t, id, pos in
            let out = a.embSum + t * C
            let w = e.word + id * C, p = e.position + pos * C
            for c in 0..<C { out[c] = w[c] + p[c] + e.type[c] }
        }
        OpProfiler.shared.end(.embedding, t0)
        layerNormForward(a.residual[0], mean: a.embMean, rstd: a.embRstd, a.embSum, e.lnw, e.lnb,
                         T: T, C: C, eps: config.layerNormEps)
        sites.apply(sites.hidden, a.residual[0], from: a.residual[0], width: C, layer: 0, site: 0)

        for l in 0..<L {
            let w = values.layers[l], s = a.layers[l]
            let x = a.residual[l]
            // Self-attention: qkv[T, 3C] = x · Wqkvᵀ + b, then per sequence and head.
            linearForward(s.qkv, x, w.wqkv, w.bqkv, T: T, IC: C, OC: 3 * C, precision: precision, packed: frozen?[w.wqkv])
            attentionForward(ctx: s.ctx, probs: s.probs, qkv: s.qkv, layout: pass.layout, C: C,
                             dropoutP: sites.attention, rng: sites.attentionRNG(layer: l), dropped: pass.dropped[l],
                             precision: precision)
            // ln1In = dropout(ctx · Woᵀ + bo) + x;  h1 = LN(ln1In)
            linearForward(s.ln1In, s.ctx, w.wo, w.bo, T: T, IC: C, OC: C, precision: precision, packed: frozen?[w.wo])
            sites.apply(sites.hidden, s.ln1In, from: s.ln1In, width: C, layer: l + 1, site: 1)
            add(s.ln1In, x, T * C)
            layerNormForward(s.h1, mean: s.ln1Mean, rstd: s.ln1Rstd, s.ln1In, w.ln1w, w.ln1b,
                             T: T, C: C, eps: config.layerNormEps)
            // Feed-forward: act = f(h1 · W1ᵀ + b1); ln2In = dropout(act · W2ᵀ + b2) + h1; out = LN(ln2In)
            linearForward(s.inter, s.h1, w.w1, w.b1, T: T, IC: C, OC: I, precision: precision, packed: frozen?[w.w1])
            activationForward(s.act, s.inter, count: T * I, config.activation)
            linearForward(s.ln2In, s.act, w.w2, w.b2, T: T, IC: I, OC: C, precision: precision, packed: frozen?[w.w2])
            sites.apply(sites.hidden, s.ln2In, from: s.ln2In, width: C, layer: l + 1, site: 2)
            add(s.ln2In, s.h1, T * C)
            layerNormForward(a.residual[l + 1], mean: s.ln2Mean, rstd: s.ln2Rstd, s.ln2In, w.ln2w, w.ln2b,
                             T: T, C: C, eps: config.layerNormEps)
        }
        return a.residual[L]
    }

    // MARK: Backward

    package func backward(_ dHidden: UnsafeMutablePointer<Float>, layerDone: ((Int) -> Void)?) {
        let pass = core.lastPass()
        let C = config.hiddenSize, I = config.intermediateSize, T = pass.T
        let a = pass.buffers, sites = pass.dropout, precision = pass.precision

        a.dRes.update(from: dHidden, count: T * C)
        for l in stride(from: config.layers - 1, through: 0, by: -1) {
            let w = values.layers[l], g = grads.layers[l], s = a.layers[l]
            let x = a.residual[l]
            // LN2 → dA = d ln2In; it flows to h1 (residual) and, through dropout, to the FFN output.
            layerNormBackward(dx: a.dA, dw: g.ln2w, db: g.ln2b, dout: a.dRes, x: s.ln2In,
                              mean: s.ln2Mean, rstd: s.ln2Rstd, w: w.ln2w, T: T, C: C)
            sites.apply(sites.hidden, a.dB, from: a.dA, width: C, layer: l + 1, site: 2)
            linearBackward(dx: a.dInter, dW: g.w2, db: g.b2, dy: a.dB, x: s.act, w: w.w2, T: T, IC: I, OC: C, precision: precision)
            activationBackward(a.dInter, a.dInter, s.inter, count: T * I, config.activation)
            linearBackward(dx: a.dA, dW: g.w1, db: g.b1, dy: a.dInter, x: s.h1, w: w.w1, T: T, IC: C, OC: I,
                           accumulateDX: true, precision: precision)
            // LN1 → dRes = d ln1In; it flows to x (residual) and, through dropout, to the attention output.
            layerNormBackward(dx: a.dRes, dw: g.ln1w, db: g.ln1b, dout: a.dA, x: s.ln1In,
                              mean: s.ln1Mean, rstd: s.ln1Rstd, w: w.ln1w, T: T, C: C)
            sites.apply(sites.hidden, a.dB, from: a.dRes, width: C, layer: l + 1, site: 1)
            linearBackward(dx: a.dA, dW: g.wo, db: g.bo, dy: a.dB, x: s.ctx, w: w.wo, T: T, IC: C, OC: C, precision: precision)
            attentionBackward(dqkv: a.dQKV, dctx: a.dA, probs: s.probs!, qkv: s.qkv, layout: pass.layout, C: C,
                              dropoutP: sites.attention, rng: sites.attentionRNG(layer: l),
                              dropped: pass.dropped[l].map { UnsafePointer($0) }, precision: precision)
            linearBackward(dx: a.dRes, dW: g.wqkv, db: g.bqkv, dy: a.dQKV, x: x, w: w.wqkv, T: T, IC: C, OC: 3 * C,
                           accumulateDX: true, precision: precision)
            layerDone?(l)
        }
        // Embeddings: dropout, LayerNorm, then scatter into the rows that were looked up.
        sites.apply(sites.hidden, a.dRes, from: a.dRes, width: C, layer: 0, site: 0)
        layerNormBackward(dx: a.dA, dw: grads.embeddings.lnw, db: grads.embeddings.lnb, dout: a.dRes, x: a.embSum,
                          mean: a.embMean, rstd: a.embRstd, w: values.embeddings.lnw, T: T, C: C)
        let e = grads.embeddings
        let t0 = OpProfiler.shared.begin()
        defer { OpProfiler.shared.end(.embedding, t0) }
        forEachToken(pass.batch) { t, id, pos in
            let d = a.dA + t * C
            let w = e.word + id * C, p = e.position + pos * C
            for c in 0..<C {
                w[c] += d[c]
                p[c] += d[c]
                e.type[c] += d[c]
            }
        }
    }

    /// Calls `body(t, id, position)` for every packed token in order: its row, its id and its row
    /// of the position table.
    private func forEachToken(_ batch: PackedBatch, _ body: (_ t: Int, _ id: Int, _ position: Int) -> Void) {
        batch.tokens.withUnsafeBufferPointer { ids in
            for b in 0..<batch.count {
                let start = batch.offsets[b]
                for t in start..<batch.offsets[b + 1] { body(t, Int(ids[t]), config.positionOffset + t - start) }
            }
        }
    }
}
