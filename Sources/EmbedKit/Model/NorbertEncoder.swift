/// The fields of a NorBERT3 (LTG-BERT) `config.json`.
public struct NorbertConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var bucketSize: Int
    public var layerNormEps: Float
    public var hiddenDropout: Float
    public var attentionDropout: Float

    public init(vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int,
                maxPositions: Int = 512, bucketSize: Int = 32, layerNormEps: Float = 1e-7,
                hiddenDropout: Float = 0.1, attentionDropout: Float = 0.1) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.bucketSize = bucketSize
        self.layerNormEps = layerNormEps
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
    }

    public init(json: JSON, path: String) throws {
        let f = ConfigFields(json: json, path: path)
        self.init(vocabSize: try f.int("vocab_size"), hiddenSize: try f.int("hidden_size"),
                  layers: try f.int("num_hidden_layers"), heads: try f.int("num_attention_heads"),
                  intermediateSize: try f.int("intermediate_size"), maxPositions: try f.int("max_position_embeddings", 512),
                  bucketSize: try f.int("position_bucket_size", 32, minimum: 2), layerNormEps: try f.float("layer_norm_eps", 1e-7),
                  hiddenDropout: try f.probability("hidden_dropout_prob", 0.1),
                  attentionDropout: try f.probability("attention_probs_dropout_prob", 0.1))
        try f.checkHeads(hidden: hiddenSize, heads: heads)
    }

    /// Whether a config.json describes this architecture (model_type, architectures or auto_map).
    public static func matches(_ json: JSON) -> Bool {
        if json["model_type"]?.string?.lowercased() == "norbert" { return true }
        if json["architectures"]?.array?.contains(where: { $0.string?.hasPrefix("Norbert") == true }) == true { return true }
        return json["auto_map"]?["AutoModel"]?.string?.contains("modeling_norbert") == true
    }
}

/// NorBERT3 / LTG-BERT: word embeddings through a LayerNorm without affine parameters, no absolute
/// positions; pre-LN layers of attention with disentangled relative positions (log buckets) and a
/// GEGLU feed-forward with LayerNorms inside. Written out op by op like BertEncoder.
public final class NorbertEncoder: TransformerEncoder {
    public let config: NorbertConfig
    public let parameters: ParameterSet
    public var hiddenSize: Int { config.hiddenSize }
    public var maxPositions: Int { buckets.maxLength }
    public var vocabularySize: Int { config.vocabSize }
    /// The bucket table: computed from the config, or the checkpoint's stored `position_indices`.
    public var buckets: RelativeBuckets

    struct LayerTensors {
        var wqk, bqk, wv, bv, wo, bo, postw, postb, w1, w2: UnsafeMutablePointer<Float>
    }

    private let layerValues: [LayerTensors]
    private let layerGrads: [LayerTensors]
    private let word, rel, relLNw, relLNb: UnsafeMutablePointer<Float>
    private let dWord, dRel, dRelLNw, dRelLNb: UnsafeMutablePointer<Float>

    private var acts: Activations?
    private var lastBatch = PackedBatch()
    private var lastLayout = AttentionLayout(offsets: [0], heads: 1)
    private var lastDropout: DropoutContext?

    /// PyTorch names as in ltgoslo's modeling_norbert.py (NorbertModel).
    public static func parameterLayout(_ c: NorbertConfig) -> [(name: String, shape: [Int], decay: Bool)] {
        let D = c.hiddenSize, I = c.intermediateSize, R = 2 * c.bucketSize - 1
        var l: [(name: String, shape: [Int], decay: Bool)] = [
            ("embedding.word_embedding.weight", [c.vocabSize, D], true),
            ("embedding.relative_embedding", [R, D], true),
            ("embedding.relative_layer_norm.weight", [D], false),
            ("embedding.relative_layer_norm.bias", [D], false),
        ]
        for i in 0..<c.layers {
            let p = "transformer.layers.\(i)."
            l += [
                (p + "attention.in_proj_qk.weight", [2 * D, D], true),
                (p + "attention.in_proj_qk.bias", [2 * D], false),
                (p + "attention.in_proj_v.weight", [D, D], true),
                (p + "attention.in_proj_v.bias", [D], false),
                (p + "attention.out_proj.weight", [D, D], true),
                (p + "attention.out_proj.bias", [D], false),
                (p + "attention.post_layer_norm.weight", [D], false),
                (p + "attention.post_layer_norm.bias", [D], false),
                (p + "mlp.mlp.1.weight", [2 * I, D], true),
                (p + "mlp.mlp.4.weight", [D, I], true),
            ]
        }
        return l
    }

    /// `buckets` defaults to the computed log-bucket table; pass the checkpoint's stored
    /// `position_indices` to use exactly what the Python model uses.
    public init(config: NorbertConfig, buckets: RelativeBuckets? = nil) {
        self.config = config
        self.buckets = buckets ?? RelativeBuckets(bucketSize: config.bucketSize, maxPosition: config.maxPositions,
                                                  maxLength: config.maxPositions)
        parameters = ParameterSet(NorbertEncoder.parameterLayout(config))
        let ps = parameters
        func layers(_ base: (String) -> UnsafeMutablePointer<Float>) -> [LayerTensors] {
            (0..<config.layers).map { i in
                let p = "transformer.layers.\(i).attention."
                return LayerTensors(
                    wqk: base(p + "in_proj_qk.weight"), bqk: base(p + "in_proj_qk.bias"),
                    wv: base(p + "in_proj_v.weight"), bv: base(p + "in_proj_v.bias"),
                    wo: base(p + "out_proj.weight"), bo: base(p + "out_proj.bias"),
                    postw: base(p + "post_layer_norm.weight"), postb: base(p + "post_layer_norm.bias"),
                    w1: base("transformer.layers.\(i).mlp.mlp.1.weight"), w2: base("transformer.layers.\(i).mlp.mlp.4.weight"))
            }
        }
        layerValues = layers(ps.value)
        layerGrads = layers(ps.grad)
        word = ps.value("embedding.word_embedding.weight"); dWord = ps.grad("embedding.word_embedding.weight")
        rel = ps.value("embedding.relative_embedding"); dRel = ps.grad("embedding.relative_embedding")
        relLNw = ps.value("embedding.relative_layer_norm.weight"); dRelLNw = ps.grad("embedding.relative_layer_norm.weight")
        relLNb = ps.value("embedding.relative_layer_norm.bias"); dRelLNb = ps.grad("embedding.relative_layer_norm.bias")
    }

    // MARK: Activations

    final class Activations: EncoderActivations {
        let embMean, embRstd: UnsafeMutablePointer<Float>          // [T] (LN of the looked-up rows)
        let embRows: UnsafeMutablePointer<Float>                    // [T, D] looked-up word embeddings
        let relNorm, relMean, relRstd: UnsafeMutablePointer<Float>  // [R, D], [R], [R]
        let residual: [UnsafeMutablePointer<Float>]                 // L+1 × [T, D]
        struct Layer {
            let hn, preMean, preRstd, qk, v, relDrop, pos, probs, ctx, o, postMean, postRstd, x1,
                hn2, mlpMean, mlpRstd, u, y, yn, ynMean, ynRstd: UnsafeMutablePointer<Float>
        }
        let layers: [Layer]
        // Backward scratch.
        let dRes, dA, dB, dC, dQK, dU, dYn, dY, dPos, dRelDrop, dRelSum: UnsafeMutablePointer<Float>

        init(T: Int, P: Int, D: Int, I: Int, R: Int, L: Int, withDropped: Bool) {
            let perLayer = T * D + 2 * T + 2 * T * D + T * D + R * D + R * 2 * D + P + T * D + T * D + 2 * T + T * D
                + T * D + 2 * T + 2 * T * I + T * I + T * I + 2 * T
            let total = 2 * T + T * D + R * D + 2 * R + (L + 1) * T * D + L * perLayer
                + 4 * T * D + 2 * T * D + 2 * T * I + 2 * T * I + R * 2 * D + R * D + R * D
            let arena = FloatArena(capacity: total)
            let take = arena.take
            embMean = take(T); embRstd = take(T); embRows = take(T * D)
            relNorm = take(R * D); relMean = take(R); relRstd = take(R)
            residual = (0...L).map { _ in take(T * D) }
            layers = (0..<L).map { _ in
                Layer(hn: take(T * D), preMean: take(T), preRstd: take(T), qk: take(2 * T * D), v: take(T * D),
                      relDrop: take(R * D), pos: take(R * 2 * D), probs: take(P), ctx: take(T * D), o: take(T * D),
                      postMean: take(T), postRstd: take(T), x1: take(T * D), hn2: take(T * D), mlpMean: take(T),
                      mlpRstd: take(T), u: take(2 * T * I), y: take(T * I), yn: take(T * I), ynMean: take(T), ynRstd: take(T))
            }
            dRes = take(T * D); dA = take(T * D); dB = take(T * D); dC = take(T * D); dQK = take(2 * T * D)
            dU = take(2 * T * I); dYn = take(T * I); dY = take(T * I); dPos = take(R * 2 * D); dRelDrop = take(R * D); dRelSum = take(R * D)
            super.init(T: T, P: P, arena: arena, layers: L, withDropped: withDropped)
        }
    }

    private func activations(T: Int, P: Int, withDropped: Bool) -> Activations {
        let a = EncoderActivations.reuse(acts, T: T, P: P, withDropped: withDropped) { t, p, d in
            Activations(T: t, P: p, D: config.hiddenSize, I: config.intermediateSize, R: buckets.rows, L: config.layers, withDropped: d)
        }
        acts = a
        return a
    }

    // MARK: Forward

    public func forward(_ batch: PackedBatch, dropout: DropoutContext?) -> UnsafeMutablePointer<Float> {
        let D = config.hiddenSize, I = config.intermediateSize, T = batch.tokenCount, R = buckets.rows
        let layout = AttentionLayout(offsets: batch.offsets, heads: config.heads)
        let a = activations(T: T, P: layout.probCount, withDropped: dropout != nil && config.attentionDropout > 0)
        lastBatch = batch
        lastLayout = layout
        lastDropout = dropout
        let pHidden = dropout == nil ? 0 : config.hiddenDropout
        let pAttn = dropout == nil ? 0 : config.attentionDropout
        let eps = config.layerNormEps
        let noRng = CounterRandom(seed: 0)

        // Word embeddings → LayerNorm (no affine) → dropout; relative embeddings → LayerNorm.
        let t0 = OpProfiler.shared.begin()
        batch.tokens.withUnsafeBufferPointer { ids in
            for t in 0..<T { (a.embRows + t * D).update(from: word + Int(ids[t]) * D, count: D) }
        }
        OpProfiler.shared.end(.embedding, t0)
        layerNormForward(a.residual[0], mean: a.embMean, rstd: a.embRstd, a.embRows, nil, nil, T: T, C: D, eps: eps)
        if pHidden > 0, let dropout { EmbedKit.dropout(a.residual[0], a.residual[0], count: T * D, p: pHidden, rng: dropout.rng(layer: 0, site: 0)) }
        layerNormForward(a.relNorm, mean: a.relMean, rstd: a.relRstd, rel, relLNw, relLNb, T: R, C: D, eps: eps)

        for l in 0..<config.layers {
            let w = layerValues[l], s = a.layers[l], x = a.residual[l]
            // Attention block: x1 = x + dropout(LN_post(out_proj(attention(LN_pre(x)))))
            layerNormForward(s.hn, mean: s.preMean, rstd: s.preRstd, x, nil, nil, T: T, C: D, eps: eps)
            linearForward(s.qk, s.hn, w.wqk, w.bqk, T: T, IC: D, OC: 2 * D)
            linearForward(s.v, s.hn, w.wv, w.bv, T: T, IC: D, OC: D)
            // Relative positions go through the same qk projection (with its bias), after dropout.
            applyDropout(s.relDrop, from: a.relNorm, count: R * D, p: pAttn, dropout?.rng(layer: l + 1, site: 3))
            linearForward(s.pos, s.relDrop, w.wqk, w.bqk, T: R, IC: D, OC: 2 * D)
            relativeAttentionForward(ctx: s.ctx, probs: s.probs, qk: s.qk, v: s.v, pos: s.pos, buckets: buckets,
                                     layout: layout, D: D, dropoutP: pAttn, rng: dropout?.rng(layer: l + 1, site: 0) ?? noRng,
                                     dropped: pAttn > 0 ? a.dropped[l] : nil)
            linearForward(s.o, s.ctx, w.wo, w.bo, T: T, IC: D, OC: D)
            layerNormForward(s.x1, mean: s.postMean, rstd: s.postRstd, s.o, w.postw, w.postb, T: T, C: D, eps: eps)
            applyDropout(s.x1, from: s.x1, count: T * D, p: pAttn, dropout?.rng(layer: l + 1, site: 1))
            add(s.x1, x, T * D)
            // Feed-forward: x2 = x1 + dropout(W2 · LN(GEGLU(W1 · LN(x1))))
            layerNormForward(s.hn2, mean: s.mlpMean, rstd: s.mlpRstd, s.x1, nil, nil, T: T, C: D, eps: eps)
            linearForward(s.u, s.hn2, w.w1, nil, T: T, IC: D, OC: 2 * I)
            gegluForward(s.y, s.u, T: T, I: I)
            layerNormForward(s.yn, mean: s.ynMean, rstd: s.ynRstd, s.y, nil, nil, T: T, C: I, eps: eps)
            let out = a.residual[l + 1]
            linearForward(out, s.yn, w.w2, nil, T: T, IC: I, OC: D)
            applyDropout(out, from: out, count: T * D, p: pHidden, dropout?.rng(layer: l + 1, site: 2))
            add(out, s.x1, T * D)
        }
        return a.residual[config.layers]
    }

    // MARK: Backward

    public func backward(_ dHidden: UnsafeMutablePointer<Float>) {
        guard let a = acts else { preconditionFailure("backward before forward") }
        let D = config.hiddenSize, I = config.intermediateSize, T = lastBatch.tokenCount, R = buckets.rows
        let layout = lastLayout, dropout = lastDropout
        let pHidden = dropout == nil ? 0 : config.hiddenDropout
        let pAttn = dropout == nil ? 0 : config.attentionDropout
        let noRng = CounterRandom(seed: 0)

        a.dRes.update(from: dHidden, count: T * D)
        a.dRelSum.update(repeating: 0, count: R * D)
        for l in stride(from: config.layers - 1, through: 0, by: -1) {
            let w = layerValues[l], g = layerGrads[l], s = a.layers[l], x = a.residual[l]
            // Feed-forward. dRes is d x2; it is also d x1 through the residual.
            applyDropout(a.dA, from: a.dRes, count: T * D, p: pHidden, dropout?.rng(layer: l + 1, site: 2))
            linearBackward(dx: a.dYn, dW: g.w2, db: nil, dy: a.dA, x: s.yn, w: w.w2, T: T, IC: I, OC: D)
            layerNormBackward(dx: a.dY, dw: nil, db: nil, dout: a.dYn, x: s.y, mean: s.ynMean, rstd: s.ynRstd,
                              w: nil, T: T, C: I)
            gegluBackward(a.dU, a.dY, s.u, T: T, I: I)
            linearBackward(dx: a.dA, dW: g.w1, db: nil, dy: a.dU, x: s.hn2, w: w.w1, T: T, IC: D, OC: 2 * I)
            layerNormBackward(dx: a.dRes, dw: nil, db: nil, dout: a.dA, x: s.x1, mean: s.mlpMean, rstd: s.mlpRstd,
                              w: nil, T: T, C: D, accumulate: true)
            // Attention. dRes is now d x1, also d x through the residual.
            applyDropout(a.dA, from: a.dRes, count: T * D, p: pAttn, dropout?.rng(layer: l + 1, site: 1))
            layerNormBackward(dx: a.dB, dw: g.postw, db: g.postb, dout: a.dA, x: s.o, mean: s.postMean,
                              rstd: s.postRstd, w: w.postw, T: T, C: D)
            linearBackward(dx: a.dC, dW: g.wo, db: g.bo, dy: a.dB, x: s.ctx, w: w.wo, T: T, IC: D, OC: D)
            relativeAttentionBackward(dqk: a.dQK, dv: a.dB, dpos: a.dPos, dctx: a.dC, probs: s.probs, qk: s.qk,
                                      v: s.v, pos: s.pos, buckets: buckets, layout: layout, D: D, dropoutP: pAttn,
                                      rng: dropout?.rng(layer: l + 1, site: 0) ?? noRng,
                                      dropped: pAttn > 0 ? UnsafePointer(a.dropped[l]) : nil)
            linearBackward(dx: a.dA, dW: g.wv, db: g.bv, dy: a.dB, x: s.hn, w: w.wv, T: T, IC: D, OC: D)
            linearBackward(dx: a.dA, dW: g.wqk, db: g.bqk, dy: a.dQK, x: s.hn, w: w.wqk, T: T, IC: D, OC: 2 * D,
                           accumulateDX: true)
            // The position path through the same projection, back to the (dropped) relative embeddings.
            linearBackward(dx: a.dRelDrop, dW: g.wqk, db: g.bqk, dy: a.dPos, x: s.relDrop, w: w.wqk, T: R, IC: D, OC: 2 * D)
            applyDropout(a.dRelDrop, from: a.dRelDrop, count: R * D, p: pAttn, dropout?.rng(layer: l + 1, site: 3))
            add(a.dRelSum, a.dRelDrop, R * D)
            layerNormBackward(dx: a.dRes, dw: nil, db: nil, dout: a.dA, x: x, mean: s.preMean, rstd: s.preRstd,
                              w: nil, T: T, C: D, accumulate: true)
        }
        // Relative embeddings' LayerNorm, then the word embeddings.
        layerNormBackward(dx: a.dRelDrop, dw: dRelLNw, db: dRelLNb, dout: a.dRelSum, x: rel, mean: a.relMean,
                          rstd: a.relRstd, w: relLNw, T: R, C: D)
        add(dRel, a.dRelDrop, R * D)
        applyDropout(a.dRes, from: a.dRes, count: T * D, p: pHidden, dropout?.rng(layer: 0, site: 0))
        layerNormBackward(dx: a.dA, dw: nil, db: nil, dout: a.dRes, x: a.embRows, mean: a.embMean, rstd: a.embRstd,
                          w: nil, T: T, C: D)
        let t0 = OpProfiler.shared.begin()
        defer { OpProfiler.shared.end(.embedding, t0) }
        lastBatch.tokens.withUnsafeBufferPointer { ids in
            for t in 0..<T {
                let row = dWord + Int(ids[t]) * D, d = a.dA + t * D
                for c in 0..<D { row[c] += d[c] }
            }
        }
    }

    private func applyDropout(_ out: UnsafeMutablePointer<Float>, from x: UnsafePointer<Float>, count: Int, p: Float,
                              _ rng: CounterRandom?) {
        if p > 0, let rng {
            EmbedKit.dropout(out, x, count: count, p: p, rng: rng)
        } else if UnsafePointer(out) != x {
            out.update(from: x, count: count)
        }
    }
}
