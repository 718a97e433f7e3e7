import IO

/// NorBERT3 / LTG-BERT: word embeddings through a LayerNorm without affine parameters, no absolute
/// positions; pre-LN layers of attention with disentangled relative positions (log buckets) and a
/// GEGLU feed-forward with LayerNorms inside. Written out op by op like BertEncoder.
package final class NorbertEncoder: ConfiguredEncoder {
    package let config: NorbertConfig
    package let parameters: ParameterSet
    package var maxPositions: Int { buckets.maxLength }
    /// The bucket table: computed from the config, or the checkpoint's stored `position_indices`.
    package var buckets: RelativeBuckets

    /// Pointers to one layer's parameters (values) or gradients.
    struct LayerTensors: TensorViews {
        var wqk, bqk, wv, bv, wo, bo, postw, postb, w1, w2: UnsafeMutablePointer<Float>!
    }

    struct EmbeddingTensors: TensorViews {
        var word, rel, relLNw, relLNb: UnsafeMutablePointer<Float>!
    }

    package let layerParameterRanges: [Range<Int>]
    private let values, grads: EncoderTensors<LayerTensors, EmbeddingTensors>
    private let core: EncoderCore<Activations>
    package var matmulPrecision: MatmulPrecision = .fp32
    /// The linear weights' bf16 panels once `freezeWeights` has run with bf16 products.
    private var frozen: FrozenWeightPanels?

    /// The parameters in PyTorch names as in ltgoslo's modeling_norbert.py (NorbertModel); the
    /// feed-forward's Linear layers have no bias, its LayerNorms no affine parameters.
    static func layout(_ c: NorbertConfig) -> EncoderLayout<LayerTensors, EmbeddingTensors> {
        let D = c.hiddenSize, I = c.intermediateSize, R = 2 * c.bucketSize - 1
        return EncoderLayout(
            embeddings: [
                .table(\.word, "embedding.word_embedding.weight", rows: c.vocabSize, D),
                .table(\.rel, "embedding.relative_embedding", rows: R, D),
                .layerNorm(\.relLNw, \.relLNb, "embedding.relative_layer_norm", D),
            ],
            layer: [
                .linear(\.wqk, \.bqk, "attention.in_proj_qk", out: 2 * D, in: D),
                .linear(\.wv, \.bv, "attention.in_proj_v", out: D, in: D),
                .linear(\.wo, \.bo, "attention.out_proj", out: D, in: D),
                .layerNorm(\.postw, \.postb, "attention.post_layer_norm", D),
                .linear(\.w1, nil, "mlp.mlp.1", out: 2 * I, in: D),
                .linear(\.w2, nil, "mlp.mlp.4", out: D, in: I),
            ],
            layers: c.layers, layerPrefix: { "transformer.layers.\($0)." })
    }

    /// `buckets` defaults to the computed log-bucket table; pass the checkpoint's stored
    /// `position_indices` to use exactly what the Python model uses.
    package init(config: NorbertConfig, buckets: RelativeBuckets? = nil) {
        self.config = config
        self.buckets = buckets ?? RelativeBuckets(bucketSize: config.bucketSize, maxPosition: config.maxPositions,
                                                  maxLength: config.maxPositions)
        let layout = NorbertEncoder.layout(config)
        parameters = ParameterSet(layout.parameters)
        (values, grads) = layout.views(of: parameters)
        layerParameterRanges = layout.layerRanges
        core = EncoderCore(heads: config.heads, layers: config.layers, vocabularySize: config.vocabSize)
    }

    // MARK: Activations

    /// Every buffer the forward pass keeps for backward, plus backward scratch. Shapes: T packed
    /// tokens, D hidden, I intermediate (GEGLU half), R relative buckets, P attention floats per layer.
    ///
    /// For inference (`inference`) the same forward code runs over one layer's buffers, shared by
    /// all layers, as BertEncoder's: the residual stream in two alternating buffers, qk and v then
    /// u then yn in one block, the attention context then x1 in one buffer, hn then hn2, the
    /// relative embeddings used undropped, scores in per-head scratch, no backward scratch.
    struct Activations {
        let embMean, embRstd: UnsafeMutablePointer<Float>          // [T] (LN of the looked-up rows)
        let embRows: UnsafeMutablePointer<Float>                    // [T, D] looked-up word embeddings
        let relNorm, relMean, relRstd: UnsafeMutablePointer<Float>  // [R, D], [R], [R]
        let residual: [UnsafeMutablePointer<Float>]                 // L+1 × [T, D]
        struct Layer {
            let hn, preMean, preRstd, qk, v, relDrop, pos, ctx, o, postMean, postRstd, x1,
                hn2, mlpMean, mlpRstd, u, y, yn, ynMean, ynRstd: UnsafeMutablePointer<Float>
            let probs: UnsafeMutablePointer<Float>?
        }
        let layers: [Layer]
        // Backward scratch (empty for inference: a pass without backward).
        let dRes, dA, dB, dC, dQK, dU, dYn, dY, dPos, dRelDrop, dRelSum: UnsafeMutablePointer<Float>

        init(T: Int, P: Int, D: Int, I: Int, R: Int, L: Int, inference: Bool, take: (Int) -> UnsafeMutablePointer<Float>) {
            relNorm = take(R * D); relMean = take(R); relRstd = take(R)
            if inference {
                let hn = take(T * D), ctx = take(T * D), o = take(T * D), y = take(T * I), pos = take(R * 2 * D)
                let big = take(T * max(3 * D, 2 * I)), mean = take(T), rstd = take(T)
                let r = [take(T * D), take(T * D)]
                embMean = mean; embRstd = rstd; embRows = hn
                residual = (0...L).map { r[$0 % 2] }
                let layer = Layer(hn: hn, preMean: mean, preRstd: rstd, qk: big, v: big + 2 * T * D, relDrop: relNorm, pos: pos,
                                  ctx: ctx, o: o, postMean: mean, postRstd: rstd, x1: ctx, hn2: hn, mlpMean: mean, mlpRstd: rstd,
                                  u: big, y: y, yn: big, ynMean: mean, ynRstd: rstd, probs: nil)
                layers = Array(repeating: layer, count: L)
                dRes = take(0); dA = dRes; dB = dRes; dC = dRes; dQK = dRes; dU = dRes; dYn = dRes; dY = dRes; dPos = dRes
                dRelDrop = dRes; dRelSum = dRes
                return
            }
            embMean = take(T); embRstd = take(T); embRows = take(T * D)
            residual = (0...L).map { _ in take(T * D) }
            layers = (0..<L).map { _ in
                Layer(hn: take(T * D), preMean: take(T), preRstd: take(T), qk: take(2 * T * D), v: take(T * D),
                      relDrop: take(R * D), pos: take(R * 2 * D), ctx: take(T * D), o: take(T * D),
                      postMean: take(T), postRstd: take(T), x1: take(T * D), hn2: take(T * D), mlpMean: take(T),
                      mlpRstd: take(T), u: take(2 * T * I), y: take(T * I), yn: take(T * I), ynMean: take(T), ynRstd: take(T),
                      probs: take(P))
            }
            dRes = take(T * D); dA = take(T * D); dB = take(T * D); dC = take(T * D); dQK = take(2 * T * D)
            dU = take(2 * T * I); dYn = take(T * I); dY = take(T * I); dPos = take(R * 2 * D); dRelDrop = take(R * D); dRelSum = take(R * D)
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
        let D = config.hiddenSize, I = config.intermediateSize
        frozen = FrozenWeightPanels(values.layers.flatMap { w -> [(UnsafeMutablePointer<Float>, OC: Int, IC: Int)] in
            [(w.wqk, 2 * D, D), (w.wv, D, D), (w.wo, D, D), (w.w1, 2 * I, D), (w.w2, D, I)]
        })
    }

    private func run(_ batch: PackedBatch, dropout: DropoutContext?, inference: Bool) -> UnsafeMutablePointer<Float> {
        precondition(inference || frozen == nil, "a model frozen for inference (freezeWeights) cannot be trained")
        let D = config.hiddenSize, I = config.intermediateSize, R = buckets.rows, L = config.layers, precision = matmulPrecision
        let frozen = inference ? self.frozen : nil
        let sites = DropoutSites(dropout, batch: batch, hidden: config.hiddenDropout, attention: config.attentionDropout)
        let pass = core.beginForward(batch, dropout: sites, maxLength: maxPositions, precision: precision, inference: inference) { t, p in
            { take in Activations(T: t, P: p, D: D, I: I, R: R, L: L, inference: inference, take: take) }
        }
        let a = pass.buffers, T = pass.T, e = values.embeddings
        let eps = config.layerNormEps

        // Word embeddings → LayerNorm (no affine) → dropout; relative embeddings → LayerNorm.
        let t0 = OpProfiler.shared.begin()
        batch.tokens.withUnsafeBufferPointer { ids in
            for t in 0..<T { (a.embRows + t * D).update(from: e.word + Int(ids[t]) * D, count: D) }
        }
        OpProfiler.shared.end(.embedding, t0)
        layerNormForward(a.residual[0], mean: a.embMean, rstd: a.embRstd, a.embRows, nil, nil, T: T, C: D, eps: eps)
        sites.apply(sites.hidden, a.residual[0], from: a.residual[0], width: D, layer: 0, site: 0)
        layerNormForward(a.relNorm, mean: a.relMean, rstd: a.relRstd, e.rel, e.relLNw, e.relLNb, T: R, C: D, eps: eps)

        for l in 0..<L {
            let w = values.layers[l], s = a.layers[l], x = a.residual[l]
            // Attention block: x1 = x + dropout(LN_post(out_proj(attention(LN_pre(x)))))
            layerNormForward(s.hn, mean: s.preMean, rstd: s.preRstd, x, nil, nil, T: T, C: D, eps: eps)
            linearForward(s.qk, s.hn, w.wqk, w.bqk, T: T, IC: D, OC: 2 * D, precision: precision, packed: frozen?[w.wqk])
            linearForward(s.v, s.hn, w.wv, w.bv, T: T, IC: D, OC: D, precision: precision, packed: frozen?[w.wv])
            // Relative positions go through the same qk projection (with its bias), after dropout.
            sites.applyShared(sites.attention, s.relDrop, from: a.relNorm, count: R * D, layer: l + 1, site: 3)
            linearForward(s.pos, s.relDrop, w.wqk, w.bqk, T: R, IC: D, OC: 2 * D, precision: precision, packed: frozen?[w.wqk])
            relativeAttentionForward(ctx: s.ctx, probs: s.probs, qk: s.qk, v: s.v, pos: s.pos, buckets: buckets,
                                     layout: pass.layout, D: D, dropoutP: sites.attention, rng: sites.attentionRNG(layer: l),
                                     dropped: pass.dropped[l], precision: precision)
            linearForward(s.o, s.ctx, w.wo, w.bo, T: T, IC: D, OC: D, precision: precision, packed: frozen?[w.wo])
            layerNormForward(s.x1, mean: s.postMean, rstd: s.postRstd, s.o, w.postw, w.postb, T: T, C: D, eps: eps)
            sites.apply(sites.attention, s.x1, from: s.x1, width: D, layer: l + 1, site: 1)
            add(s.x1, x, T * D)
            // Feed-forward: x2 = x1 + dropout(W2 · LN(GEGLU(W1 · LN(x1))))
            layerNormForward(s.hn2, mean: s.mlpMean, rstd: s.mlpRstd, s.x1, nil, nil, T: T, C: D, eps: eps)
            linearForward(s.u, s.hn2, w.w1, nil, T: T, IC: D, OC: 2 * I, precision: precision, packed: frozen?[w.w1])
            gegluForward(s.y, s.u, T: T, I: I)
            layerNormForward(s.yn, mean: s.ynMean, rstd: s.ynRstd, s.y, nil, nil, T: T, C: I, eps: eps)
            let out = a.residual[l + 1]
            linearForward(out, s.yn, w.w2, nil, T: T, IC: I, OC: D, precision: precision, packed: frozen?[w.w2])
            sites.apply(sites.hidden, out, from: out, width: D, layer: l + 1, site: 2)
            add(out, s.x1, T * D)
        }
        return a.residual[L]
    }

    // MARK: Backward

    package func backward(_ dHidden: UnsafeMutablePointer<Float>, layerDone: ((Int) -> Void)?) {
        let pass = core.lastPass()
        let D = config.hiddenSize, I = config.intermediateSize, T = pass.T, R = buckets.rows
        let a = pass.buffers, sites = pass.dropout, e = values.embeddings, ge = grads.embeddings, precision = pass.precision

        a.dRes.update(from: dHidden, count: T * D)
        a.dRelSum.update(repeating: 0, count: R * D)
        for l in stride(from: config.layers - 1, through: 0, by: -1) {
            let w = values.layers[l], g = grads.layers[l], s = a.layers[l], x = a.residual[l]
            // Feed-forward. dRes is d x2; it is also d x1 through the residual.
            sites.apply(sites.hidden, a.dA, from: a.dRes, width: D, layer: l + 1, site: 2)
            linearBackward(dx: a.dYn, dW: g.w2, db: nil, dy: a.dA, x: s.yn, w: w.w2, T: T, IC: I, OC: D, precision: precision)
            layerNormBackward(dx: a.dY, dw: nil, db: nil, dout: a.dYn, x: s.y, mean: s.ynMean, rstd: s.ynRstd,
                              w: nil, T: T, C: I)
            gegluBackward(a.dU, a.dY, s.u, T: T, I: I)
            linearBackward(dx: a.dA, dW: g.w1, db: nil, dy: a.dU, x: s.hn2, w: w.w1, T: T, IC: D, OC: 2 * I, precision: precision)
            layerNormBackward(dx: a.dRes, dw: nil, db: nil, dout: a.dA, x: s.x1, mean: s.mlpMean, rstd: s.mlpRstd,
                              w: nil, T: T, C: D, accumulate: true)
            // Attention. dRes is now d x1, also d x through the residual.
            sites.apply(sites.attention, a.dA, from: a.dRes, width: D, layer: l + 1, site: 1)
            layerNormBackward(dx: a.dB, dw: g.postw, db: g.postb, dout: a.dA, x: s.o, mean: s.postMean,
                              rstd: s.postRstd, w: w.postw, T: T, C: D)
            linearBackward(dx: a.dC, dW: g.wo, db: g.bo, dy: a.dB, x: s.ctx, w: w.wo, T: T, IC: D, OC: D, precision: precision)
            relativeAttentionBackward(dqk: a.dQK, dv: a.dB, dpos: a.dPos, dctx: a.dC, probs: s.probs!, qk: s.qk,
                                      v: s.v, pos: s.pos, buckets: buckets, layout: pass.layout, D: D,
                                      dropoutP: sites.attention, rng: sites.attentionRNG(layer: l),
                                      dropped: pass.dropped[l].map { UnsafePointer($0) }, precision: precision)
            linearBackward(dx: a.dA, dW: g.wv, db: g.bv, dy: a.dB, x: s.hn, w: w.wv, T: T, IC: D, OC: D, precision: precision)
            linearBackward(dx: a.dA, dW: g.wqk, db: g.bqk, dy: a.dQK, x: s.hn, w: w.wqk, T: T, IC: D, OC: 2 * D,
                           accumulateDX: true, precision: precision)
            // The position path through the same projection, back to the (dropped) relative embeddings.
            linearBackward(dx: a.dRelDrop, dW: g.wqk, db: g.bqk, dy: a.dPos, x: s.relDrop, w: w.wqk, T: R, IC: D, OC: 2 * D,
                           precision: precision)
            sites.applyShared(sites.attention, a.dRelDrop, from: a.dRelDrop, count: R * D, layer: l + 1, site: 3)
            add(a.dRelSum, a.dRelDrop, R * D)
            layerNormBackward(dx: a.dRes, dw: nil, db: nil, dout: a.dA, x: x, mean: s.preMean, rstd: s.preRstd,
                              w: nil, T: T, C: D, accumulate: true)
            layerDone?(l)
        }
        // Relative embeddings' LayerNorm, then the word embeddings.
        layerNormBackward(dx: a.dRelDrop, dw: ge.relLNw, db: ge.relLNb, dout: a.dRelSum, x: e.rel, mean: a.relMean,
                          rstd: a.relRstd, w: e.relLNw, T: R, C: D)
        add(ge.rel, a.dRelDrop, R * D)
        sites.apply(sites.hidden, a.dRes, from: a.dRes, width: D, layer: 0, site: 0)
        layerNormBackward(dx: a.dA, dw: nil, db: nil, dout: a.dRes, x: a.embRows, mean: a.embMean, rstd: a.embRstd,
                          w: nil, T: T, C: D)
        let t0 = OpProfiler.shared.begin()
        defer { OpProfiler.shared.end(.embedding, t0) }
        pass.batch.tokens.withUnsafeBufferPointer { ids in
            for t in 0..<T {
                let row = ge.word + Int(ids[t]) * D, d = a.dA + t * D
                for c in 0..<D { row[c] += d[c] }
            }
        }
    }
}
