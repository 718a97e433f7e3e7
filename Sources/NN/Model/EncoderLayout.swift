import IO

/// A struct of pointers into the parameter buffers (one per layer, one for the embeddings) that an
/// encoder's forward and backward read: `EncoderLayout` fills one over the values and one over the
/// gradients. Its fields are implicitly unwrapped so the layout can set them by key path.
protocol TensorViews {
    init()
}

/// One parameter tensor: its PyTorch state-dict name, shape, AdamW weight-decay group (none for
/// biases and LayerNorm parameters, as the transformers Trainer groups them), and the view field
/// that points at it (nil for a tensor reached through another, like key and value rows after the
/// query rows of a fused projection).
struct TensorSpec<Views: TensorViews> {
    typealias Field = WritableKeyPath<Views, UnsafeMutablePointer<Float>?>
    let name: String
    let shape: [Int]
    let decay: Bool
    let field: Field?
}

/// The tensors of one PyTorch module, in its state-dict order.
struct TensorGroup<Views: TensorViews> {
    typealias Field = TensorSpec<Views>.Field
    let specs: [TensorSpec<Views>]

    /// nn.Linear(in, out): weight [out, in] and, unless `bias` is nil, bias [out].
    static func linear(_ weight: Field, _ bias: Field?, _ name: String, out: Int, in: Int) -> TensorGroup {
        TensorGroup(specs: [TensorSpec(name: name + ".weight", shape: [out, `in`], decay: true, field: weight)]
            + (bias.map { [TensorSpec(name: name + ".bias", shape: [out], decay: false, field: $0)] } ?? []))
    }

    /// Several nn.Linear(in, out) stored so that their weights form one [n·out, in] matrix and their
    /// biases one [n·out] vector (BERT's query, key and value): all weights first, then all biases.
    static func fusedLinear(_ weight: Field, _ bias: Field, _ names: [String], out: Int, in: Int) -> TensorGroup {
        let weights = names.enumerated().map { i, name in
            TensorSpec(name: name + ".weight", shape: [out, `in`], decay: true, field: i == 0 ? weight : nil)
        }
        let biases = names.enumerated().map { i, name in
            TensorSpec(name: name + ".bias", shape: [out], decay: false, field: i == 0 ? bias : nil)
        }
        return TensorGroup(specs: weights + biases)
    }

    /// nn.LayerNorm(n): weight and bias [n], no weight decay.
    static func layerNorm(_ weight: Field, _ bias: Field, _ name: String, _ n: Int) -> TensorGroup {
        TensorGroup(specs: [TensorSpec(name: name + ".weight", shape: [n], decay: false, field: weight),
                            TensorSpec(name: name + ".bias", shape: [n], decay: false, field: bias)])
    }

    /// A table of `rows` vectors of size `n` (nn.Embedding's weight, or a plain parameter matrix).
    static func table(_ field: Field, _ name: String, rows: Int, _ n: Int) -> TensorGroup {
        TensorGroup(specs: [TensorSpec(name: name, shape: [rows, n], decay: true, field: field)])
    }
}

/// An encoder's parameters, each named once: the embeddings' tensors, then `layers` transformer
/// layers whose tensors are named under `layerPrefix(i)`. Gives the flat parameter layout (in this
/// order, so tensors used together are adjacent) and the pointer views of a ParameterSet.
struct EncoderLayout<Layer: TensorViews, Embeddings: TensorViews> {
    let embeddings: [TensorSpec<Embeddings>]
    let layer: [TensorSpec<Layer>]
    let layers: Int
    let layerPrefix: (Int) -> String

    /// The tensors in groups (a Linear's weight and bias, a LayerNorm's…), in layout order.
    init(embeddings: [TensorGroup<Embeddings>], layer: [TensorGroup<Layer>], layers: Int, layerPrefix: @escaping (Int) -> String) {
        self.embeddings = embeddings.flatMap(\.specs)
        self.layer = layer.flatMap(\.specs)
        self.layers = layers
        self.layerPrefix = layerPrefix
    }

    var parameters: [(name: String, shape: [Int], decay: Bool)] {
        embeddings.map { ($0.name, $0.shape, $0.decay) }
            + (0..<layers).flatMap { i in layer.map { (layerPrefix(i) + $0.name, $0.shape, $0.decay) } }
    }

    /// Each layer's slice of the flat layout (the embeddings come first).
    var layerRanges: [Range<Int>] {
        let start = embeddings.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let size = layer.reduce(0) { $0 + $1.shape.reduce(1, *) }
        return (0..<layers).map { (start + $0 * size)..<(start + ($0 + 1) * size) }
    }

    /// The views over the values and over the gradients of `set` (which has this layout).
    func views(of set: ParameterSet) -> (values: EncoderTensors<Layer, Embeddings>, grads: EncoderTensors<Layer, Embeddings>) {
        set.views { tensor in
            EncoderTensors(layers: (0..<layers).map { i in bind(layer, prefix: layerPrefix(i), tensor) },
                           embeddings: bind(embeddings, prefix: "", tensor))
        }
    }

    private func bind<V>(_ specs: [TensorSpec<V>], prefix: String, _ tensor: (String) -> UnsafeMutablePointer<Float>) -> V {
        var v = V()
        for s in specs { if let f = s.field { v[keyPath: f] = tensor(prefix + s.name) } }
        return v
    }
}

/// Pointer views of an encoder's parameters (one struct per layer, one for the embeddings): the
/// encoders hold one over the values and one over the gradients.
struct EncoderTensors<Layer, Embeddings> {
    let layers: [Layer]
    let embeddings: Embeddings
}
